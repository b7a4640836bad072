"""Recurrent layers (nn.LSTM, nn.GRU, nn.RNN) against eager PyTorch on both backends."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import hybridize  # noqa: E402
from tests.helpers import ops_named  # noqa: E402


class Run(nn.Module):
    """The layer's output and final state(s); with `states`, given initial ones."""

    def __init__(self, rnn: nn.Module, states: bool = False):
        super().__init__()
        self.rnn, self.states = rnn, states

    def forward(self, x):
        if not self.states:
            return self.rnn(x)
        r = self.rnn
        rows = r.num_layers * (2 if r.bidirectional else 1)
        batch = x.shape[0] if r.batch_first else x.shape[1]
        out = getattr(r, "proj_size", 0) or r.hidden_size
        h0 = torch.sin(torch.arange(rows * batch * out, dtype=x.dtype)).reshape(rows, batch, out)
        if isinstance(r, nn.LSTM):
            c0 = torch.cos(torch.arange(rows * batch * r.hidden_size, dtype=x.dtype)).reshape(rows, batch, -1)
            return r(x, (h0, c0))
        return r(x, h0)


class Several(nn.Module):
    """Several configurations of one layer kind on the same input, so one build checks them all."""

    def __init__(self, runs: list[Run]):
        super().__init__()
        self.runs = nn.ModuleList(runs)

    def forward(self, x):
        return tuple(r(x if r.rnn.batch_first else x.transpose(0, 1)) for r in self.runs)


FAMILIES = {
    "lstm": lambda: [
        Run(nn.LSTM(5, 8, batch_first=True)),
        Run(nn.LSTM(5, 8, num_layers=2, bidirectional=True), states=True),
        Run(nn.LSTM(5, 8, proj_size=3, bidirectional=True, batch_first=True), states=True),
        Run(nn.LSTM(5, 8, bias=False)),
    ],
    "gru": lambda: [
        Run(nn.GRU(5, 8, num_layers=2, bidirectional=True, batch_first=True), states=True),
        Run(nn.GRU(5, 8)),
    ],
    "rnn": lambda: [
        Run(nn.RNN(5, 8, bidirectional=True, batch_first=True)),
        Run(nn.RNN(5, 8, num_layers=2, nonlinearity="relu", bias=False), states=True),
    ],
}
CELL_OPS = {"lstm": ("hy.lstm",), "gru": ("hy.gru",), "rnn": ("hy.rnn_tanh", "hy.rnn_relu")}


def _flat(out):
    return [np.asarray(o) for o in torch.utils._pytree.tree_leaves(out)]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_matches_eager_on_both_backends(family):
    torch.manual_seed(0)
    model = Several(FAMILIES[family]()).eval()
    x = torch.randn(3, 6, 5)  # [B, T, I]; seq-first layers see it transposed
    with torch.no_grad():
        want = _flat(model(x))
    module = hybridize.trace(model, x)
    # one op per layer and direction, whatever the sequence length
    ops = sum(len(ops_named(module, name)) for name in CELL_OPS[family])
    assert ops == sum(r.rnn.num_layers * (2 if r.rnn.bidirectional else 1) for r in model.runs)
    optimized = hybridize.optimize(module)
    for backend in ("numpy", "c"):
        options = {"progress": False} if backend == "c" else {}
        got = _flat(hybridize.build(optimized, backend, **options)(x))
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=f"{family} output {k} on {backend}")


def test_ir_does_not_grow_with_sequence_length():
    torch.manual_seed(0)
    model = Run(nn.GRU(4, 6, batch_first=True)).eval()
    short = hybridize.trace(model, torch.randn(1, 3, 4))
    x = torch.randn(1, 60, 4)
    long = hybridize.trace(model, x)
    count = lambda m: sum(1 for op in m.walk() if op.name.startswith("hy."))  # noqa: E731
    assert count(short) == count(long)
    with torch.no_grad():
        want = _flat(model(x))
    for g, w in zip(_flat(hybridize.build(hybridize.optimize(long), "numpy")(x)), want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer", [nn.GRU, nn.RNN])
def test_batch_first_layers_serve_a_dynamic_batch_in_c(layer, c_cache):
    # time-major slices of [T, ?, H] start at t * batch * H: a stride the C slice kernel computes at run time
    torch.manual_seed(0)
    net = layer(4, 6, batch_first=True).eval()
    module = hybridize.optimize(hybridize.trace(net, torch.randn(1, 5, 4), dynamic_batch=True))
    fast = hybridize.build(module, "c", cache_dir=c_cache)
    for batch in (1, 3):
        x = torch.randn(batch, 5, 4)
        with torch.no_grad():
            want = net(x)[0].numpy()
        np.testing.assert_allclose(np.asarray(fast(x.numpy())[0]), want, rtol=1e-5, atol=1e-5)
