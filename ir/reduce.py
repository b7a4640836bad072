"""Reductions over axes: sum, mean, max, min, any (with keepdim).

    %s = hy.reduce_sum %x axes [1] : tensor<2x3x4xf32> -> tensor<2x4xf32>
    %m = hy.reduce_mean %x axes [2, 3] keepdim : tensor<1x8x7x7xf32> -> tensor<1x8x1x1xf32>
    %a = hy.reduce_any %b axes [0] : tensor<3x5xi1> -> tensor<5xi1>

`axes` are sorted, distinct, non-negative and non-empty (frontends normalize
them); `keepdim` keeps reduced dims as size 1. A float max or min that is
zero is +0.0 (the sign of a tie between -0.0 and 0.0 would depend on the
order a loop meets them, which NumPy's SIMD loops and C's vector lanes do not
fix); `hy.max_pool2d` follows the same rule.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import I64, DenseArrayBase, IntegerType, TensorType, UnitAttr, i64
from xdsl.ir import SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, opt_prop_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from hybridize.ir.base import Canonical, HyOp, check_result_shape, op_error, same_element_type, tensor_shape
from hybridize.ir.types import format_shape, is_float, shape_of


def reduced_shape(shape: Sequence[int], axes: Sequence[int], keepdim: bool) -> tuple[int, ...]:
    """The result shape of reducing `shape` over `axes`."""
    if keepdim:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def is_bool(value: SSAValue) -> bool:
    elem = value.type.element_type
    return isinstance(elem, IntegerType) and elem.width.data == 1


class ReduceOp(HyOp, abc.ABC):
    """`%y = hy.reduce_<op> %x axes [...] (keepdim)? : tensor<X> -> tensor<Y>`."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    axes = prop_def(DenseArrayBase[I64])
    keepdim = opt_prop_def(UnitAttr)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `axes` $axes (`keepdim` $keepdim^)? attr-dict `:` type($input) `->` type($result)"

    ACCEPTS: ClassVar[str] = "numeric"
    """Which element types the op takes: numeric (not i1), float or bool."""

    def __init__(self, input: SSAValue, axes: Sequence[int], keepdim: bool = False):
        axes = sorted(int(a) for a in axes)
        shape = reduced_shape(shape_of(input), axes, keepdim)
        super().__init__(
            operands=[input],
            result_types=[TensorType(input.type.element_type, list(shape))],
            properties={"axes": DenseArrayBase.from_list(i64, axes), **({"keepdim": UnitAttr()} if keepdim else {})},
        )

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(self.axes.get_values())

    @property
    def keeps_dims(self) -> bool:
        return self.keepdim is not None

    def verify_(self) -> None:
        x = tensor_shape(self, self.input, "input")
        same_element_type(self, self.input, self.result)
        wrong = {
            "numeric": is_bool(self.input),
            "float": not is_float(self.input),
            "bool": not is_bool(self.input),
        }[self.ACCEPTS]
        if wrong:
            kind = {"numeric": "a numeric (non-i1)", "float": "a floating-point", "bool": "an i1"}[self.ACCEPTS]
            raise op_error(self, f"expects {kind} tensor, got {self.input.type}")
        axes = self.dims
        if not axes:
            raise op_error(self, "axes must not be empty")
        if list(axes) != sorted(set(axes)) or axes[0] < 0 or axes[-1] >= len(x):
            raise op_error(
                self, f"axes {list(axes)} must be sorted, distinct and in [0, {len(x)}) for input {format_shape(x)}"
            )
        check_result_shape(self, reduced_shape(x, axes, self.keeps_dims))


@irdl_op_definition
class ReduceSumOp(ReduceOp):
    name = "hy.reduce_sum"


@irdl_op_definition
class ReduceMeanOp(ReduceOp):
    name = "hy.reduce_mean"
    ACCEPTS: ClassVar[str] = "float"


class NoIdentityReduceOp(ReduceOp, abc.ABC):
    """A reduction without an identity: an axis of size 0 is refused (PyTorch
    raises too), so no backend has to invent a value."""

    def verify_(self) -> None:
        super().verify_()
        x = shape_of(self.input)
        empty = [a for a in self.dims if x[a] == 0]
        if empty:
            raise op_error(self, f"axis {empty[0]} of {format_shape(x)} is empty: the reduction has no identity")


@irdl_op_definition
class ReduceMaxOp(NoIdentityReduceOp):
    """The maximum; NaN propagates."""

    name = "hy.reduce_max"


@irdl_op_definition
class ReduceMinOp(NoIdentityReduceOp):
    """The minimum; NaN propagates."""

    name = "hy.reduce_min"


@irdl_op_definition
class ReduceAnyOp(ReduceOp):
    """Logical or over i1."""

    name = "hy.reduce_any"
    ACCEPTS: ClassVar[str] = "bool"


REDUCE_OPS = [ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ReduceMinOp, ReduceAnyOp]
