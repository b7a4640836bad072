"""Converters for ordering and selection: sort, topk, argmax/argmin, max/min
over a dim, the cumulative product, and the triangle and roll ops built from
existing ones.

    torch.topk(x, k, dim)       -> hy.sort / hy.argsort, then hy.slice of k
    x.max(dim)                  -> hy.reduce_max and hy.argmax
    torch.roll(x, s, d)         -> two hy.slice and one hy.concat per dim
    torch.triu(x, k)            -> hy.where over a constant [H, W] mask
"""

from __future__ import annotations

import numpy as np

from hybridize.frontends.torch.lowering import CONVERTERS, Lowering, bind, dim_index, node_dtype, operand, refuse
from hybridize.frontends.torch.shape import slice_along
from hybridize.ir.elementwise import WhereOp
from hybridize.ir.indexing import CumprodOp
from hybridize.ir.reduce import ReduceMaxOp, ReduceMinOp
from hybridize.ir.shape import ConcatOp, ReshapeOp
from hybridize.ir.sort import ArgMaxOp, ArgMinOp, ArgsortOp, SortOp
from hybridize.ir.types import DYNAMIC, numpy_dtype, shape_of


def _sort(lo: Lowering, node, args, kwargs):
    """(values, indices); the sort is always stable (PyTorch's CPU order)."""
    p = bind(node, args, kwargs)
    x = p["self"]
    axis = dim_index(int(p["dim"]), max(len(shape_of(x)), 1))
    if not shape_of(x):
        return x, lo.constant(np.zeros((), np.int64))
    down = bool(p["descending"])
    return lo.emit(SortOp(x, axis, down)), lo.emit(ArgsortOp(x, axis, down))


def _topk(lo: Lowering, node, args, kwargs):
    """The first k of a stable sort (descending for `largest`)."""
    p = bind(node, args, kwargs)
    x, k = p["self"], int(p["k"])
    shape = shape_of(x)
    if not shape:
        raise refuse(node, "topk of a 0-d tensor is not supported")
    axis = dim_index(int(p["dim"]), len(shape))
    if not 0 <= k <= shape[axis]:
        raise refuse(node, f"k={k} is out of range for a dim of size {shape[axis]}")
    down = bool(p["largest"])
    values = lo.emit(SortOp(x, axis, down))
    indices = lo.emit(ArgsortOp(x, axis, down))
    return slice_along(lo, values, axis, 0, k), slice_along(lo, indices, axis, 0, k)


def _arg_reduce(op_cls):
    def convert(lo: Lowering, node, args, kwargs):
        p = bind(node, args, kwargs)
        x, dim, keep = p["self"], p["dim"], bool(p["keepdim"])
        shape = shape_of(x)
        if dim is None or not shape:  # over the flattened tensor
            if DYNAMIC in shape:
                raise refuse(node, "an arg-reduction over every dim of a dynamic-batch tensor is not supported; give dim")
            flat = lo.emit(ReshapeOp(x, (int(np.prod(shape, dtype=np.int64)),)))
            index = lo.emit(op_cls(flat, 0))
            return lo.emit(ReshapeOp(index, (1,) * len(shape))) if keep else index
        return lo.emit(op_cls(x, dim_index(int(dim), len(shape)), keep))

    return convert


def _extreme_dim(reduce_cls, arg_cls):
    """max.dim / min.dim: (values, first index of the extreme)."""

    def convert(lo: Lowering, node, args, kwargs):
        p = bind(node, args, kwargs)
        x, keep = p["self"], bool(p["keepdim"])
        if not shape_of(x):
            return x, lo.constant(np.zeros((), np.int64))
        axis = dim_index(int(p["dim"]), len(shape_of(x)))
        return lo.emit(reduce_cls(x, [axis], keepdim=keep)), lo.emit(arg_cls(x, axis, keep))

    return convert


def _roll(lo: Lowering, node, args, kwargs):
    """roll(x, s, d) = concat(x[n - s:], x[:n - s]) along d (s mod n); with no
    dims, over the flattened tensor."""
    p = bind(node, args, kwargs)
    x, shifts, dims = p["self"], list(p["shifts"]), list(p["dims"] or [])
    shape = shape_of(x)
    if not dims:
        if DYNAMIC in shape:
            raise refuse(node, "roll without dims over a dynamic-batch tensor is not supported; give dims")
        if len(shifts) != 1:
            raise refuse(node, "roll without dims takes one shift")
        flat = lo.emit(ReshapeOp(x, (int(np.prod(shape, dtype=np.int64)),)))
        return lo.emit(ReshapeOp(_roll_axis(lo, flat, 0, int(shifts[0])), shape))
    if len(shifts) != len(dims):
        raise refuse(node, f"roll needs one shift per dim, got {len(shifts)} shifts for {len(dims)} dims")
    for s, d in zip(shifts, dims):
        x = _roll_axis(lo, x, dim_index(int(d), len(shape)), int(s))
    return x


def _roll_axis(lo: Lowering, x, axis: int, shift: int):
    n = shape_of(x)[axis]
    if n <= 0:
        return x
    s = shift % n
    if s == 0:
        return x
    tail = slice_along(lo, x, axis, n - s, s)
    head = slice_along(lo, x, axis, 0, n - s)
    return lo.emit(ConcatOp([tail, head], axis))


def _cumprod(lo: Lowering, node, args, kwargs):
    x = operand(lo, args[0], node_dtype(node))  # int32 and bool multiply as int64
    return lo.emit(CumprodOp(x, dim_index(args[1], len(shape_of(x)))))


def _triangle(upper: bool):
    """triu/tril: x where the element's column minus row is >= k (triu) or
    <= k (tril), else 0; the mask is a constant over the last two dims."""

    def convert(lo: Lowering, node, args, kwargs):
        p = bind(node, args, kwargs)
        x, k = p["self"], int(p["diagonal"])
        shape = shape_of(x)
        if len(shape) < 2 or any(d < 0 for d in shape[-2:]):
            raise refuse(node, "triu/tril need a tensor of rank >= 2 with static last two dims")
        rows, cols = shape[-2:]
        offset = np.arange(cols)[None, :] - np.arange(rows)[:, None]
        mask = offset >= k if upper else offset <= k
        zero = lo.constant(np.zeros((), numpy_dtype(x)))
        return lo.emit(WhereOp(lo.constant(mask), x, zero))

    return convert


CONVERTERS.update(
    {
        "aten.sort.default": _sort,
        "aten.sort.stable": _sort,
        "aten.topk.default": _topk,
        "aten.argmax.default": _arg_reduce(ArgMaxOp),
        "aten.argmin.default": _arg_reduce(ArgMinOp),
        "aten.max.dim": _extreme_dim(ReduceMaxOp, ArgMaxOp),
        "aten.min.dim": _extreme_dim(ReduceMinOp, ArgMinOp),
        "aten.roll.default": _roll,
        "aten.cumprod.default": _cumprod,
        "aten.triu.default": _triangle(upper=True),
        "aten.tril.default": _triangle(upper=False),
    }
)
