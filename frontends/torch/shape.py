"""Converters for shape, indexing and tensor-factory ops."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xdsl.ir import SSAValue

from hybridize.frontends.torch.lowering import (
    CONVERTERS,
    Converter,
    DynamicSize,
    Lowering,
    bind,
    dim_index,
    node_dtype,
    node_shape,
    operand,
    refuse,
    source_line,
    static_shape,
)
from hybridize.ir.elementwise import AddOp, AndOp, CastOp, GeOp, LtOp, MaximumOp, MulOp, NeOp, SubOp, WhereOp
from hybridize.ir.indexing import CumsumOp, GatherOp, IotaOp, TakeOp
from hybridize.ir.reduce import ReduceSumOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.shape import BroadcastOp, ConcatOp, PadOp, ReshapeOp, SliceOp, TransposeOp
from hybridize.ir.types import DYNAMIC, numpy_dtype, shape_of, tensor_type


# --- shape and indexing ops ---
# Sizes come from torch's shapes (`node_shape`), so clamped slice bounds and
# inferred (-1) sizes need no arithmetic here; negative dims are normalized.


def _permute(lo: Lowering, node, args, kwargs):
    x, dims = args[0], args[1]
    rank = len(shape_of(x))
    return lo.emit(TransposeOp(x, [d % rank for d in dims]))


def _t(lo: Lowering, node, args, kwargs):
    x = args[0]
    if len(shape_of(x)) < 2:
        return x
    return lo.emit(TransposeOp(x, [1, 0]))


def _view(lo: Lowering, node, args, kwargs):
    return lo.emit(ReshapeOp(args[0], node_shape(node)))


def identity(lo: Lowering, node, args, kwargs):
    return args[0]



def _as_shape(lo: Lowering, node, args, kwargs):
    """squeeze, unsqueeze, ...: the same elements under torch's result shape."""
    return lo.emit(ReshapeOp(args[0], node_shape(node)))


def _cat(lo: Lowering, node, args, kwargs):
    tensors, dim = args[0], (args[1] if len(args) > 1 else kwargs.get("dim", 0))
    dtype = node_dtype(node)
    tensors = [operand(lo, t, dtype) for t in tensors]
    return lo.emit(ConcatOp(tensors, dim_index(dim, len(node_shape(node)))))


def slice_along(lo: Lowering, x: SSAValue, axis: int, start: int, count: int, step: int = 1) -> SSAValue:
    """`count` elements of x from `start` by `step` along one axis."""
    shape = list(shape_of(x))
    starts, steps = [0] * len(shape), [1] * len(shape)
    starts[axis], steps[axis], shape[axis] = start, step, count
    return lo.emit(SliceOp(x, starts, steps, shape))


def _slice(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x = p["self"]
    axis = dim_index(p["dim"], len(shape_of(x)))
    size, count = shape_of(x)[axis], node_shape(node)[axis]
    start = p["start"] or 0
    if size == DYNAMIC:
        if start == 0 and p["step"] == 1 and count == DYNAMIC:
            return x  # the whole batch
        if count == DYNAMIC or start < 0:
            raise refuse(node, "slicing a dynamic dimension to a size that depends on the batch is not supported")
        # x[a:b] of the batch with a static count: take those rows (an IndexError if the batch is too small)
        rows = lo.constant(np.arange(start, start + count * p["step"], p["step"], dtype=np.int64))
        return lo.emit(TakeOp(x, rows, axis))
    start = min(max(start + size if start < 0 else start, 0), size)  # torch clamps
    return slice_along(lo, x, axis, start, count, p["step"])


def _select(lo: Lowering, node, args, kwargs):
    # select(x, dim, i) = reshape(slice(x, dim, i, 1))
    x, dim, index = args[0], args[1], args[2]
    axis = dim_index(dim, len(shape_of(x)))
    size = shape_of(x)[axis]
    if size == DYNAMIC:  # x[i] of the batch: take one index (wrapped at run time if negative)
        index = _wrapped(lo, node, lo.constant(np.asarray(index, np.int64)), size)
        return lo.emit(TakeOp(x, index, axis))
    one = slice_along(lo, x, axis, index + size if index < 0 else index, 1)
    return lo.emit(ReshapeOp(one, node_shape(node)))


def _split(lo: Lowering, node, args, kwargs):
    """split, split_with_sizes, chunk, unbind: consecutive slices whose sizes
    are torch's output shapes."""
    p = bind(node, args, kwargs)
    x = p["self"]
    axis = dim_index(p["dim"], len(shape_of(x)))
    if shape_of(x)[axis] == DYNAMIC:
        raise refuse(node, "splitting a dynamic dimension is not supported")
    parts, start = [], 0
    for val in node.meta["val"]:
        shape = tuple(int(d) if isinstance(d, int) else DYNAMIC for d in val.shape)
        count = shape[axis] if len(shape) == len(shape_of(x)) else 1
        part = slice_along(lo, x, axis, start, count)
        parts.append(part if shape_of(part) == shape else lo.emit(ReshapeOp(part, shape)))
        start += count
    return parts


def _pad_with(lo: Lowering, node, x: SSAValue, pad: Sequence[int], value: Any) -> SSAValue:
    """PyTorch's pad list ([last_lo, last_hi, prev_lo, ...]): negative amounts crop."""
    rank = len(shape_of(x))
    low, high = [0] * rank, [0] * rank
    for i in range(len(pad) // 2):
        low[rank - 1 - i], high[rank - 1 - i] = pad[2 * i], pad[2 * i + 1]
    if any(p < 0 for p in low + high):
        shape = [n - max(-lo, 0) - max(-hi, 0) for n, lo, hi in zip(shape_of(x), low, high)]
        x = lo.emit(SliceOp(x, [max(-l, 0) for l in low], [1] * rank, shape))
        low, high = [max(l, 0) for l in low], [max(h, 0) for h in high]
    if not any(low + high):
        return x
    return lo.emit(PadOp(x, low, high, float(value or 0)))


def _constant_pad(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    return _pad_with(lo, node, p["self"], p["pad"], p["value"])


def _pad(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    if p["mode"] != "constant":
        raise refuse(node, f'padding mode "{p["mode"]}" is not supported (only "constant")')
    return _pad_with(lo, node, p["self"], p["pad"], p["value"])


def _expand(lo: Lowering, node, args, kwargs):
    return lo.emit(BroadcastOp(args[0], node_shape(node)))


def _repeat(lo: Lowering, node, args, kwargs):
    # repeat(x, r) = reshape(broadcast(reshape(x, [1, s0, 1, s1, ...]), [r0, s0, r1, s1, ...]))
    # (a repeat count of the dynamic batch repeats a static dim: the batch goes on its 1)
    x, repeats = args[0], [DYNAMIC if isinstance(r, DynamicSize) else r for r in args[1]]
    shape = (1,) * (len(repeats) - len(shape_of(x))) + shape_of(x)
    if any(s == DYNAMIC and r != 1 for r, s in zip(repeats, shape)):
        raise refuse(node, "repeating a dynamic dimension is not supported")
    if repeats.count(DYNAMIC) > 1:
        raise refuse(node, "repeating by the dynamic batch more than once is not supported")
    spread = lo.emit(ReshapeOp(x, [d for s in shape for d in (1, s)]))
    tiled = lo.emit(BroadcastOp(spread, [d for r, s in zip(repeats, shape) for d in (r, s)]))
    return lo.emit(ReshapeOp(tiled, node_shape(node)))


def _transpose(lo: Lowering, node, args, kwargs):
    x, d0, d1 = args[0], args[1], args[2]
    rank = len(shape_of(x))
    perm = list(range(rank))
    perm[dim_index(d0, rank)], perm[dim_index(d1, rank)] = perm[dim_index(d1, rank)], perm[dim_index(d0, rank)]
    return lo.emit(TransposeOp(x, perm))


def _numpy_t(lo: Lowering, node, args, kwargs):
    rank = len(shape_of(args[0]))
    return lo.emit(TransposeOp(args[0], list(reversed(range(rank)))))


def _embedding(lo: Lowering, node, args, kwargs):
    return lo.emit(TakeOp(args[0], args[1], 0))


def _index_select(lo: Lowering, node, args, kwargs):
    x, dim, index = args[0], args[1], args[2]
    return lo.emit(TakeOp(x, index, dim_index(dim, len(shape_of(x)))))


def _index(lo: Lowering, node, args, kwargs):
    """x[..., i0, i1, ..., :] with integer index tensors on adjacent dims
    (broadcast together, PyTorch's negative indices wrapped): one index picks
    slices with hy.take; several index the merged dims with one linear index,
    which is made invalid (-1) where any index is out of its own range, so
    hy.take still raises for it. When an indexed dim is the dynamic batch
    (causal masks index `arange(batch)`), it cannot be merged: the indices
    are applied one after the other (`_index_in_turn`). Constant indices fold
    away."""
    x, indices = args[0], list(args[1])
    used = [(axis, i) for axis, i in enumerate(indices) if i is not None]
    axes = [axis for axis, _ in used]
    if axes != list(range(axes[0], axes[0] + len(axes))):
        raise refuse(node, "index tensors must be on adjacent dimensions (the others `:`)")
    if any(numpy_dtype(i).kind == "b" for _, i in used):
        raise refuse(node, "boolean mask indexing has a data-dependent shape and is not supported")
    shape = shape_of(x)
    sizes = [shape[axis] for axis in axes]
    if DYNAMIC in sizes:
        return _index_in_turn(lo, node, x, axes[0], [i for _, i in used])
    i64 = np.dtype(np.int64)
    zero = operand(lo, 0, i64)
    linear, valid = None, None
    for (_, index), size in zip(used, sizes):
        index = operand(lo, index, i64 if len(used) > 1 else numpy_dtype(index))
        n = operand(lo, size, numpy_dtype(index))
        z = zero if numpy_dtype(index) == i64 else operand(lo, 0, numpy_dtype(index))
        index = lo.emit(WhereOp(lo.emit(LtOp(index, z)), lo.emit(AddOp(index, n)), index))  # i < 0: i + size
        if len(used) == 1:
            return lo.emit(TakeOp(x, index, axes[0]))
        ok = lo.emit(AndOp(lo.emit(GeOp(index, zero)), lo.emit(LtOp(index, n))))
        linear = index if linear is None else lo.emit(AddOp(lo.emit(MulOp(linear, n)), index))
        valid = ok if valid is None else lo.emit(AndOp(valid, ok))
    linear = lo.emit(WhereOp(valid, linear, operand(lo, -1, i64)))
    d, k = axes[0], len(axes)
    merged = lo.emit(ReshapeOp(x, [*shape[:d], int(np.prod(sizes)), *shape[d + k :]]))
    return lo.emit(TakeOp(merged, linear, d))


def _index_in_turn(lo: Lowering, node, x: SSAValue, d: int, indices: list[SSAValue]) -> SSAValue:
    """x[:, ..., I0, I1, ..., Ik] (index tensors from dim d, broadcast to S)
    one index at a time:

        t0 = take(x, broadcast(I0, S), axis d)          # A[:d] + S + A[d+1:]
        tj = gather(t, Ij broadcast to A[:d] + S + [1] + A[d+j+1:], axis d+|S|)

    each gather picking, at every position of S, the element Ij names along
    the next indexed dim (then the kept 1 is reshaped away). Needs no merged
    dim, so any indexed dim may be the dynamic batch."""
    shape, k = shape_of(x), len(indices)
    out = node_shape(node)
    s = out[d : len(out) - (len(shape) - d - k)]  # the broadcast shape of the indices
    result = None
    for j, index in enumerate(indices):
        index = _wrapped(lo, node, operand(lo, index, np.dtype(np.int64)), shape[d + j])
        index = _broadcast_to(lo, index, s)
        if j == 0:
            result = lo.emit(TakeOp(x, index, d))
            continue
        rest = shape[d + j + 1 :]
        full = [*shape[:d], *s, 1, *rest]
        index = lo.emit(ReshapeOp(index, [*[1] * d, *s, 1, *[1] * len(rest)]))
        index = _broadcast_to(lo, index, full)
        picked = lo.emit(GatherOp(result, index, d + len(s)))
        result = lo.emit(ReshapeOp(picked, [*shape[:d], *s, *rest]))
    return result


def _broadcast_to(lo: Lowering, x: SSAValue, shape: Sequence[int]) -> SSAValue:
    if tuple(shape_of(x)) == tuple(shape):
        return x
    if len(shape_of(x)) < len(shape):
        x = lo.emit(ReshapeOp(x, [*[1] * (len(shape) - len(shape_of(x))), *shape_of(x)]))
    return lo.emit(BroadcastOp(x, shape))


def _wrapped(lo: Lowering, node, index: SSAValue, size: int) -> SSAValue:
    """PyTorch's negative indices counted from the end of a dim of `size`
    (which may be the dynamic batch); skipped when `index` cannot be negative."""
    if never_negative(index):
        return index
    dtype = numpy_dtype(index)
    n = batch_size(lo, dtype) if size == DYNAMIC else operand(lo, size, dtype)
    negative = lo.emit(LtOp(index, operand(lo, 0, dtype)))
    return lo.emit(WhereOp(negative, lo.emit(AddOp(index, n)), index))


def batch_size(lo: Lowering, dtype: np.dtype) -> SSAValue:
    """The dynamic batch size as a 0-d tensor (the sum of a batch of ones)."""
    ones = lo.emit(BroadcastOp(operand(lo, np.ones(1, dtype), dtype), [DYNAMIC]))
    return lo.emit(ReduceSumOp(ones, [0]))


def never_negative(value: SSAValue) -> bool:
    """True if every element of `value` is >= 0 by construction: an iota
    counting up from >= 0, a non-negative constant, or views, broadcasts,
    casts and sums of those (the indices causal masks are built from)."""
    owner = value.owner
    if isinstance(owner, IotaOp):
        return owner.start.value.data >= 0 and owner.step.value.data >= 0
    if isinstance(owner, ConstantOp):
        return bool((owner.numpy() >= 0).all())
    if isinstance(owner, ReshapeOp | BroadcastOp | TransposeOp | SliceOp | CastOp):
        return never_negative(owner.operands[0])
    if isinstance(owner, AddOp | MulOp | MaximumOp):
        return all(never_negative(o) for o in owner.operands)
    return False


def _diff(lo: Lowering, node, args, kwargs):
    # diff(x) = x[1:] - x[:-1] along dim (!= for bool), n times, after prepend/append
    p = bind(node, args, kwargs)
    x = p["self"]
    axis = dim_index(p["dim"], len(shape_of(x)))
    parts = [v for v in (p["prepend"], x, p["append"]) if v is not None]
    if len(parts) > 1:
        x = lo.emit(ConcatOp(parts, axis))
    for _ in range(p["n"]):
        size = shape_of(x)[axis]
        if size == DYNAMIC:
            raise refuse(node, "diff along a dynamic dimension is not supported")
        hi, low = slice_along(lo, x, axis, 1, size - 1), slice_along(lo, x, axis, 0, size - 1)
        x = lo.emit(NeOp(hi, low) if numpy_dtype(x).kind == "b" else SubOp(hi, low))
    return x


def _gather(lo: Lowering, node, args, kwargs):
    x, dim, index = args[0], args[1], args[2]
    return lo.emit(GatherOp(x, index, dim_index(dim, len(shape_of(x)))))


def _cumsum(lo: Lowering, node, args, kwargs):
    x = operand(lo, args[0], node_dtype(node))  # int32 and bool accumulate as int64
    return lo.emit(CumsumOp(x, dim_index(args[1], len(shape_of(x)))))


def _filled(value_of: Callable) -> Converter:
    """Tensor factories (full, zeros, ones_like, ...) as constants of torch's
    result shape and dtype; `value_of(args, kwargs)` is the fill value."""

    def convert(lo: Lowering, node, args, kwargs):
        shape, value = node_shape(node), value_of(args, kwargs)
        if isinstance(value, DynamicSize) or isinstance(value, SSAValue):
            raise refuse(node, "a fill value computed at run time is not supported")
        if DYNAMIC in shape:  # torch.ones(x.size(0), n): one scalar broadcast to the batch
            scalar = lo.constant(np.full([1] * len(shape), value, dtype=node_dtype(node)))
            return lo.emit(BroadcastOp(scalar, shape))
        return lo.constant(np.full(shape, value, dtype=node_dtype(node)))

    return convert


def _arange(lo: Lowering, node, args, kwargs):
    # values start + step * i, computed in double like PyTorch's CPU kernel
    p = bind(node, args, kwargs)
    start, step = p.get("start") or 0, p.get("step") or 1
    if not isinstance(node.meta["val"].shape[0], int):  # torch.arange(x.size(0)) with a dynamic batch
        if any(isinstance(v, DynamicSize) for v in (start, step)):
            raise refuse(node, "arange with a dynamic start or step is not supported")
        return lo.emit(IotaOp(tensor_type(node_shape(node), node_dtype(node)), 0, start, step))
    (count,) = static_shape(node, "arange")
    return lo.constant((start + step * np.arange(count, dtype=np.float64)).astype(node_dtype(node)))


def _sym_size(lo: Lowering, node, args, kwargs):
    size = node.meta["val"]
    if not isinstance(size, int):
        return DynamicSize(source_line(node))
    return size


CONVERTERS.update(
    {
        "aten.permute.default": _permute,
        "aten.t.default": _t,
        "aten.view.default": _view,
        "aten.reshape.default": _view,
        "aten._unsafe_view.default": _view,
        "aten.flatten.using_ints": _view,
        "aten.dropout.default": identity,
        "aten.clone.default": identity,
        "aten.contiguous.default": identity,
        "aten.detach.default": identity,
        "aten.alias.default": identity,
        "aten.cat.default": _cat,
        "aten.concat.default": _cat,
        "aten.split.Tensor": _split,
        "aten.split_with_sizes.default": _split,
        "aten.chunk.default": _split,
        "aten.unbind.int": _split,
        "aten.slice.Tensor": _slice,
        "aten.select.int": _select,
        "aten.constant_pad_nd.default": _constant_pad,
        "aten.pad.default": _pad,
        "aten.squeeze.default": _as_shape,
        "aten.squeeze.dim": _as_shape,
        "aten.squeeze.dims": _as_shape,
        "aten.unsqueeze.default": _as_shape,
        "aten.expand.default": _expand,
        "aten.expand_as.default": _expand,
        "aten.repeat.default": _repeat,
        "aten.transpose.int": _transpose,
        "aten.numpy_T.default": _numpy_t,
        "aten.embedding.default": _embedding,
        "aten.index_select.default": _index_select,
        "aten.index.Tensor": _index,
        "aten.gather.default": _gather,
        "aten.cumsum.default": _cumsum,
        "aten.diff.default": _diff,
        "aten.full.default": _filled(lambda a, k: a[1]),
        "aten.full_like.default": _filled(lambda a, k: a[1]),
        "aten.new_full.default": _filled(lambda a, k: a[2]),
        "aten.zeros.default": _filled(lambda a, k: 0),
        "aten.zeros_like.default": _filled(lambda a, k: 0),
        "aten.new_zeros.default": _filled(lambda a, k: 0),
        "aten.ones.default": _filled(lambda a, k: 1),
        "aten.ones_like.default": _filled(lambda a, k: 1),
        "aten.new_ones.default": _filled(lambda a, k: 1),
        "aten.scalar_tensor.default": _filled(lambda a, k: a[0]),
        "aten.arange.default": _arange,
        "aten.arange.start": _arange,
        "aten.arange.start_step": _arange,
        "aten.sym_size.int": _sym_size,
        "aten.detach_.default": identity,
        "aten.lift_fresh_copy.default": identity,
    }
)
