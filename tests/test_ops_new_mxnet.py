"""MXNet's Deconvolution (Gluon's Conv2DTranspose) as hy.conv_transpose2d,
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
