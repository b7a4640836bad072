"""Outputs and inputs keep their structure (issue 11): dicts, named tuples,
nested tuples and lists, None, keyword and `*args` inputs, transformers'
ModelOutput, through `.hyb` files, with unknown classes coming back as dicts."""

from __future__ import annotations

import collections
import json
import warnings

import pytest

import hybridize
from hybridize.backends.structure import STRUCTURE, StructureError, flatten, parse, unflatten
from hybridize.errors import SavedModelError
from hybridize.ir.module import forward_func

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

Pair = collections.namedtuple("Pair", "low high")


class Nested(torch.nn.Module):
    def forward(self, x, extra, *, scale):
        y = x * scale
        return {"pair": Pair(y - 1, [y + 1, None]), "raw": (x, extra["bias"] + y), "n": 3}


def _example():
    return torch.randn(2, 3), {"bias": torch.randn(2, 3)}, torch.randn(3)


def _same(got, want):
    """Equal structure and values (tensors compared numerically)."""
    assert type(got) is type(want) or (hasattr(got, "_fields") and got._fields == want._fields), (got, want)
    if isinstance(want, torch.Tensor):
        torch.testing.assert_close(got, want)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for k in want:
            _same(got[k], want[k])
    elif isinstance(want, list | tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
    else:
        assert got == want


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_nested_outputs_and_keyword_inputs(backend, c_cache):
    x, extra, scale = _example()
    model = Nested()
    fast = hybridize.compile(model, x, extra, kwargs={"scale": scale}, backend=backend,
                             **({"cache_dir": c_cache} if backend == "c" else {}))  # fmt: skip
    got = fast(x, extra, scale=scale)
    _same(got, model(x, extra, scale=scale))
    assert got["pair"].high == [got["pair"].high[0], None]
    with pytest.raises(ValueError, match=r"arguments\[0\]\[1\]: expected keys \['bias'\]; missing"):
        fast(x, {}, scale=scale)


def test_model_output_attributes_and_saved_files(tmp_path):
    pytest.importorskip("transformers")
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = BertModel(cfg).eval()
    ids = torch.randint(0, 50, (1, 6))
    fast = hybridize.compile(model, ids, backend="numpy")
    want = model(ids)
    got = fast(ids)
    assert type(got) is type(want)
    torch.testing.assert_close(got.last_hidden_state, want.last_hidden_state.detach())
    torch.testing.assert_close(got.pooler_output, want.pooler_output.detach())
    fast.save(tmp_path / "bert.hyb")
    again = hybridize.load(tmp_path / "bert.hyb")(ids)
    assert type(again) is type(want)  # a transformers ModelOutput: on the allow-list


def test_a_decoder_with_its_default_cache_is_traced_without_it():
    # use_cache=True (transformers' default) returns a DynamicCache torch.export cannot capture
    pytest.importorskip("transformers")
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=1, intermediate_size=32, max_position_embeddings=32)  # fmt: skip
    model = LlamaModel(cfg).eval()
    ids = torch.randint(0, 50, (2, 6))
    with pytest.warns(UserWarning, match="traced with use_cache=False"):
        fast = hybridize.compile(model, ids, backend="numpy")
    assert model.config.use_cache is True  # the model's own config is left as it was
    got = fast(ids)
    assert type(got).__name__ == "BaseModelOutputWithPast"
    torch.testing.assert_close(got.last_hidden_state, model(ids).last_hidden_state.detach())


def test_unknown_output_classes_come_back_as_dicts():
    spec = {"class": "evil.module.Payload", "keys": ["a", "b"], "items": ["*", {"const": None}]}
    with pytest.warns(UserWarning, match="evil.module.Payload.*as a dict"):
        out = unflatten(spec, [1])
    assert out == {"a": 1, "b": None}
    nt = unflatten({"namedtuple": "bad name!", "fields": ["x y", "class"], "items": ["*", "*"]}, [1, 2])
    assert tuple(nt) == (1, 2)  # field names made identifiers, nothing evaluated


def test_structure_specs_are_checked():
    with pytest.raises(StructureError):
        parse(json.dumps({"inputs": {"tuple": [{"bogus": 1}]}, "outputs": "*"}))
    with pytest.raises(StructureError, match="expected a sequence of 2"):
        flatten({"tuple": ["*", "*"]}, (1,))


def test_damaged_structure_in_a_saved_file_is_a_saved_model_error(tmp_path):
    fast = hybridize.compile(torch.nn.Linear(3, 2), torch.randn(1, 3), backend="numpy")
    module = fast.module.clone()
    from xdsl.dialects.builtin import StringAttr

    forward_func(module).attributes[STRUCTURE] = StringAttr('{"inputs": {"tuple": 5}, "outputs": "*"}')
    from hybridize.backends import saved

    data = saved.dumps(module, "numpy", {})
    with pytest.raises(SavedModelError, match="malformed hy.structure"):
        saved.load_bytes(data, "bad.hyb")


def test_flat_models_keep_their_plain_call():
    net = torch.nn.Sequential(torch.nn.Linear(4, 2))
    fast = hybridize.compile(net, torch.randn(1, 4), backend="numpy")
    x = torch.randn(1, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fast(x)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, net(x).detach())


class Rebuffered(torch.nn.Module):
    def __init__(self, counting: bool):
        super().__init__()
        self.counting = counting
        self.register_buffer("table", torch.arange(6.0).reshape(2, 3))
        self.register_buffer("steps", torch.zeros(()))

    def forward(self, x):
        self.table = self.table.to(dtype=x.dtype)  # written back unchanged (CTRL's positional table)
        if self.counting:
            self.steps.add_(1)  # state a compiled model cannot keep
        return x + self.table


def test_buffer_written_back_unchanged_is_not_an_output():
    x = torch.randn(2, 3)
    fast = hybridize.build(hybridize.trace(Rebuffered(False), x), "numpy")
    torch.testing.assert_close(torch.as_tensor(fast(x)), x + torch.arange(6.0).reshape(2, 3))


def test_buffer_mutation_is_refused_naming_the_line():
    with pytest.raises(hybridize.HybridizeError, match=r"buffer_mutation: forward writes buffer 'steps'.*add_\(1\)"):
        hybridize.trace(Rebuffered(True), torch.randn(2, 3))
