"""Indexing ops: `hy.take` (embedding, index_select), `hy.gather` (torch.gather)
and the scans `hy.cumsum`, `hy.cumprod`.

    %e = hy.take %w, %ids axis 0 : (tensor<100x8xf32>, tensor<2x5xi64>) -> tensor<2x5x8xf32>
    %g = hy.gather %x, %idx axis 1 : (tensor<3x4xf32>, tensor<3x2xi64>) -> tensor<3x2xf32>
    %s = hy.cumsum %x axis 1 : tensor<3x4xf32>

Indices are i64 or i32 and must lie in [0, size): an index out of range is a
run-time error (IndexError naming the op) in every backend, never a read out
of bounds. Frontends wrap negative indices where their framework does.
"""

from __future__ import annotations

import abc

from typing import ClassVar

from xdsl.dialects.builtin import I64, FloatAttr, Float64Type, IntegerAttr, TensorType, f64, i1, i32, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from hybridize.ir.base import (
    Canonical,
    HyOp,
    check_result_shape,
    op_error,
    same_element_type,
    tensor_shape,
)
from hybridize.ir.types import DYNAMIC, format_shape, shape_of


def check_axis(op: HyOp, axis: int, rank: int) -> None:
    if not 0 <= axis < rank:
        raise op_error(op, f"axis {axis} is out of range for rank {rank}")


def check_indices(op: HyOp, value: SSAValue) -> None:
    tensor_shape(op, value, "indices")
    if value.type.element_type not in (i64, i32):
        raise op_error(op, f"indices must be i64 or i32, got {value.type}")


@irdl_op_definition
class TakeOp(HyOp):
    """NumPy `take` along one axis: result = input.shape[:axis] +
    indices.shape + input.shape[axis+1:], each index selecting a slice.
    Embedding lookups, index_select and `x[idx]` become this."""

    name = "hy.take"

    input = operand_def(TensorType)
    indices = operand_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    result = result_def(TensorType)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `,` $indices `axis` $axis attr-dict `:` functional-type(operands, results)"

    def __init__(self, input: SSAValue, indices: SSAValue, axis: int):
        a = shape_of(input)
        shape = [*a[:axis], *shape_of(indices), *a[axis + 1 :]]
        super().__init__(
            operands=[input, indices],
            result_types=[TensorType(input.type.element_type, shape)],
            properties={"axis": IntegerAttr(axis, i64)},
        )

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        check_indices(self, self.indices)
        same_element_type(self, self.input, self.result)
        axis = self.axis.value.data
        check_axis(self, axis, len(a))
        check_result_shape(self, [*a[:axis], *shape_of(self.indices), *a[axis + 1 :]])


@irdl_op_definition
class GatherOp(HyOp):
    """torch.gather: result[i] = input[i with i[axis] replaced by index[i]];
    index has the input's rank, any size along `axis` and at most the
    input's size elsewhere; the result has the index's shape."""

    name = "hy.gather"

    input = operand_def(TensorType)
    index = operand_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    result = result_def(TensorType)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `,` $index `axis` $axis attr-dict `:` functional-type(operands, results)"

    def __init__(self, input: SSAValue, index: SSAValue, axis: int):
        super().__init__(
            operands=[input, index],
            result_types=[TensorType(input.type.element_type, list(shape_of(index)))],
            properties={"axis": IntegerAttr(axis, i64)},
        )

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        check_indices(self, self.index)
        same_element_type(self, self.input, self.result)
        ix = shape_of(self.index)
        axis = self.axis.value.data
        check_axis(self, axis, len(a))
        if len(ix) != len(a):
            raise op_error(self, f"index rank {len(ix)} differs from the input rank {len(a)}")
        for d, (n, m) in enumerate(zip(a, ix)):
            if d != axis and DYNAMIC not in (n, m) and m > n:
                raise op_error(
                    self,
                    f"index shape {format_shape(ix)} exceeds the input shape {format_shape(a)} in dimension {d}",
                )
        check_result_shape(self, ix)


class ScanOp(HyOp, abc.ABC):
    """`%s = hy.<scan> %x axis a : tensor<...>`: an inclusive scan along
    `axis`, same type in and out (floats accumulate in double, integers
    wrap, as PyTorch's CPU kernels)."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    axis = prop_def(IntegerAttr[I64])
    result = result_def(T)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `axis` $axis attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, axis: int):
        super().__init__(
            operands=[input], result_types=[input.type], properties={"axis": IntegerAttr(axis, i64)}
        )

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        check_axis(self, self.axis.value.data, len(a))
        if self.input.type.element_type == i1:
            raise op_error(self, f"expects a numeric tensor, got {self.input.type}")


@irdl_op_definition
class CumsumOp(ScanOp):
    """Inclusive prefix sum along `axis`.

        %s = hy.cumsum %x axis 1 : tensor<3x4xf32>
    """

    name = "hy.cumsum"


@irdl_op_definition
class CumprodOp(ScanOp):
    """Inclusive prefix product along `axis`.

        %p = hy.cumprod %x axis 1 : tensor<3x4xf32>
    """

    name = "hy.cumprod"


@irdl_op_definition
class IotaOp(HyOp):
    """result[..., i, ...] = start + step * i along `axis` (numbers computed in
    double, then converted, like PyTorch's arange). It has no operands, so its
    size may be the dynamic batch (`torch.arange(x.size(0))`).

        %i = hy.iota axis 0 start 0.0 step 1.0 : tensor<?xi64>
    """

    name = "hy.iota"

    axis = prop_def(IntegerAttr[I64])
    start = prop_def(FloatAttr[Float64Type])
    step = prop_def(FloatAttr[Float64Type])
    result = result_def(TensorType)

    traits = traits_def(Pure())
    assembly_format = "`axis` $axis `start` $start `step` $step attr-dict `:` type($result)"

    def __init__(self, result_type: TensorType, axis: int = 0, start: float = 0.0, step: float = 1.0):
        super().__init__(
            result_types=[result_type],
            properties={
                "axis": IntegerAttr(axis, i64),
                "start": FloatAttr(float(start), f64),
                "step": FloatAttr(float(step), f64),
            },
        )

    def verify_(self) -> None:
        r = tensor_shape(self, self.result, "result")
        check_axis(self, self.axis.value.data, len(r))
        if self.result.type.element_type == i1:
            raise op_error(self, f"expects a numeric result, got {self.result.type}")


INDEXING_OPS = [TakeOp, GatherOp, CumsumOp, CumprodOp, IotaOp]
