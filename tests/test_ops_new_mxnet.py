"""MXNet's Deconvolution (Gluon's Conv2DTranspose) as hy.conv_transpose2d,
1-D and 3-D convolutions, instance and group norm, edge and reflect padding,
against MXNet on both backends (runs in the MXNet venv: `-m mxnet`)."""

from __future__ import annotations

import numpy as np
import pytest

import hybridize

mx = pytest.importorskip("mxnet")
pytestmark = pytest.mark.mxnet


@pytest.mark.parametrize(
    "options",
    [
        dict(channels=6, kernel_size=4, strides=2, padding=1),
        dict(channels=6, kernel_size=3, strides=2, padding=1, output_padding=1, use_bias=False),
        dict(channels=6, kernel_size=3, groups=2, dilation=2),
    ],
    ids=["strided", "output-padding", "grouped-dilated"],
)
def test_deconvolution_matches_mxnet(options, c_cache):
    from mxnet.gluon import nn

    mx.random.seed(0)
    net = nn.HybridSequential()
    net.add(nn.Conv2DTranspose(in_channels=4, **options))
    net.initialize(mx.init.Normal(0.5))
    net.hybridize()
    x = mx.nd.random.normal(shape=(2, 4, 5, 6))
    expected = net(x).asnumpy()
    module = hybridize.optimize(hybridize.trace(net, x), "canonicalize,fuse,plan")
    assert any(op.name == "hy.conv_transpose2d" for op in module.walk())
    for backend in ("numpy", "c"):
        built = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        got = np.asarray(built(x.asnumpy()))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=backend)


def _parity(layer, shape, c_cache, seed: int = 0):
    mx.random.seed(seed)
    net = mx.gluon.nn.HybridSequential()
    net.add(layer)
    net.initialize(mx.init.Normal(0.5))
    net.hybridize()
    x = mx.nd.random.normal(shape=shape)
    expected = net(x).asnumpy()
    assert np.abs(expected).max() > 0.1  # weights that move the result
    module = hybridize.optimize(hybridize.trace(net, x), "canonicalize,fuse,plan")
    for backend in ("numpy", "c"):
        built = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        np.testing.assert_allclose(np.asarray(built(x.asnumpy())), expected, rtol=1e-5, atol=1e-5, err_msg=backend)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda nn: nn.Conv1D(6, 3, strides=2, padding=1, dilation=2, in_channels=4), (2, 4, 11)),
        (lambda nn: nn.Conv1D(6, 3, groups=2, use_bias=False, in_channels=4), (2, 4, 9)),
        (lambda nn: nn.Conv1DTranspose(6, 4, strides=2, padding=1, output_padding=1, in_channels=4), (2, 4, 7)),
        (lambda nn: nn.Conv3D(6, 3, padding=1, in_channels=4), (2, 4, 5, 6, 7)),
        (lambda nn: nn.Conv3D(6, (2, 3, 1), strides=(2, 1, 2), dilation=(2, 1, 1), groups=2, in_channels=4),
         (1, 4, 7, 5, 6)),
    ],
    ids=["conv1d", "conv1d-groups", "conv1d-transpose", "conv3d", "conv3d-strided-grouped"],
)
def test_1d_and_3d_convolutions_match_mxnet(make, shape, c_cache):
    _parity(make(mx.gluon.nn), shape, c_cache)


@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.InstanceNorm(in_channels=4, epsilon=1e-4),
        lambda nn: nn.GroupNorm(2),  # MXNet 1.x: gamma and beta per group
        lambda nn: nn.ReflectionPad2D(2),
    ],
    ids=["instance-norm", "group-norm", "reflection-pad"],
)
def test_norms_and_reflection_pad_match_mxnet(make, c_cache):
    layer = make(mx.gluon.nn)
    _parity(layer, (2, 4, 5, 6), c_cache)


def test_group_norm_per_group_affine_is_spread_to_channels(c_cache):
    layer = mx.gluon.nn.GroupNorm(2)
    net = mx.gluon.nn.HybridSequential()
    net.add(layer)
    net.initialize()
    net.hybridize()
    x = mx.nd.random.normal(shape=(2, 4, 3, 3))
    net(x)
    layer.gamma.set_data(mx.nd.array([0.5, 2.0]))
    layer.beta.set_data(mx.nd.array([-1.0, 3.0]))
    expected = net(x).asnumpy()
    got = hybridize.build(hybridize.trace(net, x), "numpy")(x.asnumpy())
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["edge", "reflect"])
def test_edge_and_reflect_pad_match_numpy(mode):
    net = mx.gluon.nn.HybridLambda(lambda F, x: F.pad(x, mode=mode, pad_width=(0, 0, 0, 0, 1, 2, 3, 0)))
    data = np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32)
    got = hybridize.build(hybridize.trace(net, mx.nd.array(data)), "numpy")(data)
    np.testing.assert_array_equal(np.asarray(got), np.pad(data, ((0, 0), (0, 0), (1, 2), (3, 0)), mode=mode))

