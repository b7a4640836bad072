"""MXNet recurrent layers (the fused `RNN` op of gluon.rnn.LSTM/GRU/RNN) and 1-D
pooling (valid, full, same) against real MXNet (runs in `.venv-mxnet`)."""

from __future__ import annotations

import numpy as np
import pytest

import hybridize
from hybridize.frontends.mxnet import UnsupportedOpError
from hybridize.ir.recurrent import RecurrentOp

mx = pytest.importorskip("mxnet")
pytestmark = pytest.mark.mxnet
gluon = mx.gluon


def _lower(symbol, *arrays):
    """A symbol with every argument a graph input (in `list_arguments` order)."""
    return hybridize.frontends.mxnet.lower_symbol(symbol.tojson(), {}, [np.shape(a) for a in arrays])


def _close(got, want, what):
    got = got if isinstance(got, list | tuple) else [got]
    want = want if isinstance(want, list | tuple) else [want]
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        g = g.asnumpy() if hasattr(g, "asnumpy") else np.asarray(g)
        w = w.asnumpy() if hasattr(w, "asnumpy") else np.asarray(w)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=what)


class Layers(gluon.HybridBlock):
    """Several RNN layers inside one block (their initial states are zeros in the graph)."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.lstm = gluon.rnn.LSTM(8, num_layers=2, bidirectional=True, layout="NTC", input_size=4)
            self.proj = gluon.rnn.LSTM(8, projection_size=3, layout="NTC", input_size=4)
            self.gru = gluon.rnn.GRU(8, bidirectional=True, layout="NTC", input_size=4)
            self.relu = gluon.rnn.RNN(8, num_layers=2, activation="relu", layout="NTC", input_size=4)
            self.tanh = gluon.rnn.RNN(6, input_size=4)  # TNC
            self.fc = gluon.nn.Dense(3, flatten=False)

    def hybrid_forward(self, F, x):
        tnc = F.swapaxes(x, 0, 1)
        return self.fc(self.lstm(x)), self.proj(x), self.gru(x), self.relu(x), self.tanh(tnc)


def test_gluon_rnn_layers_match_on_both_backends():
    mx.random.seed(0)
    net = Layers()
    net.initialize(mx.init.Uniform(0.5))
    x = mx.nd.random.uniform(-1, 1, shape=(2, 5, 4))
    want = net(x)
    module = hybridize.trace(net, x)
    optimized = hybridize.optimize(module)
    recurrent = [op for op in optimized.walk() if isinstance(op, RecurrentOp)]
    assert len(recurrent) == 4 + 1 + 2 + 2 + 1  # one op per layer and direction
    # the weights are cut from Gluon's parameter concat at import: they stay constants
    assert all(op.w_ih.owner.name == "hy.constant" for op in recurrent)
    for backend in ("numpy", "c"):
        _close(hybridize.build(optimized, backend)(x), want, backend)


def test_top_level_gluon_lstm_and_its_states():
    mx.random.seed(1)
    lstm = gluon.rnn.LSTM(6, num_layers=2, input_size=3)
    lstm.initialize(mx.init.Uniform(0.5))
    x = mx.nd.random.uniform(-1, 1, shape=(4, 2, 3))
    fast = hybridize.compile(lstm, x, backend="numpy")  # called on x alone, as lstm(x)
    _close(fast(x), lstm(x), "top-level LSTM")


def test_fused_rnn_symbol_with_state_outputs():
    # the symbol API: explicit states in, every output out
    data, params = mx.sym.var("data"), mx.sym.var("params")
    h0, c0 = mx.sym.var("h0"), mx.sym.var("c0")
    out = mx.sym.RNN(data, params, h0, c0, state_size=5, num_layers=1, mode="lstm", state_outputs=True)
    rng = np.random.default_rng(0)
    size = 4 * 5 * (3 + 5) + 2 * 4 * 5
    args = {"data": rng.standard_normal((6, 2, 3)), "params": rng.uniform(-0.5, 0.5, size),
            "h0": rng.standard_normal((1, 2, 5)), "c0": rng.standard_normal((1, 2, 5))}  # fmt: skip
    args = {k: mx.nd.array(v.astype(np.float32)) for k, v in args.items()}
    want = out.bind(mx.cpu(), args).forward()
    module = _lower(out, *args.values())
    got = hybridize.build(hybridize.optimize(module), "numpy")(*[a.asnumpy() for a in args.values()])
    _close(list(got), [w.asnumpy() for w in want], "RNN with state outputs")


def test_rnn_refusals_name_the_node():
    data, params, h0 = mx.sym.var("data"), mx.sym.var("params"), mx.sym.var("h0")
    lengths = mx.sym.var("lengths")
    out = mx.sym.RNN(data=data, parameters=params, state=h0, sequence_length=lengths, state_size=5, num_layers=1,
                     mode="gru", use_sequence_length=True, name="enc")
    x = np.zeros((6, 2, 3), np.float32)
    p = np.zeros(3 * 5 * (3 + 5) + 2 * 3 * 5, np.float32)
    with pytest.raises(UnsupportedOpError, match=r"enc.*use_sequence_length"):
        _lower(out, x, p, np.zeros((1, 2, 5), np.float32), np.full(2, 6, np.float32))


@pytest.mark.parametrize(
    "pool, convention, kernel, stride, pad",
    [("max", "valid", 3, 2, 0), ("avg", "full", 3, 2, 1), ("max", "full", 2, 3, 1), ("avg", "valid", 4, 1, 0)],
)
def test_1d_pooling_matches_mxnet(pool, convention, kernel, stride, pad):
    x = mx.sym.var("data")
    y = mx.sym.Pooling(x, kernel=(kernel,), stride=(stride,), pad=(pad,), pool_type=pool,
                       pooling_convention=convention)  # fmt: skip
    data = np.random.default_rng(0).standard_normal((2, 3, 9)).astype(np.float32)
    want = y.bind(mx.cpu(), {"data": mx.nd.array(data)}).forward()[0].asnumpy()
    module = _lower(y, data)
    _close(hybridize.build(hybridize.optimize(module), "numpy")(data), want, f"{pool} {convention}")


def _same_reference(x, kernel, stride):
    """MXNet's native 'same' max pooling: ceil(W / stride) windows from o * stride, clipped at the end."""
    w = x.shape[-1]
    out = -(-w // stride)
    return np.stack([x[..., o * stride : min(o * stride + kernel, w)].max(axis=-1) for o in range(out)], axis=-1)


@pytest.mark.parametrize("kernel, stride, size", [(3, 2, 7), (3, 1, 8), (5, 3, 8), (6, 4, 7), (2, 2, 6)])
def test_same_pooling(kernel, stride, size):
    # MXNet's oneDNN build refuses most 'same' windows, so the reference is its native kernel's rule
    x = mx.sym.var("data")
    y = mx.sym.Pooling(x, kernel=(kernel,), stride=(stride,), pool_type="max", pooling_convention="same")
    data = np.random.default_rng(1).standard_normal((2, 3, size)).astype(np.float32)
    module = _lower(y, data)
    for backend in ("numpy", "c"):
        got = hybridize.build(hybridize.optimize(module), backend)(data)
        np.testing.assert_array_equal(np.asarray(got), _same_reference(data, kernel, stride))


def test_same_pooling_refusals():
    x = mx.sym.var("data")
    data = np.zeros((1, 2, 8), np.float32)
    avg = mx.sym.Pooling(x, kernel=(3,), stride=(2,), pool_type="avg", pooling_convention="same", name="p")
    with pytest.raises(UnsupportedOpError, match=r"p.*'same' is 1-D max pooling only"):
        _lower(avg, data)
    two_d = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", pooling_convention="same", name="q")
    with pytest.raises(UnsupportedOpError, match=r"q.*'same' is 1-D max pooling only"):
        _lower(two_d, np.zeros((1, 2, 8, 8), np.float32))
