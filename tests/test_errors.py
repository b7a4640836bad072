"""One error hierarchy: every error class of hybridize is a HybridizeError,
keeps the builtin base its callers catch, and is exported from `hybridize`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import hybridize
from hybridize import errors

SKIP = {"hybridize.tools.bench", "hybridize.tools.demo", "hybridize.tools.fuzz", "hybridize.__main__"}


def project_exceptions():
    found = {}
    for info in pkgutil.walk_packages(hybridize.__path__, "hybridize."):
        if info.name in SKIP or info.name.startswith("hybridize.tests"):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("hybridize."):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_error_class_is_a_hybridize_error():
    found = project_exceptions()
    assert len(found) >= 20, sorted(found)
    stray = sorted(name for name, cls in found.items() if not issubclass(cls, errors.HybridizeError))
    assert not stray, stray


def test_hierarchy_exported_and_documented():
    for name in errors.__all__:
        assert getattr(hybridize, name) is getattr(errors, name)
        assert name in errors.__doc__
    assert issubclass(errors.PassError, errors.HybridizeError)


def test_old_bases_kept():
    from xdsl.utils.exceptions import ParseError, VerifyException

    from hybridize.backends.draw import DrawError
    from hybridize.backends.program import UnsupportedOpError as BackendUnsupported
    from hybridize.frontends.mxnet import UnsupportedOpError as MXNetUnsupported
    from hybridize.frontends.torch import UnsupportedOpError as TorchUnsupported
    from hybridize.frontends.torch.export import ExportError, TrainingModeError
    from hybridize.ir.checks import CheckError
    from hybridize.ir.module import IRParseError, IRVerifyError
    from hybridize.passes import PipelineError
    from hybridize.passes.liveness import PlanError

    expected = {
        TorchUnsupported: (NotImplementedError, errors.FrontendError, errors.UnsupportedOpError),
        MXNetUnsupported: (errors.FrontendError, errors.UnsupportedOpError, ValueError),
        BackendUnsupported: (NotImplementedError, errors.BackendError, errors.UnsupportedOpError),
        TrainingModeError: (ValueError, errors.FrontendError),
        ExportError: (RuntimeError, errors.FrontendError),
        IRVerifyError: (VerifyException, errors.IRError),
        IRParseError: (ParseError, errors.IRError),
        CheckError: (VerifyException, ValueError, errors.IRError),
        PipelineError: (ValueError, errors.PassError),
        PlanError: (ValueError, errors.PassError),
        DrawError: (RuntimeError, errors.BackendError),
    }
    for cls, bases in expected.items():
        for base in bases:
            assert issubclass(cls, base), (cls, base)


def test_parse_errors_are_ir_errors():
    with pytest.raises(hybridize.IRError) as info:
        hybridize.parse_module("func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {\n  %0 = hy.nope %x\n}\n")
    from xdsl.utils.exceptions import ParseError

    assert isinstance(info.value, ParseError) and "hy.nope" in str(info.value)


def test_wrong_arguments_are_input_errors():
    module = hybridize.parse_module(
        "func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {\n"
        "  %0 = hy.relu %x : tensor<2xf32>\n  func.return %0 : tensor<2xf32>\n}\n"
    )
    model = hybridize.build(module, backend="numpy")
    import numpy as np

    with pytest.raises(hybridize.InputError, match="signature"):
        model(np.zeros(3, np.float32))
    with pytest.raises(ValueError):  # still a ValueError for old callers
        model(np.zeros(2, np.float32), np.zeros(2, np.float32))


@pytest.mark.torch
def test_compile_dynamic_batch():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    fast = hybridize.compile(net, torch.randn(1, 16), dynamic_batch=True, backend="numpy")
    x = torch.randn(5, 16)
    assert torch.allclose(fast(x), net(x), atol=1e-5)


@pytest.mark.torch
def test_unsupported_torch_op_is_caught_as_one_type():
    torch = pytest.importorskip("torch")

    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.special.zeta(x, x)

    with pytest.raises(hybridize.UnsupportedOpError) as info:
        hybridize.trace(Odd(), torch.rand(3) + 2)
    assert isinstance(info.value, NotImplementedError) and isinstance(info.value, hybridize.FrontendError)
