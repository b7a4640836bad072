"""MXNet frontend against real MXNet (runs in `.venv-mxnet`): live Gluon
blocks in legacy and numpy mode, the model zoo, MXNet-specific op semantics,
`hybridize.compile` on MXNet arrays. Each model test also exports its files to
`build/mxnet-fixtures/` for `test_mxnet_files.py` in the main venv.

Parity everywhere: max |ours - mxnet| <= 1e-4 * max(1, max |mxnet|)."""

from __future__ import annotations

import numpy as np
import pytest
from model_table import MODEL_TABLE, model_row
from mxnet_models import (
    C_CACHE,
    MODELS,
    PIPELINE,
    build_model,
    export_fixture,
    get_net,
    numpy_mode,
    outputs_of,
    tolerance,
)

import hybridize
from hybridize.frontends.mxnet import UnsupportedOpError
from hybridize.ir import ARENA
from hybridize.ir.module import forward_func

mx = pytest.importorskip("mxnet")
pytestmark = pytest.mark.mxnet



def check_parity(got, expected: list[np.ndarray], what: str) -> float:
    got = list(got) if isinstance(got, tuple) else [got]
    assert len(got) == len(expected), what
    worst = 0.0
    for g, e in zip(got, expected):
        g = g.asnumpy() if hasattr(g, "asnumpy") else np.asarray(g)
        assert g.shape == e.shape, f"{what}: shape {g.shape} != {e.shape}"
        err = float(np.max(np.abs(g - e))) if e.size else 0.0
        assert err <= tolerance(e), f"{what}: max error {err} > {tolerance(e)}"
        worst = max(worst, err)
    return worst


@pytest.mark.parametrize("name", list(MODELS))
def test_model_parity_both_backends_and_export(name, capsys):
    spec = MODELS[name]
    with numpy_mode(spec.numpy_mode):
        block, inputs, mx_inputs = build_model(name)
        expected = outputs_of(block(*mx_inputs))
        capsys.readouterr()
        imported = hybridize.trace(block, *mx_inputs)
        if name == "d2l_hybridnet":  # the print in hybrid_forward ran on a Symbol
            assert "Symbol" in capsys.readouterr().out
        optimized = hybridize.optimize(imported, PIPELINE)
        arena = forward_func(optimized).attributes[ARENA]
        row = model_row(f"mxnet {name}", imported, optimized)
        for backend in ("numpy", "c"):
            model = hybridize.build(optimized, backend, **({"cache_dir": C_CACHE} if backend == "c" else {}))
            row[f"max err {backend}"] = f"{check_parity(model(*inputs), expected, f'{name} {backend}'):.1e}"
        assert arena.bytes.data >= arena.lower_bound.data
        export_fixture(name, block, inputs, mx_inputs, expected)
    MODEL_TABLE.append(row)


def test_custom_block_uses_at_least_15_distinct_ops(tmp_path):
    import json

    block, inputs, mx_inputs = build_model("custom")
    block.hybridize()
    block(*mx_inputs)
    block.export(str(tmp_path / "custom"))
    nodes = json.loads((tmp_path / "custom-symbol.json").read_text())["nodes"]
    ops = {n["op"] for n in nodes} - {"null"}
    assert len(ops) >= 15, sorted(ops)


# --- hybridize.compile on MXNet arrays ---


def test_compile_takes_and_returns_ndarrays():
    net = get_net()
    x = mx.nd.random.normal(shape=(1, 512))
    net.initialize(mx.init.Xavier())
    expected = net(x).asnumpy()
    fast = hybridize.compile(net, x)
    y = fast(x)
    assert isinstance(y, mx.nd.NDArray)
    assert np.abs(y.asnumpy() - expected).max() <= tolerance(expected)
    assert isinstance(fast(x.asnumpy()), np.ndarray)
    # the block still works eagerly afterwards
    assert np.abs(net(x).asnumpy() - expected).max() <= tolerance(expected)


def test_compile_in_numpy_mode_returns_np_ndarrays():
    with numpy_mode(True):
        net = get_net()
        x = mx.np.random.normal(size=(1, 512))
        net.initialize(mx.init.Xavier())
        expected = net(x).asnumpy()
        fast = hybridize.compile(net, x, backend="numpy")
        y = fast(x)
        assert isinstance(y, mx.np.ndarray)
        assert np.abs(y.asnumpy() - expected).max() <= tolerance(expected)
        assert isinstance(fast(x.asnumpy()), np.ndarray)


def test_trace_accepts_numpy_example_inputs():
    net = get_net()
    net.initialize()
    x = np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32)
    expected = net(mx.nd.array(x)).asnumpy()
    got = hybridize.build(hybridize.trace(net, x), "numpy")(x)
    assert np.abs(got - expected).max() <= tolerance(expected)


# --- blocks that cannot be traced ---


def test_block_overriding_forward_is_refused():
    class Eager(mx.gluon.HybridBlock):
        def forward(self, x):
            return x * 2

    with pytest.raises(TypeError, match="hybrid_forward"):
        hybridize.trace(Eager(), mx.nd.ones((1, 2)))


def test_plain_block_is_refused():
    net = mx.gluon.nn.Sequential()
    net.add(mx.gluon.nn.Dense(2))
    net.initialize()
    with pytest.raises(TypeError, match="HybridSequential"):
        hybridize.trace(net, mx.nd.ones((1, 4)))


def test_unsupported_op_names_op_node_and_list():
    class UsesTopk(mx.gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.topk(x, k=2, ret_typ="value")

    with pytest.raises(UnsupportedOpError) as info:
        hybridize.trace(UsesTopk(), mx.nd.ones((2, 5)))
    msg = str(info.value)
    assert "'topk'" in msg and "node 1" in msg and "supported_ops()" in msg


# --- MXNet semantics, op by op (small graphs; MXNet is the reference) ---


class Lambda(mx.gluon.HybridBlock):
    """A block computing `fn(F, *inputs)`: every operand is a graph input."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def hybrid_forward(self, F, *xs):
        return self.fn(F, *xs)


R = np.random.default_rng(7)


def normal(*shape):
    return R.standard_normal(shape).astype(np.float32)


def positive(*shape):
    return (R.random(shape) + 0.5).astype(np.float32)


LEGACY_CASES = {
    # pooling: MXNet's conventions
    "max_full_pad": (lambda F, x: F.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max", pooling_convention="full"), [normal(1, 2, 8, 8)]),
    "max_full_stride3": (lambda F, x: F.Pooling(x, kernel=(2, 2), stride=(3, 3), pool_type="max", pooling_convention="full"), [normal(1, 2, 7, 9)]),
    "max_valid": (lambda F, x: F.Pooling(x, kernel=(3, 2), stride=(2, 1), pad=(1, 0), pool_type="max"), [normal(2, 3, 7, 6)]),
    "avg_full_include_pad": (lambda F, x: F.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", pooling_convention="full"), [normal(1, 2, 8, 8)]),
    "avg_full_exclude_pad": (lambda F, x: F.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", pooling_convention="full", count_include_pad=False), [normal(1, 2, 8, 8)]),
    "avg_valid_exclude_pad": (lambda F, x: F.Pooling(x, kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="avg", count_include_pad=False), [normal(1, 2, 5, 5)]),
    "global_max": (lambda F, x: F.Pooling(x, kernel=(1, 1), global_pool=True, pool_type="max"), [normal(2, 3, 5, 4)]),
    "global_avg": (lambda F, x: F.Pooling(x, kernel=(1, 1), global_pool=True, pool_type="avg"), [normal(2, 3, 5, 4)]),
    # batch norm: fix_gamma (default True) ignores gamma, eps defaults to 1e-3, any axis
    "bn_fix_gamma_default": (lambda F, x, g, b, m, v: F.BatchNorm(x, g, b, m, v), [normal(2, 3, 4, 4), positive(3), normal(3), normal(3), positive(3)]),
    "bn_gamma": (lambda F, x, g, b, m, v: F.BatchNorm(x, g, b, m, v, fix_gamma=False, eps=1e-5), [normal(2, 3, 4, 4), positive(3), normal(3), normal(3), positive(3)]),
    "bn_last_axis": (lambda F, x, g, b, m, v: F.BatchNorm(x, g, b, m, v, fix_gamma=False, axis=-1), [normal(2, 5, 3), positive(3), normal(3), normal(3), positive(3)]),
    "layer_norm_axis1": (lambda F, x, g, b: F.LayerNorm(x, g, b, axis=1, eps=1e-3), [normal(2, 4, 3), positive(4), normal(4)]),
    # reshape codes
    "reshape_0_m1": (lambda F, x: F.Reshape(x, shape=(0, -1)), [normal(2, 3, 4)]),
    "reshape_m2": (lambda F, x: F.Reshape(x, shape=(-2, 1, 1)), [normal(2, 3, 4)]),
    "reshape_m3": (lambda F, x: F.Reshape(x, shape=(-3, -2)), [normal(2, 3, 4)]),
    "reshape_m4": (lambda F, x: F.Reshape(x, shape=(2, -4, -1, 3, -2)), [normal(2, 3, 4)]),
    "reshape_reverse": (lambda F, x: F.Reshape(x, shape=(-1, 0), reverse=True), [normal(10, 5, 4)]),
    # dense layers
    "fc_flatten": (lambda F, x, w, b: F.FullyConnected(x, w, b, num_hidden=5), [normal(2, 3, 4), normal(5, 12), normal(5)]),
    "fc_no_flatten": (lambda F, x, w, b: F.FullyConnected(x, w, b, num_hidden=5, flatten=False), [normal(2, 3, 4), normal(5, 4), normal(5)]),
    "fc_no_bias": (lambda F, x, w: F.FullyConnected(x, w, num_hidden=5, no_bias=True), [normal(2, 4), normal(5, 4)]),
    "conv_dilate_group": (lambda F, x, w, b: F.Convolution(x, w, b, kernel=(3, 3), num_filter=4, num_group=2, dilate=(2, 1), pad=(2, 1), stride=(1, 2)), [normal(1, 4, 9, 9), normal(4, 2, 3, 3), normal(4)]),
    "dot_transpose_b": (lambda F, a, b: F.dot(a, b, transpose_b=True), [normal(3, 4), normal(5, 4)]),
    "dot_nd": (lambda F, a, b: F.dot(a, b), [normal(2, 3, 4), normal(4, 2, 5)]),
    "dot_transpose_nd": (lambda F, a, b, c, d: F.dot(a, b, transpose_a=True) + F.dot(c, d, transpose_a=True, transpose_b=True), [normal(4, 2, 3), normal(4, 5), normal(6, 2, 3), normal(5, 6)]),
    "dot_vectors": (lambda F, a, b: F.dot(a, b), [normal(4), normal(4)]),
    "batch_dot": (lambda F, a, b: F.batch_dot(a, b, transpose_a=True), [normal(2, 4, 3), normal(2, 4, 5)]),
    # activations
    "softrelu_softsign": (lambda F, x: F.Activation(x * 12, act_type="softrelu") + F.Activation(x, act_type="softsign"), [normal(3, 4)]),
    "leaky_elu_selu_gelu": (lambda F, x: F.LeakyReLU(x, act_type="elu", slope=0.3) + F.LeakyReLU(x, act_type="selu") + F.LeakyReLU(x, act_type="gelu"), [normal(3, 4)]),
    "prelu": (lambda F, x, g: F.LeakyReLU(x, g, act_type="prelu"), [normal(2, 3, 4, 4), positive(3)]),
    "softmax_temperature": (lambda F, x: F.softmax(x, axis=1, temperature=2.0) + F.log_softmax(x, axis=0), [normal(3, 4)]),
    "softmax_output": (lambda F, x: F.SoftmaxOutput(x, F.zeros((2,))), [normal(2, 5)]),
    "softmax_output_multi": (lambda F, x: F.SoftmaxOutput(x, F.zeros((2, 4)), multi_output=True), [normal(2, 3, 4)]),
    "unary_math": (lambda F, x: F.sqrt(F.abs(x)) + F.rsqrt(F.abs(x) + 1) + F.square(x) + F.negative(x) + F.reciprocal(F.abs(x) + 1) + F.exp(-F.abs(x)) + F.log(F.abs(x) + 1) + F.erf(x), [normal(3, 4)]),
    "scalar_ops": (lambda F, x: (2 - x) * 3 / 4 + 2 / (F.abs(x) + 1) + F.maximum(x, 0.1) + F.minimum(x, -0.1) + F.abs(x) ** 1.5, [normal(3, 4)]),
    "broadcast_binary": (lambda F, a, b: F.broadcast_add(a, b) * F.broadcast_div(a, F.abs(b) + 1) - F.broadcast_maximum(a, b) + F.broadcast_power(F.abs(a) + 1, b), [normal(2, 3, 4), normal(3, 1)]),
    "compare_where": (lambda F, a, b: F.where(a > b, a, b) + F.broadcast_lesser(a, b) + (a >= 0.5), [normal(3, 4), normal(3, 4)]),
    "clip_sum_exclude": (lambda F, x: F.sum(F.clip(x, -0.5, 0.5), axis=1, exclude=True), [normal(2, 3, 4)]),
    "sum_all_legacy_shape": (lambda F, x: F.broadcast_add(F.broadcast_add(F.sum(x), F.mean(x, axis=(1, 2), keepdims=True)), F.max(x, axis=()) - F.min(x)), [normal(2, 3, 4)]),
    # shapes and indexing
    "slice_steps": (lambda F, x: F.slice(x, begin=(None, 1, 0), end=(None, None, 5), step=(1, 2, 2)), [normal(2, 5, 6)]),
    "slice_axis_negative": (lambda F, x: F.slice_axis(x, axis=-1, begin=-4, end=-1), [normal(2, 5, 6)]),
    "split_squeeze": (lambda F, x: F.split(x, num_outputs=3, axis=1, squeeze_axis=True)[1], [normal(2, 3, 4)]),
    "split_all": (lambda F, x: F.SliceChannel(x, num_outputs=2, axis=-1)[0] * F.SliceChannel(x, num_outputs=2, axis=-1)[1], [normal(2, 3, 4)]),
    "concat_stack": (lambda F, a, b: F.concat(F.stack(a, b, axis=1), F.expand_dims(a, axis=1), dim=1), [normal(2, 3), normal(2, 3)]),
    "transpose_swap_squeeze": (lambda F, x: F.squeeze(F.swapaxes(F.transpose(x, axes=(2, 0, 1)), dim1=0, dim2=2), axis=0), [normal(3, 1, 4)]),
    "broadcast_to_like": (lambda F, x, y: F.broadcast_to(x, shape=(2, 0, 4)) + F.broadcast_like(x, y), [normal(1, 3, 1), normal(2, 3, 4)]),
    "pad_constant": (lambda F, x: F.pad(x, mode="constant", pad_width=(0, 0, 0, 0, 1, 2, 2, 1), constant_value=0.5), [normal(1, 2, 3, 3)]),
    "embedding": (lambda F, i, w: F.Embedding(i, w, input_dim=6, output_dim=4), [np.array([[0, 5, 2], [3, 3, 1]], np.float32), normal(6, 4)]),
    "embedding_clips": (lambda F, i, w: F.Embedding(i, w, input_dim=6, output_dim=4), [np.array([[-2, 9.7, 2.6]], np.float32), normal(6, 4)]),
    "take_clip": (lambda F, x, i: F.take(x, i, axis=1), [normal(2, 5, 3), np.array([0, 7, -1, 2], np.float32)]),
    "add_n_cast": (lambda F, a, b: F.add_n(a, b, a) + F.Cast(F.Cast(a * 3, dtype="int32"), dtype="float32"), [normal(2, 3), normal(2, 3)]),
    "zeros_ones_like": (lambda F, x: x + F.ones_like(x) * 2 + F.zeros_like(x), [normal(2, 3)]),
}


NUMPY_CASES = {
    "np_binary_scalar": (lambda F, a, b: (a + b) * (a - 1.5) / (F.np.abs(b) + 1) + 2 / (F.np.abs(a) + 1) - (3 - b) ** 2, [normal(2, 3), normal(3)]),
    "np_unary": (lambda F, x: F.npx.sigmoid(x) + F.np.tanh(x) + F.npx.relu(x) + F.np.exp(-F.np.abs(x)) + F.np.log1p(F.np.abs(x)) + F.np.negative(x), [normal(3, 4)]),
    "np_reshape_transpose": (lambda F, x: F.np.transpose(F.np.reshape(x, (4, -1)), (1, 0)), [normal(2, 3, 4)]),
    "npx_reshape_codes": (lambda F, x: F.npx.reshape(x, (-2, -6, 2, -1, -4)) + 0, [normal(2, 4, 3)]),
    "npx_reshape_merge_skip": (lambda F, x: F.npx.reshape(x, (-5, -3, -4)), [normal(2, 3, 1, 4)]),
    "np_reductions": (lambda F, x: F.np.sum(x, axis=(0, 2)) + F.np.mean(x, axis=0)[:, 0] + F.np.reshape(F.np.max(x, axis=(0, 2), keepdims=True), (3,)) + F.np.min(x), [normal(2, 3, 4)]),
    "np_concat_stack_split": (lambda F, a, b: F.np.concatenate([F.np.stack([a, b], axis=0), F.np.expand_dims(a, 0)], axis=0), [normal(2, 3), normal(2, 3)]),
    "np_dot_matmul": (lambda F, a, b: F.np.dot(a, b) + F.np.matmul(a, b), [normal(3, 4), normal(4, 5)]),
    "np_dot_nd": (lambda F, a, b: F.np.dot(a, b), [normal(2, 3), normal(4, 3, 5)]),
    "np_slicing": (lambda F, x: x[:, 1:4:2] + x[:, 0:2], [normal(2, 6)]),
    "np_compare_where": (lambda F, a, b: F.np.where(a > b, a, b) + (a <= 0.2) * 1.0 + (a > 0) - (b < 0.5), [normal(3, 4), normal(3, 4)]),
    "np_int_promotion": (lambda F, a, i: a + i + (i > 1) + i / 2 + (i + 1.5) * (a > 0), [normal(2, 3), np.array([[1, 2, 3], [4, 5, 6]], np.int32)]),
    "np_clip_max_min": (lambda F, x: F.np.clip(x, -0.5, 0.5) + F.np.maximum(x, 0.1) + F.np.minimum(x, x * 2), [normal(3, 4)]),
    "npx_nn": (lambda F, x, w, b: F.npx.softmax(F.npx.fully_connected(x, w, b, num_hidden=3, flatten=False), axis=-1), [normal(2, 4), normal(3, 4), normal(3)]),
}


def run_case(fn, inputs, numpy_mode_: bool):
    with numpy_mode(numpy_mode_):
        array = mx.np.array if numpy_mode_ else mx.nd.array
        mx_inputs = [array(x) for x in inputs]
        block = Lambda(fn)
        expected = outputs_of(block(*mx_inputs))
        module = hybridize.optimize(hybridize.trace(block, *mx_inputs), PIPELINE)
    return module, expected


@pytest.mark.parametrize("case", list(LEGACY_CASES))
def test_legacy_op_semantics(case):
    fn, inputs = LEGACY_CASES[case]
    module, expected = run_case(fn, inputs, False)
    for backend in ("numpy", "c"):
        model = hybridize.build(module, backend, **({"cache_dir": C_CACHE} if backend == "c" else {}))
        check_parity(model(*inputs), expected, f"{case} {backend}")


@pytest.mark.parametrize("case", list(NUMPY_CASES))
def test_numpy_mode_op_semantics(case):
    fn, inputs = NUMPY_CASES[case]
    module, expected = run_case(fn, inputs, True)
    for backend in ("numpy", "c"):
        model = hybridize.build(module, backend, **({"cache_dir": C_CACHE} if backend == "c" else {}))
        check_parity(model(*inputs), expected, f"{case} {backend}")
