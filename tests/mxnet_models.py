"""MXNet models shared by the MXNet tests, and the fixture folder.

The MXNet run (`.venv-mxnet`, tests marked `mxnet`) builds each model, checks
hybridize against MXNet and exports it to `build/mxnet-fixtures/`:
`<name>-symbol.json`, `<name>-0000.params` and `<name>-io.npz` (the inputs
`x0, x1, ...` and MXNet's outputs `y0, y1, ...`). The main venv, without
MXNet, imports the same files and compares with the stored outputs.

MXNet is imported inside the functions: this module loads in either venv.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "build" / "mxnet-fixtures"
C_CACHE = ROOT / "build" / "c-cache"
"""C builds shared by both venvs (same interpreter, keyed by source hash)."""

PIPELINE = "canonicalize,fuse,plan"


def tolerance(reference: np.ndarray) -> float:
    """The parity bound: 1e-4 * max(1, max |reference|)."""
    return 1e-4 * max(1.0, float(np.max(np.abs(reference))) if reference.size else 1.0)


@contextlib.contextmanager
def numpy_mode(enabled: bool):
    """MXNet's numpy mode (`npx.set_np()`) inside the block, legacy mode after."""
    import mxnet as mx

    if not enabled:
        yield
        return
    mx.npx.set_np()
    try:
        yield
    finally:
        mx.npx.reset_np()


# --- the d2l models ---


def get_net():
    """d2l's `get_net()`: Dense(256, relu), Dense(128, relu), Dense(2)."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(128, activation="relu"), nn.Dense(2))
    return net


def hybrid_net():
    """d2l's `HybridNet`: a HybridBlock that prints its input, then returns
    output(hidden(x)) (tracing must still work; it prints a Symbol once)."""
    from mxnet.gluon import nn

    class HybridNet(nn.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = nn.Dense(10, activation="relu")
            self.output = nn.Dense(2)

        def hybrid_forward(self, F, x):
            print("x: ", x)
            return self.output(self.hidden(x))

    return HybridNet()


# --- a custom block with many ops (legacy mode) ---


def custom_block():
    """A HybridBlock using 25 distinct MXNet ops, with the MXNet-only
    semantics among them: `full` pooling with and without `count_include_pad`,
    `fix_gamma` (BatchNorm(scale=False), whose gamma is randomized and must be
    ignored), Reshape codes -3 and -4, and FullyConnected with and without flatten."""
    from mxnet.gluon import nn

    class Custom(nn.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.conv = nn.Conv2D(8, 3, padding=1, in_channels=3)
                self.bn = nn.BatchNorm(scale=False, in_channels=8)
                self.dw = nn.Conv2D(8, 3, strides=2, padding=1, groups=8, use_bias=False, in_channels=8)
                self.dense = nn.Dense(24, in_units=256)
                self.ln = nn.LayerNorm(in_channels=24)
                self.proj = nn.Dense(5, flatten=False, in_units=6)

        def hybrid_forward(self, F, x):
            y = F.Activation(self.bn(self.conv(x)), act_type="relu")
            y = F.LeakyReLU(self.dw(y), act_type="leaky", slope=0.1)
            a = F.Pooling(
                y, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                pooling_convention="full", count_include_pad=False,
            )
            b = F.Pooling(y, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", pooling_convention="full")
            m = F.Pooling(y, kernel=(2, 2), stride=(2, 2), pool_type="max", pooling_convention="full")
            h = self.dense(F.concat(a + b, m, dim=1))
            h = F.tanh(h) * F.sigmoid(h)
            h = F.broadcast_sub(h, F.mean(h, axis=1, keepdims=True))
            h = self.ln(F.clip(h, -0.5, 0.5) * 3)
            r = F.transpose(F.Reshape(h, shape=(0, -4, 6, -1)), axes=(0, 2, 1))
            s = F.softmax(F.Reshape(r, shape=(-3, 0)), axis=-1)
            p = self.proj(F.Reshape(s, shape=(-4, 2, -1, -2)))
            q = F.exp(F.slice_axis(F.sum(p, axis=1), axis=1, begin=1, end=4))
            out = F.concat(q, F.expand_dims(F.max(h, axis=1), axis=1), dim=1)
            return F.Dropout(1 - out, p=0.3)

    return Custom()


def custom_np_block():
    """The numpy-mode spelling of a small network (`_npi_*`, `_np_*`, `_npx_*` ops)."""
    from mxnet.gluon import nn

    class CustomNP(nn.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.conv = nn.Conv2D(4, 3, padding=1, in_channels=3)
                self.bn = nn.BatchNorm(in_channels=4)
                self.dense = nn.Dense(8, in_units=64)

        def hybrid_forward(self, F, x, y):
            a = F.npx.relu(self.bn(self.conv(x)))
            a = F.npx.pooling(a, kernel=(2, 2), stride=(2, 2), pool_type="max")
            h = self.dense(F.np.reshape(a, (2, -1)))
            h = F.np.concatenate([h * 2 - y, F.npx.sigmoid(h) + F.np.tanh(h) / 3], axis=1)
            h = F.np.transpose(F.npx.reshape(h, (-2, -6, 4, -1)), (0, 2, 1))
            t = F.np.sum(h, axis=1) + F.np.mean(h, axis=2) + F.np.exp(-F.np.abs(F.np.max(h, axis=1)))
            z = F.npx.softmax(F.np.dot(t, F.np.ones((4, 3))), axis=-1) + F.npx.log_softmax(t[:, 1:4])
            return F.np.clip(z, -1, 1) + F.np.sqrt(F.np.abs(z)) + F.np.maximum(z, 0.2), F.np.expand_dims(t, 1)

    return CustomNP()


# --- the Gluon vision zoo ---


def zoo(name: str):
    from mxnet.gluon.model_zoo import vision

    return vision.get_model(name, pretrained=False)


def initialize(net, inputs, seed: int) -> None:
    """Xavier (He) init, then BatchNorm gamma, beta and running statistics
    drawn at random, so every op changes the output and outputs are not ~0."""
    import mxnet as mx

    mx.random.seed(seed)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    net(*inputs)  # finishes deferred initialization
    rng = np.random.default_rng(seed)
    for name, p in sorted(net.collect_params().items()):
        shape = p.shape
        if name.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("beta"):
            value = rng.normal(0.0, 0.2, shape)
        elif name.endswith("running_mean"):
            value = rng.normal(0.0, 0.2, shape)
        elif name.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            continue
        p.set_data(value.astype(np.float32))


@dataclass(frozen=True)
class ModelSpec:
    """A model to test: how to build it, its input shapes and MXNet mode."""

    build: Callable
    input_shapes: tuple[tuple[int, ...], ...]
    numpy_mode: bool = False
    seed: int = 0

    def inputs(self) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed + 1)
        return [rng.standard_normal(s).astype(np.float32) for s in self.input_shapes]


MODELS: dict[str, ModelSpec] = {
    "d2l_mlp": ModelSpec(get_net, ((1, 512),)),
    "d2l_mlp_np": ModelSpec(get_net, ((1, 512),), numpy_mode=True),
    "d2l_hybridnet": ModelSpec(hybrid_net, ((1, 512),)),
    "custom": ModelSpec(custom_block, ((2, 3, 14, 14),)),
    "custom_np": ModelSpec(custom_np_block, ((2, 3, 8, 8), (2, 8)), numpy_mode=True),
    "resnet18_v1": ModelSpec(lambda: zoo("resnet18_v1"), ((1, 3, 64, 64),)),
    "resnet18_v2": ModelSpec(lambda: zoo("resnet18_v2"), ((1, 3, 64, 64),)),
    "mobilenet1.0": ModelSpec(lambda: zoo("mobilenet1.0"), ((1, 3, 64, 64),)),
    "vgg11_bn": ModelSpec(lambda: zoo("vgg11_bn"), ((1, 3, 32, 32),)),
    # AvgPool2D(13) at the end: 213 x 213 is the smallest input it accepts
    "squeezenet1.0": ModelSpec(lambda: zoo("squeezenet1.0"), ((1, 3, 213, 213),)),
}


def build_model(name: str):
    """(block, numpy inputs, MXNet inputs), initialized; call inside `numpy_mode`."""
    import mxnet as mx

    spec = MODELS[name]
    inputs = spec.inputs()
    array = mx.np.array if spec.numpy_mode else mx.nd.array
    mx_inputs = [array(x) for x in inputs]
    block = spec.build()
    initialize(block, mx_inputs, spec.seed)
    return block, inputs, mx_inputs


def outputs_of(result) -> list[np.ndarray]:
    """MXNet outputs (one array or a tuple) as NumPy arrays."""
    items = result if isinstance(result, list | tuple) else [result]
    return [r.asnumpy() for r in items]


def export_fixture(name: str, block, inputs: list[np.ndarray], mx_inputs, outputs: list[np.ndarray]) -> Path:
    """Write the model's files and its inputs/outputs for the main venv."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    block.hybridize()
    block(*mx_inputs)
    prefix = FIXTURES / name
    block.export(str(prefix))
    arrays = {f"x{i}": x for i, x in enumerate(inputs)} | {f"y{i}": y for i, y in enumerate(outputs)}
    staged = FIXTURES / f".{name}-io.tmp.npz"
    np.savez(staged, **arrays)
    staged.replace(FIXTURES / f"{name}-io.npz")  # written last: its presence means "complete"
    return prefix


def load_fixture(name: str) -> tuple[Path, list[np.ndarray], list[np.ndarray]] | None:
    """(symbol path, inputs, MXNet outputs) of an exported fixture, or None."""
    io = FIXTURES / f"{name}-io.npz"
    symbol = FIXTURES / f"{name}-symbol.json"
    if not io.exists() or not symbol.exists() or not (FIXTURES / f"{name}-0000.params").exists():
        return None
    with np.load(io) as data:
        inputs = [data[f"x{i}"] for i in range(sum(k.startswith("x") for k in data.files))]
        outputs = [data[f"y{i}"] for i in range(sum(k.startswith("y") for k in data.files))]
    return symbol, inputs, outputs
