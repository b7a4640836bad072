"""Converters for Core ATen reductions and statistics built from `hy`
reductions: var/std with a correction, prod, vector norms, pairwise
distances, batch norm in training mode (the batch's own statistics).

    torch.var(x, dim=1, correction=1)  ->  %m = hy.reduce_mean %x axes [1] keepdim ; %d = hy.sub %x, %m
                                           %s = hy.reduce_sum (%d * %d) axes [1] ; hy.div %s, (n - 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.ir import SSAValue

from hybridize.frontends.torch.lowering import (
    CONVERTERS,
    Converter,
    Lowering,
    Unavailable,
    bind,
    node_dtype,
    node_shape,
    operand,
    refuse,
)
from hybridize.frontends.torch.numeric import Math
from hybridize.frontends.torch.shape import slice_along
from hybridize.ir.elementwise import AbsOp, AddOp, CastOp, DivOp, MulOp, NeOp, PowOp, RsqrtOp, SqrtOp, SubOp
from hybridize.ir.indexing import TakeOp
from hybridize.ir.nn import BatchNormOp
from hybridize.ir.reduce import ReduceMaxOp, ReduceMeanOp, ReduceMinOp, ReduceSumOp
from hybridize.ir.shape import BroadcastOp, ReshapeOp
from hybridize.ir.types import DYNAMIC, element_from_numpy, numpy_dtype, shape_of


def reduction_axes(node, x: SSAValue, dims: Any) -> list[int]:
    """`dim` arguments (an int, a list, None or [] for all) as sorted axes."""
    rank = len(shape_of(x))
    dims = [dims] if isinstance(dims, int) else dims
    return sorted({d % rank for d in dims}) if dims else list(range(rank))


def _count(node, x: SSAValue, axes: list[int]) -> int:
    sizes = [shape_of(x)[a] for a in axes]
    if DYNAMIC in sizes:
        raise refuse(node, "a statistic over a dynamic dimension is not supported")
    return int(np.prod(sizes, dtype=np.int64))


def variance(lo: Lowering, node, x: SSAValue, axes: list[int], correction: float, keepdim: bool) -> SSAValue:
    # var(x) = sum((x - mean(x))^2) / max(0, n - correction)
    m = Math(lo, numpy_dtype(x))
    if not axes:
        return m(MulOp, x, 0.0) if correction == 0 else m(DivOp, m(MulOp, x, 0.0), 0.0)
    mean = lo.emit(ReduceMeanOp(x, axes, keepdim=True))
    d = m(SubOp, x, mean)
    total = lo.emit(ReduceSumOp(m(MulOp, d, d), axes, keepdim=keepdim))
    return m(DivOp, total, float(max(0, _count(node, x, axes) - correction)))


def _var_std(take_root: bool) -> Converter:
    """var / std in every overload: `correction` (any number), `unbiased`
    (True is a correction of 1), `dim` (None for all), `keepdim`."""

    def convert(lo: Lowering, node, args, kwargs):
        p = bind(node, args, kwargs)
        x = p["self"]
        if numpy_dtype(x).kind != "f":
            raise refuse(node, f"expects a floating-point tensor, got {numpy_dtype(x).name}")
        if "correction" in p:
            correction = 1 if p["correction"] is None else p["correction"]
        else:
            correction = 1 if p.get("unbiased", True) else 0
        y = variance(lo, node, x, reduction_axes(node, x, p.get("dim")), float(correction), bool(p.get("keepdim")))
        return lo.emit(SqrtOp(y)) if take_root else y

    return convert


def product(lo: Lowering, node, x: SSAValue, axis: int, keepdim: bool) -> SSAValue:
    """prod along one axis by halving: the first half times the second
    (an odd element out stays), log2(n) multiplications deep."""
    size = shape_of(x)[axis]
    if size == DYNAMIC:
        raise refuse(node, "a product over a dynamic dimension is not supported")
    if size == 0:
        shape = list(shape_of(x))
        shape[axis] = 1
        x = lo.constant(np.ones(shape, numpy_dtype(x)))
    while shape_of(x)[axis] > 1:
        n = shape_of(x)[axis]
        half = n // 2
        y = lo.emit(MulOp(slice_along(lo, x, axis, 0, half), slice_along(lo, x, axis, half, half)))
        if n % 2:
            from hybridize.ir.shape import ConcatOp

            y = lo.emit(ConcatOp([y, slice_along(lo, x, axis, n - 1, 1)], axis))
        x = y
    if not keepdim:
        shape = list(shape_of(x))
        del shape[axis]
        x = lo.emit(ReshapeOp(x, shape))
    return x


def _prod(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x = operand(lo, p["self"], node_dtype(node))  # ints and bools multiply as int64, as in torch
    if p.get("dim") is None:
        rank = len(shape_of(x))
        flat = lo.emit(ReshapeOp(x, [_count(node, x, list(range(rank)))]))
        return product(lo, node, flat, 0, False)
    return product(lo, node, x, p["dim"] % max(len(shape_of(x)), 1), bool(p["keepdim"]))


def vector_norm(lo: Lowering, node, x: SSAValue, order: float, axes: list[int], keepdim: bool) -> SSAValue:
    # ||x||_p = sum(|x|^p)^(1/p); p = inf: max |x|; -inf: min |x|; 0: the count of nonzeros
    m = Math(lo, numpy_dtype(x))
    a = m(AbsOp, x)
    if order == float("inf"):
        return lo.emit(ReduceMaxOp(a, axes, keepdim=keepdim))
    if order == float("-inf"):
        return lo.emit(ReduceMinOp(a, axes, keepdim=keepdim))
    if order == 0:
        nonzero = lo.emit(CastOp(m(NeOp, x, 0.0), element_from_numpy(m.dtype)))
        return lo.emit(ReduceSumOp(nonzero, axes, keepdim=keepdim))
    if order == 1:
        return lo.emit(ReduceSumOp(a, axes, keepdim=keepdim))
    if order == 2:
        return lo.emit(SqrtOp(lo.emit(ReduceSumOp(m(MulOp, x, x), axes, keepdim=keepdim))))
    return m(PowOp, lo.emit(ReduceSumOp(m(PowOp, a, float(order)), axes, keepdim=keepdim)), 1.0 / float(order))


def _linalg_vector_norm(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x = operand(lo, p["self"], node_dtype(node))
    if numpy_dtype(x).kind != "f":
        raise refuse(node, "a norm of a non-floating tensor is not supported")
    return vector_norm(lo, node, x, float(p["ord"]), reduction_axes(node, x, p["dim"]), bool(p["keepdim"]))


def _cdist(lo: Lowering, node, args, kwargs):
    # cdist(a, b)[..., i, j] = ||a[..., i, :] - b[..., j, :]||_p, by broadcasting
    p = bind(node, args, kwargs)
    a, b, order = p["x1"], p["x2"], float(p["p"])
    sa, sb = shape_of(a), shape_of(b)
    out = node_shape(node)
    batch = list(out[:-2])
    wide_a = lo.emit(BroadcastOp(lo.emit(ReshapeOp(a, [*sa[:-1], 1, sa[-1]])), [*batch, out[-2], out[-1], sa[-1]]))
    wide_b = lo.emit(BroadcastOp(lo.emit(ReshapeOp(b, [*sb[:-2], 1, *sb[-2:]])), [*batch, out[-2], out[-1], sb[-1]]))
    diff = lo.emit(SubOp(wide_a, wide_b))
    return vector_norm(lo, node, diff, order, [len(out)], False)


def _pdist(lo: Lowering, node, args, kwargs):
    # pdist(x) = cdist(x, x)[i, j] for i < j, row by row
    p = bind(node, args, kwargs)
    x, order = p["self"], float(p["p"])
    n, d = shape_of(x)
    wide = [n, n, d]
    diff = lo.emit(
        SubOp(
            lo.emit(BroadcastOp(lo.emit(ReshapeOp(x, [n, 1, d])), wide)),
            lo.emit(BroadcastOp(lo.emit(ReshapeOp(x, [1, n, d])), wide)),
        )
    )
    full = lo.emit(ReshapeOp(vector_norm(lo, node, diff, order, [2], False), [n * n]))
    pairs = np.array([i * n + j for i in range(n) for j in range(i + 1, n)], np.int64)
    return lo.emit(TakeOp(full, lo.constant(pairs), 0))


def _batch_norm_legit(lo: Lowering, node, args, kwargs):
    """_native_batch_norm_legit: on the running statistics when not training;
    in training mode (instance norm is this op over one sample's channels) on
    the batch's own: y = (x - mean) * rsqrt(var + eps) * w + b over all
    dims but 1, var biased."""
    p = bind(node, args, kwargs)
    x, w, b, eps = p["input"], p["weight"], p["bias"], float(p["eps"])
    stats = (Unavailable(node, "saved mean"), Unavailable(node, "saved inverse std"))
    if not p["training"]:
        if p.get("running_mean") is None:
            raise refuse(node, "batch norm in eval mode without running statistics")
        return lo.emit(BatchNormOp(x, p["running_mean"], p["running_var"], w, b, eps=eps)), *stats
    rank = len(shape_of(x))
    axes = [a for a in range(rank) if a != 1]
    m = Math(lo, numpy_dtype(x))
    mean = lo.emit(ReduceMeanOp(x, axes, keepdim=True))
    d = m(SubOp, x, mean)
    var = lo.emit(ReduceMeanOp(m(MulOp, d, d), axes, keepdim=True))
    y = m(MulOp, d, lo.emit(RsqrtOp(m(AddOp, var, eps))))
    channel = [1, shape_of(x)[1], *([1] * (rank - 2))]
    if w is not None:
        y = m(MulOp, y, lo.emit(ReshapeOp(w, channel)))
    if b is not None:
        y = m(AddOp, y, lo.emit(ReshapeOp(b, channel)))
    return y, *stats


CONVERTERS.update(
    {
        "aten.var.correction": _var_std(False),
        "aten.var.dim": _var_std(False),
        "aten.var.default": _var_std(False),
        "aten.std.correction": _var_std(True),
        "aten.std.dim": _var_std(True),
        "aten.std.default": _var_std(True),
        "aten.prod.default": _prod,
        "aten.prod.dim_int": _prod,
        "aten.linalg_vector_norm.default": _linalg_vector_norm,
        "aten._cdist_forward.default": _cdist,
        "aten._pdist_forward.default": _pdist,
        "aten._native_batch_norm_legit.default": _batch_norm_legit,
    }
)
