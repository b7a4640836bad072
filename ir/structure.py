"""Structural `hy` ops: constants (the model's weights), fused regions and
their terminator.

    %w = hy.constant dense<"0x..."> : tensor<256x512xf32>
    %y = hy.fused (%x, %w, %b) : (tensor<1x512xf32>, tensor<256x512xf32>, tensor<256xf32>) -> tensor<1x256xf32> {
    ^bb0(%0: tensor<1x512xf32>, %1: tensor<256x512xf32>, %2: tensor<256xf32>):
      %3 = hy.linear %0, %1, %2 : (...) -> tensor<1x256xf32>
      %4 = hy.relu %3 : tensor<1x256xf32>
      hy.yield %4 : tensor<1x256xf32>
    }

A fused op is isolated from above: every value its body reads is an operand.
Its body is one group shape of the fusion table (`hybridize.ir.fusion`: a
loop, injective, epilogue or reduction group) yielding one value.
Backends run its body as one kernel (one loop nest, the epilogue applied in
registers), NumPy runs it statement by statement into the output buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import BytesAttr, DenseIntOrFPElementsAttr, TensorType
from xdsl.interfaces import HasFolderInterface
from xdsl.ir import Attribute, Operation, Region, SSAValue
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    ParamAttrConstraint,
    VarConstraint,
    irdl_op_definition,
    lazy_traits_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import (
    ConstantLike,
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    Pure,
    RecursiveMemoryEffect,
)

from hybridize.ir.base import op_error
from hybridize.ir.types import numpy_dtype, shape_of, tensor_type


def dense_attr(array: np.ndarray, type: Attribute | None = None) -> DenseIntOrFPElementsAttr:
    """A dense elements attribute holding `array`'s bytes (no per-element work)."""
    array = np.asarray(array)
    if type is None:
        type = tensor_type(array.shape, array.dtype)
    dtype = numpy_dtype(type).newbyteorder("<") if numpy_dtype(type).itemsize > 1 else numpy_dtype(type)
    data = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return DenseIntOrFPElementsAttr(type, BytesAttr(data))


@irdl_op_definition
class ConstantOp(IRDLOperation, HasFolderInterface):
    """A dense tensor constant; weights of a traced model become these."""

    name = "hy.constant"

    T: ClassVar = VarConstraint("T", AnyAttr())
    result = result_def(T)
    value = prop_def(ParamAttrConstraint(DenseIntOrFPElementsAttr, (T, AnyAttr())))

    traits = traits_def(Pure(), ConstantLike())
    assembly_format = "attr-dict $value"

    def __init__(self, value: DenseIntOrFPElementsAttr | np.ndarray):
        if isinstance(value, np.ndarray):
            value = dense_attr(value)
        super().__init__(result_types=[value.type], properties={"value": value})

    @staticmethod
    def from_numpy(array: np.ndarray, type: Attribute | None = None) -> ConstantOp:
        return ConstantOp(dense_attr(array, type))

    def numpy(self) -> np.ndarray:
        """The constant as a read-only NumPy array (a view of the IR's bytes)."""
        dtype = numpy_dtype(self.result.type)
        if dtype.itemsize > 1:
            dtype = dtype.newbyteorder("<")
        data = self.value.data.data
        shape = shape_of(self.result)
        return np.frombuffer(data, dtype=dtype).reshape(shape)

    def fold(self) -> Sequence[SSAValue | Attribute] | None:
        return (self.value,)

    def verify_(self) -> None:
        if not isinstance(self.result.type, TensorType):
            raise op_error(self, f"result must be a tensor, got {self.result.type}")


@irdl_op_definition
class FusedOp(IRDLOperation):
    """A region of ops that backends run as one kernel."""

    name = "hy.fused"

    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    body = region_def("single_block")

    traits = traits_def(RecursiveMemoryEffect(), IsolatedFromAbove())
    assembly_format = "`(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs) $body"

    def __init__(self, inputs: Sequence[SSAValue], result_types: Sequence[Attribute], body: Region):
        super().__init__(operands=[list(inputs)], result_types=[list(result_types)], regions=[body])

    @property
    def ops(self) -> list[Operation]:
        """The body's ops, without the terminator."""
        return [op for op in self.body.block.ops if not isinstance(op, YieldOp)]

    @property
    def yielded(self) -> YieldOp:
        term = self.body.block.last_op
        assert isinstance(term, YieldOp)
        return term

    def verify_(self) -> None:
        block = self.body.block
        arg_types = [a.type for a in block.args]
        in_types = [v.type for v in self.inputs]
        if arg_types != in_types:
            raise op_error(
                self,
                "block arguments "
                + ", ".join(map(str, arg_types))
                + " do not match the inputs "
                + ", ".join(map(str, in_types)),
            )
        term = block.last_op
        if not isinstance(term, YieldOp):
            raise op_error(self, "body must end in hy.yield")
        got = [v.type for v in term.values]
        want = [r.type for r in self.outputs]
        if got != want:
            raise op_error(
                self,
                "yielded types " + ", ".join(map(str, got)) + " do not match the results "
                + ", ".join(map(str, want)),
            )
        for op in block.ops:
            if op is not term and not op.name.startswith("hy.") or isinstance(op, FusedOp | ConstantOp):
                raise op_error(self, f"body may hold only computing hy ops, found {op.name}")
        from hybridize.ir.fusion import classify

        if len(term.values) != 1:
            raise op_error(self, f"a fused region yields one value, not {len(term.values)}")
        group = classify(self.ops, term.values[0])
        if group.rule is not None:
            raise op_error(self, f"body is not a fusion group [{group.rule.rule}]: {group.rule.message}")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a fused region; its operands are the region's results."""

    name = "hy.yield"

    values = var_operand_def(TensorType)

    traits = lazy_traits_def(lambda: (IsTerminator(), HasParent(FusedOp), Pure()))
    assembly_format = "$values attr-dict `:` type($values)"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])
