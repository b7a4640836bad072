"""Ordering ops along one axis: stable sort (values or indices), argmax, argmin.

    %s = hy.sort %x axis 1 descending : tensor<2x5xf32>
    %i = hy.argsort %x axis 1 : tensor<2x5xf32> -> tensor<2x5xi64>
    %m = hy.argmax %x axis 1 keepdim : tensor<2x5xf32> -> tensor<2x1xi64>

PyTorch's order, which every backend follows: the sort is stable (equal
elements keep their order; -0.0 equals 0.0), NaN is larger than every
number (last ascending, first descending), and argmax/argmin give the first
position of the extreme, a NaN counting as both the maximum and the minimum.
Frontends build topk from a sort and a slice, and max/min over a dim from a
reduction and an arg-reduction.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from xdsl.dialects.builtin import I64, IntegerAttr, TensorType, UnitAttr, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from hybridize.ir.base import Canonical, HyOp, check_result_shape, op_error, tensor_shape
from hybridize.ir.reduce import is_bool, reduced_shape
from hybridize.ir.types import format_shape, shape_of


def _check_axis(op: HyOp, shape, axis: int) -> None:
    if not 0 <= axis < len(shape):
        raise op_error(op, f"axis {axis} is out of range for rank {len(shape)} (must be in [0, {len(shape)}))")


class OrderOp(HyOp, abc.ABC):
    """An op over one axis of a numeric (non-i1) tensor."""

    axis = prop_def(IntegerAttr[I64])

    @property
    def dim(self) -> int:
        return self.axis.value.data

    def check_input(self, value: SSAValue) -> tuple[int, ...]:
        x = tensor_shape(self, value, "input")
        if is_bool(value):
            raise op_error(self, f"expects a numeric (non-i1) tensor, got {value.type}")
        _check_axis(self, x, self.dim)
        return x


@irdl_op_definition
class SortOp(OrderOp):
    """The input's elements along `axis` in stable ascending order (or
    descending), same type in and out."""

    name = "hy.sort"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    descending = opt_prop_def(UnitAttr)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `axis` $axis (`descending` $descending^)? attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, axis: int, descending: bool = False):
        props = {"axis": IntegerAttr(axis, i64), **({"descending": UnitAttr()} if descending else {})}
        super().__init__(operands=[input], result_types=[input.type], properties=props)

    @property
    def is_descending(self) -> bool:
        return self.descending is not None

    def verify_(self) -> None:
        self.check_input(self.input)


@irdl_op_definition
class ArgsortOp(OrderOp):
    """The positions (i64) that sort the input along `axis`, stably:
    `take_along_axis(x, argsort(x))` is `sort(x)`."""

    name = "hy.argsort"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    descending = opt_prop_def(UnitAttr)

    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$input `axis` $axis (`descending` $descending^)? attr-dict `:` type($input) `->` type($result)"
    )

    def __init__(self, input: SSAValue, axis: int, descending: bool = False):
        props = {"axis": IntegerAttr(axis, i64), **({"descending": UnitAttr()} if descending else {})}
        super().__init__(
            operands=[input], result_types=[TensorType(i64, list(shape_of(input)))], properties=props
        )

    @property
    def is_descending(self) -> bool:
        return self.descending is not None

    def verify_(self) -> None:
        x = self.check_input(self.input)
        if self.result.type.element_type != i64:
            raise op_error(self, f"result must be i64 indices, got {self.result.type}")
        check_result_shape(self, x)


class ArgReduceOp(OrderOp, abc.ABC):
    """`%i = hy.<op> %x axis a (keepdim)? : tensor<X> -> tensor<Y x i64>`: the
    first position of the extreme along `axis` (an empty axis is refused)."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    keepdim = opt_prop_def(UnitAttr)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `axis` $axis (`keepdim` $keepdim^)? attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue, axis: int, keepdim: bool = False):
        shape = reduced_shape(shape_of(input), [axis], keepdim)
        props = {"axis": IntegerAttr(axis, i64), **({"keepdim": UnitAttr()} if keepdim else {})}
        super().__init__(operands=[input], result_types=[TensorType(i64, list(shape))], properties=props)

    @property
    def keeps_dims(self) -> bool:
        return self.keepdim is not None

    def verify_(self) -> None:
        x = self.check_input(self.input)
        if x[self.dim] == 0:
            raise op_error(self, f"axis {self.dim} of {format_shape(x)} is empty: there is no extreme")
        if self.result.type.element_type != i64:
            raise op_error(self, f"result must be i64 indices, got {self.result.type}")
        check_result_shape(self, reduced_shape(x, [self.dim], self.keeps_dims))


@irdl_op_definition
class ArgMaxOp(ArgReduceOp):
    """The first position of the maximum (of the first NaN, if any)."""

    name = "hy.argmax"


@irdl_op_definition
class ArgMinOp(ArgReduceOp):
    """The first position of the minimum (of the first NaN, if any)."""

    name = "hy.argmin"


SORT_OPS = [SortOp, ArgsortOp, ArgMaxOp, ArgMinOp]
