"""PyTorch frontend: the d2l MLP through torch.export (default and
decomposed), numerical parity on both backends, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import hybridize
from hybridize.frontends.torch import UnsupportedOpError
from hybridize.ir import print_module

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.torch


def d2l_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 2))


@pytest.mark.parametrize("decompose", [False, True])
def test_mlp_ir_is_the_same_after_canonicalize_either_way(decompose):
    net = d2l_mlp()
    x = torch.randn(1, 512)
    m = hybridize.optimize(hybridize.trace(net, x, decompose=decompose), "canonicalize,fuse,plan")
    text = print_module(m)
    assert text.count("hy.fused") == 2 and text.count("hy.linear") == 3
    assert "hy.matmul" not in text and "hy.transpose" not in text


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("decompose", [False, True])
def test_mlp_parity(backend, decompose, c_cache):
    net = d2l_mlp()
    x = torch.randn(1, 512)
    m = hybridize.optimize(hybridize.trace(net, x, decompose=decompose), "canonicalize,fuse,plan")
    model = hybridize.build(m, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
    y = model(x)
    assert isinstance(y, torch.Tensor)
    with torch.no_grad():
        ref = net(x)
    assert float((y - ref).abs().max()) <= 1e-5
    assert isinstance(model(x.numpy()), np.ndarray)


def test_compile_in_one_call():
    net = d2l_mlp()
    x = torch.randn(1, 512)
    fast = hybridize.compile(net, x)
    with torch.no_grad():
        assert float((fast(x) - net(x)).abs().max()) <= 1e-5


def test_training_mode_model_is_traced_in_eval_mode_and_restored():
    net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.ReLU())
    net.train()
    x = torch.randn(2, 4)
    fast = hybridize.compile(net, x, backend="numpy")
    assert net.training  # restored
    net.eval()
    with torch.no_grad():
        assert float((fast(x) - net(x)).abs().max()) <= 1e-6


class UsesSin(nn.Module):
    def forward(self, x):
        return torch.sin(x) + 1  # sin is not in the skeleton's op table


def test_unsupported_op_names_op_line_and_list():
    with pytest.raises(UnsupportedOpError) as info:
        hybridize.trace(UsesSin(), torch.randn(3))
    msg = str(info.value)
    assert "aten.sin.default" in msg
    assert "test_torch_frontend.py" in msg and "torch.sin(x)" in msg
    assert "supported_ops()" in msg


def test_constants_keep_torch_dtypes_and_values():
    net = d2l_mlp()
    m = hybridize.trace(net, torch.randn(1, 512))
    from hybridize.ir import ConstantOp

    consts = [op.numpy() for op in m.walk() if isinstance(op, ConstantOp)]
    np.testing.assert_array_equal(consts[0], net[0].weight.detach().numpy())
