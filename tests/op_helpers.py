"""Builders shared by the op tests (test_ops_elementwise.py, test_ops_indexing.py)."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

import hybridize


def build_module(arg_types, body) -> ModuleOp:
    """`@forward` whose body `body(emit, *args)` emits ops and returns the outputs."""
    block = Block(arg_types=arg_types)

    def emit(op):
        block.add_op(op)
        return op.results[0]

    outputs = body(emit, *block.args)
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", (list(arg_types), [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    return module


def run(module, backend, c_cache, *inputs, pipeline="canonicalize,fuse,plan"):
    module = hybridize.optimize(module, pipeline) if pipeline else module
    model = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
    out = model(*inputs)
    return list(out) if isinstance(out, tuple) else [out]


def trace_and_compare(model, *inputs, c_cache, decompose=(False, True), rtol=1e-6, atol=1e-6):
    """Trace (default and decomposed export), then both backends vs eager PyTorch."""
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        expected = model(*inputs)
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    modules = []
    for dec in decompose:
        module = hybridize.optimize(hybridize.trace(model, *inputs, decompose=dec), "canonicalize,fuse,plan")
        modules.append(module)
        for backend in ("numpy", "c"):
            got = run(module, backend, c_cache, *inputs, pipeline="")
            for g, e in zip(got, expected):
                assert g.dtype == e.dtype and g.shape == e.shape, (backend, dec)
                np.testing.assert_allclose(
                    g.double().numpy(), e.double().numpy(), rtol=rtol, atol=atol, equal_nan=True,
                    err_msg=f"{backend}, decompose={dec}",
                )  # fmt: skip
    return modules


class Lambda:
    """An nn.Module running `fn` (built lazily: torch is optional)."""

    def __new__(cls, fn):
        import torch

        class M(torch.nn.Module):
            def forward(self, *xs):
                return fn(*xs)

        return M()
