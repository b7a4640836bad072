"""Shape ops: `hy.reshape` (a view: no data moves), `hy.transpose` and the
data-movement ops `hy.concat`, `hy.slice`, `hy.pad` and `hy.broadcast`.

    %r = hy.reshape %x : tensor<2x3xf32> -> tensor<6xf32>
    %t = hy.transpose %x perm [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
    %c = hy.concat %x, %x axis 1 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x6xf32>
    %s = hy.slice %c starts [0, 1] steps [1, 2] : tensor<2x6xf32> -> tensor<2x3xf32>
    %p = hy.pad %s low [0, 1] high [0, 0] value -inf : tensor<2x3xf32> -> tensor<2x4xf32>
    %b = hy.broadcast %p : tensor<2x4xf32> -> tensor<5x2x4xf32>

Axes are non-negative (frontends normalize PyTorch's negative ones). Only the
leading dimension may be dynamic (`?`, the batch); these ops keep it whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    TensorType,
    f64,
    i64,
)
from xdsl.ir import SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.irdl.declarative_assembly_format import (
    AttributeVariable,
    CustomDirective,
    ParsingState,
    PrintingState,
    irdl_custom_directive,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import Pure

from hybridize.ir.base import (
    Canonical,
    Elementwise,
    HyOp,
    ViewLike,
    check_result_shape,
    op_error,
    same_element_type,
    shapes_match,
    tensor_shape,
)
from hybridize.ir.types import (
    DYNAMIC,
    broadcast_shapes,
    format_shape,
    is_float,
    num_elements,
    shape_of,
)


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


def int_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def check_rank(op: HyOp, what: str, values: Sequence[int], rank: int) -> None:
    if len(values) != rank:
        raise op_error(op, f"{what} has {len(values)} entries for a rank-{rank} tensor")


@irdl_op_definition
class ConcatOp(HyOp):
    """The inputs joined along `axis`; all other dimensions agree."""

    name = "hy.concat"

    inputs = var_operand_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    result = result_def(TensorType)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$inputs `axis` $axis attr-dict `:` functional-type($inputs, $result)"

    def __init__(self, inputs: Sequence[SSAValue], axis: int):
        shapes = [shape_of(v) for v in inputs]
        sizes = [s[axis] for s in shapes]
        total = DYNAMIC if DYNAMIC in sizes else sum(sizes)
        shape = [*shapes[0][:axis], total, *shapes[0][axis + 1 :]]
        super().__init__(
            operands=[list(inputs)],
            result_types=[TensorType(inputs[0].type.element_type, shape)],
            properties={"axis": IntegerAttr(axis, i64)},
        )

    def verify_(self) -> None:
        if not self.inputs:
            raise op_error(self, "needs at least one input")
        shapes = [tensor_shape(self, v, "input") for v in self.inputs]
        same_element_type(self, *self.inputs, self.result)
        axis, rank = self.axis.value.data, len(shapes[0])
        if not 0 <= axis < rank:
            raise op_error(self, f"axis {axis} is out of range for rank {rank}")
        for s in shapes:
            others, first = [*s[:axis], *s[axis + 1 :]], [*shapes[0][:axis], *shapes[0][axis + 1 :]]
            if len(s) != rank or not shapes_match(others, first):
                listed = ", ".join(format_shape(t) for t in shapes)
                raise op_error(self, f"inputs {listed} differ outside axis {axis}")
        sizes = [s[axis] for s in shapes]
        total = DYNAMIC if DYNAMIC in sizes else sum(sizes)
        check_result_shape(self, [*shapes[0][:axis], total, *shapes[0][axis + 1 :]])


@irdl_op_definition
class SliceOp(HyOp):
    """Strided window: result[i] = input[starts + i * steps] per dimension,
    with the element counts given by the result type. A dynamic dimension can
    only be kept whole (start 0, step 1).

        %s = hy.slice %x starts [0, 1] steps [1, 2] : tensor<4x6xf32> -> tensor<4x3xf32>
    """

    name = "hy.slice"

    input = operand_def(TensorType)
    starts = prop_def(DenseArrayBase[I64])
    steps = prop_def(DenseArrayBase[I64])
    result = result_def(TensorType)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `starts` $starts `steps` $steps attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue, starts: Sequence[int], steps: Sequence[int], shape: Sequence[int]):
        super().__init__(
            operands=[input],
            result_types=[TensorType(input.type.element_type, list(shape))],
            properties={"starts": int_array(starts), "steps": int_array(steps)},
        )

    @property
    def start_values(self) -> tuple[int, ...]:
        return tuple(self.starts.get_values())

    @property
    def step_values(self) -> tuple[int, ...]:
        return tuple(self.steps.get_values())

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        r = tensor_shape(self, self.result, "result")
        same_element_type(self, self.input, self.result)
        if len(r) != len(a):
            raise op_error(self, f"result rank {len(r)} differs from the input rank {len(a)}")
        starts, steps = self.start_values, self.step_values
        check_rank(self, "starts", starts, len(a))
        check_rank(self, "steps", steps, len(a))
        for d, (n, count, start, step) in enumerate(zip(a, r, starts, steps)):
            if step < 1 or start < 0:
                raise op_error(self, f"dimension {d}: start {start} must be >= 0 and step {step} >= 1")
            if DYNAMIC in (n, count):
                if (n, count, start, step) != (DYNAMIC, DYNAMIC, 0, 1):
                    raise op_error(self, f"dimension {d}: a dynamic dimension can only be kept whole")
            elif start > n or (count > 0 and start + (count - 1) * step >= n):
                raise op_error(
                    self,
                    f"dimension {d}: {count} elements from {start} by {step} do not fit in {n}",
                )


@irdl_custom_directive
class FloatLiteral(CustomDirective):
    """An f64 property printed as a plain number, or `inf`, `-inf`, `nan`."""

    value: AttributeVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        negative = parser.parse_optional_punctuation("-") is not None
        number = parser.parse_optional_number()
        if number is None:
            word = parser.parse_optional_keyword("inf") or parser.parse_keyword("nan")
            number = math.inf if word == "inf" else math.nan
        self.value.set(state, FloatAttr(-float(number) if negative else float(number), f64))

    def print(self, printer: Printer, state: PrintingState, op) -> None:
        state.print_whitespace(printer)
        v = self.value.get(op).value.data
        if math.isnan(v):
            printer.print_string("nan")
        elif math.isinf(v):
            printer.print_string("inf" if v > 0 else "-inf")
        else:
            printer.print_float(v, f64)


@irdl_op_definition
class PadOp(HyOp):
    """Constant padding: `low[d]` elements of `value` before dimension d and
    `high[d]` after it (negative padding is a slice, not a pad).

        %p = hy.pad %x low [0, 1] high [0, 2] value 0.000000e+00 : tensor<2x3xf32> -> tensor<2x6xf32>
    """

    name = "hy.pad"

    input = operand_def(TensorType)
    low = prop_def(DenseArrayBase[I64])
    high = prop_def(DenseArrayBase[I64])
    value = prop_def(FloatAttr[Float64Type])
    result = result_def(TensorType)

    traits = traits_def(Pure(), Canonical())
    custom_directives = (FloatLiteral,)
    assembly_format = (
        "$input `low` $low `high` $high `value` custom<FloatLiteral>($value) attr-dict "
        "`:` type($input) `->` type($result)"
    )

    def __init__(self, input: SSAValue, low: Sequence[int], high: Sequence[int], value: float = 0.0):
        shape = [n if n == DYNAMIC else n + lo + hi for n, lo, hi in zip(shape_of(input), low, high)]
        super().__init__(
            operands=[input],
            result_types=[TensorType(input.type.element_type, shape)],
            properties={"low": int_array(low), "high": int_array(high), "value": FloatAttr(float(value), f64)},
        )

    @property
    def low_values(self) -> tuple[int, ...]:
        return tuple(self.low.get_values())

    @property
    def high_values(self) -> tuple[int, ...]:
        return tuple(self.high.get_values())

    @property
    def pad_value(self) -> float:
        return self.value.value.data

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        same_element_type(self, self.input, self.result)
        low, high = self.low_values, self.high_values
        check_rank(self, "low", low, len(a))
        check_rank(self, "high", high, len(a))
        for d, (n, lo, hi) in enumerate(zip(a, low, high)):
            if lo < 0 or hi < 0:
                raise op_error(self, f"dimension {d}: padding {lo}, {hi} must be >= 0")
            if n == DYNAMIC and (lo or hi):
                raise op_error(self, f"dimension {d}: a dynamic dimension cannot be padded")
        v = self.pad_value
        if not is_float(self.input) and not (math.isfinite(v) and v == int(v)):
            raise op_error(self, f"value {v} is not representable in {self.input.type.element_type}")
        check_result_shape(self, [n if n == DYNAMIC else n + lo + hi for n, lo, hi in zip(a, low, high)])


@irdl_op_definition
class BroadcastOp(HyOp):
    """NumPy `broadcast_to` of the input to the result type, materialized.
    Elementwise (each result element is the input element at the broadcast
    index), so it fuses into the loops of its consumers.

        %b = hy.broadcast %x : tensor<3x1xf32> -> tensor<2x3x4xf32>
    """

    name = "hy.broadcast"

    input = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), Elementwise(), Canonical())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue, shape: Sequence[int]):
        super().__init__(operands=[input], result_types=[TensorType(input.type.element_type, list(shape))])

    def verify_(self) -> None:
        a = tensor_shape(self, self.input, "input")
        r = tensor_shape(self, self.result, "result")
        same_element_type(self, self.input, self.result)
        if len(a) > len(r) or broadcast_shapes(a, r) != r:
            raise op_error(self, f"cannot broadcast {format_shape(a)} to {format_shape(r)}")
        aligned = (None,) * (len(r) - len(a)) + a
        for d, (n, m) in enumerate(zip(aligned, r)):
            if m == DYNAMIC and n not in (DYNAMIC, 1, None):
                raise op_error(
                    self, f"dimension {d}: a dynamic result dimension needs a dynamic input dimension or 1"
                )


SHAPE_OPS = [ReshapeOp, TransposeOp, ConcatOp, SliceOp, PadOp, BroadcastOp]
