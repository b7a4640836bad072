"""Converters for elementwise math, comparisons, logic and casts."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.ir import SSAValue

from hybridize.frontends.torch.lowering import (
    CONVERTERS,
    Converter,
    Lowering,
    _promoted,
    bind,
    node_dtype,
    node_shape,
    operand,
    refuse,
)
from hybridize.ir.base import constant_value
from hybridize.ir.elementwise import (
    AbsOp,
    AddOp,
    AndOp,
    ClampOp,
    CosOp,
    DivOp,
    EluOp,
    EqOp,
    ErfOp,
    ExpOp,
    Expm1Op,
    FloorOp,
    GeOp,
    GeluOp,
    GtOp,
    HardsigmoidOp,
    HardswishOp,
    LeOp,
    LeakyReluOp,
    Log1pOp,
    LogOp,
    LtOp,
    MaximumOp,
    MinimumOp,
    MulOp,
    NeOp,
    NegOp,
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
from hybridize.ir.types import is_float, numpy_dtype, shape_of


# --- elementwise math, comparisons, logic, casts ---
# Operands are cast to the dtype PyTorch computes in (its type promotion,
# Python scalars included): the node's result dtype for arithmetic, so
# `int_tensor * 0.5` multiplies floats; `torch.result_type` of the operands
# for comparisons, so `x > 1` compares in x's dtype.


def _binary(op_cls, reverse: bool = False) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        a, b = args[0], args[1]
        alpha = kwargs.get("alpha", args[2] if len(args) > 2 else 1)
        dtype = node_dtype(node)  # PyTorch's type promotion, Python scalars included
        a, b = operand(lo, a, dtype), operand(lo, b, dtype)
        if alpha != 1:  # add/sub: a + alpha * b; rsub: b - alpha * a
            scaled = operand(lo, alpha, dtype)
            a, b = (lo.emit(MulOp(a, scaled)), b) if reverse else (a, lo.emit(MulOp(b, scaled)))
        return lo.emit(op_cls(b, a) if reverse else op_cls(a, b))

    return convert


def _unary(op_cls, **fixed) -> Converter:
    """op(x) computed in the result dtype (exp of an int tensor is a float exp)."""

    def convert(lo: Lowering, node, args, kwargs):
        return lo.emit(op_cls(operand(lo, args[0], node_dtype(node)), **fixed))

    return convert


def _floor(lo: Lowering, node, args, kwargs):
    x = args[0]
    return lo.emit(FloorOp(x)) if is_float(x) else x  # floor of an integer is itself


def _gelu(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    return lo.emit(GeluOp(p["self"], p["approximate"]))


def _leaky_relu(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    return lo.emit(LeakyReluOp(p["self"], float(p["negative_slope"])))


def _elu(lo: Lowering, node, args, kwargs):
    # elu(x, alpha, scale) = scale * (x > 0 ? x : alpha * (exp(x) - 1)) (selu too)
    p = bind(node, args, kwargs)
    if p["input_scale"] != 1:
        raise refuse(node, f"input_scale={p['input_scale']} is not supported (only 1)")
    y = lo.emit(EluOp(p["self"], float(p["alpha"])))
    if p["scale"] != 1:
        y = lo.emit(MulOp(y, operand(lo, p["scale"], numpy_dtype(y))))
    return y


def _selu(lo: Lowering, node, args, kwargs):
    # selu(x) = scale * elu(x, alpha) with PyTorch's constants
    y = lo.emit(EluOp(args[0], 1.6732632423543772))
    return lo.emit(MulOp(y, operand(lo, 1.0507009873554805, numpy_dtype(y))))


def _softplus(lo: Lowering, node, args, kwargs):
    # softplus(x, beta) = softplus(beta * x) / beta; hy.softplus has PyTorch's threshold 20
    p = bind(node, args, kwargs)
    x, beta = p["self"], p["beta"]
    if p["threshold"] != 20:
        raise refuse(node, f"threshold={p['threshold']} is not supported (only the default 20)")
    if beta == 1:
        return lo.emit(SoftplusOp(x))
    b = operand(lo, beta, numpy_dtype(x))
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
    x = operand(lo, x, dtype)
    if not all(_constant_bound(b) for b in (low, high)) or shape_of(x) != node_shape(node):
        for b, op_cls in ((low, MaximumOp), (high, MinimumOp)):
            if b is not None:
                x = lo.emit(op_cls(x, operand(lo, b, dtype)))
        return x
    low, high = _bound_value(low), _bound_value(high)
    if low is None and high is None:
        return x
    if low is not None and high is not None and low > high:
        low = high  # PyTorch: min(max(x, low), high) is high everywhere
    return lo.emit(ClampOp(x, low, high))


def _clamp(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    return _clamp_to(lo, node, p["self"], p["min"], p["max"])


def _hardtanh(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    return _clamp_to(lo, node, p["self"], p["min_val"], p["max_val"])


def _pow(lo: Lowering, node, args, kwargs):
    base, exponent = args[0], args[1]
    dtype = node_dtype(node)
    if dtype.kind == "f":
        return lo.emit(PowOp(operand(lo, base, dtype), operand(lo, exponent, dtype)))
    # integer powers: x ** k by k - 1 multiplications
    if not isinstance(exponent, int) or not 0 <= exponent <= 8:
        raise refuse(node, "integer powers need a constant exponent in 0..8")
    x = operand(lo, base, dtype)
    if exponent == 0:
        return lo.constant(np.ones(shape_of(x), dtype))
    y = x
    for _ in range(exponent - 1):
        y = lo.emit(MulOp(y, x))
    return y


def _compare(op_cls) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        dtype = _promoted(node, node.args[0], node.args[1])
        return lo.emit(op_cls(operand(lo, args[0], dtype), operand(lo, args[1], dtype)))

    return convert


BOOL = np.dtype(np.bool_)


def _logical(op_cls) -> Converter:
    """logical_* ops: operands read as booleans (nonzero is true)."""

    def convert(lo: Lowering, node, args, kwargs):
        return lo.emit(op_cls(*(operand(lo, a, BOOL) for a in args[:2])))

    return convert


def _bitwise(op_cls) -> Converter:
    """bitwise ops (`&`, `|`, `^`, `~`) on bool tensors are the logical ones."""

    def convert(lo: Lowering, node, args, kwargs):
        if node_dtype(node) != BOOL:
            raise refuse(node, "bitwise operations are supported on bool tensors only")
        operands = [operand(lo, a, BOOL) for a in args[: 1 if op_cls is NotOp else 2]]
        return lo.emit(op_cls(*operands))

    return convert


def _where(lo: Lowering, node, args, kwargs):
    cond, a, b = args[0], args[1], args[2]
    dtype = node_dtype(node)
    return lo.emit(WhereOp(operand(lo, cond, BOOL), operand(lo, a, dtype), operand(lo, b, dtype)))


def _masked_fill(lo: Lowering, node, args, kwargs):
    # masked_fill(x, mask, v) = where(mask, v, x)
    x, mask, value = args[0], args[1], args[2]
    dtype = node_dtype(node)
    return lo.emit(WhereOp(operand(lo, mask, BOOL), operand(lo, value, dtype), operand(lo, x, dtype)))


def _cast(lo: Lowering, node, args, kwargs):
    """`.to(dtype)` and friends: a cast to the node's dtype; device moves are refused."""
    import torch

    device = bind(node, args, kwargs).get("device")
    if device is not None and torch.device(device).type != "cpu":
        raise refuse(node, f"moving tensors to device {device!s} is not supported (hybridize runs on the CPU)")
    return operand(lo, args[0], node_dtype(node))


CONVERTERS.update(
    {
        "aten.relu.default": lambda lo, n, a, k: lo.emit(ReluOp(a[0])),
        "aten.relu_.default": lambda lo, n, a, k: lo.emit(ReluOp(a[0])),
        "aten.add.Tensor": _binary(AddOp),
        "aten.add_.Tensor": _binary(AddOp),
        "aten.sub.Tensor": _binary(SubOp),
        "aten.rsub.Scalar": _binary(SubOp, reverse=True),
        "aten.mul.Tensor": _binary(MulOp),
        "aten.div.Tensor": _binary(DivOp),
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
        "aten.logical_not.default": lambda lo, n, a, k: lo.emit(NotOp(operand(lo, a[0], BOOL))),
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
    }
)
