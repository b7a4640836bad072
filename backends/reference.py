"""Reference semantics of single ops, evaluated through the NumPy backend's
table (so each op is defined once). Constant folding uses this.

    >>> evaluate(relu_op, [np.array([-1.0, 2.0], np.float32)])
    [array([0., 2.], dtype=float32)]
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import Operation

from hybridize.backends.numpy import Target, rule_for


def evaluate(op: Operation, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Run one op on NumPy arrays (its operands, in order)."""
    names = [f"a{i}" for i in range(len(arrays))]
    lines = rule_for(op)(op, names, Target("r", False))
    namespace: dict = {"np": np, **dict(zip(names, arrays))}
    exec("\n".join(lines), namespace)
    result = np.asarray(namespace["r"])
    from hybridize.ir.types import numpy_dtype

    return [np.ascontiguousarray(result, dtype=numpy_dtype(op.results[0]))]
