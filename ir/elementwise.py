"""Elementwise `hy` ops: arithmetic, math functions, activations, comparisons,
logic, selection and casts, all with NumPy broadcasting.

    %c = hy.add %a, %b : (tensor<1x256xf32>, tensor<256xf32>) -> tensor<1x256xf32>
    %r = hy.relu %c : tensor<1x256xf32>
    %g = hy.gelu %r approximate "tanh" : tensor<1x256xf32>
    %k = hy.clamp %g min 0.000000e+00 max 6.000000e+00 : tensor<1x256xf32>
    %m = hy.gt %k, %b : (tensor<1x256xf32>, tensor<256xf32>) -> tensor<1x256xi1>
    %w = hy.where %m, %k, %b : (tensor<1x256xi1>, tensor<1x256xf32>, tensor<256xf32>) -> tensor<1x256xf32>
    %i = hy.cast %w : tensor<1x256xf32> -> tensor<1x256xi64>

Every op here carries the `Elementwise` trait: result element i depends only on
the operand elements at the broadcast index i, so `fuse` may put it in a loop
and `plan` may run it in place. Semantics follow PyTorch where NumPy and
PyTorch differ (gelu, softplus's threshold, hardswish); NaN propagates through
every float op (maximum/minimum/clamp/relu included). The NumPy backend's rules
(`backends/numpy.py`) are the executable definition of each op.
"""

from __future__ import annotations

import abc
import math

from xdsl.dialects.builtin import (
    Float64Type,
    FloatAttr,
    IntegerType,
    StringAttr,
    TensorType,
    f64,
    i1,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from hybridize.errors import excerpt
from hybridize.ir.base import (
    BinaryOp,
    Canonical,
    Elementwise,
    FloatUnaryOp,
    HyOp,
    UnaryOp,
    check_result_shape,
    op_error,
    same_element_type,
    shapes_match,
    tensor_shape,
)
from hybridize.ir.types import broadcast_shapes, format_shape, is_float, shape_of


def is_bool(value: SSAValue | Attribute) -> bool:
    t = value.type if isinstance(value, SSAValue) else value
    return isinstance(t, TensorType) and t.element_type == i1


def broadcast_all(op_name: str, *values: SSAValue) -> tuple[int, ...]:
    """The broadcast shape of several values (ValueError naming the op if none)."""
    shape: tuple[int, ...] | None = ()
    for v in values:
        shape = broadcast_shapes(shape, shape_of(v)) if shape is not None else None
    if shape is None:
        listed = ", ".join(format_shape(shape_of(v)) for v in values)
        raise ValueError(f"{op_name}: shapes {listed} do not broadcast")
    return shape


def verify_broadcast(op: HyOp, *values: SSAValue) -> None:
    """The result shape is the broadcast of the operand shapes."""
    shapes = [tensor_shape(op, v, "operand") for v in values]
    shape: tuple[int, ...] | None = ()
    for s in shapes:
        shape = broadcast_shapes(shape, s) if shape is not None else None
    if shape is None:
        raise op_error(op, f"shapes {', '.join(format_shape(s) for s in shapes)} do not broadcast")
    check_result_shape(op, shape)


# --- arithmetic ---


@irdl_op_definition
class AddOp(BinaryOp):
    name = "hy.add"


@irdl_op_definition
class SubOp(BinaryOp):
    name = "hy.sub"


@irdl_op_definition
class MulOp(BinaryOp):
    name = "hy.mul"


@irdl_op_definition
class DivOp(BinaryOp):
    """Division; true division on floats, C-style truncation is not used."""

    name = "hy.div"


class FloatBinaryOp(BinaryOp, abc.ABC):
    """A broadcasting binary op defined on floating-point tensors only."""

    def verify_(self) -> None:
        super().verify_()
        if not is_float(self.lhs):
            raise op_error(self, f"expects floating-point tensors, got {self.lhs.type}")


@irdl_op_definition
class PowOp(FloatBinaryOp):
    """lhs ** rhs (NaN for a negative base and a non-integer exponent)."""

    name = "hy.pow"


@irdl_op_definition
class MaximumOp(BinaryOp):
    """The larger operand; NaN if either is NaN (like torch.maximum)."""

    name = "hy.maximum"


@irdl_op_definition
class MinimumOp(BinaryOp):
    """The smaller operand; NaN if either is NaN (like torch.minimum)."""

    name = "hy.minimum"


# --- unary math and activations ---


class NumericUnaryOp(UnaryOp, abc.ABC):
    """A unary op on numbers (float or integer), not on i1."""

    def verify_(self) -> None:
        if is_bool(self.input):
            raise op_error(self, f"expects a numeric tensor, got {self.input.type}")


@irdl_op_definition
class ReluOp(UnaryOp):
    """max(x, 0); NaN stays NaN."""

    name = "hy.relu"


@irdl_op_definition
class NegOp(NumericUnaryOp):
    name = "hy.neg"


@irdl_op_definition
class AbsOp(NumericUnaryOp):
    name = "hy.abs"


@irdl_op_definition
class ExpOp(FloatUnaryOp):
    name = "hy.exp"


@irdl_op_definition
class Expm1Op(FloatUnaryOp):
    """exp(x) - 1, accurate near 0."""

    name = "hy.expm1"


@irdl_op_definition
class LogOp(FloatUnaryOp):
    """Natural logarithm: -inf at 0, NaN below."""

    name = "hy.log"


@irdl_op_definition
class Log1pOp(FloatUnaryOp):
    """log(1 + x), accurate near 0."""

    name = "hy.log1p"


@irdl_op_definition
class SqrtOp(FloatUnaryOp):
    name = "hy.sqrt"


@irdl_op_definition
class RsqrtOp(FloatUnaryOp):
    """1 / sqrt(x)."""

    name = "hy.rsqrt"


@irdl_op_definition
class ReciprocalOp(FloatUnaryOp):
    """1 / x."""

    name = "hy.reciprocal"


@irdl_op_definition
class ErfOp(FloatUnaryOp):
    """The error function."""

    name = "hy.erf"


@irdl_op_definition
class SigmoidOp(FloatUnaryOp):
    """1 / (1 + exp(-x))."""

    name = "hy.sigmoid"


@irdl_op_definition
class TanhOp(FloatUnaryOp):
    name = "hy.tanh"


@irdl_op_definition
class SinOp(FloatUnaryOp):
    name = "hy.sin"


@irdl_op_definition
class CosOp(FloatUnaryOp):
    name = "hy.cos"


@irdl_op_definition
class FloorOp(FloatUnaryOp):
    name = "hy.floor"


@irdl_op_definition
class SiluOp(FloatUnaryOp):
    """x / (1 + exp(-x)) (swish)."""

    name = "hy.silu"


@irdl_op_definition
class HardswishOp(FloatUnaryOp):
    """x * min(max(x + 3, 0), 6) / 6."""

    name = "hy.hardswish"


@irdl_op_definition
class HardsigmoidOp(FloatUnaryOp):
    """min(max(x + 3, 0), 6) / 6."""

    name = "hy.hardsigmoid"


@irdl_op_definition
class SoftplusOp(FloatUnaryOp):
    """log(1 + exp(x)), and x itself above 20 (PyTorch's default threshold)."""

    name = "hy.softplus"


GELU_APPROXIMATIONS = ("none", "tanh")


@irdl_op_definition
class GeluOp(FloatUnaryOp):
    """x * Phi(x) with Phi the normal CDF: exact via erf (`approximate "none"`,
    the default, not printed) or with PyTorch's tanh formula."""

    name = "hy.gelu"

    approximate = opt_prop_def(StringAttr, default_value=StringAttr("none"))
    assembly_format = "$input (`approximate` $approximate^)? attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, approximate: str = "none"):
        super().__init__(input, properties={"approximate": StringAttr(approximate)})

    def verify_(self) -> None:
        super().verify_()
        if self.approximate.data not in GELU_APPROXIMATIONS:
            raise op_error(
                self, f'approximate must be "none" or "tanh", got "{excerpt(self.approximate.data)}"'
            )


def _finite(op: HyOp, what: str, attr: FloatAttr | None) -> None:
    if attr is not None and not math.isfinite(attr.value.data):
        raise op_error(op, f"{what} must be finite, got {attr.value.data}")


@irdl_op_definition
class LeakyReluOp(FloatUnaryOp):
    """x if x > 0 else slope * x."""

    name = "hy.leaky_relu"

    slope = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `slope` $slope attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, slope: float):
        super().__init__(input, properties={"slope": FloatAttr(float(slope), f64)})

    def verify_(self) -> None:
        super().verify_()
        _finite(self, "slope", self.slope)


@irdl_op_definition
class EluOp(FloatUnaryOp):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    name = "hy.elu"

    alpha = prop_def(FloatAttr[Float64Type])
    assembly_format = "$input `alpha` $alpha attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, alpha: float = 1.0):
        super().__init__(input, properties={"alpha": FloatAttr(float(alpha), f64)})

    def verify_(self) -> None:
        super().verify_()
        _finite(self, "alpha", self.alpha)


@irdl_op_definition
class ClampOp(NumericUnaryOp):
    """min(max(x, min), max) with either bound optional; NaN stays NaN.
    Covers hardtanh, relu6 and MXNet's clip. Bounds are finite, min <= max,
    and whole numbers on integer tensors."""

    name = "hy.clamp"

    min = opt_prop_def(FloatAttr[Float64Type])
    max = opt_prop_def(FloatAttr[Float64Type])
    assembly_format = "$input (`min` $min^)? (`max` $max^)? attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, min: float | None = None, max: float | None = None):
        props = {k: FloatAttr(float(v), f64) for k, v in (("min", min), ("max", max)) if v is not None}
        super().__init__(input, properties=props)

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        return tuple(None if a is None else a.value.data for a in (self.min, self.max))

    def verify_(self) -> None:
        super().verify_()
        lo, hi = self.bounds
        if lo is None and hi is None:
            raise op_error(self, "needs a min, a max or both")
        _finite(self, "min", self.min)
        _finite(self, "max", self.max)
        if lo is not None and hi is not None and lo > hi:
            raise op_error(self, f"min {lo} is larger than max {hi}")
        for what, b in (("min", lo), ("max", hi)):
            if b is not None and not is_float(self.input) and b != int(b):
                raise op_error(self, f"bounds of an integer clamp must be whole numbers, got {what} {b}")


# --- comparisons and logic: i1 results ---


class CompareOp(HyOp, abc.ABC):
    """`%r = hy.<cmp> %a, %b : (tensor<A x T>, tensor<B x T>) -> tensor<R x i1>`:
    elementwise comparison with broadcasting (any NaN compares unequal)."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), Elementwise(), Canonical())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue):
        shape = broadcast_all(self.name, lhs, rhs)
        super().__init__(operands=[lhs, rhs], result_types=[TensorType(i1, list(shape))])

    def verify_(self) -> None:
        same_element_type(self, self.lhs, self.rhs)
        if not is_bool(self.result):
            raise op_error(self, f"result must be a tensor of i1, got {self.result.type}")
        verify_broadcast(self, self.lhs, self.rhs)


@irdl_op_definition
class EqOp(CompareOp):
    name = "hy.eq"


@irdl_op_definition
class NeOp(CompareOp):
    name = "hy.ne"


@irdl_op_definition
class LtOp(CompareOp):
    name = "hy.lt"


@irdl_op_definition
class LeOp(CompareOp):
    name = "hy.le"


@irdl_op_definition
class GtOp(CompareOp):
    name = "hy.gt"


@irdl_op_definition
class GeOp(CompareOp):
    name = "hy.ge"


class LogicalBinaryOp(BinaryOp, abc.ABC):
    """A broadcasting binary op on i1 tensors."""

    def verify_(self) -> None:
        super().verify_()
        if not is_bool(self.lhs):
            raise op_error(self, f"expects i1 tensors, got {self.lhs.type}")


@irdl_op_definition
class AndOp(LogicalBinaryOp):
    name = "hy.and"


@irdl_op_definition
class OrOp(LogicalBinaryOp):
    name = "hy.or"


@irdl_op_definition
class XorOp(LogicalBinaryOp):
    name = "hy.xor"


@irdl_op_definition
class NotOp(UnaryOp):
    name = "hy.not"

    def verify_(self) -> None:
        if not is_bool(self.input):
            raise op_error(self, f"expects an i1 tensor, got {self.input.type}")


# --- selection and casts ---


@irdl_op_definition
class WhereOp(HyOp):
    """`cond ? a : b` per element, the three operands broadcast together."""

    name = "hy.where"

    cond = operand_def(TensorType)
    on_true = operand_def(TensorType)
    on_false = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), Elementwise(), Canonical())
    assembly_format = "$cond `,` $on_true `,` $on_false attr-dict `:` functional-type(operands, results)"

    def __init__(self, cond: SSAValue, on_true: SSAValue, on_false: SSAValue):
        shape = broadcast_all(self.name, cond, on_true, on_false)
        super().__init__(
            operands=[cond, on_true, on_false],
            result_types=[TensorType(on_true.type.element_type, list(shape))],
        )

    def verify_(self) -> None:
        if not is_bool(self.cond):
            raise op_error(self, f"condition must be a tensor of i1, got {self.cond.type}")
        same_element_type(self, self.on_true, self.on_false, self.result)
        verify_broadcast(self, self.cond, self.on_true, self.on_false)


@irdl_op_definition
class CastOp(HyOp):
    """Element type conversion with NumPy `astype` semantics: float to integer
    truncates toward zero (out-of-range values and NaN give unspecified
    integers), anything to i1 is `x != 0` (NaN is true), i1 to numbers is 0/1.

        %i = hy.cast %x : tensor<2x3xf32> -> tensor<2x3xi64>
    """

    name = "hy.cast"

    input = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), Elementwise(), Canonical())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue, element_type: Attribute):
        super().__init__(
            operands=[input], result_types=[TensorType(element_type, list(shape_of(input)))]
        )

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        r = tensor_shape(self, self.result, "result")
        if not shapes_match(a, r):
            raise op_error(self, f"result shape {format_shape(r)} differs from the input shape {format_shape(a)}")
        for v in (self.input, self.result):
            if not isinstance(v.type.element_type, IntegerType) and not is_float(v):
                raise op_error(self, f"cannot cast {v.type}")


ELEMENTWISE_OPS = [
    AddOp,
    SubOp,
    MulOp,
    DivOp,
    PowOp,
    MaximumOp,
    MinimumOp,
    ReluOp,
    NegOp,
    AbsOp,
    ExpOp,
    Expm1Op,
    LogOp,
    Log1pOp,
    SqrtOp,
    RsqrtOp,
    ReciprocalOp,
    ErfOp,
    SigmoidOp,
    TanhOp,
    SinOp,
    CosOp,
    FloorOp,
    SiluOp,
    HardswishOp,
    HardsigmoidOp,
    SoftplusOp,
    GeluOp,
    LeakyReluOp,
    EluOp,
    ClampOp,
    EqOp,
    NeOp,
    LtOp,
    LeOp,
    GtOp,
    GeOp,
    AndOp,
    OrOp,
    XorOp,
    NotOp,
    WhereOp,
    CastOp,
]
