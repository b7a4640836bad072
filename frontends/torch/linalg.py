"""Converters for matrix products: linear, addmm, mm, matmul, bmm."""

from __future__ import annotations

from hybridize.frontends.torch.lowering import CONVERTERS, Lowering
from hybridize.ir.elementwise import AddOp, MulOp
from hybridize.ir.linalg import LinearOp, MatmulOp


def _linear(lo: Lowering, node, args, kwargs):
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else kwargs.get("bias")
    return lo.emit(LinearOp(x, w, b))


def _addmm(lo: Lowering, node, args, kwargs):
    # addmm(b, x, m, beta, alpha) = beta * b + alpha * (x @ m)
    bias, x, m = args[0], args[1], args[2]
    beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
    prod = lo.emit(MatmulOp(x, m))
    if alpha != 1:
        prod = lo.emit(MulOp(prod, lo.tensor(alpha, prod)))
    if beta == 0:
        return prod
    if beta != 1:
        bias = lo.emit(MulOp(bias, lo.tensor(beta, bias)))
    return lo.emit(AddOp(prod, bias))


CONVERTERS.update(
    {
        "aten.linear.default": _linear,
        "aten.addmm.default": _addmm,
        "aten.mm.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
        "aten.matmul.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
        "aten.bmm.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
    }
)
