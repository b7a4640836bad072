"""Neural-network ops: convolution, pooling, normalization, softmax, attention.

(Filled in by the NN ops work of issue 3; NCHW layout throughout.)
"""

from __future__ import annotations

NN_OPS: list = []
