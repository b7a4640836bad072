"""NN ops against PyTorch: convolution, pooling, normalization, softmax,
reductions and attention, traced from torch and run on the NumPy and C
backends; a small CNN end to end; BN folding and conv epilogue fusion;
hypothesis properties of reductions and softmax (NumPy backend vs torch)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import top_level_ops
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

import hybridize
from hybridize.frontends.torch import UnsupportedOpError
from hybridize.ir import parse_module, print_module
from hybridize.ir.nn import LogSoftmaxOp, SoftmaxOp
from hybridize.ir.reduce import ReduceAnyOp, ReduceMaxOp, ReduceMeanOp, ReduceMinOp, ReduceSumOp
from hybridize.ir.types import tensor_type

PIPELINE = "canonicalize,fuse,plan"


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def outputs(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def assert_close(got, ref) -> float:
    """float32 parity: max error <= 1e-4 * max(1, max |torch|); returns the error."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    if ref.dtype == np.bool_:
        np.testing.assert_array_equal(got, ref)
        return 0.0
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(np.isfinite(got), finite)
    err = float(np.abs(got[finite] - ref[finite]).max(initial=0))
    assert err <= 1e-4 * max(1.0, float(np.abs(ref[finite]).max(initial=0))), err
    return err


def check_both_backends(torch, model, inputs, c_cache, pipeline=PIPELINE, **trace_options):
    """Trace `model`, optimize, and compare both backends with eager torch."""
    module = hybridize.optimize(hybridize.trace(model, *inputs, **trace_options), pipeline)
    with torch.no_grad():
        expected = [r.numpy() for r in outputs(model(*inputs))]
    arrays = [x.numpy() for x in inputs]
    for backend in ("numpy", "c"):
        built = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        for got, ref in zip(outputs(built(*arrays)), expected, strict=True):
            assert_close(got, ref)
    return module


def as_module(fn):
    """A torch module whose forward is `fn` (its outputs may be a tuple)."""
    import torch

    class Module(torch.nn.Module):
        def forward(self, *args):
            return fn(*args)

    return Module()


# --- convolution ---

CONVS = {
    "padded": dict(c=4, o=8, k=3, padding=1),
    "strided-dilated": dict(c=4, o=6, k=3, stride=2, padding=2, dilation=2),
    "grouped-rect": dict(c=4, o=6, k=(3, 2), padding=(1, 0), groups=2, bias=False),
    "depthwise": dict(c=4, o=4, k=3, padding=1, groups=4),
    "depthwise-x2-strided": dict(c=4, o=8, k=5, stride=2, padding=2, groups=4),
    "pointwise": dict(c=6, o=12, k=1),
    "asymmetric-stride": dict(c=3, o=5, k=(3, 4), stride=(3, 2), padding=(2, 3), dilation=(2, 1)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", CONVS)
def test_conv2d_matches_torch(torch, name, c_cache):
    p = dict(CONVS[name])
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(p.pop("c"), p.pop("o"), p.pop("k"), **p)
    check_both_backends(torch, conv, [torch.randn(2, conv.in_channels, 11, 9)], c_cache)


@pytest.mark.torch
def test_conv2d_float64_and_unbatched_input(torch, c_cache):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1).double()
    check_both_backends(torch, conv, [torch.randn(2, 3, 7, 6, dtype=torch.float64)], c_cache)
    check_both_backends(torch, conv.float(), [torch.randn(3, 7, 6)], c_cache)


@pytest.mark.torch
def test_conv_epilogue_fuses_bias_residual_and_relu(torch, c_cache):
    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.conv(x) + x)

    torch.manual_seed(0)
    module = check_both_backends(torch, Residual(), [torch.randn(2, 8, 10, 12)], c_cache)
    (fused,) = top_level_ops(module)
    assert fused.name == "hy.fused"
    assert [op.name for op in fused.ops] == ["hy.conv2d", "hy.add", "hy.relu"]


# --- pooling ---


@pytest.mark.torch
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pooling_matches_torch(torch, ceil_mode, c_cache):
    F = torch.nn.functional

    def pools(x):
        return (
            F.max_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode),
            F.max_pool2d(x, 2, ceil_mode=ceil_mode),
            F.max_pool2d(x, (3, 2), (2, 3), (1, 0), ceil_mode=ceil_mode),
            F.avg_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode, count_include_pad=True),
            F.avg_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode, count_include_pad=False),
            F.avg_pool2d(x, (2, 3), (3, 2), (1, 1), ceil_mode=ceil_mode, count_include_pad=True),
            F.avg_pool2d(x, 2, ceil_mode=ceil_mode),
        )

    torch.manual_seed(0)
    module = check_both_backends(torch, as_module(pools), [torch.randn(2, 3, 10, 11)], c_cache)
    if ceil_mode:  # the ceil convention gives larger outputs than floor here
        assert "tensor<2x3x6x6xf32>" in print_module(module)


@pytest.mark.torch
@pytest.mark.parametrize("threads", [1, 2])
def test_max_pool_windows_match_torch(torch, threads, c_cache):
    """The C max pool's column pass: all taps in registers inside the row and
    per-tap border segments (windows wider than the padding, strides past the
    kernel), NaN and -inf kept, planes split between threads."""
    F = torch.nn.functional
    specs = [(3, 2, 1), (5, 1, 2), (4, 3, 1), (2, 3, 0), (5, 2, 2), (3, 1, 0)]

    def pools(x):
        return tuple(F.max_pool2d(x, k, s, p) for k, s, p in specs) + (F.adaptive_avg_pool2d(x, 1),)

    torch.manual_seed(0)
    x = torch.randn(2, 24, 64, 71)  # enough reads to split the planes
    x[0, 1, 5, 7] = float("nan")
    x[1, 2, :, 0] = float("-inf")
    module = hybridize.optimize(hybridize.trace(as_module(pools), x), PIPELINE)
    built = hybridize.build(module, "c", threads=threads, cache_dir=c_cache)
    for got, ref in zip(outputs(built(x.numpy())), pools(x), strict=True):
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("threads", [1, 2])
def test_pointwise_strided_and_small_plane_convs_match_torch(torch, threads, c_cache):
    """1x1 convolutions on the direct kernel: striding rows with no padding
    (only the rows read are copied), and over planes of at most 64 pixels."""
    torch.manual_seed(0)
    net = torch.nn.ModuleList([
        torch.nn.Conv2d(72, 40, 1, stride=2),
        torch.nn.Conv2d(72, 72, 1, stride=(3, 2), bias=False),
        torch.nn.Conv2d(72, 8, 1, stride=2, padding=1),
    ]).eval()  # fmt: skip
    small = torch.nn.Conv2d(200, 70, 1).eval()

    def convs(x, y):
        return tuple(torch.relu(c(x)) for c in net) + (small(y),)

    inputs = [torch.randn(2, 72, 15, 13), torch.randn(2, 200, 7, 7)]
    module = hybridize.optimize(hybridize.trace(as_module(convs), *inputs), PIPELINE)
    built = hybridize.build(module, "c", threads=threads, cache_dir=c_cache)
    with torch.no_grad():
        expected = convs(*inputs)
    for got, ref in zip(outputs(built(*(t.numpy() for t in inputs))), expected, strict=True):
        assert_close(got, ref.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_depthwise_and_pools_split_by_pixels_match_torch(torch, threads, c_cache):
    """On one image with large planes and few channels, the depthwise kernels
    (flat stride-1 and row stride-2 paths) and the pools split every channel's
    pixels between threads (ragged shares, NaN in a max pool); the fused
    residual add and clamp see each share once."""
    torch.manual_seed(0)
    F = torch.nn.functional
    convs = torch.nn.ModuleList([
        torch.nn.Conv2d(20, 20, 3, padding=1, groups=20),             # flat, 3x3
        torch.nn.Conv2d(20, 20, 5, padding=2, groups=20, bias=False),  # flat, 5x5
        torch.nn.Conv2d(20, 20, 3, stride=2, padding=1, groups=20),   # rows, stride 2
        torch.nn.Conv2d(20, 40, 3, padding=1, groups=20),             # multiplier 2
    ]).eval()  # fmt: skip

    def layers(x, r):
        ys = [F.relu6(convs[0](x)) + r, convs[1](x), F.relu6(convs[2](x)), convs[3](x)]
        return (*ys, F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 2, 2), F.max_pool2d(x, 3, 1, 1))

    x = torch.randn(1, 20, 61, 59)
    x[0, 3, 30, 10] = float("nan")
    inputs = [x, torch.randn(1, 20, 61, 59)]
    module = hybridize.optimize(hybridize.trace(as_module(layers), *inputs), PIPELINE)
    built = hybridize.build(module, "c", threads=threads, cache_dir=c_cache)
    with torch.no_grad():
        expected = layers(*inputs)
    for got, ref in zip(outputs(built(*(i.numpy() for i in inputs))), expected, strict=True):
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.torch
def test_adaptive_avg_pool_matches_torch(torch, c_cache):
    F = torch.nn.functional

    def pools(x):
        return F.adaptive_avg_pool2d(x, (4, 3)), F.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(x, (5, 2))

    torch.manual_seed(0)
    check_both_backends(torch, as_module(pools), [torch.randn(2, 3, 10, 7)], c_cache)


@pytest.mark.torch
def test_adaptive_max_pool_matches_torch(torch, c_cache):
    F = torch.nn.functional

    def pools(x):  # (5, 7) does not divide (10, 7) evenly in width: overlapping cells
        return F.adaptive_max_pool2d(x, (5, 3)), F.adaptive_max_pool2d(x, 1), F.adaptive_max_pool2d(x[0], (4, 7))

    torch.manual_seed(0)
    check_both_backends(torch, as_module(pools), [torch.randn(2, 3, 10, 7)], c_cache)


# --- 3-D convolution and pooling (on the 2-D ops) ---


@pytest.mark.torch
@pytest.mark.parametrize("decompose", [False, True])
def test_conv3d_matches_torch(torch, decompose, c_cache):
    torch.manual_seed(0)
    convs = [
        torch.nn.Conv3d(4, 6, 3, padding=1),
        torch.nn.Conv3d(4, 6, (2, 3, 1), stride=(2, 1, 2), dilation=(2, 1, 1), groups=2, bias=False),
        torch.nn.Conv3d(4, 2, (3, 2, 2), padding="same"),
        torch.nn.Conv3d(4, 8, (2, 4, 4), stride=(2, 4, 4)),  # a video patch embedding (tubelets)
    ]
    model = as_module(lambda x: tuple(c(x) for c in convs))
    check_both_backends(torch, model, [torch.randn(2, 4, 5, 8, 8)], c_cache, decompose=decompose)
    check_both_backends(torch, convs[0], [torch.randn(4, 5, 6, 7)], c_cache)  # unbatched


@pytest.mark.torch
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_3d_pooling_matches_torch(torch, ceil_mode, c_cache):
    F = torch.nn.functional

    def pools(x):
        return (
            F.max_pool3d(x, 3, 2, 1, ceil_mode=ceil_mode),
            F.max_pool3d(x, (2, 3, 1), (1, 2, 1), ceil_mode=ceil_mode),
            F.avg_pool3d(x, 3, 2, 1, ceil_mode=ceil_mode, count_include_pad=True),
            F.avg_pool3d(x, (3, 2, 3), (2, 2, 1), (1, 0, 1), ceil_mode=ceil_mode, count_include_pad=False),
            F.adaptive_avg_pool3d(x, (2, 3, 4)),
            torch.nn.LocalResponseNorm(3)(x[:, :, 0]),  # avg_pool3d over channels
        )

    torch.manual_seed(0)
    check_both_backends(torch, as_module(pools), [torch.randn(2, 3, 7, 6, 9)], c_cache)


# --- normalization and softmax ---


@pytest.mark.torch
@pytest.mark.parametrize("pipeline", ["plan", PIPELINE])
def test_batch_norm_matches_torch(torch, pipeline, c_cache):
    torch.manual_seed(0)
    for bn, shape in ((torch.nn.BatchNorm2d(5), (2, 5, 4, 3)), (torch.nn.BatchNorm1d(5, affine=False), (3, 5))):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        if bn.affine:
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-1, 1)
        module = check_both_backends(torch, bn.eval(), [torch.randn(*shape)], c_cache, pipeline=pipeline)
        # with constant statistics canonicalize leaves x * a + b
        assert ("hy.batch_norm" in print_module(module)) == (pipeline == "plan")


@pytest.mark.torch
def test_batch_norm_with_batch_statistics_matches_torch(torch, c_cache):
    # F.batch_norm(x, None, None, training=True) keeps no state: each channel over its batch
    # (BiT's weight standardization is one over a batch of 1)
    F = torch.nn.functional
    torch.manual_seed(0)
    w, b = torch.rand(5) + 0.5, torch.randn(5)

    def norms(x, x1):
        return F.batch_norm(x, None, None, w, b, training=True, eps=1e-3), F.batch_norm(x1, None, None, training=True)

    check_both_backends(torch, as_module(norms), [torch.randn(3, 5, 4, 2) * 2 + 1, torch.randn(1, 5, 7)], c_cache)


@pytest.mark.torch
def test_layer_norm_matches_torch(torch, c_cache):
    torch.manual_seed(0)
    norms = [torch.nn.LayerNorm(6), torch.nn.LayerNorm([4, 6], elementwise_affine=False), torch.nn.LayerNorm(6, bias=False)]
    for ln in norms:
        if ln.weight is not None:
            ln.weight.data.uniform_(0.5, 1.5)
        if ln.bias is not None:
            ln.bias.data.uniform_(-1, 1)
    x = torch.randn(3, 4, 6) * 3 + 1
    check_both_backends(torch, as_module(lambda x: tuple(ln(x) for ln in norms)), [x], c_cache)
    check_both_backends(torch, norms[0], [x], c_cache, decompose=True)  # native_layer_norm


@pytest.mark.torch
def test_softmax_and_log_softmax_match_torch(torch, c_cache):
    def softmaxes(x):
        return x.softmax(-1), x.softmax(1), x.log_softmax(-1), x.log_softmax(0), torch.softmax(x * 30, 2)

    torch.manual_seed(0)
    check_both_backends(torch, as_module(softmaxes), [torch.randn(3, 70, 5, 9)], c_cache)
    check_both_backends(torch, as_module(softmaxes), [torch.randn(3, 70, 5, 9)], c_cache, decompose=True)


# --- reductions ---


@pytest.mark.torch
@pytest.mark.parametrize("decompose", [False, True])
def test_reductions_match_torch(torch, decompose, c_cache):
    def reductions(x, b):
        return (
            x.sum((1, 3)),
            x.sum(),
            x.mean(),
            x.mean((0, 2), keepdim=True),
            x.amax(-1),
            x.amax((0, 2), keepdim=True),
            x.amin((1, 2)),
            b.any(1),
            b.any(),
            b.any(-1, keepdim=True),
        )

    torch.manual_seed(0)
    x = torch.randn(3, 4, 5, 6)
    check_both_backends(torch, as_module(reductions), [x, x > 1.2], c_cache, decompose=decompose)


def one_op_module(build, *arg_types) -> ModuleOp:
    block = Block(arg_types=list(arg_types))
    op = build(*block.args)
    block.add_ops([op, ReturnOp(op.results[0])])
    return ModuleOp([FuncOp("forward", (list(arg_types), [op.results[0].type]), Region(block))])


def test_reductions_of_integers_and_nan_agree_across_backends(c_cache):
    rng = np.random.default_rng(0)
    ints = rng.integers(-50, 50, (4, 7, 5)).astype(np.int32)
    floats = rng.standard_normal((4, 7, 5)).astype(np.float32)
    floats[1, 2, 3] = np.nan
    for dtype, x in (("int32", ints), ("float32", floats)):
        for cls in (ReduceSumOp, ReduceMaxOp, ReduceMinOp):
            for axes in ([1], [0, 2], [2]):
                module = one_op_module(lambda v: cls(v, axes), tensor_type(x.shape, dtype))
                expected = hybridize.build(module, "numpy")(x)
                got = hybridize.build(hybridize.optimize(module, "plan"), "c", cache_dir=c_cache)(x)
                np.testing.assert_allclose(got, expected, rtol=1e-5)
                assert got.dtype == x.dtype


# --- attention ---


@pytest.mark.torch
def test_attention_matches_torch(torch, c_cache):
    F = torch.nn.functional

    def attentions(q, k, v, mask, bias):
        return (
            F.scaled_dot_product_attention(q, k, v),
            F.scaled_dot_product_attention(q, k, v, is_causal=True),
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask),  # row 1 fully masked: zeros
            F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=0.3),
        )

    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    mask = torch.rand(5, 7) > 0.3
    mask[1] = False
    inputs = [q, k, v, mask, torch.randn(3, 1, 7)]
    module = check_both_backends(torch, as_module(attentions), inputs, c_cache)
    assert print_module(module).count("hy.attention") == 4
    # the core-ATen graph keeps attention whole too (one kernel, no scores buffer)
    decomposed = hybridize.trace(as_module(lambda *a: attentions(*a)[1]), *inputs, decompose=True)
    assert [op.name for op in top_level_ops(decomposed)] == ["hy.attention"]


# --- a small CNN end to end ---


@pytest.mark.torch
def test_attention_with_fewer_key_value_heads(torch, c_cache):
    # multi-query attention broadcasts one key/value head (Falcon); grouped-query
    # attention (enable_gqa) gives each key/value head Hq / Hk query heads
    F = torch.nn.functional

    def attentions(q, k1, v1, k2, v2):
        return (
            F.scaled_dot_product_attention(q, k1, v1, is_causal=True),
            F.scaled_dot_product_attention(q, k2, v2, enable_gqa=True),
        )

    torch.manual_seed(0)
    q = torch.randn(2, 6, 5, 8)
    inputs = [q, torch.randn(2, 1, 7, 8), torch.randn(2, 1, 7, 4), torch.randn(2, 2, 7, 8), torch.randn(2, 2, 7, 4)]
    module = check_both_backends(torch, as_module(attentions), inputs, c_cache)
    assert print_module(module).count("hy.attention") == 2


def small_cnn(torch):
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    for bn in (net[1], net[5]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


@pytest.mark.torch
@pytest.mark.parametrize("decompose", [False, True])
def test_small_cnn_parity_and_fusion(torch, decompose, c_cache):
    net = small_cnn(torch)
    x = torch.randn(1, 3, 32, 32)
    traced = hybridize.trace(net, x, decompose=decompose)
    module = check_both_backends(torch, net, [x], c_cache, decompose=decompose)
    assert len(top_level_ops(module)) < len(top_level_ops(traced))
    # batch norm folded into the convs, each conv fused with its relu
    fused = [op for op in top_level_ops(module) if op.name == "hy.fused"]
    assert [[op.name for op in f.ops] for f in fused] == [["hy.conv2d", "hy.relu"]] * 2
    assert "hy.batch_norm" not in print_module(module)


@pytest.mark.torch
def test_small_cnn_with_dynamic_batch(torch, c_cache):
    net = small_cnn(torch)
    module = hybridize.optimize(hybridize.trace(net, torch.randn(2, 3, 16, 16), dynamic_batch=True), PIPELINE)
    assert "tensor<?x3x16x16xf32>" in print_module(module)
    for backend in ("numpy", "c"):
        model = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        for batch in (1, 5):
            x = torch.randn(batch, 3, 16, 16)
            with torch.no_grad():
                assert_close(model(x.numpy()), net(x).numpy())


# --- frontend errors ---


@pytest.mark.torch
def test_unsupported_nn_variants_are_named(torch):
    F = torch.nn.functional
    with pytest.raises(UnsupportedOpError, match="divisor_override"):
        hybridize.trace(as_module(lambda x: F.avg_pool2d(x, 2, divisor_override=3)), torch.randn(1, 2, 4, 4))
    with pytest.raises(UnsupportedOpError, match="only 1-D and 2-D convolutions"):
        hybridize.trace(torch.nn.ConvTranspose3d(2, 2, 3), torch.randn(1, 2, 4, 4, 4), decompose=True)
    with pytest.raises(UnsupportedOpError, match="indices output is not supported"):
        hybridize.trace(as_module(lambda x: F.max_pool2d(x, 2, return_indices=True)[1] * 1.0), torch.randn(1, 2, 4, 4))


# --- properties: reductions and softmax on random shapes (NumPy backend vs torch) ---

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4)


@st.composite
def reduction_cases(draw):
    shape = draw(shapes)
    axes = sorted(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
    kind = draw(st.sampled_from(["sum", "mean", "max", "min", "any"]))
    return shape, axes, kind, draw(st.booleans()), draw(st.integers(0, 2**16))


REDUCE = {"sum": ReduceSumOp, "mean": ReduceMeanOp, "max": ReduceMaxOp, "min": ReduceMinOp, "any": ReduceAnyOp}


@pytest.mark.torch
@settings(max_examples=40)
@given(reduction_cases())
def test_reductions_property(torch, case):
    shape, axes, kind, keepdim, seed = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if kind == "any":
        x = x > 0.8
    module = one_op_module(lambda v: REDUCE[kind](v, axes, keepdim), tensor_type(shape, x.dtype))
    got = hybridize.build(module, "numpy")(x)
    t = torch.from_numpy(x)
    ref = {
        "sum": lambda: t.sum(axes, keepdim=keepdim),
        "mean": lambda: t.mean(axes, keepdim=keepdim),
        "max": lambda: t.amax(axes, keepdim=keepdim),
        "min": lambda: t.amin(axes, keepdim=keepdim),
        "any": lambda: t.any(tuple(axes), keepdim=keepdim),
    }[kind]()
    assert_close(got, ref.numpy())


@pytest.mark.torch
@settings(max_examples=30)
@given(shapes, st.data())
def test_softmax_property(torch, shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    log = data.draw(st.booleans())
    x = np.random.default_rng(data.draw(st.integers(0, 2**16))).standard_normal(shape).astype(np.float32) * 10
    module = one_op_module(lambda v: (LogSoftmaxOp if log else SoftmaxOp)(v, axis), tensor_type(shape, "float32"))
    got = hybridize.build(module, "numpy")(x)
    t = torch.from_numpy(x)
    assert_close(got, (t.log_softmax(axis) if log else t.softmax(axis)).numpy())


def test_bn_folding_keeps_results_and_leaves_one_conv():
    text = """
func.func @forward(%x: tensor<2x3x6x6xf32>) -> tensor<2x4x6x6xf32> {
  %w = hy.constant dense<0.25> : tensor<4x3x3x3xf32>
  %m = hy.constant dense<[0.1, -0.2, 0.3, 0.0]> : tensor<4xf32>
  %v = hy.constant dense<[1.0, 2.0, 0.5, 1.5]> : tensor<4xf32>
  %g = hy.constant dense<[1.0, -1.0, 2.0, 0.5]> : tensor<4xf32>
  %0 = hy.conv2d %x, %w stride [1, 1] padding [1, 1] : (tensor<2x3x6x6xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  %1 = hy.batch_norm %0, %m, %v weight %g eps 1.0e-05 : tensor<2x4x6x6xf32>, tensor<4xf32>
  func.return %1 : tensor<2x4x6x6xf32>
}"""
    module = parse_module(text)
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    expected = hybridize.build(module, "numpy")(x)
    folded = hybridize.optimize(module, "canonicalize")
    assert [op.name for op in top_level_ops(folded)] == ["hy.conv2d"]
    np.testing.assert_allclose(hybridize.build(folded, "numpy")(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.torch
def test_conv3d_with_a_dynamic_batch(torch, c_cache):
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(3, 4, (2, 3, 3), stride=(2, 1, 1), padding=(1, 1, 0))
    module = hybridize.optimize(hybridize.trace(conv, torch.randn(1, 3, 5, 6, 6), dynamic_batch=True))
    for backend in ("numpy", "c"):
        fast = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        for batch in (1, 3):
            x = torch.randn(batch, 3, 5, 6, 6)
            with torch.no_grad():
                assert_close(fast(x.numpy()), conv(x).numpy())
