"""Shape ops: `hy.reshape` (a view: no data moves) and `hy.transpose`.

    %r = hy.reshape %x : tensor<2x3xf32> -> tensor<6xf32>
    %t = hy.transpose %x perm [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, DenseArrayBase, TensorType, i64
from xdsl.ir import SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from hybridize.ir.base import (
    Canonical,
    HyOp,
    ViewLike,
    check_result_shape,
    op_error,
    same_element_type,
    tensor_shape,
)
from hybridize.ir.types import DYNAMIC, format_shape, num_elements, shape_of


@irdl_op_definition
class ReshapeOp(HyOp):
    """Same elements in C order under a new shape (given by the result type)."""

    name = "hy.reshape"

    input = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), ViewLike(), Canonical())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue, shape: Sequence[int]):
        super().__init__(
            operands=[input], result_types=[TensorType(input.type.element_type, list(shape))]
        )

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        r = tensor_shape(self, self.result, "result")
        same_element_type(self, self.input, self.result)
        if r.count(DYNAMIC) > 1:
            raise op_error(self, f"result shape {format_shape(r)} has more than one dynamic dimension")
        na, nr = num_elements(a), num_elements(r)
        if na is not None and nr is not None and na != nr:
            raise op_error(
                self,
                f"cannot reshape {format_shape(a)} ({na} elements) to {format_shape(r)} ({nr} elements)",
            )


@irdl_op_definition
class TransposeOp(HyOp):
    """result.shape[i] = input.shape[perm[i]]."""

    name = "hy.transpose"

    input = operand_def(TensorType)
    perm = prop_def(DenseArrayBase[I64])
    result = result_def(TensorType)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `perm` $perm attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue, perm: Sequence[int]):
        shape = shape_of(input)
        super().__init__(
            operands=[input],
            result_types=[TensorType(input.type.element_type, [shape[p] for p in perm])],
            properties={"perm": DenseArrayBase.from_list(i64, list(perm))},
        )

    @property
    def permutation(self) -> tuple[int, ...]:
        return tuple(self.perm.get_values())

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        same_element_type(self, self.input, self.result)
        perm = self.permutation
        if sorted(perm) != list(range(len(a))):
            raise op_error(self, f"perm {list(perm)} is not a permutation of {len(a)} dimensions")
        check_result_shape(self, [a[p] for p in perm])


SHAPE_OPS = [ReshapeOp, TransposeOp]
