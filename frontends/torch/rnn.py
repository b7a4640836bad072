"""Converters for recurrent layers: `aten.lstm`, `aten.gru`, `aten.rnn_tanh`, `aten.rnn_relu`.

`nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)` exports
as one `aten.lstm.input` holding every layer's weights; it lowers to one
`hy.lstm` per layer and direction (see `hybridize.ir.recurrent`), directions
concatenated on the feature axis, layers chained, and the final states
sliced from the state sequences:

    %t = hy.transpose %x perm [1, 0, 2]            // batch_first -> [T, B, I]
    %f = hy.lstm %t, %h00, %c00 weights ... : ... -> tensor<7x1x32xf32>
    %r = hy.lstm %t, %h01, %c01 weights ... reverse : ... -> tensor<7x1x32xf32>
    %y = hy.concat %f[h], %r[h] axis 2             // the next layer's input
    ...

`build_recurrent` (given only an `emit(op) -> value`) is shared with the MXNet
frontend's fused `RNN` op.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.ir import SSAValue

from hybridize.errors import FrontendError
from hybridize.frontends.torch.lowering import CONVERTERS, Lowering, Unavailable, bind, refuse
from hybridize.ir.recurrent import GRUOp, LSTMOp, RecurrentOp, RNNReluOp, RNNTanhOp
from hybridize.ir.shape import ConcatOp, ReshapeOp, SliceOp, TransposeOp
from hybridize.ir.types import DYNAMIC, shape_of

CELLS: dict[str, type[RecurrentOp]] = {"lstm": LSTMOp, "gru": GRUOp, "rnn_tanh": RNNTanhOp, "rnn_relu": RNNReluOp}


class FinalStateUnavailable(FrontendError):
    """A forward direction's final state over a dynamic number of steps (no static index to slice)."""


def build_recurrent(
    emit,
    cell: str,
    x: SSAValue,
    h0: SSAValue,
    c0: SSAValue | None,
    params: Sequence[SSAValue],
    *,
    has_biases: bool,
    num_layers: int,
    bidirectional: bool,
) -> tuple[SSAValue, list, list]:
    """Stacked recurrent layers on a time-major `x [T, B, I]`.

    `h0 [L*D, B, P]` (and LSTM's `c0 [L*D, B, H]`) hold one initial state per
    layer and direction; `params` are PyTorch's flat weights, per layer and
    direction `w_ih, w_hh[, b_ih, b_hh][, w_hr]`. Returns the last layer's
    output `[T, B, D*P]` and the final `h` (and `c`) of every layer and
    direction as `[1, B, ...]` values, in `h0`'s order (a
    `FinalStateUnavailable` in place of a state with no static last step).
    """
    op_class = CELLS[cell]
    dirs = 2 if bidirectional else 1
    if len(params) % (num_layers * dirs):
        raise ValueError(f"{len(params)} weights do not split into {num_layers} layers x {dirs} directions")
    per = len(params) // (num_layers * dirs)
    base = 4 if has_biases else 2
    if per not in (base, base + 1) or (per == base + 1 and cell != "lstm"):
        raise ValueError(f"{per} weights per layer and direction (expected {base}{' or ' + str(base + 1) if cell == 'lstm' else ''})")
    steps = shape_of(x)[0]
    finals_h, finals_c = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            w = list(params[k * per : (k + 1) * per])
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
            w_hr = w[base] if per == base + 1 else None
            h = _state(emit, h0, k)
            c = _state(emit, c0, k) if c0 is not None else None
            state = emit(op_class(x, h, w_ih, w_hh, b_ih, b_hh, c0=c, w_hr=w_hr, reverse=d == 1))
            p = shape_of(h)[-1]
            outs.append(_slice(emit, state, 2, 0, p) if c is not None else state)
            last = 0 if d == 1 else steps - 1
            if steps == DYNAMIC and d == 0:
                finals_h.append(FinalStateUnavailable())
                finals_c.append(FinalStateUnavailable())
                continue
            step = _slice(emit, state, 0, last, 1)
            finals_h.append(_slice(emit, step, 2, 0, p) if c is not None else step)
            if c is not None:
                finals_c.append(_slice(emit, step, 2, p, shape_of(state)[2] - p))
        x = outs[0] if dirs == 1 else emit(ConcatOp(outs, 2))
    return x, finals_h, finals_c


def _slice(emit, x: SSAValue, axis: int, start: int, count: int) -> SSAValue:
    shape = list(shape_of(x))
    starts = [0] * len(shape)
    starts[axis], shape[axis] = start, count
    return emit(SliceOp(x, starts, [1] * len(shape), shape))


def _state(emit, states: SSAValue, k: int) -> SSAValue:
    """`states[k]` of `[L*D, B, S]` as `[B, S]`."""
    one = _slice(emit, states, 0, k, 1)
    return emit(ReshapeOp(one, shape_of(one)[1:]))


def _stack(emit, node, finals: list, what: str):
    if any(isinstance(f, FinalStateUnavailable) for f in finals):
        return Unavailable(node, f"{what} (the final state of a forward pass over a dynamic sequence length)")
    return finals[0] if len(finals) == 1 else emit(ConcatOp(finals, 0))


def _recurrent(cell: str):
    def convert(lo: Lowering, node, args, kwargs):
        p = bind(node, args, kwargs)
        if p["train"] and p["dropout"]:
            raise refuse(node, "dropout between layers in training mode is not supported (call model.eval())")
        x = p["input"]
        if len(shape_of(x)) != 3:
            raise refuse(node, f"expects a 3-D input, got rank {len(shape_of(x))}")
        if cell == "lstm":
            h0, c0 = p["hx"]
        else:
            h0, c0 = p["hx"], None
        emit = lo.emit
        if p["batch_first"]:
            x = lo.emit(TransposeOp(x, [1, 0, 2]))
        try:
            y, finals_h, finals_c = build_recurrent(
                emit, cell, x, h0, c0, p["params"], has_biases=bool(p["has_biases"]),
                num_layers=int(p["num_layers"]), bidirectional=bool(p["bidirectional"]),
            )  # fmt: skip
        except ValueError as e:
            raise refuse(node, str(e)) from None
        if p["batch_first"]:
            y = lo.emit(TransposeOp(y, [1, 0, 2]))
        if cell != "lstm":
            return y, _stack(emit, node, finals_h, "h_n")
        return (
            y,
            _stack(emit, node, finals_h, "h_n"),
            _stack(emit, node, finals_c, "c_n"),
        )

    return convert


def _packed(node_kind: str):
    def convert(lo: Lowering, node, args, kwargs):
        raise refuse(node, f"packed sequences ({node_kind} over a PackedSequence) are not supported; pass a padded tensor")

    return convert


CONVERTERS.update(
    {
        "aten.lstm.input": _recurrent("lstm"),
        "aten.gru.input": _recurrent("gru"),
        "aten.rnn_tanh.input": _recurrent("rnn_tanh"),
        "aten.rnn_relu.input": _recurrent("rnn_relu"),
        "aten.lstm.data": _packed("LSTM"),
        "aten.gru.data": _packed("GRU"),
        "aten.rnn_tanh.data": _packed("RNN"),
        "aten.rnn_relu.data": _packed("RNN"),
    }
)
