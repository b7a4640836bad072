"""Source locations (issue 11): every imported op names the user's file and
line (the innermost frame in the user's code, helpers included, never
torch's own files) inside its layer's name; printed with debuginfo and parsed
back; kept by canonicalize and fuse; named by verifier, frontend and backend
errors. MXNet node names ride the same way, cleaned."""

from __future__ import annotations

import json

import numpy as np
import pytest
from xdsl.dialects.builtin import FusedLoc

import hybridize
from hybridize.ir.locations import location_text
from hybridize.ir.module import forward_func

THIS = "test_locations.py"


def _ops(module):
    return [op for op in forward_func(module).body.block.ops if op.name not in ("hy.constant", "func.return")]


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if marker in line and "_line_of" not in line)


def _scaled(x):
    return x * 2  # LOC-helper


def _torch_model():
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)
            self.conv = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1))

        def forward(self, x):
            y = torch.relu(self.fc(x))  # LOC-fc
            return _scaled(y) + self.conv(y[:, None, :, None])[:, 0, :, 0]  # LOC-call

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()

        def forward(self, x):
            return self.block(x) - 1  # LOC-top

    return Net().eval()


@pytest.mark.torch
def test_every_op_names_the_users_line_and_layer():
    torch = pytest.importorskip("torch")
    module = hybridize.trace(_torch_model(), torch.randn(2, 4))
    texts = {op.name: location_text(op.location) for op in _ops(module)}
    assert all(texts.values()), texts
    assert texts["hy.linear"] == f"{__file__}:{_line_of('LOC-fc')}:13 (block.fc)"
    assert texts["hy.mul"].startswith(f"{__file__}:{_line_of('LOC-helper')}:")  # the helper's line, not its call
    assert texts["hy.sub"].startswith(f"{__file__}:{_line_of('LOC-top')}:")
    assert texts["hy.conv2d"] == f"{__file__}:{_line_of('LOC-call')}:13 (block.conv.0)"  # not torch's conv.py
    for text in texts.values():  # torch's own files never
        assert "/torch/" not in text.split(" (")[0]


@pytest.mark.torch
def test_locations_print_parse_and_survive_passes():
    torch = pytest.importorskip("torch")
    module = hybridize.trace(_torch_model(), torch.randn(2, 4))
    text = hybridize.print_module(module, debuginfo=True)
    assert f'loc("block.fc"("{__file__}":{_line_of("LOC-fc")}:13))' in text
    assert "loc(" not in hybridize.print_module(module)
    again = hybridize.parse_module(text)
    assert hybridize.print_module(again, debuginfo=True) == text  # round trip
    optimized = hybridize.optimize(module)
    fused = [op for op in _ops(optimized) if op.name == "hy.fused"]
    assert fused and all(isinstance(op.location, FusedLoc) or location_text(op.location) for op in fused)
    for op in optimized.walk():  # members and every rewritten op keep a location
        if op.name.startswith("hy.") and op.name not in ("hy.constant", "hy.yield"):
            assert location_text(op.location), op.name


@pytest.mark.torch
def test_unsupported_op_errors_name_the_users_line(monkeypatch):
    torch = pytest.importorskip("torch")
    from hybridize.frontends.torch import CONVERTERS, UnsupportedOpError

    monkeypatch.delitem(CONVERTERS, "aten.relu.default")
    with pytest.raises(UnsupportedOpError) as err:
        hybridize.trace(_torch_model(), torch.randn(2, 4))
    msg = str(err.value)
    assert f'{THIS}", line {_line_of("LOC-fc")}, in forward' in msg and "layer block" in msg
    assert "torch/nn/modules" not in msg


def test_verifier_and_backend_errors_name_the_location():
    from xdsl.utils.exceptions import VerifyException

    from hybridize.backends import build

    text = """
func.func @forward(%x: tensor<?x8xf32>) -> tensor<?xf32> {
  %0 = hy.reshape %x : tensor<?x8xf32> -> tensor<?xf32> loc("enc.flat"("model.py":12:8))
  func.return %0 : tensor<?xf32>
}"""
    module = hybridize.parse_module(text)
    with pytest.raises(Exception, match=r"not the batch size.*at model.py:12:8 \(enc.flat\)"):
        build(module, "numpy")
    bad = """
func.func @forward(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = hy.relu %x : tensor<2x8xf32> loc("model.py":7:3)
  %1 = hy.add %0, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x9xf32> loc("model.py":8:5)
  func.return %0 : tensor<2x8xf32>
}"""
    with pytest.raises(VerifyException, match=r"<string>:4:\d+: .*at model.py:8:5"):
        hybridize.parse_module(bad)


def test_mxnet_node_names_are_locations_and_stay_out_of_generated_code():
    from hybridize.backends import generate_source
    from hybridize.frontends.mxnet import lower_symbol

    hostile = 'act"0\n*/ system("rm -rf /"); /*\x00' + "x" * 300
    graph = {
        "nodes": [
            {"op": "null", "name": "data", "inputs": []},
            {"op": "Activation", "name": hostile, "attrs": {"act_type": "relu"}, "inputs": [[0, 0, 0]]},
        ],
        "arg_nodes": [0],
        "heads": [[1, 0, 0]],
    }
    module = lower_symbol(json.dumps(graph), {}, [(2, 3)])
    (op,) = _ops(module)
    name = location_text(op.location)
    assert name.startswith('act"0?*/') and len(name) <= 200 and "\n" not in name and "\x00" not in name
    text = hybridize.print_module(module, debuginfo=True)
    assert hybridize.print_module(hybridize.parse_module(text), debuginfo=True) == text
    for backend in ("numpy", "c"):
        assert "rm -rf" not in generate_source(module, backend)
    fast = hybridize.build(module, "numpy")
    np.testing.assert_array_equal(fast(np.array([[-1.0, 0.0, 2.0]] * 2, np.float32)), [[0, 0, 2]] * 2)


def test_a_venv_inside_the_checkout_is_not_hybridize_code():
    """`make` puts .venv inside the checkout: a transformers model file there is the
    model's code (its lines name layers), torch's files there are library files."""
    from pathlib import Path

    from hybridize.frontends.torch.lowering import is_library_file

    checkout = Path(hybridize.__file__).resolve().parent
    site = checkout / ".venv/lib/python3.11/site-packages"
    assert not is_library_file(str(site / "transformers/models/encodec/modeling_encodec.py"))
    assert is_library_file(str(site / "transformers/modeling_utils.py"))
    assert is_library_file(str(site / "torch/_export/non_strict_utils.py"))
    assert is_library_file(str(checkout / "frontends/torch/lowering.py"))
    assert not is_library_file(str(checkout / "tests/test_locations.py"))
