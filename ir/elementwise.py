"""Elementwise `hy` ops: arithmetic with NumPy broadcasting and activations.

    %c = hy.add %a, %b : (tensor<1x256xf32>, tensor<256xf32>) -> tensor<1x256xf32>
    %r = hy.relu %c : tensor<1x256xf32>
"""

from __future__ import annotations

from xdsl.irdl import irdl_op_definition

from hybridize.ir.base import BinaryOp, UnaryOp


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


@irdl_op_definition
class ReluOp(UnaryOp):
    """max(x, 0); NaN stays NaN."""

    name = "hy.relu"


ELEMENTWISE_OPS = [AddOp, SubOp, MulOp, DivOp, ReluOp]
