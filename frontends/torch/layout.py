"""Converters for Core ATen layout and scatter ops built from `hy` shape and
indexing ops: diagonal, flip, slice/select scatter, masked scatter and
`x[mask] = v`, repeat_interleave with static repeats, copy and uninitialized
tensors, symbolic sizes and strides, views that name another tensor's shape.

    torch.flip(x, [1])   ->  %i = hy.constant dense<[3, 2, 1, 0]> ; hy.take %x, %i axis 1

Embedding bags with constant offsets are sums, means or maxima of rows.
Scatter by an index tensor is a one-hot compare of the index with the
positions, reduced; masks select with `hy.where`.
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue

from hybridize.frontends.torch.elementwise import _binary
from hybridize.frontends.torch.lowering import (
    CONVERTERS,
    Lowering,
    Unavailable,
    bind,
    dim_index,
    node_dtype,
    node_shape,
    operand,
    refuse,
    static_shape,
)
from hybridize.frontends.torch.shape import _sym_size, _view, slice_along
from hybridize.ir.base import constant_value
from hybridize.ir.elementwise import AddOp, CastOp, MaximumOp, MinimumOp, MulOp, NeOp, SubOp, WhereOp
from hybridize.ir.indexing import CumsumOp, TakeOp
from hybridize.ir.linalg import MatmulOp
from hybridize.ir.reduce import ReduceMaxOp
from hybridize.ir.shape import BroadcastOp, ConcatOp, ReshapeOp, TransposeOp
from hybridize.ir.types import DYNAMIC, element_from_numpy, numpy_dtype, shape_of

BOOL, I64 = np.dtype(np.bool_), np.dtype(np.int64)


def _static(node, x: SSAValue, what: str) -> tuple[int, ...]:
    shape = shape_of(x)
    if DYNAMIC in shape:
        raise refuse(node, f"{what} needs static sizes (this one depends on a dynamic dimension)")
    return shape


def take_constant(lo: Lowering, x: SSAValue, indices, axis: int) -> SSAValue:
    return lo.emit(TakeOp(x, lo.constant(np.asarray(indices, np.int64)), axis))


def _diagonal(lo: Lowering, node, args, kwargs):
    # diagonal(x, k, d1, d2): move d1, d2 last, merge them, take i * n2 + i + k (k >= 0) or (i - k) * n2 + i
    p = bind(node, args, kwargs)
    x, offset = p["self"], int(p["offset"])
    shape = _static(node, x, "diagonal")
    rank = len(shape)
    d1, d2 = dim_index(p["dim1"], rank), dim_index(p["dim2"], rank)
    rest = [d for d in range(rank) if d not in (d1, d2)]
    moved = lo.emit(TransposeOp(x, [*rest, d1, d2])) if [*rest, d1, d2] != list(range(rank)) else x
    n1, n2 = shape[d1], shape[d2]
    merged = lo.emit(ReshapeOp(moved, [*(shape[d] for d in rest), n1 * n2]))
    count = node_shape(node)[-1]
    rows = np.arange(count) + max(-offset, 0)
    return take_constant(lo, merged, rows * n2 + rows + offset, len(rest))


def _flip(lo: Lowering, node, args, kwargs):
    # flip(x, dims) = take(x, [n-1, ..., 0]) along each dim
    x, dims = args[0], args[1]
    shape = shape_of(x)
    for d in sorted({dim_index(d, len(shape)) for d in dims}):
        if shape[d] == DYNAMIC:
            raise refuse(node, "flipping the dynamic batch dimension is not supported")
        if shape[d] > 1:
            x = take_constant(lo, x, np.arange(shape[d] - 1, -1, -1), d)
    return x


def scatter_slice(lo: Lowering, node, x: SSAValue, src: SSAValue, axis: int, start: int, step: int) -> SSAValue:
    """x with src written at start, start + step, ... along axis."""
    size, count = shape_of(x)[axis], shape_of(src)[axis]
    if count == 0:
        return x
    if step == 1:  # x[:start] ++ src ++ x[start + count:]
        parts = [slice_along(lo, x, axis, 0, start)] if start else []
        parts.append(src)
        if start + count < size:
            parts.append(slice_along(lo, x, axis, start + count, size - start - count))
        return lo.emit(ConcatOp(parts, axis)) if len(parts) > 1 else src
    # where(position is written, src[(position - start) / step], x)
    positions = np.arange(size)
    written = (positions >= start) & ((positions - start) % step == 0) & (positions < start + count * step)
    picks = np.where(written, (positions - start) // step, 0)
    spread = take_constant(lo, src, picks, axis)
    mask_shape = [1] * len(shape_of(x))
    mask_shape[axis] = size
    return lo.emit(WhereOp(lo.constant(written.reshape(mask_shape)), spread, x))


def _slice_scatter(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x, src = p["self"], operand(lo, p["src"], node_dtype(node))
    axis = dim_index(p["dim"], len(shape_of(x)))
    size = _static(node, x, "slice_scatter")[axis]
    start = p["start"] or 0
    start = min(max(start + size if start < 0 else start, 0), size)
    return scatter_slice(lo, node, x, src, axis, start, int(p["step"]))


def _select_scatter(lo: Lowering, node, args, kwargs):
    # select_scatter(x, src, d, i) = slice_scatter(x, unsqueeze(src, d), d, i, i + 1)
    p = bind(node, args, kwargs)
    x = p["self"]
    axis = dim_index(p["dim"], len(shape_of(x)))
    size = _static(node, x, "select_scatter")[axis]
    index = p["index"] + size if p["index"] < 0 else p["index"]
    src = operand(lo, p["src"], node_dtype(node))
    shape = list(shape_of(src))
    shape.insert(axis, 1)
    return scatter_slice(lo, node, x, lo.emit(ReshapeOp(src, shape)), axis, index, 1)


def _index_put(lo: Lowering, node, args, kwargs):
    """x[mask] = v (and += with accumulate) for one boolean mask over the
    leading dims and values that broadcast over the selected elements:
    where(mask, v, x). Integer index tensors scatter to positions known
    only at run time and are refused."""
    p = bind(node, args, kwargs)
    x, values, accumulate = p["self"], p["values"], bool(p["accumulate"])
    indices = [i for i in p["indices"]]
    if len(indices) != 1 or indices[0] is None or numpy_dtype(indices[0]).kind != "b":
        raise refuse(node, "only x[mask] = v with one boolean mask is supported (an index tensor scatters)")
    mask = indices[0]
    shape, mshape = shape_of(x), shape_of(mask)
    rest = shape[len(mshape) :]
    values = operand(lo, values, numpy_dtype(x))
    vshape = shape_of(values)
    if len(vshape) > len(rest) and any(d != 1 for d in vshape[: len(vshape) - len(rest)]):
        raise refuse(node, "values with one row per selected element depend on the mask's contents")
    vshape = vshape[max(len(vshape) - len(rest), 0) :]
    values = lo.emit(ReshapeOp(values, [1] * (len(shape) - len(vshape)) + list(vshape)))
    mask = lo.emit(ReshapeOp(mask, [*mshape, *([1] * len(rest))]))
    if accumulate:
        values = lo.emit(AddOp(x, values))
    return lo.emit(WhereOp(mask, values, x))


def _masked_scatter(lo: Lowering, node, args, kwargs):
    # masked_scatter(x, m, s) = where(m, flat(s)[cumsum(m) - 1], x), m broadcast to x
    x, mask, source = args[0], args[1], args[2]
    shape = _static(node, x, "masked_scatter")
    n = int(np.prod(shape, dtype=np.int64))
    mask = lo.emit(BroadcastOp(mask, shape)) if shape_of(mask) != shape else mask
    flat_mask = lo.emit(ReshapeOp(mask, [n]))
    positions = lo.emit(CumsumOp(lo.emit(CastOp(flat_mask, element_from_numpy(I64))), 0))
    positions = lo.emit(MaximumOp(lo.emit(SubOp(positions, operand(lo, 1, I64))), operand(lo, 0, I64)))
    flat_source = lo.emit(ReshapeOp(source, [int(np.prod(_static(node, source, "masked_scatter")))]))
    if shape_of(flat_source)[0] == 0:
        return x
    positions = lo.emit(MinimumOp(positions, operand(lo, shape_of(flat_source)[0] - 1, I64)))
    picked = lo.emit(ReshapeOp(lo.emit(TakeOp(flat_source, positions, 0)), shape))
    return lo.emit(WhereOp(mask, picked, x))


def _repeat_interleave(lo: Lowering, node, args, kwargs):
    """Each element `repeats` times along dim (flattened when dim is None):
    an int, or a constant tensor of counts (other counts are data)."""
    p = bind(node, args, kwargs)
    x, repeats, dim = p["self"], p["repeats"], p["dim"]
    if dim is None:
        x = lo.emit(ReshapeOp(x, [int(np.prod(_static(node, x, "repeat_interleave")))]))
        dim = 0
    axis = dim_index(dim, len(shape_of(x)))
    size = _static(node, x, "repeat_interleave")[axis]
    if isinstance(repeats, SSAValue):
        counts = constant_value(repeats)
        if counts is None:
            raise refuse(node, "repeat counts computed at run time give a data-dependent shape")
        counts = np.broadcast_to(counts.reshape(-1), (size,))
    else:
        counts = np.full(size, int(repeats))
    return take_constant(lo, x, np.repeat(np.arange(size), counts), axis)


def _copy(lo: Lowering, node, args, kwargs):
    # copy(dst, src) = src broadcast to dst's shape, in dst's dtype
    dst, src = args[0], operand(lo, args[1], node_dtype(node))
    shape = shape_of(dst)
    return lo.emit(BroadcastOp(src, shape)) if shape_of(src) != shape else src


def _uninitialized(lo: Lowering, node, args, kwargs):
    """empty / empty_strided / empty_like: any values are right; zeros are
    deterministic."""
    return lo.constant(np.zeros(static_shape(node, str(node.target)), node_dtype(node)))


def _fill(lo: Lowering, node, args, kwargs):
    x, value = args[0], args[1]
    if isinstance(value, SSAValue):
        value = operand(lo, value, node_dtype(node))
        return lo.emit(BroadcastOp(value, shape_of(x))) if shape_of(value) != shape_of(x) else value
    return lo.constant(np.full(static_shape(node, "fill"), value, node_dtype(node)))


def _native_dropout(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    if p["train"]:
        raise refuse(node, "dropout in training mode is random (hybridize traces in eval mode)")
    x = p["input"]
    return x, lo.constant(np.ones(static_shape(node, "native_dropout"), BOOL))


def _embedding_bag(lo: Lowering, node, args, kwargs):
    """Sums, means or maxima of bags of embedding rows, the bags given by a
    constant offsets tensor (nn.EmbeddingBag over a 2-D input makes it an
    arange): rows = weight[indices]; sum and mean are one matmul by a
    constant [bags, rows] matrix, max reduces each bag (an empty bag is 0).
    A padding_idx row counts for nothing (sum only)."""
    p = bind(node, args, kwargs)
    weight, indices, offsets, mode = p["weight"], p["indices"], p["offsets"], int(p["mode"])
    per_sample, pad = p["per_sample_weights"], p.get("padding_idx")
    starts = constant_value(offsets) if isinstance(offsets, SSAValue) else None
    if starts is None or len(shape_of(indices)) != 1:
        raise refuse(node, "bags need a constant offsets tensor and 1-D indices (bags computed at run time are data)")
    count = _static(node, indices, "embedding_bag")[0]
    starts = [int(v) for v in starts.reshape(-1)]
    bounds = starts if p["include_last_offset"] else [*starts, count]
    bags = list(zip(bounds[:-1], bounds[1:]))
    rows = lo.emit(TakeOp(weight, indices, 0))
    dtype = numpy_dtype(weight)
    if per_sample is not None:
        rows = lo.emit(MulOp(rows, lo.emit(ReshapeOp(per_sample, [count, 1]))))
    if pad is not None and pad >= 0:
        if mode != 0:
            raise refuse(node, "padding_idx is supported with mode='sum' only")
        keep = lo.emit(CastOp(lo.emit(NeOp(indices, operand(lo, pad, numpy_dtype(indices)))), element_from_numpy(dtype)))
        rows = lo.emit(MulOp(rows, lo.emit(ReshapeOp(keep, [count, 1]))))
    stats = (Unavailable(node, "offset2bag"), Unavailable(node, "bag size"), Unavailable(node, "max indices"))
    if mode in (0, 1):
        weights = np.zeros((len(bags), count), dtype)
        for b, (start, end) in enumerate(bags):
            if end > start:
                weights[b, start:end] = 1.0 if mode == 0 else 1.0 / (end - start)
        return lo.emit(MatmulOp(lo.constant(weights), rows)), *stats
    if mode != 2 or per_sample is not None:
        raise refuse(node, f"mode {mode} with these arguments is not supported")
    width = shape_of(weight)[1]
    pooled = [
        lo.emit(ReduceMaxOp(slice_along(lo, rows, 0, start, end - start), [0], keepdim=True))
        if end > start else lo.constant(np.zeros((1, width), dtype))
        for start, end in bags
    ]
    return (lo.emit(ConcatOp(pooled, 0)) if len(pooled) > 1 else pooled[0]), *stats


CONVERTERS.update(
    {
        "aten._embedding_bag.default": _embedding_bag,
        "aten.embedding_bag.padding_idx": _embedding_bag,
        "aten.embedding_bag.default": _embedding_bag,
        "aten.diagonal.default": _diagonal,
        "aten.flip.default": _flip,
        "aten.slice_scatter.default": _slice_scatter,
        "aten.select_scatter.default": _select_scatter,
        "aten.index_put.default": _index_put,
        "aten.masked_scatter.default": _masked_scatter,
        "aten.repeat_interleave.self_int": _repeat_interleave,
        "aten.repeat_interleave.self_Tensor": _repeat_interleave,
        "aten.copy.default": _copy,
        "aten.empty.memory_format": _uninitialized,
        "aten.empty_strided.default": _uninitialized,
        "aten.empty_like.default": _uninitialized,
        "aten.new_empty.default": _uninitialized,
        "aten.fill.Scalar": _fill,
        "aten.fill.Tensor": _fill,
        "aten.native_dropout.default": _native_dropout,
        "aten.sym_numel.default": _sym_size,
        "aten.sym_stride.int": _sym_size,
        "aten.sym_storage_offset.default": _sym_size,
        "aten.unflatten.int": _view,
        "aten.view_as.default": _view,
        "aten.reshape_as.default": _view,
        "aten.min.other": _binary(MinimumOp),
        "aten.max.other": _binary(MaximumOp),
    }
)


# --- scatter by an index tensor, as a one-hot compare ---
# scatter(x, dim, index, src): out[..., index[p], ...] = src[p] (p over index's
# shape, index[p] replacing p's coordinate along dim). With
#     hits[q, j] = index[q with q[dim] := j] == q[dim]      (j over index's size along dim)
# every result element is a reduction over j: any hit (scatter a value), the
# hit src values summed (scatter_add; scatter of unique positions), their max
# or min (scatter_reduce). The one-hot is x's size times index's size along
# dim: fine for the one-hot and routing masks models build this way.


def _scatter_hits(lo: Lowering, node, x: SSAValue, dim: int, index: SSAValue) -> tuple[SSAValue, list[int]]:
    """hits [*x.shape, J] (i1) and the permutation that puts an index-shaped tensor in its place."""
    from hybridize.ir.elementwise import EqOp
    from hybridize.ir.indexing import IotaOp
    from hybridize.ir.types import tensor_type

    xs, ishape = shape_of(x), shape_of(index)
    rank = len(xs)
    if DYNAMIC in (xs[dim], ishape[dim]) or ishape.count(DYNAMIC) > 1:
        raise refuse(node, "scatter needs static sizes along its dim (the batch may be dynamic elsewhere)")
    if len(ishape) != rank:
        raise refuse(node, f"an index of rank {len(ishape)} for a tensor of rank {rank}")
    if any(i != s for d, (i, s) in enumerate(zip(ishape, xs)) if d != dim):
        raise refuse(node, "an index smaller than the tensor outside dim is not supported")
    positions = lo.emit(IotaOp(tensor_type([xs[dim]], I64), 0))
    index = operand(lo, index, I64)
    hits = lo.emit(EqOp(lo.emit(ReshapeOp(index, [*ishape, 1])), positions))  # [*index, K]
    perm = [*range(dim), rank, *range(dim + 1, rank), dim]
    return lo.emit(TransposeOp(hits, perm)), perm


def _scatter_values(lo: Lowering, node, src: SSAValue, index: SSAValue, perm: list[int], dtype) -> SSAValue:
    """src cut to index's shape, laid out as [..., 1 (at dim), ..., J] against the hits."""
    src = operand(lo, src, dtype)
    for axis, n in enumerate(shape_of(index)):
        if shape_of(src)[axis] != n:
            src = slice_along(lo, src, axis, 0, n)
    return lo.emit(TransposeOp(lo.emit(ReshapeOp(src, [*shape_of(src), 1])), perm))


def _scatter_reduced(lo: Lowering, node, x, dim, index, src, how: str) -> tuple[SSAValue, SSAValue]:
    """(any hit, the hit src values reduced by `how`) per element of x."""
    from hybridize.ir.reduce import ReduceAnyOp, ReduceMinOp, ReduceSumOp

    dtype = numpy_dtype(x)
    hits, perm = _scatter_hits(lo, node, x, dim, index)
    values = _scatter_values(lo, node, src, index, perm, dtype)
    last = len(shape_of(x))
    hit = lo.emit(ReduceAnyOp(hits, [last]))
    if how == "sum":
        fill, reduce = 0, ReduceSumOp
    else:
        big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
        fill, reduce = (-big, ReduceMaxOp) if how == "amax" else (big, ReduceMinOp)
    masked = lo.emit(WhereOp(hits, values, lo.constant(np.asarray(fill, dtype))))
    return hit, lo.emit(reduce(masked, [last]))


def _scatter(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x = p["self"]
    dim = dim_index(p["dim"], len(shape_of(x)))
    if p.get("reduce") is not None:
        raise refuse(node, "scatter with reduce= is not supported (use scatter_reduce)")
    src = p["src"] if "src" in p else p["value"]
    if not isinstance(src, SSAValue):  # a value: every hit position takes it
        hits, _ = _scatter_hits(lo, node, x, dim, p["index"])
        from hybridize.ir.reduce import ReduceAnyOp

        hit = lo.emit(ReduceAnyOp(hits, [len(shape_of(x))]))
        return lo.emit(WhereOp(hit, operand(lo, src, numpy_dtype(x)), x))
    # unique positions (torch leaves repeated ones undefined): the one hit value is their sum
    hit, value = _scatter_reduced(lo, node, x, dim, p["index"], src, "sum")
    return lo.emit(WhereOp(hit, value, x))


def _scatter_add(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x = p["self"]
    _, total = _scatter_reduced(lo, node, x, dim_index(p["dim"], len(shape_of(x))), p["index"], p["src"], "sum")
    return lo.emit(AddOp(x, total))


def _scatter_reduce(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x, how = p["self"], p["reduce"]
    if how not in ("sum", "amax", "amin"):
        raise refuse(node, f"scatter_reduce {how!r} is not supported (sum, amax, amin)")
    hit, value = _scatter_reduced(lo, node, x, dim_index(p["dim"], len(shape_of(x))), p["index"], p["src"], how)
    if p["include_self"]:
        both = {"sum": AddOp, "amax": MaximumOp, "amin": MinimumOp}[how]
        value = lo.emit(both(x, value))
    return lo.emit(WhereOp(hit, value, x))


CONVERTERS.update(
    {
        "aten.scatter.value": _scatter,
        "aten.scatter.src": _scatter,
        "aten.scatter_add.default": _scatter_add,
        "aten.scatter_reduce.two": _scatter_reduce,
    }
)
