"""Arithmetic cost of a module: multiply-adds of its GEMM-like ops
(linear, matmul, conv2d, conv_transpose2d, attention), for benchmarks' GFLOP/s.

    >>> macs(module)          # the d2l MLP at batch 1
    164096
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from hybridize.ir.types import shape_of


def _prod(xs) -> int:
    return math.prod(int(x) for x in xs)


def op_macs(op: Operation, batch: int = 1) -> int:
    """Multiply-adds of one op (0 for ops that are not GEMM-like); `?` dims count as `batch`."""

    def dims(v):
        return [batch if d < 0 else d for d in shape_of(v)]

    if op.name == "hy.linear":
        return _prod(dims(op.results[0])) * dims(op.operands[1])[-1]
    if op.name == "hy.matmul":
        a = dims(op.operands[0])
        return _prod(dims(op.results[0])) * a[-1]
    if op.name in ("hy.conv2d", "hy.conv2d_nhwc"):
        w = dims(op.operands[1])
        return _prod(dims(op.results[0])) * _prod(w[1:])
    if op.name == "hy.conv_transpose2d":  # every input pixel times its kernel over O/groups channels
        w = dims(op.operands[1])
        return _prod(dims(op.operands[0])) * _prod(w[1:])
    if op.name == "hy.attention":
        q, k = dims(op.operands[0]), dims(op.operands[1])
        v = dims(op.operands[2])
        return _prod(q[:-1]) * k[-2] * (q[-1] + v[-1])
    return 0


def macs(module: ModuleOp, batch: int = 1) -> int:
    """Multiply-adds of every GEMM-like op in `module`, fused regions included."""
    return sum(op_macs(op, batch) for op in module.walk())
