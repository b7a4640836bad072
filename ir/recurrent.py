"""Recurrent ops: one layer, one direction of an LSTM, GRU or Elman RNN, the
time loop inside the op.

    %s = hy.lstm %x : tensor<7x2x8xf32>, %h0 : tensor<2x16xf32> cell %c0 : tensor<2x16xf32>
           weights %wi : tensor<64x8xf32>, %wh : tensor<64x16xf32>
           bias %bi : tensor<64xf32>, %bh : tensor<64xf32> -> tensor<7x2x32xf32>
    %g = hy.gru %x : tensor<7x2x8xf32>, %h0 : tensor<2x16xf32> weights %wi : tensor<48x8xf32>,
           %wh : tensor<48x16xf32> reverse -> tensor<7x2x16xf32>

The input is time-major `[T, B, I]`; the result holds the recurrent state
after every step, `[T, B, S]`: for GRU and RNN the hidden state (`S = H`),
for LSTM the output `h` then the cell `c` (`S = P + H`, `P` the projection
size, `H` without one). With `reverse` the steps run from `T - 1` down to 0
and step t's state is still stored at t (the final state is at 0). Weights are
PyTorch's, gates stacked along rows: `w_ih [G*H, I]`, `w_hh [G*H, P]`,
`b_ih`, `b_hh [G*H]` (both or neither), LSTM's `w_hr [P, H]`. Per step, with
`gi = w_ih x_t + b_ih` and `gh = w_hh h + b_hh`:

- `hy.lstm` (gates i, f, g, o): `c' = σ(f) c + σ(i) tanh(g)`, `h' = w_hr (σ(o) tanh(c'))`;
- `hy.gru` (gates r, z, n): `n = tanh(gi_n + σ(r) gh_n)`, `h' = (1 - σ(z)) n + σ(z) h`;
- `hy.rnn_tanh`, `hy.rnn_relu`: `h' = tanh(gi + gh)`, `relu(gi + gh)`.

Layers and directions compose from these in the frontend (a bidirectional
layer concatenates two), so the IR grows with layers, not with sequence
length, and `T` may be the dynamic dimension. Why one op per cell and not a
general `hy.scan` region: the backends' walker, planner and fuser see flat
single-result ops; a region op would need them all to learn nested blocks
and loop-carried buffers, while a fixed cell gives the C backend a tight
loop (input projection, recurrence, gate math) with no per-step dispatch.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from xdsl.dialects.builtin import TensorType, UnitAttr
from xdsl.ir import SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from hybridize.ir.base import HyOp, check_result_shape, op_error, same_element_type, shapes_match, tensor_shape
from hybridize.ir.types import DYNAMIC, format_shape, is_float, shape_of


class RecurrentOp(HyOp, abc.ABC):
    """One recurrent layer in one direction; subclasses fix the cell (`GATES`)."""

    GATES: ClassVar[int]
    HAS_CELL: ClassVar[bool] = False

    input = operand_def(TensorType)
    h0 = operand_def(TensorType)
    c0 = opt_operand_def(TensorType)
    w_ih = operand_def(TensorType)
    w_hh = operand_def(TensorType)
    b_ih = opt_operand_def(TensorType)
    b_hh = opt_operand_def(TensorType)
    w_hr = opt_operand_def(TensorType)
    result = result_def(TensorType)
    reverse = opt_prop_def(UnitAttr)

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `:` type($input) `,` $h0 `:` type($h0) (`cell` $c0^ `:` type($c0))? "
        "`weights` $w_ih `:` type($w_ih) `,` $w_hh `:` type($w_hh) "
        "(`bias` $b_ih^ `:` type($b_ih) `,` $b_hh `:` type($b_hh))? (`proj` $w_hr^ `:` type($w_hr))? "
        "(`reverse` $reverse^)? attr-dict `->` type($result)"
    )

    def __init__(
        self,
        input: SSAValue,
        h0: SSAValue,
        w_ih: SSAValue,
        w_hh: SSAValue,
        b_ih: SSAValue | None = None,
        b_hh: SSAValue | None = None,
        *,
        c0: SSAValue | None = None,
        w_hr: SSAValue | None = None,
        reverse: bool = False,
    ):
        t, b, _ = shape_of(input)
        hidden = shape_of(w_ih)[0] // self.GATES
        state = shape_of(h0)[-1] + (hidden if self.HAS_CELL else 0)
        super().__init__(
            operands=[input, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr],
            result_types=[TensorType(input.type.element_type, [t, b, state])],
            properties={"reverse": UnitAttr()} if reverse else {},
        )

    @property
    def reversed(self) -> bool:
        return self.reverse is not None

    @property
    def hidden_size(self) -> int:
        return shape_of(self.w_ih)[0] // self.GATES

    @property
    def output_size(self) -> int:
        """The size of h: the projection's with one, else the hidden size."""
        return shape_of(self.h0)[-1]

    def verify_(self) -> None:
        x = tensor_shape(self, self.input, "input")
        if len(x) != 3 or not is_float(self.input):
            raise op_error(self, f"input must be a 3-D float tensor [T, B, I], got {self.input.type}")
        wi = tensor_shape(self, self.w_ih, "w_ih")
        if len(wi) != 2 or wi[0] == DYNAMIC or wi[0] % self.GATES or wi[0] == 0:
            raise op_error(self, f"w_ih must be [{self.GATES}*H, I] with H > 0, got {format_shape(wi)}")
        hidden = wi[0] // self.GATES
        if not shapes_match([wi[0], x[2]], wi):
            raise op_error(self, f"w_ih {format_shape(wi)} must be [{wi[0]}, {x[2]}] for an input {format_shape(x)}")
        if self.HAS_CELL and self.c0 is None:
            raise op_error(self, "an LSTM needs an initial cell state c0")
        if not self.HAS_CELL and (self.c0 is not None or self.w_hr is not None):
            raise op_error(self, "only hy.lstm takes a cell state and a projection")
        proj = hidden
        if self.w_hr is not None:
            wr = tensor_shape(self, self.w_hr, "w_hr")
            if len(wr) != 2 or wr[1] != hidden or wr[0] in (0, DYNAMIC) or wr[0] >= hidden:
                raise op_error(self, f"w_hr must be [P, {hidden}] with 0 < P < {hidden}, got {format_shape(wr)}")
            proj = wr[0]
        expected = {"h0": (self.h0, [x[1], proj]), "w_hh": (self.w_hh, [wi[0], proj])}
        if self.c0 is not None:
            expected["c0"] = (self.c0, [x[1], hidden])
        if (self.b_ih is None) != (self.b_hh is None):
            raise op_error(self, "b_ih and b_hh come together (both or neither)")
        for name in ("b_ih", "b_hh"):
            if getattr(self, name) is not None:
                expected[name] = (getattr(self, name), [wi[0]])
        for name, (value, shape) in expected.items():
            got = tensor_shape(self, value, name)
            if not shapes_match(shape, got):
                raise op_error(self, f"{name} must be {format_shape(shape)}, got {format_shape(got)}")
        same_element_type(self, *self.operands, self.result)
        check_result_shape(self, (x[0], x[1], proj + (hidden if self.HAS_CELL else 0)))


@irdl_op_definition
class LSTMOp(RecurrentOp):
    """LSTM (gates i, f, g, o); the result is `[T, B, P + H]`: h then c of every step."""

    name = "hy.lstm"
    GATES: ClassVar[int] = 4
    HAS_CELL: ClassVar[bool] = True


@irdl_op_definition
class GRUOp(RecurrentOp):
    """GRU (gates r, z, n; PyTorch's form: r multiplies `w_hn h + b_hn`)."""

    name = "hy.gru"
    GATES: ClassVar[int] = 3


@irdl_op_definition
class RNNTanhOp(RecurrentOp):
    """Elman RNN, `h' = tanh(w_ih x + b_ih + w_hh h + b_hh)`."""

    name = "hy.rnn_tanh"
    GATES: ClassVar[int] = 1


@irdl_op_definition
class RNNReluOp(RecurrentOp):
    """Elman RNN, `h' = relu(w_ih x + b_ih + w_hh h + b_hh)`."""

    name = "hy.rnn_relu"
    GATES: ClassVar[int] = 1


RECURRENT_OPS = [LSTMOp, GRUOp, RNNTanhOp, RNNReluOp]
