"""hybridize.ir: the shared `hy` dialect (ops, types, attributes) and its text form.

    >>> from hybridize.ir import parse_module
    >>> m = parse_module('''
    ... func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
    ...   %0 = hy.relu %x : tensor<2xf32>
    ...   func.return %0 : tensor<2xf32>
    ... }''')
"""

from __future__ import annotations

from hybridize.ir.attributes import ARENA, BUF, ArenaAttr, BufferAttr
from hybridize.ir.base import Elementwise, FusionAnchor, HyOp, ViewLike
from hybridize.ir.dialect import Hy, make_context
from hybridize.ir.elementwise import AddOp, DivOp, MulOp, ReluOp, SubOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.module import forward_func, parse_module, print_module
from hybridize.ir.shape import ReshapeOp, TransposeOp
from hybridize.ir.structure import ConstantOp, FusedOp, YieldOp, dense_attr

__all__ = [
    "ARENA",
    "BUF",
    "AddOp",
    "ArenaAttr",
    "BufferAttr",
    "ConstantOp",
    "DivOp",
    "Elementwise",
    "FusedOp",
    "FusionAnchor",
    "Hy",
    "HyOp",
    "LinearOp",
    "MatmulOp",
    "MulOp",
    "ReluOp",
    "ReshapeOp",
    "SubOp",
    "TransposeOp",
    "ViewLike",
    "YieldOp",
    "dense_attr",
    "forward_func",
    "make_context",
    "parse_module",
    "print_module",
]
