"""Contractions: `hy.linear` and `hy.matmul`, the anchors of fused kernels.

    %y = hy.linear %x, %w, %b : (tensor<1x512xf32>, tensor<256x512xf32>, tensor<256xf32>) -> tensor<1x256xf32>
    %z = hy.matmul %a, %b : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>

`linear(x, w, b) = x @ w^T + b` with w of shape [N, K] (PyTorch's layout) and an
optional bias b of shape [N]; x may have any number of leading dimensions.
`matmul` follows NumPy: 1-D operands are promoted and the batch dimensions of
operands of rank > 2 broadcast.
"""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType
from xdsl.ir import SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from hybridize.ir.base import (
    Canonical,
    FusionAnchor,
    HyOp,
    check_result_shape,
    op_error,
    same_element_type,
    shapes_match,
    tensor_shape,
)
from hybridize.ir.types import broadcast_shapes, format_shape, is_float, shape_of


@irdl_op_definition
class LinearOp(HyOp):
    """y = x @ w^T (+ b)."""

    name = "hy.linear"

    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), FusionAnchor(), Canonical())
    assembly_format = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)"

    def __init__(self, input: SSAValue, weight: SSAValue, bias: SSAValue | None = None):
        shape = (*shape_of(input)[:-1], shape_of(weight)[0])
        super().__init__(
            operands=[input, weight, bias],
            result_types=[TensorType(input.type.element_type, list(shape))],
        )

    def verify_(self) -> None:
        x = tensor_shape(self, self.input, "input")
        w = tensor_shape(self, self.weight, "weight")
        values = [self.input, self.weight, self.result]
        if not is_float(self.input):
            raise op_error(self, f"expects floating-point tensors, got {self.input.type}")
        if len(x) < 1:
            raise op_error(self, "input must have at least one dimension")
        if len(w) != 2:
            raise op_error(self, f"weight must be 2-D [out, in], got {format_shape(w)}")
        if not shapes_match([x[-1]], [w[1]]):
            raise op_error(
                self,
                f"input has {x[-1]} features but weight {format_shape(w)} expects {w[1]}",
            )
        if self.bias is not None:
            b = tensor_shape(self, self.bias, "bias")
            values.append(self.bias)
            if not shapes_match([w[0]], b):
                raise op_error(self, f"bias must have shape {w[0]}, got {format_shape(b)}")
        same_element_type(self, *values)
        check_result_shape(self, (*x[:-1], w[0]))


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """NumPy's matmul result shape, or None when the operands do not fit."""
    if not a or not b:
        return None
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if not shapes_match([a2[-1]], [b2[-2]]):
        return None
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    if batch is None:
        return None
    out = [*batch, a2[-2], b2[-1]]
    if len(b) == 1:
        out.pop(-1)
    if len(a) == 1:
        out.pop(-2 if len(b) > 1 else -1)
    return tuple(out)


@irdl_op_definition
class MatmulOp(HyOp):
    """NumPy matmul."""

    name = "hy.matmul"

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), FusionAnchor(), Canonical())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue):
        shape = matmul_shape(shape_of(lhs), shape_of(rhs))
        if shape is None:
            raise ValueError(
                f"hy.matmul: shapes {format_shape(shape_of(lhs))} and "
                f"{format_shape(shape_of(rhs))} do not multiply"
            )
        super().__init__(
            operands=[lhs, rhs], result_types=[TensorType(lhs.type.element_type, list(shape))]
        )

    def verify_(self) -> None:
        a = tensor_shape(self, self.lhs, "lhs")
        b = tensor_shape(self, self.rhs, "rhs")
        same_element_type(self, self.lhs, self.rhs, self.result)
        shape = matmul_shape(a, b)
        if shape is None:
            raise op_error(self, f"shapes {format_shape(a)} and {format_shape(b)} do not multiply")
        check_result_shape(self, shape)


LINALG_OPS = [LinearOp, MatmulOp]
