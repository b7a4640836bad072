"""Converters for matrix products: linear, addmm, mm, matmul, bmm, and
`_trilinear` (what `nn.Bilinear` decomposes to)."""

from __future__ import annotations

from hybridize.frontends.torch.lowering import CONVERTERS, Lowering, bind
from hybridize.ir.elementwise import AddOp, MulOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.reduce import ReduceSumOp
from hybridize.ir.shape import ReshapeOp, TransposeOp
from hybridize.ir.types import DYNAMIC, shape_of


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


def _trilinear(lo: Lowering, node, args, kwargs):
    """`_trilinear(i1, i2, i3, expand1, expand2, expand3, sumdim)`: each input
    unsqueezed at its expand dims, the three multiplied, summed over sumdim.
    F.bilinear's form (x1 [N, I], w [O, I, J], x2 [N, J]) is one matmul:
    y = ((x1 @ w^[I, O*J]).reshape(N, O, J) * x2[:, None]).sum(-1)."""
    p = bind(node, args, kwargs)
    ins = [p["i1"], p["i2"], p["i3"]]
    expands = [sorted(p["expand1"]), sorted(p["expand2"]), sorted(p["expand3"])]
    sumdim = sorted(p["sumdim"])
    x1, w, x2 = ins
    if expands == [[1, 3], [0], [1, 2]] and sumdim == [2, 3] and DYNAMIC not in shape_of(w):
        o, i, j = shape_of(w)
        n = shape_of(x1)[0]
        wide = lo.emit(ReshapeOp(lo.emit(TransposeOp(w, [1, 0, 2])), [i, o * j]))
        t = lo.emit(ReshapeOp(lo.emit(MatmulOp(x1, wide)), [n, o, j]))
        prod = lo.emit(MulOp(t, lo.emit(ReshapeOp(x2, [shape_of(x2)[0], 1, j]))))
        return lo.emit(ReduceSumOp(prod, [2]))
    rank = len(shape_of(x1)) + len(expands[0])
    full = []
    for x, expand in zip(ins, expands):
        shape, it = [], iter(shape_of(x))
        for d in range(rank):
            shape.append(1 if d in expand else next(it))
        full.append(lo.emit(ReshapeOp(x, shape)))
    prod = lo.emit(MulOp(lo.emit(MulOp(full[0], full[1])), full[2]))
    y = lo.emit(ReduceSumOp(prod, sumdim)) if sumdim else prod
    return y


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
        "aten._trilinear.default": _trilinear,
    }
)
