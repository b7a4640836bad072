"""Real models end to end (issue 3): torch.export -> canonicalize,fuse,plan ->
NumPy and C, parity with PyTorch on every output:
max |ours - torch| <= 1e-4 * max(1, max |torch|). The table of ops, kernels,
arena and errors is printed at the end of the run."""

from __future__ import annotations

import numpy as np
import pytest
from model_table import MODEL_TABLE, model_row
from hybridize.tools.zoo import MODELS, reference_outputs, tensors_of

import hybridize
from hybridize.ir import ARENA
from hybridize.ir.module import forward_func

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

NEEDS_TRANSFORMERS = {"BertModel", "ViTModel", "ResNetModel", "MobileNetV2Model"}



@pytest.mark.parametrize("name", list(MODELS))
def test_model_parity_both_backends(name, c_cache):
    if name in NEEDS_TRANSFORMERS:
        pytest.importorskip("transformers")
    model, args = MODELS[name]()
    expected = reference_outputs(model, args)
    imported = hybridize.trace(model, *args)
    optimized = hybridize.optimize(imported, "canonicalize,fuse,plan")
    forward_func(optimized).attributes[ARENA]
    row = model_row(name, imported, optimized)
    for backend in ("numpy", "c"):
        compiled = hybridize.build(optimized, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        got = compiled(*args)
        got = tensors_of(got)
        assert len(got) == len(expected)
        worst = 0.0
        for g, e in zip(got, expected):
            e = e.numpy()
            err = float(np.max(np.abs(g.numpy() - e))) if e.size else 0.0
            assert err <= 1e-4 * max(1.0, float(np.max(np.abs(e)))), f"{name} {backend}: max error {err}"
            worst = max(worst, err)
        row[f"max err {backend}"] = f"{worst:.1e}"
    assert row["ops after fuse"] < row["ops imported"] or name == "d2l-mlp"
    MODEL_TABLE.append(row)


@pytest.mark.parametrize("name", ["BertModel", "small-cnn"])
def test_dynamic_batch_real_models(name, c_cache):
    """One build per backend serves several batch sizes (BERT needs
    torch.arange(batch) and a mask broadcast to the batch)."""
    import torch

    if name in NEEDS_TRANSFORMERS:
        pytest.importorskip("transformers")
    model, args = MODELS[name]()
    optimized = hybridize.optimize(hybridize.trace(model, *args, dynamic_batch=True))
    for backend in ("numpy", "c"):
        compiled = hybridize.build(optimized, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        for batch in (1, 3):
            xs = tuple(torch.cat([a] * batch) for a in args)
            expected = reference_outputs(model, xs)
            got = compiled(*xs)
            got = tensors_of(got)
            for g, e in zip(got, expected, strict=True):
                err = float((g - e).abs().max())
                assert err <= 1e-4 * max(1.0, float(e.abs().max())), f"{name} {backend} batch {batch}: {err}"
