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
    fast = hybridize.compile(net, x, backend="numpy", force_eval=True)
    assert net.training  # restored
    net.eval()
    with torch.no_grad():
        assert float((fast(x) - net(x)).abs().max()) <= 1e-6


class UsesLgamma(nn.Module):
    def forward(self, x):
        return torch.lgamma(x) + 1  # lgamma is not in the op table


def test_unsupported_op_names_op_line_and_list():
    with pytest.raises(UnsupportedOpError) as info:
        hybridize.trace(UsesLgamma(), torch.randn(3))
    msg = str(info.value)
    assert "aten.lgamma.default" in msg
    assert "test_torch_frontend.py" in msg and "torch.lgamma(x)" in msg
    assert "supported_ops()" in msg


def test_constants_keep_torch_dtypes_and_values():
    net = d2l_mlp()
    m = hybridize.trace(net, torch.randn(1, 512))
    from hybridize.ir import ConstantOp

    consts = [op.numpy() for op in m.walk() if isinstance(op, ConstantOp)]
    np.testing.assert_array_equal(consts[0], net[0].weight.detach().numpy())


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


def test_data_dependent_control_flow_names_the_line_and_torch_cond():
    from hybridize.frontends.torch import ExportError

    with pytest.raises(ExportError) as info:
        hybridize.trace(Branchy(), torch.randn(3))
    msg = str(info.value)
    assert "test_torch_frontend.py" in msg and "torch.cond" in msg


class SizedByData(nn.Module):
    def forward(self, x, mask):
        h = mask.sum()
        return nn.functional.interpolate(x, size=(h, 4), mode="bilinear", align_corners=True)  # DATA-SIZE


def test_data_dependent_guard_inside_torch_names_the_users_line():
    # torch guards on the size deep in its own decomposition; the error names the call in forward()
    from hybridize.frontends.torch import ExportError

    with pytest.raises(ExportError) as info:
        hybridize.trace(SizedByData(), torch.randn(1, 2, 3, 3), torch.ones(5, dtype=torch.int64))
    msg = str(info.value).splitlines()[0]
    line = next(i for i, t in enumerate(open(__file__), 1) if "# DATA-SIZE" in t and "next(" not in t)
    assert f"test_torch_frontend.py:{line}" in msg and "interpolate" in msg


class Misshapen(nn.Module):
    def forward(self, x):
        return x + x[:, :2]  # BAD-BROADCAST


def test_other_export_failures_name_the_users_line():
    from hybridize.frontends.torch import ExportError

    with pytest.raises(ExportError, match=r"torch.export failed at .*test_torch_frontend.py:\d+ \(return x \+ x"):
        hybridize.trace(Misshapen(), torch.randn(2, 3))


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_dynamic_batch_one_build_serves_every_batch(backend, c_cache):
    net = d2l_mlp()
    m = hybridize.optimize(hybridize.trace(net, torch.randn(1, 512), dynamic_batch=True), "canonicalize,fuse,plan")
    text = print_module(m)
    assert "tensor<?x512xf32>" in text and "* N" in text  # the plan scales with the batch
    model = hybridize.build(m, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
    for batch in (1, 2, 7, 33):
        x = torch.randn(batch, 512)
        with torch.no_grad():
            assert float((model(x) - net(x)).abs().max()) <= 1e-5
    with pytest.raises(ValueError, match="tensor<\\?x512>"):
        model(torch.randn(3, 511))


def test_dynamic_batch_plan_is_valid_for_any_batch():
    from hybridize.ir import ARENA, BUF
    from hybridize.ir.module import forward_func

    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh() if False else nn.ReLU(), nn.Linear(16, 4))
    m = hybridize.optimize(hybridize.trace(net, torch.randn(2, 8), dynamic_batch=True), "plan")
    func = forward_func(m)
    bufs = [op.attributes[BUF] for op in func.body.block.ops if BUF in op.attributes]
    arena = func.attributes[ARENA]
    for batch in (1, 5, 64):
        total = arena.at(batch)[0]
        spans = [b.at(batch) for b in bufs]
        for b, (off, size) in zip(bufs, spans):
            assert off + size <= total
        for i, a in enumerate(bufs):
            for j in range(i + 1, len(bufs)):
                b = bufs[j]
                if a.start.data <= b.end.data and b.start.data <= a.end.data:
                    (oa, sa), (ob, sb) = spans[i], spans[j]
                    assert oa + sa <= ob or ob + sb <= oa


def test_torchscript_archive_and_pt2(tmp_path, c_cache):
    import warnings

    net = d2l_mlp().eval()
    x = torch.randn(1, 512)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(tmp_path / "my_mlp.pt"))
    torch.export.save(torch.export.export(net, (x,)), str(tmp_path / "my_mlp.pt2"))
    with torch.no_grad():
        ref = net(x)
    for module in (hybridize.trace(str(tmp_path / "my_mlp.pt"), x), hybridize.trace(tmp_path / "my_mlp.pt2")):
        model = hybridize.build(hybridize.optimize(module), "c", cache_dir=c_cache)
        assert float((model(x) - ref).abs().max()) <= 1e-5


def test_torchscript_needs_an_example(tmp_path):
    import warnings

    from hybridize.frontends import FrontendError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(d2l_mlp()).save(str(tmp_path / "m.pt"))
    with pytest.raises(FrontendError, match="example input"):
        hybridize.trace(str(tmp_path / "m.pt"))
    m = hybridize.trace(str(tmp_path / "m.pt"), input_shapes=[(2, 512)])
    assert "tensor<2x512xf32>" in print_module(m)


def test_opt_tool_reads_model_archives(tmp_path):
    import subprocess
    import sys
    import warnings
    from pathlib import Path

    net = d2l_mlp().eval()
    torch.export.save(torch.export.export(net, (torch.randn(1, 512),)), str(tmp_path / "m.pt2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(tmp_path / "m.pt"))
    tool = str(Path(sys.executable).parent / "opt-tool")
    r = subprocess.run([tool, str(tmp_path / "m.pt2"), "-p", "fuse,plan"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.count("hy.fused") == 2, r.stderr
    r = subprocess.run([tool, str(tmp_path / "m.pt"), "-p", "fuse"], capture_output=True, text=True)
    assert r.returncode == 1 and "--input-shape" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([tool, str(tmp_path / "m.pt"), "--input-shape", "1x512", "-p", "fuse"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.count("hy.fused") == 2, r.stderr
