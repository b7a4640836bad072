"""The Gluon layers of `python -m hybridize.tools.coverage --suite gluon` (run
it with the MXNet venv's Python): each layer alone in a HybridBlock, random
weights, seeded inputs, traced live as a Gluon user would
(`hybridize.trace(block, x)`).

    >>> model, inputs = MODELS["gluon.nn.Conv1D"].build()
"""

from __future__ import annotations

from collections.abc import Callable

from hybridize.tools.coverage_models import Case

MODELS: dict[str, Case] = {}


def _case(name: str, make: Callable, shape: tuple, category: str = "layer") -> None:
    def build():
        import mxnet as mx
        import numpy as np

        mx.random.seed(0)
        block = make(mx.gluon)
        block.initialize(mx.init.Uniform(0.5))
        for p in block.collect_params().values():  # statistics worth normalizing with
            if p.name.endswith("running_var"):
                p.set_data(mx.nd.array(np.random.default_rng(1).uniform(0.5, 1.5, p.shape)))
            elif p.name.endswith("running_mean"):
                p.set_data(mx.nd.array(np.random.default_rng(2).uniform(-0.2, 0.2, p.shape)))
        x = mx.nd.array(np.random.default_rng(3).standard_normal(shape).astype(np.float32))
        return block, (x,)

    MODELS[name] = Case(name, category, build, 0, framework="mxnet")


def _seq(*layers):
    def make(gluon):
        net = gluon.nn.HybridSequential()
        with net.name_scope():
            net.add(*[layer(gluon) for layer in layers])
        return net

    return make


def _ids(embedding):
    """Indices from a float input, as a text model's first layer receives them."""

    def make(gluon):
        class Ids(gluon.HybridBlock):
            def __init__(self):
                super().__init__()
                with self.name_scope():
                    self.emb = embedding(gluon)

            def hybrid_forward(self, F, x):
                return self.emb(F.floor(F.clip(F.abs(x) * 7, 0, 19)))

        return Ids()

    return make


nn = lambda make: lambda gluon: make(gluon.nn)  # noqa: E731
rnn = lambda make: lambda gluon: make(gluon.rnn)  # noqa: E731

for _name, _make, _shape in [
    ("gluon.nn.Dense", nn(lambda n: n.Dense(8, in_units=6)), (2, 6)),
    ("gluon.nn.Dense-flatten-false", nn(lambda n: n.Dense(8, flatten=False, in_units=6)), (2, 3, 6)),
    ("gluon.nn.Conv1D", nn(lambda n: n.Conv1D(8, 3, strides=2, padding=1, in_channels=4)), (1, 4, 16)),
    ("gluon.nn.Conv2D", nn(lambda n: n.Conv2D(8, 3, padding=1, groups=2, in_channels=4)), (1, 4, 8, 8)),
    ("gluon.nn.Conv3D", nn(lambda n: n.Conv3D(4, 3, padding=1, in_channels=2)), (1, 2, 5, 5, 5)),
    ("gluon.nn.Conv1DTranspose", nn(lambda n: n.Conv1DTranspose(4, 4, strides=2, padding=1, in_channels=4)),
     (1, 4, 8)),
    ("gluon.nn.Conv2DTranspose", nn(lambda n: n.Conv2DTranspose(4, 3, strides=2, padding=1, output_padding=1,
                                                                in_channels=4)), (1, 4, 6, 6)),
    ("gluon.nn.MaxPool1D", nn(lambda n: n.MaxPool1D(3, 2)), (1, 4, 15)),
    ("gluon.nn.MaxPool2D-ceil", nn(lambda n: n.MaxPool2D(3, 2, ceil_mode=True)), (1, 4, 8, 8)),
    ("gluon.nn.AvgPool1D", nn(lambda n: n.AvgPool1D(3, 2, padding=1)), (1, 4, 15)),
    ("gluon.nn.AvgPool2D-exclude-pad", nn(lambda n: n.AvgPool2D(3, 2, padding=1, count_include_pad=False)),
     (1, 4, 8, 8)),
    ("gluon.nn.GlobalAvgPool1D", nn(lambda n: n.GlobalAvgPool1D()), (1, 4, 15)),
    ("gluon.nn.GlobalMaxPool2D", nn(lambda n: n.GlobalMaxPool2D()), (1, 4, 7, 7)),
    ("gluon.nn.BatchNorm", nn(lambda n: n.BatchNorm(in_channels=4)), (2, 4, 5, 5)),
    ("gluon.nn.LayerNorm", nn(lambda n: n.LayerNorm(in_channels=6)), (2, 3, 6)),
    ("gluon.nn.InstanceNorm", nn(lambda n: n.InstanceNorm(in_channels=4)), (2, 4, 5, 5)),
    ("gluon.nn.GroupNorm", nn(lambda n: n.GroupNorm(2)), (2, 4, 5, 5)),
    ("gluon.nn.Embedding", _ids(lambda g: g.nn.Embedding(20, 8)), (2, 6)),
    ("gluon.nn.Activation", _seq(*[nn(lambda n, a=a: n.Activation(a)) for a in
                                   ("relu", "sigmoid", "tanh", "softrelu", "softsign")]), (2, 4, 5)),
    ("gluon.nn.LeakyReLU", nn(lambda n: n.LeakyReLU(0.1)), (2, 8)),
    ("gluon.nn.PReLU", nn(lambda n: n.PReLU()), (2, 8)),
    ("gluon.nn.ELU-SELU-GELU-Swish", _seq(nn(lambda n: n.ELU()), nn(lambda n: n.SELU()), nn(lambda n: n.GELU()),
                                          nn(lambda n: n.Swish())), (2, 8)),
    ("gluon.nn.Dropout-Flatten", _seq(nn(lambda n: n.Dropout(0.5)), nn(lambda n: n.Flatten())), (2, 3, 4)),
    ("gluon.nn.ReflectionPad2D", nn(lambda n: n.ReflectionPad2D(2)), (1, 3, 6, 6)),
    ("gluon.contrib.nn.PixelShuffle2D", lambda g: g.contrib.nn.PixelShuffle2D(2), (1, 8, 3, 3)),
    ("gluon.rnn.LSTM", rnn(lambda r: r.LSTM(8, num_layers=2, bidirectional=True, layout="NTC", input_size=4)),
     (2, 5, 4)),
    ("gluon.rnn.LSTM-projection", rnn(lambda r: r.LSTM(8, projection_size=3, input_size=4)), (5, 2, 4)),
    ("gluon.rnn.GRU", rnn(lambda r: r.GRU(8, layout="NTC", input_size=4)), (2, 5, 4)),
    ("gluon.rnn.RNN-relu", rnn(lambda r: r.RNN(8, activation="relu", num_layers=2, input_size=4)), (5, 2, 4)),
]:
    _case(_name, _make, _shape)
