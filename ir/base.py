"""Shared pieces of the `hy` ops: traits that classify ops for the passes and
backends, and the abstract op families that carry the common verifier and folder.

A concrete op is then three lines, for example:

    @irdl_op_definition
    class ExpOp(UnaryOp):
        name = "hy.exp"

Classification traits (read by `fuse`, `plan` and the backends):
- `Elementwise`: each result element depends only on the operand elements at the
  same (broadcast) index, so the op can run in place and fuse into a loop.
- `FusionAnchor`: a heavy op (linear, matmul) whose output an elementwise
  epilogue may consume inside one fused kernel.
- `ViewLike`: the result is operand 0's bytes under another shape; it gets no
  buffer of its own.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from xdsl.dialects.builtin import TensorType
from xdsl.interfaces import HasFolderInterface
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    VarConstraint,
    base,
    operand_def,
    result_def,
    traits_def,
)
from xdsl.traits import HasCanonicalizationPatternsTrait, OpTrait, Pure
from xdsl.utils.exceptions import VerifyException

from hybridize.ir.types import (
    DYNAMIC,
    broadcast_shapes,
    format_shape,
    is_float,
    num_elements,
    shape_of,
)

FOLD_MAX_ELEMENTS = 1 << 16
"""Constant folding never creates a constant larger than this many elements,
unless it is no larger than its largest input (folding must not bloat models)."""


@dataclass(frozen=True)
class Elementwise(OpTrait):
    """Each result element is a function of the operand elements at the same
    broadcast index."""


@dataclass(frozen=True)
class FusionAnchor(OpTrait):
    """May head a fused region: an elementwise epilogue runs on its output."""


@dataclass(frozen=True)
class ViewLike(OpTrait):
    """The result aliases operand 0's bytes (a contiguous reshape)."""


@dataclass(frozen=True)
class Canonical(HasCanonicalizationPatternsTrait):
    """The op's canonicalization patterns, looked up by op name in
    `hybridize.ir.canonicalization` (resolved lazily: patterns are defined
    after the op classes). Ops a pattern inserts take the location of the op
    it rewrites (`hybridize.ir.locations.KeepLocation`)."""

    def get_patterns(self, op: type[Operation]):
        from hybridize.ir.canonicalization import patterns_for
        from hybridize.ir.locations import keep_location

        return keep_location(patterns_for(op))

    @classmethod
    def get_canonicalization_patterns(cls):
        return ()


def op_error(op: Operation, message: str) -> VerifyException:
    """A verifier error that names the op, e.g. `hy.linear: weight ...`."""
    return VerifyException(f"{op.name}: {message}")


def tensor_shape(op: Operation, value: SSAValue, what: str) -> tuple[int, ...]:
    if not isinstance(value.type, TensorType):
        raise op_error(op, f"{what} must be a tensor, got {value.type}")
    return shape_of(value)


def same_element_type(op: Operation, *values: SSAValue) -> None:
    elems = [v.type.element_type for v in values if isinstance(v.type, TensorType)]
    if len({str(e) for e in elems}) > 1:
        listed = ", ".join(str(e) for e in elems)
        raise op_error(op, f"operands and result must share one element type, got {listed}")


def shapes_match(expected: Sequence[int], actual: Sequence[int]) -> bool:
    """Equal shapes, where a dynamic dimension matches anything."""
    return len(expected) == len(actual) and all(
        a == b or a == DYNAMIC or b == DYNAMIC for a, b in zip(expected, actual)
    )


def check_result_shape(op: Operation, expected: Sequence[int]) -> None:
    got = shape_of(op.results[0])
    if not shapes_match(expected, got):
        raise op_error(
            op,
            f"result shape {format_shape(got)} does not match the expected "
            f"{format_shape(expected)}",
        )


def constant_value(value: SSAValue):
    """The NumPy array behind a value defined by `hy.constant`, else None."""
    from hybridize.ir.structure import ConstantOp

    owner = value.owner
    if isinstance(owner, ConstantOp):
        return owner.numpy()
    return None


class HyOp(IRDLOperation, HasFolderInterface, abc.ABC):
    """Base of every computing `hy` op: folds when all operands are constants.

    The folded value is computed by the NumPy reference semantics (the same
    table the NumPy backend emits from), so there is one definition per op.
    """

    def fold(self) -> Sequence[SSAValue | Attribute] | None:
        if not self.operands or len(self.results) != 1:
            return None
        arrays = [constant_value(o) for o in self.operands]
        if any(a is None for a in arrays):
            return None
        out_shape = shape_of(self.results[0])
        n_out = num_elements(out_shape)
        if n_out is None:
            return None
        if n_out > FOLD_MAX_ELEMENTS and n_out > max(a.size for a in arrays):
            return None
        from hybridize.backends.reference import evaluate
        from hybridize.ir.structure import dense_attr

        (result,) = evaluate(self, arrays)
        return (dense_attr(result, self.results[0].type),)


class UnaryOp(HyOp, abc.ABC):
    """`%r = hy.<op> %x : tensor<...>`: elementwise, same type in and out."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)

    traits = traits_def(Pure(), Elementwise(), Canonical())
    assembly_format = "$input attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, **kwargs):
        super().__init__(operands=[input], result_types=[input.type], **kwargs)


class FloatUnaryOp(UnaryOp, abc.ABC):
    """A unary op defined on floating-point tensors only."""

    def verify_(self) -> None:
        if not is_float(self.input):
            raise op_error(self, f"expects a floating-point tensor, got {self.input.type}")


class BinaryOp(HyOp, abc.ABC):
    """`%r = hy.<op> %a, %b : (tensor<A>, tensor<B>) -> tensor<R>` with NumPy
    broadcasting: R = broadcast(A, B), one element type throughout."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), Elementwise(), Canonical())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue):
        shape = broadcast_shapes(shape_of(lhs), shape_of(rhs))
        if shape is None:
            raise ValueError(
                f"{self.name}: shapes {format_shape(shape_of(lhs))} and "
                f"{format_shape(shape_of(rhs))} do not broadcast"
            )
        super().__init__(
            operands=[lhs, rhs],
            result_types=[TensorType(lhs.type.element_type, list(shape))],
        )

    def verify_(self) -> None:
        a = tensor_shape(self, self.lhs, "lhs")
        b = tensor_shape(self, self.rhs, "rhs")
        same_element_type(self, self.lhs, self.rhs, self.result)
        shape = broadcast_shapes(a, b)
        if shape is None:
            raise op_error(
                self, f"shapes {format_shape(a)} and {format_shape(b)} do not broadcast"
            )
        check_result_shape(self, shape)


__all__ = [
    "AnyAttr",
    "BinaryOp",
    "Canonical",
    "Elementwise",
    "FloatUnaryOp",
    "FusionAnchor",
    "HyOp",
    "UnaryOp",
    "ViewLike",
    "check_result_shape",
    "constant_value",
    "op_error",
    "same_element_type",
    "shapes_match",
    "tensor_shape",
]
