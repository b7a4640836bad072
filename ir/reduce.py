"""Reductions over axes: sum, mean, max, min, any (with keepdim).

(Filled in by the NN ops work of issue 3.)
"""

from __future__ import annotations

REDUCE_OPS: list = []
