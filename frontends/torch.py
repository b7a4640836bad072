"""PyTorch frontend: `torch.export` programs lowered to the `hy` dialect.

    >>> module = hybridize.trace(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), torch.randn(1, 4))
    >>> print(module)
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
      %0 = hy.constant dense<...> : tensor<2x4xf32>
      ...

Parameters, buffers and lifted constants become `hy.constant`s. Each ATen op
maps through `CONVERTERS` (source op -> function building `hy` ops); an op
with no entry raises `UnsupportedOpError` naming the op, the user's source
line and the list of supported ops. Both the default (training-dialect) export
and the core-ATen graph after `run_decompositions()` are accepted.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from hybridize.ir.base import constant_value
from hybridize.ir.elementwise import (
    AbsOp,
    AddOp,
    AndOp,
    CastOp,
    ClampOp,
    CosOp,
    DivOp,
    EluOp,
    EqOp,
    ErfOp,
    ExpOp,
    Expm1Op,
    FloorOp,
    GeluOp,
    GeOp,
    GtOp,
    HardsigmoidOp,
    HardswishOp,
    LeakyReluOp,
    LeOp,
    Log1pOp,
    LogOp,
    LtOp,
    MaximumOp,
    MinimumOp,
    MulOp,
    NegOp,
    NeOp,
    NotOp,
    OrOp,
    PowOp,
    ReciprocalOp,
    ReluOp,
    RsqrtOp,
    SigmoidOp,
    SiluOp,
    SinOp,
    SoftplusOp,
    SqrtOp,
    SubOp,
    TanhOp,
    WhereOp,
    XorOp,
)
from hybridize.ir.indexing import CumsumOp, GatherOp, TakeOp
from hybridize.ir.indexing import IotaOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.nn import (
    AdaptiveAvgPool2dOp,
    AttentionOp,
    AvgPool2dOp,
    BatchNormOp,
    Conv2dOp,
    LayerNormOp,
    LogSoftmaxOp,
    MaxPool2dOp,
    SoftmaxOp,
)
from hybridize.ir.reduce import ReduceAnyOp, ReduceMaxOp, ReduceMeanOp, ReduceMinOp, ReduceSumOp
from hybridize.ir.shape import BroadcastOp, ConcatOp, PadOp, ReshapeOp, SliceOp, TransposeOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.module import name_hint
from hybridize.ir.types import DYNAMIC, element_from_numpy, is_float, numpy_dtype, shape_of, tensor_type


class UnsupportedOpError(NotImplementedError):
    """A source op hybridize cannot map; names the op and the user's code."""


class Lowering:
    """State of one export being lowered: values of fx nodes, the builder."""

    def __init__(self, builder: Builder):
        self.builder = builder
        self.values: dict[str, Any] = {}

    def emit(self, op: Operation) -> SSAValue:
        self.builder.insert(op)
        return op.results[0]

    def constant(self, array: np.ndarray) -> SSAValue:
        return self.emit(ConstantOp(np.asarray(array, order="C")))  # ascontiguousarray makes 0-d 1-d

    def tensor(self, value: Any, like: SSAValue | None = None) -> SSAValue:
        """An operand as a tensor value; Python scalars become constants of
        `like`'s element type."""
        if isinstance(value, SSAValue):
            return value
        if isinstance(value, DynamicSize):
            raise UnsupportedOpError(
                f"arithmetic on a dynamic size {value!r}: with dynamic_batch=True sizes may only shape views"
            )
        from hybridize.ir.types import numpy_dtype

        dtype = numpy_dtype(like) if like is not None else np.float32
        return self.constant(np.asarray(value, dtype=dtype))


Converter = Callable[[Lowering, Any, list, dict], SSAValue]


def _binary(op_cls, reverse: bool = False) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        a, b = args[0], args[1]
        alpha = kwargs.get("alpha", args[2] if len(args) > 2 else 1)
        dtype = node_dtype(node)  # PyTorch's type promotion, Python scalars included
        a, b = _operand(lo, a, dtype), _operand(lo, b, dtype)
        if alpha != 1:  # add/sub: a + alpha * b; rsub: b - alpha * a
            scaled = _operand(lo, alpha, dtype)
            a, b = (lo.emit(MulOp(a, scaled)), b) if reverse else (a, lo.emit(MulOp(b, scaled)))
        return lo.emit(op_cls(b, a) if reverse else op_cls(a, b))

    return convert


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


def _identity(lo: Lowering, node, args, kwargs):
    return args[0]


# --- elementwise math, comparisons, logic, casts ---
# Operands are cast to the dtype PyTorch computes in (its type promotion,
# Python scalars included): the node's result dtype for arithmetic, so
# `int_tensor * 0.5` multiplies floats; `torch.result_type` of the operands
# for comparisons, so `x > 1` compares in x's dtype.


def node_dtype(node) -> np.dtype:
    """The NumPy dtype of an fx node's (first) value."""
    val = node.meta["val"]
    return _torch_dtype_to_numpy((val[0] if isinstance(val, list | tuple) else val).dtype)


def _operand(lo: Lowering, value: Any, dtype: np.dtype) -> SSAValue:
    """`value` as a tensor of `dtype`: a Python scalar becomes a constant, a
    tensor of another element type is cast."""
    if not isinstance(value, SSAValue):
        return lo.constant(np.asarray(value, dtype=dtype))
    if numpy_dtype(value) != dtype:
        return lo.emit(CastOp(value, element_from_numpy(dtype)))
    return value


def _promoted(node, a: Any, b: Any) -> np.dtype:
    """torch.result_type of two operands (fx nodes or Python scalars)."""
    import torch

    vals = [v.meta["val"] if isinstance(v, torch.fx.Node) else v for v in (a, b)]
    return _torch_dtype_to_numpy(torch.result_type(*vals))


def _unary(op_cls, **fixed) -> Converter:
    """op(x) computed in the result dtype (exp of an int tensor is a float exp)."""

    def convert(lo: Lowering, node, args, kwargs):
        return lo.emit(op_cls(_operand(lo, args[0], node_dtype(node)), **fixed))

    return convert


def _floor(lo: Lowering, node, args, kwargs):
    x = args[0]
    return lo.emit(FloorOp(x)) if is_float(x) else x  # floor of an integer is itself


def _gelu(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    return lo.emit(GeluOp(p["self"], p["approximate"]))


def _leaky_relu(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    return lo.emit(LeakyReluOp(p["self"], float(p["negative_slope"])))


def _elu(lo: Lowering, node, args, kwargs):
    # elu(x, alpha, scale) = scale * (x > 0 ? x : alpha * (exp(x) - 1)) (selu too)
    p = _bind(node, args, kwargs)
    if p["input_scale"] != 1:
        raise _refuse(node, f"input_scale={p['input_scale']} is not supported (only 1)")
    y = lo.emit(EluOp(p["self"], float(p["alpha"])))
    if p["scale"] != 1:
        y = lo.emit(MulOp(y, _operand(lo, p["scale"], numpy_dtype(y))))
    return y


def _selu(lo: Lowering, node, args, kwargs):
    # selu(x) = scale * elu(x, alpha) with PyTorch's constants
    y = lo.emit(EluOp(args[0], 1.6732632423543772))
    return lo.emit(MulOp(y, _operand(lo, 1.0507009873554805, numpy_dtype(y))))


def _softplus(lo: Lowering, node, args, kwargs):
    # softplus(x, beta) = softplus(beta * x) / beta; hy.softplus has PyTorch's threshold 20
    p = _bind(node, args, kwargs)
    x, beta = p["self"], p["beta"]
    if p["threshold"] != 20:
        raise _refuse(node, f"threshold={p['threshold']} is not supported (only the default 20)")
    if beta == 1:
        return lo.emit(SoftplusOp(x))
    b = _operand(lo, beta, numpy_dtype(x))
    return lo.emit(DivOp(lo.emit(SoftplusOp(lo.emit(MulOp(x, b)))), b))


def _constant_bound(value: Any) -> bool:
    """A Python number, or a one-element constant tensor."""
    if not isinstance(value, SSAValue):
        return True
    array = constant_value(value)
    return array is not None and array.size == 1


def _bound_value(value: Any) -> float | None:
    """A constant clamp bound as a number; None for none (or an infinite one,
    which bounds nothing on its side)."""
    if isinstance(value, SSAValue):
        value = constant_value(value).item()
    if value is None or value in (float("inf"), float("-inf")):
        return None
    return float(value)


def _clamp_to(lo: Lowering, node, x: Any, low: Any, high: Any) -> SSAValue:
    """min(max(x, low), high) in the result dtype: hy.clamp for constant
    bounds, maximum / minimum for tensor bounds."""
    dtype = node_dtype(node)
    x = _operand(lo, x, dtype)
    if not all(_constant_bound(b) for b in (low, high)) or shape_of(x) != node_shape(node):
        for b, op_cls in ((low, MaximumOp), (high, MinimumOp)):
            if b is not None:
                x = lo.emit(op_cls(x, _operand(lo, b, dtype)))
        return x
    low, high = _bound_value(low), _bound_value(high)
    if low is None and high is None:
        return x
    if low is not None and high is not None and low > high:
        low = high  # PyTorch: min(max(x, low), high) is high everywhere
    return lo.emit(ClampOp(x, low, high))


def _clamp(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    return _clamp_to(lo, node, p["self"], p["min"], p["max"])


def _hardtanh(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    return _clamp_to(lo, node, p["self"], p["min_val"], p["max_val"])


def _pow(lo: Lowering, node, args, kwargs):
    base, exponent = args[0], args[1]
    dtype = node_dtype(node)
    if dtype.kind == "f":
        return lo.emit(PowOp(_operand(lo, base, dtype), _operand(lo, exponent, dtype)))
    # integer powers: x ** k by k - 1 multiplications
    if not isinstance(exponent, int) or not 0 <= exponent <= 8:
        raise _refuse(node, "integer powers need a constant exponent in 0..8")
    x = _operand(lo, base, dtype)
    if exponent == 0:
        return lo.constant(np.ones(shape_of(x), dtype))
    y = x
    for _ in range(exponent - 1):
        y = lo.emit(MulOp(y, x))
    return y


def _compare(op_cls) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        dtype = _promoted(node, node.args[0], node.args[1])
        return lo.emit(op_cls(_operand(lo, args[0], dtype), _operand(lo, args[1], dtype)))

    return convert


_BOOL = np.dtype(np.bool_)


def _logical(op_cls) -> Converter:
    """logical_* ops: operands read as booleans (nonzero is true)."""

    def convert(lo: Lowering, node, args, kwargs):
        return lo.emit(op_cls(*(_operand(lo, a, _BOOL) for a in args[:2])))

    return convert


def _bitwise(op_cls) -> Converter:
    """bitwise ops (`&`, `|`, `^`, `~`) on bool tensors are the logical ones."""

    def convert(lo: Lowering, node, args, kwargs):
        if node_dtype(node) != _BOOL:
            raise _refuse(node, "bitwise operations are supported on bool tensors only")
        operands = [_operand(lo, a, _BOOL) for a in args[: 1 if op_cls is NotOp else 2]]
        return lo.emit(op_cls(*operands))

    return convert


def _where(lo: Lowering, node, args, kwargs):
    cond, a, b = args[0], args[1], args[2]
    dtype = node_dtype(node)
    return lo.emit(WhereOp(_operand(lo, cond, _BOOL), _operand(lo, a, dtype), _operand(lo, b, dtype)))


def _masked_fill(lo: Lowering, node, args, kwargs):
    # masked_fill(x, mask, v) = where(mask, v, x)
    x, mask, value = args[0], args[1], args[2]
    dtype = node_dtype(node)
    return lo.emit(WhereOp(_operand(lo, mask, _BOOL), _operand(lo, value, dtype), _operand(lo, x, dtype)))


def _cast(lo: Lowering, node, args, kwargs):
    """`.to(dtype)` and friends: a cast to the node's dtype; device moves are refused."""
    import torch

    device = _bind(node, args, kwargs).get("device")
    if device is not None and torch.device(device).type != "cpu":
        raise _refuse(node, f"moving tensors to device {device!s} is not supported (hybridize runs on the CPU)")
    return _operand(lo, args[0], node_dtype(node))


# --- shape and indexing ops ---
# Sizes come from torch's shapes (`node_shape`), so clamped slice bounds and
# inferred (-1) sizes need no arithmetic here; negative dims are normalized.


def _dim(dim: int, rank: int) -> int:
    return dim + rank if dim < 0 else dim


def _static(node, what: str) -> tuple[int, ...]:
    shape = node_shape(node)
    if DYNAMIC in shape:
        raise _refuse(node, f"{what} needs static sizes (this one depends on a dynamic dimension)")
    return shape


def _as_shape(lo: Lowering, node, args, kwargs):
    """squeeze, unsqueeze, ...: the same elements under torch's result shape."""
    return lo.emit(ReshapeOp(args[0], node_shape(node)))


def _cat(lo: Lowering, node, args, kwargs):
    tensors, dim = args[0], (args[1] if len(args) > 1 else kwargs.get("dim", 0))
    dtype = node_dtype(node)
    tensors = [_operand(lo, t, dtype) for t in tensors]
    return lo.emit(ConcatOp(tensors, _dim(dim, len(node_shape(node)))))


def slice_along(lo: Lowering, x: SSAValue, axis: int, start: int, count: int, step: int = 1) -> SSAValue:
    """`count` elements of x from `start` by `step` along one axis."""
    shape = list(shape_of(x))
    starts, steps = [0] * len(shape), [1] * len(shape)
    starts[axis], steps[axis], shape[axis] = start, step, count
    return lo.emit(SliceOp(x, starts, steps, shape))


def _slice(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    x = p["self"]
    axis = _dim(p["dim"], len(shape_of(x)))
    size, count = shape_of(x)[axis], node_shape(node)[axis]
    start = p["start"] or 0
    if size == DYNAMIC:
        if start == 0 and p["step"] == 1 and count == DYNAMIC:
            return x  # the whole batch
        raise _refuse(node, "slicing a dynamic dimension is not supported")
    start = min(max(start + size if start < 0 else start, 0), size)  # torch clamps
    return slice_along(lo, x, axis, start, count, p["step"])


def _select(lo: Lowering, node, args, kwargs):
    # select(x, dim, i) = reshape(slice(x, dim, i, 1))
    x, dim, index = args[0], args[1], args[2]
    axis = _dim(dim, len(shape_of(x)))
    size = shape_of(x)[axis]
    if size == DYNAMIC:
        raise _refuse(node, "selecting along a dynamic dimension is not supported")
    one = slice_along(lo, x, axis, index + size if index < 0 else index, 1)
    return lo.emit(ReshapeOp(one, node_shape(node)))


def _split(lo: Lowering, node, args, kwargs):
    """split, split_with_sizes, chunk, unbind: consecutive slices whose sizes
    are torch's output shapes."""
    p = _bind(node, args, kwargs)
    x = p["self"]
    axis = _dim(p["dim"], len(shape_of(x)))
    if shape_of(x)[axis] == DYNAMIC:
        raise _refuse(node, "splitting a dynamic dimension is not supported")
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
    p = _bind(node, args, kwargs)
    return _pad_with(lo, node, p["self"], p["pad"], p["value"])


def _pad(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    if p["mode"] != "constant":
        raise _refuse(node, f'padding mode "{p["mode"]}" is not supported (only "constant")')
    return _pad_with(lo, node, p["self"], p["pad"], p["value"])


def _expand(lo: Lowering, node, args, kwargs):
    return lo.emit(BroadcastOp(args[0], node_shape(node)))


def _repeat(lo: Lowering, node, args, kwargs):
    # repeat(x, r) = reshape(broadcast(reshape(x, [1, s0, 1, s1, ...]), [r0, s0, r1, s1, ...]))
    x, repeats = args[0], list(args[1])
    shape = (1,) * (len(repeats) - len(shape_of(x))) + shape_of(x)
    if DYNAMIC in shape:
        raise _refuse(node, "repeating a dynamic dimension is not supported")
    spread = lo.emit(ReshapeOp(x, [d for s in shape for d in (1, s)]))
    tiled = lo.emit(BroadcastOp(spread, [d for r, s in zip(repeats, shape) for d in (r, s)]))
    return lo.emit(ReshapeOp(tiled, node_shape(node)))


def _transpose(lo: Lowering, node, args, kwargs):
    x, d0, d1 = args[0], args[1], args[2]
    rank = len(shape_of(x))
    perm = list(range(rank))
    perm[_dim(d0, rank)], perm[_dim(d1, rank)] = perm[_dim(d1, rank)], perm[_dim(d0, rank)]
    return lo.emit(TransposeOp(x, perm))


def _numpy_t(lo: Lowering, node, args, kwargs):
    rank = len(shape_of(args[0]))
    return lo.emit(TransposeOp(args[0], list(reversed(range(rank)))))


def _embedding(lo: Lowering, node, args, kwargs):
    return lo.emit(TakeOp(args[0], args[1], 0))


def _index_select(lo: Lowering, node, args, kwargs):
    x, dim, index = args[0], args[1], args[2]
    return lo.emit(TakeOp(x, index, _dim(dim, len(shape_of(x)))))


def _index(lo: Lowering, node, args, kwargs):
    """x[..., i0, i1, ..., :] with integer index tensors on adjacent dims
    (broadcast together, PyTorch's negative indices wrapped): one index picks
    slices with hy.take; several index the merged dims with one linear index,
    which is made invalid (-1) where any index is out of its own range, so
    hy.take still raises for it. Constant indices fold away."""
    x, indices = args[0], list(args[1])
    used = [(axis, i) for axis, i in enumerate(indices) if i is not None]
    axes = [axis for axis, _ in used]
    if axes != list(range(axes[0], axes[0] + len(axes))):
        raise _refuse(node, "index tensors must be on adjacent dimensions (the others `:`)")
    if any(numpy_dtype(i).kind == "b" for _, i in used):
        raise _refuse(node, "boolean mask indexing has a data-dependent shape and is not supported")
    shape = shape_of(x)
    sizes = [shape[axis] for axis in axes]
    if DYNAMIC in sizes:
        raise _refuse(node, "indexing a dynamic dimension is not supported")
    i64 = np.dtype(np.int64)
    zero = _operand(lo, 0, i64)
    linear, valid = None, None
    for (_, index), size in zip(used, sizes):
        index = _operand(lo, index, i64 if len(used) > 1 else numpy_dtype(index))
        n = _operand(lo, size, numpy_dtype(index))
        z = zero if numpy_dtype(index) == i64 else _operand(lo, 0, numpy_dtype(index))
        index = lo.emit(WhereOp(lo.emit(LtOp(index, z)), lo.emit(AddOp(index, n)), index))  # i < 0: i + size
        if len(used) == 1:
            return lo.emit(TakeOp(x, index, axes[0]))
        ok = lo.emit(AndOp(lo.emit(GeOp(index, zero)), lo.emit(LtOp(index, n))))
        linear = index if linear is None else lo.emit(AddOp(lo.emit(MulOp(linear, n)), index))
        valid = ok if valid is None else lo.emit(AndOp(valid, ok))
    linear = lo.emit(WhereOp(valid, linear, _operand(lo, -1, i64)))
    d, k = axes[0], len(axes)
    merged = lo.emit(ReshapeOp(x, [*shape[:d], int(np.prod(sizes)), *shape[d + k :]]))
    return lo.emit(TakeOp(merged, linear, d))


def _diff(lo: Lowering, node, args, kwargs):
    # diff(x) = x[1:] - x[:-1] along dim (!= for bool), n times, after prepend/append
    p = _bind(node, args, kwargs)
    x = p["self"]
    axis = _dim(p["dim"], len(shape_of(x)))
    parts = [v for v in (p["prepend"], x, p["append"]) if v is not None]
    if len(parts) > 1:
        x = lo.emit(ConcatOp(parts, axis))
    for _ in range(p["n"]):
        size = shape_of(x)[axis]
        if size == DYNAMIC:
            raise _refuse(node, "diff along a dynamic dimension is not supported")
        hi, low = slice_along(lo, x, axis, 1, size - 1), slice_along(lo, x, axis, 0, size - 1)
        x = lo.emit(NeOp(hi, low) if numpy_dtype(x).kind == "b" else SubOp(hi, low))
    return x


def _gather(lo: Lowering, node, args, kwargs):
    x, dim, index = args[0], args[1], args[2]
    return lo.emit(GatherOp(x, index, _dim(dim, len(shape_of(x)))))


def _cumsum(lo: Lowering, node, args, kwargs):
    x = _operand(lo, args[0], node_dtype(node))  # int32 and bool accumulate as int64
    return lo.emit(CumsumOp(x, _dim(args[1], len(shape_of(x)))))


def _filled(value_of: Callable) -> Converter:
    """Tensor factories (full, zeros, ones_like, ...) as constants of torch's
    result shape and dtype; `value_of(args, kwargs)` is the fill value."""

    def convert(lo: Lowering, node, args, kwargs):
        shape = _static(node, str(node.target))
        return lo.constant(np.full(shape, value_of(args, kwargs), dtype=node_dtype(node)))

    return convert


def _arange(lo: Lowering, node, args, kwargs):
    # values start + step * i, computed in double like PyTorch's CPU kernel
    p = _bind(node, args, kwargs)
    start, step = p.get("start") or 0, p.get("step") or 1
    if not isinstance(node.meta["val"].shape[0], int):  # torch.arange(x.size(0)) with a dynamic batch
        if any(isinstance(v, DynamicSize) for v in (start, step)):
            raise _refuse(node, "arange with a dynamic start or step is not supported")
        return lo.emit(IotaOp(tensor_type(node_shape(node), node_dtype(node)), 0, start, step))
    (count,) = _static(node, "arange")
    return lo.constant((start + step * np.arange(count, dtype=np.float64)).astype(node_dtype(node)))


class DynamicSize:
    """`x.size(0)` of a dynamic batch: only shape arguments (view, reshape,
    expand), which converters take from torch's own result shapes, may use it."""

    def __init__(self, where: str):
        self.where = where

    def __repr__(self) -> str:
        return f"<dynamic size at {self.where}>"


def _sym_size(lo: Lowering, node, args, kwargs):
    size = node.meta["val"]
    if not isinstance(size, int):
        return DynamicSize(_source_line(node))
    return size


# --- nn ops: convolution, pooling, normalization, reductions, attention ---
# Arguments are bound by name from the op's schema (defaults included), and
# output sizes come from torch's own shapes (`node.meta["val"]`), so pooling
# rounding (ceil_mode) agrees with torch exactly.


def _bind(node, args: list, kwargs: dict) -> dict[str, Any]:
    """The ATen op's arguments by schema name, defaults filled in."""
    bound = {}
    for i, a in enumerate(node.target._schema.arguments):
        if i < len(args):
            bound[a.name] = args[i]
        elif a.name in kwargs:
            bound[a.name] = kwargs[a.name]
        else:
            bound[a.name] = a.default_value if a.has_default_value() else None
    return bound


def _refuse(node, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{node.target}: {why} (at {_source_line(node)})")


class _Unavailable:
    """An output of a multi-output op that hybridize does not compute (max-pool
    indices, batch-norm statistics): lowering any use of it raises."""

    def __init__(self, node, what: str):
        self._node, self._what = node, what

    def __getattr__(self, name):
        raise _refuse(self._node, f"its {self._what} output is not supported; only the values are")


def _pair(value, default: Sequence[int]) -> list[int]:
    """PyTorch's int-or-list window arguments as [h, w] ([] means `default`)."""
    if value is None or (isinstance(value, list | tuple) and len(value) == 0):
        return list(default)
    if isinstance(value, int):
        return [value, value]
    value = [int(v) for v in value]
    return value * 2 if len(value) == 1 else value


def _out_hw(node) -> list[int]:
    val = node.meta["val"]
    val = val[0] if isinstance(val, list | tuple) else val
    return [int(d) for d in val.shape[-2:]]


def _spatial(lo: Lowering, node, x: SSAValue, build) -> SSAValue:
    """Run `build(x4)` on NCHW; an unbatched [C, H, W] input gets a batch of 1."""
    shape = shape_of(x)
    if len(shape) == 3:
        y = build(lo.emit(ReshapeOp(x, (1, *shape))))
        return lo.emit(ReshapeOp(y, shape_of(y)[1:]))
    if len(shape) != 4:
        raise _refuse(node, f"expects a 3-D or 4-D input, got rank {len(shape)}")
    return build(x)


def _conv2d(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    if p.get("transposed"):
        raise _refuse(node, "transposed convolution is not supported")
    x, w = p["input"], p["weight"]
    if len(shape_of(w)) != 4:
        raise _refuse(node, f"only 2-D convolution is supported, got a weight of rank {len(shape_of(w))}")
    if isinstance(p["padding"], str):
        raise _refuse(node, f"padding='{p['padding']}' is not supported; pass explicit sizes")
    conv = {
        "stride": _pair(p["stride"], (1, 1)),
        "padding": _pair(p["padding"], (0, 0)),
        "dilation": _pair(p["dilation"], (1, 1)),
        "groups": int(p["groups"]),
    }
    return _spatial(lo, node, x, lambda x4: lo.emit(Conv2dOp(x4, w, p["bias"], **conv)))


def _pool_args(node, p: dict) -> tuple[list[int], list[int], list[int]]:
    kernel = _pair(p["kernel_size"], ())
    if _pair(p.get("dilation"), (1, 1)) != [1, 1]:
        raise _refuse(node, "dilated pooling is not supported")
    return kernel, _pair(p["stride"], kernel), _pair(p["padding"], (0, 0))


def _max_pool2d(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    window = _pool_args(node, p)
    return _spatial(lo, node, p["self"], lambda x: lo.emit(MaxPool2dOp(x, *window, _out_hw(node))))


def _max_pool2d_with_indices(lo: Lowering, node, args, kwargs):
    return _max_pool2d(lo, node, args, kwargs), _Unavailable(node, "indices")


def _avg_pool2d(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    if p["divisor_override"] is not None:
        raise _refuse(node, "divisor_override is not supported")
    window = _pool_args(node, p)
    include = bool(p["count_include_pad"])
    return _spatial(lo, node, p["self"], lambda x: lo.emit(AvgPool2dOp(x, *window, _out_hw(node), include)))


def _adaptive_avg_pool2d(lo: Lowering, node, args, kwargs):
    x = args[0]
    return _spatial(lo, node, x, lambda x4: lo.emit(AdaptiveAvgPool2dOp(x4, _out_hw(node))))


def _batch_norm(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    if p.get("training"):
        raise _refuse(node, "batch norm in training mode is not supported (hybridize traces in eval mode)")
    params = (p["running_mean"], p["running_var"], p["weight"], p["bias"])
    if any(v is None for v in params[:2]):
        raise _refuse(node, "batch norm without running statistics is not supported")
    return lo.emit(BatchNormOp(p["input"], *params, eps=float(p["eps"])))


def _native_batch_norm(lo: Lowering, node, args, kwargs):
    y = _batch_norm(lo, node, args, kwargs)
    return y, _Unavailable(node, "saved mean"), _Unavailable(node, "saved inverse std")


def _layer_norm(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    x, weight, bias = p["input"], p["weight"], p["bias"]
    shape = shape_of(x)
    axis = len(shape) - len(p["normalized_shape"])
    if bias is not None and weight is None:
        from hybridize.ir.types import numpy_dtype

        weight = lo.constant(np.ones(shape[axis:], numpy_dtype(x)))
    return lo.emit(LayerNormOp(x, weight, bias, axis=axis, eps=float(p["eps"])))


def _native_layer_norm(lo: Lowering, node, args, kwargs):
    y = _layer_norm(lo, node, args, kwargs)
    return y, _Unavailable(node, "mean"), _Unavailable(node, "inverse std")


def _same_dtype(node, x: SSAValue) -> None:
    """Refuse ops whose torch result changes the element type (no cast here)."""
    from hybridize.ir.types import numpy_dtype

    want = _torch_dtype_to_numpy(node.meta["val"].dtype)
    if want != numpy_dtype(x):
        raise _refuse(node, f"a {numpy_dtype(x).name} input with a {want.name} result is not supported")


def _axis_op(op_cls) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        x, dim = args[0], args[1]
        _same_dtype(node, x)
        return lo.emit(op_cls(x, dim % len(shape_of(x))))

    return convert


def _reduce(op_cls) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        p = _bind(node, args, kwargs)
        x = p["self"]
        _same_dtype(node, x)
        rank = len(shape_of(x))
        dims = p.get("dim")
        dims = [dims] if isinstance(dims, int) else dims
        axes = sorted({d % rank for d in dims}) if dims else list(range(rank))  # none or [] = all dims
        if not axes:  # a 0-d tensor
            return x
        return lo.emit(op_cls(x, axes, keepdim=bool(p.get("keepdim"))))

    return convert


def decompositions():
    """torch.export's core-ATen table, except that scaled dot-product attention
    stays whole: in C one `hy.attention` kernel measured 1.5x (full) to 3x
    (causal) faster than the decomposition's 15 kernels, and needs no [L, S]
    scores in the arena (4 MB for ViT-base's 12 heads x 197 tokens)."""
    import torch

    table = torch.export.default_decompositions()
    del table[torch.ops.aten.scaled_dot_product_attention.default]
    return table


def _attention(lo: Lowering, node, args, kwargs):
    p = _bind(node, args, kwargs)
    if p["dropout_p"]:
        raise _refuse(node, "attention dropout is not supported (trace in eval mode with dropout_p=0)")
    if p["enable_gqa"]:
        raise _refuse(node, "grouped-query attention (enable_gqa=True) is not supported")
    q = p["query"]
    scale = p["scale"] if p["scale"] is not None else 1.0 / float(np.sqrt(shape_of(q)[-1]))
    return lo.emit(AttentionOp(q, p["key"], p["value"], p["attn_mask"], scale=scale, causal=bool(p["is_causal"])))


CONVERTERS: dict[str, Converter] = {
    "aten.linear.default": _linear,
    "aten.addmm.default": _addmm,
    "aten.mm.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
    "aten.matmul.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
    "aten.bmm.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
    "aten.relu.default": lambda lo, n, a, k: lo.emit(ReluOp(a[0])),
    "aten.relu_.default": lambda lo, n, a, k: lo.emit(ReluOp(a[0])),
    "aten.add.Tensor": _binary(AddOp),
    "aten.add_.Tensor": _binary(AddOp),
    "aten.sub.Tensor": _binary(SubOp),
    "aten.rsub.Scalar": _binary(SubOp, reverse=True),
    "aten.mul.Tensor": _binary(MulOp),
    "aten.div.Tensor": _binary(DivOp),
    "aten.permute.default": _permute,
    "aten.t.default": _t,
    "aten.view.default": _view,
    "aten.reshape.default": _view,
    "aten._unsafe_view.default": _view,
    "aten.flatten.using_ints": _view,
    "aten.dropout.default": _identity,
    "aten.clone.default": _identity,
    "aten.contiguous.default": _identity,
    "aten.detach.default": _identity,
    "aten.alias.default": _identity,
    # --- elementwise math, comparisons, logic, casts ---
    "aten.add.Scalar": _binary(AddOp),
    "aten.sub.Scalar": _binary(SubOp),
    "aten.mul.Scalar": _binary(MulOp),
    "aten.div.Scalar": _binary(DivOp),
    "aten.rsub.Tensor": _binary(SubOp, reverse=True),
    "aten.mul_.Tensor": _binary(MulOp),
    "aten.neg.default": _unary(NegOp),
    "aten.abs.default": _unary(AbsOp),
    "aten.exp.default": _unary(ExpOp),
    "aten.expm1.default": _unary(Expm1Op),
    "aten.log.default": _unary(LogOp),
    "aten.log1p.default": _unary(Log1pOp),
    "aten.sqrt.default": _unary(SqrtOp),
    "aten.rsqrt.default": _unary(RsqrtOp),
    "aten.reciprocal.default": _unary(ReciprocalOp),
    "aten.erf.default": _unary(ErfOp),
    "aten.sigmoid.default": _unary(SigmoidOp),
    "aten.sigmoid_.default": _unary(SigmoidOp),
    "aten.tanh.default": _unary(TanhOp),
    "aten.tanh_.default": _unary(TanhOp),
    "aten.sin.default": _unary(SinOp),
    "aten.cos.default": _unary(CosOp),
    "aten.floor.default": _floor,
    "aten.silu.default": _unary(SiluOp),
    "aten.silu_.default": _unary(SiluOp),
    "aten.hardswish.default": _unary(HardswishOp),
    "aten.hardswish_.default": _unary(HardswishOp),
    "aten.hardsigmoid.default": _unary(HardsigmoidOp),
    "aten.hardsigmoid_.default": _unary(HardsigmoidOp),
    "aten.softplus.default": _softplus,
    "aten.gelu.default": _gelu,
    "aten.gelu_.default": _gelu,
    "aten.leaky_relu.default": _leaky_relu,
    "aten.leaky_relu_.default": _leaky_relu,
    "aten.elu.default": _elu,
    "aten.elu_.default": _elu,
    "aten.selu.default": _selu,
    "aten.clamp.default": _clamp,
    "aten.clamp.Tensor": _clamp,
    "aten.clamp_.default": _clamp,
    "aten.clamp_min.default": lambda lo, n, a, k: _clamp_to(lo, n, a[0], a[1], None),
    "aten.clamp_max.default": lambda lo, n, a, k: _clamp_to(lo, n, a[0], None, a[1]),
    "aten.hardtanh.default": _hardtanh,
    "aten.hardtanh_.default": _hardtanh,
    "aten.relu6.default": lambda lo, n, a, k: _clamp_to(lo, n, a[0], 0, 6),
    "aten.pow.Tensor_Scalar": _pow,
    "aten.pow.Tensor_Tensor": _pow,
    "aten.pow.Scalar": _pow,
    "aten.square.default": lambda lo, n, a, k: _pow(lo, n, [a[0], 2], k),
    "aten.maximum.default": _binary(MaximumOp),
    "aten.minimum.default": _binary(MinimumOp),
    "aten.eq.Scalar": _compare(EqOp),
    "aten.eq.Tensor": _compare(EqOp),
    "aten.ne.Scalar": _compare(NeOp),
    "aten.ne.Tensor": _compare(NeOp),
    "aten.lt.Scalar": _compare(LtOp),
    "aten.lt.Tensor": _compare(LtOp),
    "aten.le.Scalar": _compare(LeOp),
    "aten.le.Tensor": _compare(LeOp),
    "aten.gt.Scalar": _compare(GtOp),
    "aten.gt.Tensor": _compare(GtOp),
    "aten.ge.Scalar": _compare(GeOp),
    "aten.ge.Tensor": _compare(GeOp),
    "aten.logical_not.default": lambda lo, n, a, k: lo.emit(NotOp(_operand(lo, a[0], _BOOL))),
    "aten.logical_and.default": _logical(AndOp),
    "aten.logical_or.default": _logical(OrOp),
    "aten.logical_xor.default": _logical(XorOp),
    "aten.bitwise_not.default": _bitwise(NotOp),
    "aten.bitwise_and.Tensor": _bitwise(AndOp),
    "aten.bitwise_or.Tensor": _bitwise(OrOp),
    "aten.bitwise_xor.Tensor": _bitwise(XorOp),
    "aten.__and__.Tensor": _bitwise(AndOp),
    "aten.__or__.Tensor": _bitwise(OrOp),
    "aten.__xor__.Tensor": _bitwise(XorOp),
    "aten.where.self": _where,
    "aten.where.ScalarSelf": _where,
    "aten.where.ScalarOther": _where,
    "aten.where.Scalar": _where,
    "aten.masked_fill.Scalar": _masked_fill,
    "aten.masked_fill.Tensor": _masked_fill,
    "aten._to_copy.default": _cast,
    "aten.to.dtype": _cast,
    "aten.to.dtype_layout": _cast,
    "aten.to.device": _cast,
    "aten.type_as.default": _cast,
    # --- shape and indexing ops ---
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
    "aten.detach_.default": _identity,
    "aten.lift_fresh_copy.default": _identity,
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    "aten.conv2d.default": _conv2d,
    "aten.convolution.default": _conv2d,
    "aten.max_pool2d.default": _max_pool2d,
    "aten.max_pool2d_with_indices.default": _max_pool2d_with_indices,
    "aten.avg_pool2d.default": _avg_pool2d,
    "aten.adaptive_avg_pool2d.default": _adaptive_avg_pool2d,
    "aten._adaptive_avg_pool2d.default": _adaptive_avg_pool2d,
    "aten.batch_norm.default": _batch_norm,
    "aten._native_batch_norm_legit_no_training.default": _native_batch_norm,
    "aten.layer_norm.default": _layer_norm,
    "aten.native_layer_norm.default": _native_layer_norm,
    "aten.softmax.int": _axis_op(SoftmaxOp),
    "aten._softmax.default": _axis_op(SoftmaxOp),
    "aten.log_softmax.int": _axis_op(LogSoftmaxOp),
    "aten._log_softmax.default": _axis_op(LogSoftmaxOp),
    "aten.mean.dim": _reduce(ReduceMeanOp),
    "aten.mean.default": _reduce(ReduceMeanOp),
    "aten.sum.dim_IntList": _reduce(ReduceSumOp),
    "aten.sum.default": _reduce(ReduceSumOp),
    "aten.amax.default": _reduce(ReduceMaxOp),
    "aten.amin.default": _reduce(ReduceMinOp),
    "aten.any.dim": _reduce(ReduceAnyOp),
    "aten.any.dims": _reduce(ReduceAnyOp),
    "aten.any.default": _reduce(ReduceAnyOp),
    "aten.scaled_dot_product_attention.default": _attention,
}
"""ATen op (`str(node.target)`) -> converter. Add an entry to support an op."""


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)


def node_shape(node) -> tuple[int, ...]:
    """The static shape of an fx node's value; symbolic sizes become `?`."""
    return tuple(d if isinstance(d, int) else DYNAMIC for d in node.meta["val"].shape)


def _source_line(node) -> str:
    """`file.py:12 in forward: x = self.fc(x)` from the node's stack trace."""
    trace = node.meta.get("stack_trace") or ""
    lines = [l.strip() for l in trace.strip().splitlines() if l.strip()]
    where = next((l for l in reversed(lines) if l.startswith("File ")), None)
    code = lines[-1] if lines and not lines[-1].startswith("File ") else ""
    if where is None:
        return "(no source location recorded)"
    return f"{where}{': ' + code if code else ''}"


def _torch_dtype_to_numpy(dtype) -> np.dtype:
    import torch

    table = {
        torch.float32: np.float32,
        torch.float64: np.float64,
        torch.int64: np.int64,
        torch.int32: np.int32,
        torch.bool: np.bool_,
    }
    if dtype not in table:
        raise UnsupportedOpError(f"unsupported tensor dtype {dtype} (supported: float32, float64, int64, int32, bool)")
    return np.dtype(table[dtype])


def lower_exported_program(ep, name: str = "forward") -> ModuleOp:
    """Lower a `torch.export.ExportedProgram` to a module with `@forward`."""
    import torch

    graph = ep.graph_module.graph
    specs = {s.arg.name: s for s in ep.graph_signature.input_specs}
    state = {**ep.state_dict, **getattr(ep, "constants", {})}

    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    user_inputs = [n for n in placeholders if specs[n.name].kind.name == "USER_INPUT"]
    arg_types = []
    for n in user_inputs:
        val = n.meta["val"]
        arg_types.append(tensor_type(node_shape(n), _torch_dtype_to_numpy(val.dtype)))
    block = Block(arg_types=arg_types)
    lo = Lowering(Builder(InsertPoint.at_end(block)))
    for n, arg in zip(user_inputs, block.args):
        lo.values[n.name] = arg
        arg.name_hint = name_hint(n.name)

    def value_of(a):
        if isinstance(a, torch.fx.Node):
            return lo.values[a.name]
        if isinstance(a, list | tuple):
            return type(a)(value_of(x) for x in a)
        return a

    outputs: list[SSAValue] = []
    for node in graph.nodes:
        if node.op == "placeholder":
            spec = specs[node.name]
            if spec.kind.name == "USER_INPUT":
                continue
            tensor = state[spec.target]
            array = tensor.detach().cpu().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
            v = lo.constant(array.astype(_torch_dtype_to_numpy(tensor.dtype), copy=False))
            v.name_hint = name_hint(spec.target)
            lo.values[node.name] = v
        elif node.op == "call_function":
            target = str(node.target)
            if node.target is operator.getitem:
                seq = value_of(node.args[0])
                lo.values[node.name] = seq[node.args[1]]
                continue
            if target == "aten._assert_tensor_metadata.default":
                continue
            conv = CONVERTERS.get(target)
            if conv is None:
                raise UnsupportedOpError(
                    f"unsupported op {target} at {_source_line(node)}; "
                    f"supported ops: hybridize.frontends.torch.supported_ops() "
                    f"({len(CONVERTERS)} ops, e.g. {', '.join(supported_ops()[:6])}, ...)"
                )
            args = [value_of(a) for a in node.args]
            kwargs = {k: value_of(v) for k, v in node.kwargs.items()}
            lo.values[node.name] = conv(lo, node, args, kwargs)
        elif node.op == "output":
            outs = node.args[0]
            outputs = [value_of(o) for o in (outs if isinstance(outs, list | tuple) else [outs])]
        elif node.op == "get_attr":
            raise UnsupportedOpError(f"get_attr node {node.target} (control flow or submodules) at {_source_line(node)}")
    lo.builder.insert(ReturnOp(*outputs))
    func = FuncOp(name, ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    return module


TRAINING_SENSITIVE = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                      "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
                      "LazyBatchNorm2d", "LazyBatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
"""Module classes that compute something else in training mode."""


class TrainingModeError(ValueError):
    """A model in training mode whose result depends on it (dropout, batch norm)."""


def check_eval_mode(name: str, training: bool, submodule_kinds, force_eval: bool) -> None:
    """Refuse a model in training mode that holds dropout or batch-norm layers,
    unless `force_eval` (then it is captured as in eval mode)."""
    if not training or force_eval:
        return
    kinds = sorted({k for k in submodule_kinds if k in TRAINING_SENSITIVE})
    if kinds:
        raise TrainingModeError(
            f"{name} is in training mode and holds {', '.join(kinds)}, which behave differently in training; "
            "hybridize compiles inference only. Call model.eval() first, or pass force_eval=True to capture it "
            "as in eval mode (dropout off, batch norm on running statistics)"
        )


def trace(
    model,
    example_inputs: Sequence,
    *,
    decompose: bool = False,
    dynamic_batch: bool = False,
    force_eval: bool = False,
) -> ModuleOp:
    """Export `model` with `torch.export` (in eval mode) and lower it.

    `decompose=True` lowers the core-ATen graph (`run_decompositions()`;
    scaled dot-product attention stays whole, see `decompositions`).
    `dynamic_batch=True` keeps the leading dimension of every input symbolic,
    so the IR reads `tensor<?x...>` and one build serves any batch size.
    Data-dependent control flow is refused with the user's file and line.

    A model in training mode that holds dropout or batch norm is refused
    (`TrainingModeError`): compiled code is inference only. `force_eval=True`
    captures it as in eval mode instead (the model's own mode is restored).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    check_eval_mode(type(model).__name__, model.training, (type(m).__name__ for m in model.modules()), force_eval)
    args = tuple(example_inputs)
    dynamic_shapes = None
    if dynamic_batch:
        if not args or not all(isinstance(a, torch.Tensor) and a.dim() >= 1 for a in args):
            raise ValueError("dynamic_batch=True needs tensor example inputs with a leading (batch) dimension")
        # torch.export specializes sizes 0 and 1: trace with a batch of 2.
        args = tuple(torch.cat([a[:1], a[:1]]) if a.shape[0] < 2 else a for a in args)
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        dynamic_shapes = tuple({0: batch} for _ in args)
    was_training = model.training
    model.eval()
    try:
        ep = torch.export.export(model, args, dynamic_shapes=dynamic_shapes)
    except Exception as e:
        raise _explain_export_failure(e) from e
    finally:
        model.train(was_training)
    if decompose:
        ep = ep.run_decompositions(decompositions())
    return lower_exported_program(ep)


class ExportError(RuntimeError):
    """torch.export could not capture the model; the message says why and where."""


def _explain_export_failure(e: Exception) -> Exception:
    """Turn torch.export's failures into errors that point at the user's code."""
    text = str(e)
    name = type(e).__name__
    if "GuardOnDataDependentSymNode" in name or "data-dependent" in text or "data dependent" in text:
        where = _user_frame(text)
        return ExportError(
            f"the model branches on tensor values{(' at ' + where) if where else ''}: "
            "torch.export (and so hybridize) captures one graph for all inputs. Write the branch with "
            "torch.cond(pred, true_fn, false_fn, operands) or move it out of forward().\n"
            f"torch said: {text.strip().splitlines()[0] if text.strip() else name}"
        )
    if "Constraints violated" in text or "specialized" in text:
        return ExportError(
            "the model fixes the batch size (a dynamic batch was asked for): "
            + (text.strip().splitlines()[0] if text.strip() else name)
        )
    return e


def _user_frame(text: str) -> str | None:
    """The last `File "...", line N` of a trace that is not inside torch."""
    import re

    frames = re.findall(r'File "([^"]+)", line (\d+)', text)
    frames = [f for f in frames if "site-packages" not in f[0] and "/torch/" not in f[0]]
    if frames:
        path, line = frames[-1]
        return f"{path}:{line}"
    m = re.search(r"\(([^()]+\.py):(\d+) in [^)]*\)", text)
    return f"{m.group(1)}:{m.group(2)}" if m else None


def load_pt2(path: str, *example_inputs, **options) -> ModuleOp:
    """A program saved with `torch.export.save` (weights included)."""
    import torch

    try:
        ep = torch.export.load(path)
    except Exception as e:
        raise ValueError(f"{path}: not a readable torch.export archive ({type(e).__name__}: {e})") from None
    if options.get("decompose"):
        ep = ep.run_decompositions(decompositions())
    return lower_exported_program(ep)
