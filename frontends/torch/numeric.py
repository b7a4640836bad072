"""Converters for Core ATen math with no `hy` op of its own, written with the
ones there are: sign, rounding (ceil, trunc, round), division modes (floor,
trunc, fmod, remainder), NaN/inf tests, log2/log10, trigonometric and
hyperbolic functions and their inverses.

    torch.remainder(a, b)   ->  %q = hy.div %a, %b ; %f = hy.floor %q ; %p = hy.mul %f, %b ; hy.sub %a, %p

Each formula is written beside its converter. The inverse tangent is the
Cephes `atan` (range reduction to |x| <= tan(pi/8), then a rational
approximation): float32-exact, within ~1e-16 relative in float64; asin,
acos and atan2 are built on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from xdsl.ir import SSAValue

from hybridize.frontends.torch.elementwise import _bitwise
from hybridize.frontends.torch.lowering import CONVERTERS, Converter, Lowering, bind, node_dtype, operand, refuse
from hybridize.ir.elementwise import (
    AbsOp,
    AddOp,
    AndOp,
    CosOp,
    DivOp,
    EqOp,
    ExpOp,
    Expm1Op,
    FloorOp,
    GeOp,
    GtOp,
    Log1pOp,
    LogOp,
    LtOp,
    MulOp,
    NeOp,
    NegOp,
    OrOp,
    SinOp,
    SqrtOp,
    SubOp,
    WhereOp,
    XorOp,
)
from hybridize.ir.types import numpy_dtype, shape_of


class Math:
    """Builds elementwise formulas in one dtype: `m(AddOp, x, 1.0)` emits
    `hy.add` with the number as a constant of that dtype."""

    def __init__(self, lo: Lowering, dtype: np.dtype):
        self.lo, self.dtype = lo, np.dtype(dtype)

    def __call__(self, op_cls, *args: Any) -> SSAValue:
        return self.lo.emit(op_cls(*(self.const(a) if not isinstance(a, SSAValue) else a for a in args)))

    def const(self, value: Any) -> SSAValue:
        return self.lo.constant(np.asarray(value, dtype=self.dtype))

    def where(self, cond: SSAValue, a: Any, b: Any) -> SSAValue:
        return self(WhereOp, cond, a, b)


def _float_math(lo: Lowering, node, x: Any) -> tuple[Math, SSAValue]:
    """The node's (floating) result dtype and `x` cast to it."""
    dtype = node_dtype(node)
    if dtype.kind != "f":
        raise refuse(node, f"expects a floating-point result, got {dtype.name}")
    return Math(lo, dtype), operand(lo, x, dtype)


def _unary_formula(formula) -> Converter:
    """op(x) = formula(m, x), computed in the node's floating result dtype."""

    def convert(lo: Lowering, node, args, kwargs):
        m, x = _float_math(lo, node, args[0])
        return formula(m, x)

    return convert


# --- sign, rounding, NaN and inf ---


def _sign(lo: Lowering, node, args, kwargs):
    # sign(x) = x > 0 ? 1 : (x < 0 ? -1 : 0)   (NaN gives 0, as in PyTorch)
    x = args[0]
    dtype = numpy_dtype(x)
    if dtype.kind == "b":
        return x
    m = Math(lo, dtype)
    return m.where(m(GtOp, x, 0), 1, m.where(m(LtOp, x, 0), -1, 0))


def ceil(m: Math, x: SSAValue) -> SSAValue:
    # ceil(x) = -floor(-x)
    return m(NegOp, m(FloorOp, m(NegOp, x)))


def trunc(m: Math, x: SSAValue) -> SSAValue:
    # trunc(x) = x < 0 ? ceil(x) : floor(x)
    return m.where(m(LtOp, x, 0), ceil(m, x), m(FloorOp, x))


def round_half_even(m: Math, x: SSAValue) -> SSAValue:
    # r = floor(x), d = x - r (exact): d > 1/2 ? r + 1 : d < 1/2 ? r : r + (r mod 2);
    # from 2^23 (float32) or 2^52 (float64) on every float is whole, inf included
    r = m(FloorOp, x)
    d = m(SubOp, x, r)
    odd = m(SubOp, r, m(MulOp, m(FloorOp, m(MulOp, r, 0.5)), 2))
    tie = m(AddOp, r, odd)
    rounded = m.where(m(GtOp, d, 0.5), m(AddOp, r, 1), m.where(m(LtOp, d, 0.5), r, tie))
    whole = 2.0 ** (23 if m.dtype == np.float32 else 52)
    return m.where(m(GeOp, m(AbsOp, x), whole), x, rounded)


def _integer_identity(formula) -> Converter:
    """Rounding: integers are already whole; floats use `formula`."""

    def convert(lo: Lowering, node, args, kwargs):
        x = args[0]
        if numpy_dtype(x).kind in "biu":
            return x
        return formula(Math(lo, numpy_dtype(x)), x)

    return convert


def _round_decimals(lo: Lowering, node, args, kwargs):
    # round(x, d) = round(x * 10^d) / 10^d; d < 0: round(x / 10^-d) * 10^-d (PyTorch's order)
    p = bind(node, args, kwargs)
    x, decimals = p["self"], int(p["decimals"])
    if numpy_dtype(x).kind in "biu":
        return x
    m = Math(lo, numpy_dtype(x))
    if decimals == 0:
        return round_half_even(m, x)
    scale = 10.0 ** abs(decimals)
    if decimals > 0:
        return m(DivOp, round_half_even(m, m(MulOp, x, scale)), scale)
    return m(MulOp, round_half_even(m, m(DivOp, x, scale)), scale)


def _isnan(lo: Lowering, node, args, kwargs):
    x = args[0]
    if numpy_dtype(x).kind != "f":
        return lo.constant(np.zeros(shape_of(x), np.bool_))
    return lo.emit(NeOp(x, x))  # only NaN differs from itself


def _isinf(lo: Lowering, node, args, kwargs):
    x = args[0]
    if numpy_dtype(x).kind != "f":
        return lo.constant(np.zeros(shape_of(x), np.bool_))
    m = Math(lo, numpy_dtype(x))
    return m(EqOp, m(AbsOp, x), np.inf)


# --- division with rounding modes, fmod, remainder ---


def _int_division(lo: Lowering, node, a: SSAValue, b: SSAValue) -> tuple[Math, SSAValue, SSAValue]:
    """Truncated quotient and remainder of integers (hy.div truncates)."""
    m = Math(lo, numpy_dtype(a))
    q = m(DivOp, a, b)
    return m, q, m(SubOp, a, m(MulOp, q, b))


def _signs_differ(m: Math, r: SSAValue, b: SSAValue) -> SSAValue:
    # r != 0 and sign(r) != sign(b)
    return m(AndOp, m(NeOp, r, 0), m(XorOp, m(LtOp, r, 0), m(LtOp, b, 0)))


def divide(lo: Lowering, node, a: Any, b: Any, mode: str | None) -> SSAValue:
    """torch.div(a, b, rounding_mode=mode) in the node's result dtype."""
    dtype = node_dtype(node)
    a, b = operand(lo, a, dtype), operand(lo, b, dtype)
    m = Math(lo, dtype)
    if mode is None:
        return m(DivOp, a, b)
    if mode not in ("trunc", "floor"):
        raise refuse(node, f"rounding_mode={mode!r} is not one of None, 'trunc', 'floor'")
    if dtype.kind == "f":
        q = m(DivOp, a, b)
        return trunc(m, q) if mode == "trunc" else m(FloorOp, q)
    if dtype.kind == "b":
        raise refuse(node, "integer division of bool tensors is not supported")
    m, q, r = _int_division(lo, node, a, b)
    if mode == "trunc":
        return q
    # floor: one less than the truncated quotient where the division was inexact and the signs differ
    return m.where(_signs_differ(m, r, b), m(SubOp, q, 1), q)


def _div_mode(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    return divide(lo, node, p["self"], p["other"], p["rounding_mode"])


def _floor_divide(lo: Lowering, node, args, kwargs):
    return divide(lo, node, args[0], args[1], "floor")


def _fmod(lo: Lowering, node, args, kwargs):
    # fmod(a, b) = a - trunc(a / b) * b   (the sign of a)
    dtype = node_dtype(node)
    a, b = operand(lo, args[0], dtype), operand(lo, args[1], dtype)
    if dtype.kind == "f":
        m = Math(lo, dtype)
        return m(SubOp, a, m(MulOp, trunc(m, m(DivOp, a, b)), b))
    if dtype.kind == "b":
        raise refuse(node, "fmod of bool tensors is not supported")
    return _int_division(lo, node, a, b)[2]


def _remainder(lo: Lowering, node, args, kwargs):
    # remainder(a, b) = a - floor(a / b) * b   (the sign of b)
    dtype = node_dtype(node)
    a, b = operand(lo, args[0], dtype), operand(lo, args[1], dtype)
    if dtype.kind == "f":
        m = Math(lo, dtype)
        return m(SubOp, a, m(MulOp, m(FloorOp, m(DivOp, a, b)), b))
    if dtype.kind == "b":
        raise refuse(node, "remainder of bool tensors is not supported")
    m, _, r = _int_division(lo, node, a, b)
    return m.where(_signs_differ(m, r, b), m(AddOp, r, b), r)


# --- logarithms and exponentials in other bases ---


def _log_base(base: float) -> Converter:
    # log_b(x) = log(x) / log(b)
    return _unary_formula(lambda m, x: m(DivOp, m(LogOp, x), math.log(base)))


# --- trigonometric and hyperbolic functions ---

_ATAN_P = (-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1,
           -1.228866684490136173410e2, -6.485021904942025371773e1)
_ATAN_Q = (2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2,
           4.853903996359136964868e2, 1.945506571482613964425e2)
_TAN_3PI_8 = 2.41421356237309504880


def _poly(m: Math, z: SSAValue, coefficients, leading_one: bool = False) -> SSAValue:
    """Horner's rule: c0 z^n + ... + cn (with a leading 1 z^(n+1) if asked)."""
    coefficients = list(coefficients)
    acc = m(AddOp, z, coefficients[0]) if leading_one else m.const(coefficients[0])
    for c in coefficients[1:]:
        acc = m(AddOp, m(MulOp, acc, z), c)
    return acc


def atan(m: Math, x: SSAValue) -> SSAValue:
    """Cephes atan: |x| > tan(3pi/8): pi/2 + atan(-1/|x|); |x| > 0.66:
    pi/4 + atan((|x|-1)/(|x|+1)); then t + t z P(z)/Q(z), z = t^2."""
    a = m(AbsOp, x)
    big, mid = m(GtOp, a, _TAN_3PI_8), m(GtOp, a, 0.66)
    t = m.where(big, m(NegOp, m(DivOp, 1.0, a)), m.where(mid, m(DivOp, m(SubOp, a, 1.0), m(AddOp, a, 1.0)), a))
    base = m.where(big, math.pi / 2, m.where(mid, math.pi / 4, 0.0))
    z = m(MulOp, t, t)
    ratio = m(DivOp, m(MulOp, z, _poly(m, z, _ATAN_P)), _poly(m, z, _ATAN_Q, leading_one=True))
    y = m(AddOp, base, m(AddOp, m(MulOp, t, ratio), t))
    y = m.where(m(NeOp, x, x), x, y)  # NaN stays NaN
    return m.where(m(LtOp, x, 0), m(NegOp, y), y)


def atan2(m: Math, y: SSAValue, x: SSAValue) -> SSAValue:
    # atan2(y, x) = atan(y / x), + pi (y >= 0) or - pi (y < 0) when x < 0; 0 at the origin
    a = atan(m, m(DivOp, y, x))
    a = m.where(m(LtOp, x, 0), m.where(m(LtOp, y, 0), m(SubOp, a, math.pi), m(AddOp, a, math.pi)), a)
    origin = m(AndOp, m(EqOp, x, 0), m(EqOp, y, 0))
    return m.where(origin, m.where(m(LtOp, x, 0), math.pi, 0.0), a)


def _one_minus_square_root(m: Math, x: SSAValue) -> SSAValue:
    # sqrt(1 - x^2) as sqrt((1 - x)(1 + x)): no cancellation near |x| = 1
    return m(SqrtOp, m(MulOp, m(SubOp, 1.0, x), m(AddOp, 1.0, x)))


def _atan2(lo: Lowering, node, args, kwargs):
    dtype = node_dtype(node)
    if dtype.kind != "f":
        raise refuse(node, f"expects a floating-point result, got {dtype.name}")
    return atan2(Math(lo, dtype), operand(lo, args[0], dtype), operand(lo, args[1], dtype))


def _asinh(m: Math, x: SSAValue) -> SSAValue:
    # asinh(x) = sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2)))
    a = m(AbsOp, x)
    sq = m(MulOp, a, a)
    y = m(Log1pOp, m(AddOp, a, m(DivOp, sq, m(AddOp, 1.0, m(SqrtOp, m(AddOp, sq, 1.0))))))
    y = m.where(m(GtOp, a, 1e18 if m.dtype == np.float32 else 1e150), m(AddOp, m(LogOp, a), math.log(2)), y)
    return m.where(m(LtOp, x, 0), m(NegOp, y), y)


def _acosh(m: Math, x: SSAValue) -> SSAValue:
    # acosh(x) = log1p(t + sqrt(2t + t^2)), t = x - 1   (NaN below 1)
    t = m(SubOp, x, 1.0)
    y = m(Log1pOp, m(AddOp, t, m(SqrtOp, m(AddOp, m(MulOp, t, 2.0), m(MulOp, t, t)))))
    return m.where(m(GtOp, x, 1e18 if m.dtype == np.float32 else 1e150), m(AddOp, m(LogOp, x), math.log(2)), y)


def _atanh(m: Math, x: SSAValue) -> SSAValue:
    # atanh(x) = log1p(2x / (1 - x)) / 2
    return m(MulOp, m(Log1pOp, m(DivOp, m(MulOp, x, 2.0), m(SubOp, 1.0, x))), 0.5)


def _sinh(m: Math, x: SSAValue) -> SSAValue:
    # sinh(x) = (expm1(x) - expm1(-x)) / 2   (accurate near 0)
    return m(MulOp, m(SubOp, m(Expm1Op, x), m(Expm1Op, m(NegOp, x))), 0.5)


def _cosh(m: Math, x: SSAValue) -> SSAValue:
    # cosh(x) = (exp(x) + exp(-x)) / 2
    return m(MulOp, m(AddOp, m(ExpOp, x), m(ExpOp, m(NegOp, x))), 0.5)


CONVERTERS.update(
    {
        "aten.sign.default": _sign,
        "aten.ceil.default": _integer_identity(ceil),
        "aten.trunc.default": _integer_identity(trunc),
        "aten.fix.default": _integer_identity(trunc),
        "aten.round.default": _integer_identity(round_half_even),
        "aten.round.decimals": _round_decimals,
        "aten.isnan.default": _isnan,
        "aten.isinf.default": _isinf,
        "aten.div.Tensor_mode": _div_mode,
        "aten.div.Scalar_mode": _div_mode,
        "aten.floor_divide.default": _floor_divide,
        "aten.floor_divide.Scalar": _floor_divide,
        "aten.fmod.Tensor": _fmod,
        "aten.fmod.Scalar": _fmod,
        "aten.remainder.Tensor": _remainder,
        "aten.remainder.Scalar": _remainder,
        "aten.remainder.Scalar_Tensor": _remainder,
        "aten.log2.default": _log_base(2.0),
        "aten.log10.default": _log_base(10.0),
        "aten.exp2.default": _unary_formula(lambda m, x: m(ExpOp, m(MulOp, x, math.log(2.0)))),
        "aten.tan.default": _unary_formula(lambda m, x: m(DivOp, m(SinOp, x), m(CosOp, x))),
        "aten.atan.default": _unary_formula(atan),
        "aten.asin.default": _unary_formula(lambda m, x: atan2(m, x, _one_minus_square_root(m, x))),
        "aten.acos.default": _unary_formula(lambda m, x: atan2(m, _one_minus_square_root(m, x), x)),
        "aten.atan2.default": _atan2,
        "aten.arctan2.default": _atan2,
        "aten.sinh.default": _unary_formula(_sinh),
        "aten.cosh.default": _unary_formula(_cosh),
        "aten.asinh.default": _unary_formula(_asinh),
        "aten.acosh.default": _unary_formula(_acosh),
        "aten.atanh.default": _unary_formula(_atanh),
        "aten.bitwise_and.Scalar": _bitwise(AndOp),
        "aten.bitwise_or.Scalar": _bitwise(OrOp),
        "aten.bitwise_xor.Scalar": _bitwise(XorOp),
        "aten.__and__.Scalar": _bitwise(AndOp),
        "aten.__or__.Scalar": _bitwise(OrOp),
        "aten.__xor__.Scalar": _bitwise(XorOp),
    }
)
