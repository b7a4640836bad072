"""Converters for matrix products: linear, addmm, mm, matmul, bmm."""

from __future__ import annotations

from hybridize.frontends.torch.lowering import CONVERTERS, Lowering, bind
from hybridize.ir.elementwise import AddOp, MulOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.shape import ReshapeOp
from hybridize.ir.types import shape_of


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


def _baddbmm(lo: Lowering, node, args, kwargs):
    # baddbmm(b, x, y, beta, alpha) = beta * b + alpha * (x @ y), batched; addmm's law
    p = bind(node, args, kwargs)
    return _addmm(lo, node, [p["self"], p["batch1"], p["batch2"]], {"beta": p["beta"], "alpha": p["alpha"]})


def _addmv(lo: Lowering, node, args, kwargs):
    # addmv(b, m, v, beta, alpha) = beta * b + alpha * (m @ v)
    p = bind(node, args, kwargs)
    return _addmm(lo, node, [p["self"], p["mat"], p["vec"]], {"beta": p["beta"], "alpha": p["alpha"]})


def _addr(lo: Lowering, node, args, kwargs):
    # addr(b, u, v, beta, alpha) = beta * b + alpha * (u[:, None] @ v[None, :])
    p = bind(node, args, kwargs)
    u, v = p["vec1"], p["vec2"]
    column = lo.emit(ReshapeOp(u, [shape_of(u)[0], 1]))
    row = lo.emit(ReshapeOp(v, [1, shape_of(v)[0]]))
    return _addmm(lo, node, [p["self"], column, row], {"beta": p["beta"], "alpha": p["alpha"]})


CONVERTERS.update(
    {
        "aten.addmv.default": _addmv,
        "aten.addr.default": _addr,
        "aten.baddbmm.default": _baddbmm,
        "aten.linear.default": _linear,
        "aten.addmm.default": _addmm,
        "aten.mm.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
        "aten.matmul.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
        "aten.bmm.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
    }
)
