"""Dynamic batch (issue 11): tensors indexed, created, sliced and repeated over
the batch, sizes that are multiples of it (`x.view(-1, hidden)`), and real
transformers decoders, whose causal masks do all of these, built once and run
at two batch sizes against eager PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import hybridize
from hybridize.tools.zoo import tensors_of

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
nn = torch.nn


def check_batches(model, example, backend="numpy", batches=(1, 3), c_cache=None, **options):
    """One dynamic-batch build of `model` matches eager at every batch size."""
    module = hybridize.optimize(hybridize.trace(model, *example, dynamic_batch=True, **options))
    assert "?x" in hybridize.print_module(module)
    fast = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
    for batch in batches:
        xs = tuple(torch.cat([a[:1]] * batch) + (torch.arange(batch).view(-1, *[1] * (a.dim() - 1)) % 2).to(a.dtype)
                   for a in example)
        with torch.no_grad():
            expected = tensors_of(model(*xs))
        got = tensors_of(fast(*xs))
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape, f"batch {batch}: {g.shape} != {e.shape}"
            err = float((g.double() - e.double()).abs().max()) if e.numel() else 0.0
            assert err <= 1e-4 * max(1.0, float(e.abs().max())), f"batch {batch}: max error {err}"
    return module


class CausalMask(nn.Module):
    """transformers' mask construction: index an expanded position grid with
    arange(batch), a ones tensor over the batch, where on the result."""

    def forward(self, x):
        b, n = x.shape[0], x.shape[1]
        pos = torch.arange(n).unsqueeze(0).expand(b, -1)
        rows = torch.arange(b)[:, None, None]
        q, k = pos[rows, torch.arange(n)[None, :, None]], pos[rows, torch.arange(n)[None, None, :]]
        keep = torch.ones(b, 1, n, n, dtype=torch.bool) & (k <= q).unsqueeze(1)
        return torch.where(keep, x.unsqueeze(1).unsqueeze(-1), torch.zeros(()))


class BatchRows(nn.Module):
    def forward(self, x):
        first, last = x[0], x[-1]  # select on the batch: the second wraps at run time
        return x + first + last, torch.full((x.shape[0], 4), 2.0) * x.new_ones(x.shape[0], 4)


class Folded(nn.Module):
    """Sizes that merge the batch with another dim (GPT-2's Conv1D, XGLM's
    bsz * heads) through views, a matmul, a transpose and softmax."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 8))

    def forward(self, x):
        b, n, h = x.shape
        flat = x.reshape(-1, h) @ self.w  # [b*n, h]
        heads = flat.view(b, n, 2, h // 2).transpose(1, 2).reshape(b * 2, n, h // 2)  # [2b, n, h/2]
        scores = torch.softmax(heads @ heads.transpose(1, 2), dim=2)
        mixed = (scores @ heads).view(b, 2, n, h // 2).permute(0, 2, 1, 3)
        return mixed.reshape(b, n, h), torch.ones(2, 1).repeat(b, 3)


def test_causal_mask_over_the_batch():
    module = check_batches(CausalMask(), (torch.randn(2, 5),))
    text = hybridize.print_module(module)
    assert "hy.take" in text and "hy.gather" in text


def test_rows_and_factories_of_the_batch():
    check_batches(BatchRows(), (torch.randn(2, 4),), batches=(1, 4))


def test_sizes_that_are_multiples_of_the_batch(c_cache):
    torch.manual_seed(0)
    module = check_batches(Folded(), (torch.randn(2, 5, 8),), backend="c", c_cache=c_cache)
    assert "?x5x8" in hybridize.print_module(module)  # [b*5, 8] as the two dims ?, 5


def test_star_args_and_nested_inputs_with_a_dynamic_batch():
    class Star(nn.Module):
        def forward(self, *xs):
            return xs[0] * xs[1]

    class Nested(nn.Module):
        def forward(self, pair, scale):
            return pair[0] + pair[1] * scale

    x = torch.randn(2, 3)
    fast = hybridize.compile(Star(), x, x, dynamic_batch=True, backend="numpy")
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    assert torch.allclose(fast(a, b), a * b)
    scale = torch.randn(3)  # leading size 3 is not the batch's: stays static
    fast = hybridize.compile(Nested(), (x, x), scale, dynamic_batch=True, backend="numpy")
    assert "tensor<3xf32>" in fast.signature
    assert torch.allclose(fast((a, b), scale), a + b * scale)


def test_sizes_the_batch_does_not_divide_are_refused_naming_the_line():
    from hybridize.frontends.torch import UnsupportedOpError

    class Shifted(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0] + 1, 3)[1:] + x

    with pytest.raises(UnsupportedOpError, match=r"s\w+ \+ 1 is not supported.*test_dynamic_batch.py"):
        hybridize.trace(Shifted(), torch.randn(4, 3), dynamic_batch=True)

    class TransposedBatch(nn.Module):
        def forward(self, x):
            return x.reshape(-1)[None, :] * 2  # [1, 6*b]: the folded dim is not leading a matmul or view
    module = hybridize.trace(TransposedBatch(), torch.randn(2, 6), dynamic_batch=True)
    assert "?x6" in hybridize.print_module(module)


def _decoder(name: str):
    import transformers as T

    common = dict(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                  intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    builders = {
        "gpt2": lambda: T.GPT2Model(T.GPT2Config(vocab_size=100, n_embd=32, n_layer=1, n_head=4, n_positions=64)),
        "llama": lambda: T.LlamaModel(T.LlamaConfig(**common, num_key_value_heads=2)),
        "opt": lambda: T.OPTModel(T.OPTConfig(
            vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, ffn_dim=64,
            max_position_embeddings=64, word_embed_proj_dim=32)),
    }  # fmt: skip
    torch.manual_seed(0)
    model = builders[name]()
    model.config._attn_implementation = "eager"
    model.config.use_cache = False
    return model.eval()


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_decoders_with_a_dynamic_batch(name):
    """GPT-2 (views over batch*seq), Llama (causal mask indexing arange(batch));
    OPT (torch.ones(batch, seq)) passes too, left out for time: one build,
    batches 1 and 3, and the compiled model returns the model's own output class."""
    pytest.importorskip("transformers")
    model = _decoder(name)
    ids = torch.randint(0, 100, (2, 8))
    module = hybridize.optimize(hybridize.trace(model, ids, dynamic_batch=True))
    fast = hybridize.build(module, "numpy")
    for batch in (1, 3):
        ids = torch.randint(0, 100, (batch, 8))
        with torch.no_grad():
            expected = model(ids).last_hidden_state
        got = fast(ids)
        assert type(got).__name__ == type(model(ids)).__name__
        np.testing.assert_allclose(got.last_hidden_state.numpy(), expected.numpy(), atol=1e-4, rtol=0)
