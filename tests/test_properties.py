"""Properties on random graphs (hypothesis, our shipped strategies): passes
keep what a graph computes (the unoptimized NumPy run is the oracle), the
memory plan never overlaps live buffers and never beats the lower bound,
canonicalize is idempotent."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

import hybridize
from hybridize.ir import ARENA, BUF, print_module
from hybridize.ir.module import forward_func
from hybridize.ir.strategies import graphs
from hybridize.passes import run_pipeline


def outputs(model, inputs):
    out = model(*inputs)
    return out if isinstance(out, tuple) else (out,)


def assert_same(got, expected):
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@settings(max_examples=60)
@given(graphs())
def test_passes_keep_results_numpy(case):
    module, inputs = case
    expected = outputs(hybridize.build(module, "numpy"), inputs)
    for pipeline in ("canonicalize", "cse,dce", "fuse", "fuse,plan", "canonicalize,cse,fuse,plan", "plan{inplace=false}"):
        optimized = hybridize.optimize(module, pipeline)
        assert_same(outputs(hybridize.build(optimized, "numpy"), inputs), expected)


@settings(max_examples=12)
@given(case=graphs(max_ops=8))
def test_c_backend_agrees_after_fuse_plan(case, c_cache):
    module, inputs = case
    expected = outputs(hybridize.build(module, "numpy"), inputs)
    optimized = hybridize.optimize(module, "canonicalize,fuse,plan")
    assert_same(outputs(hybridize.build(optimized, "c", cache_dir=c_cache), inputs), expected)


@settings(max_examples=80)
@given(graphs(max_ops=14))
def test_plan_never_overlaps_live_buffers_and_respects_lower_bound(case):
    module, _ = case
    planned = hybridize.optimize(module, "fuse,plan")
    func = forward_func(planned)
    arena = func.attributes[ARENA]
    bufs = [op.attributes[BUF] for op in func.body.block.ops if BUF in op.attributes]
    for i, a in enumerate(bufs):
        assert a.offset.data + a.bytes.data <= arena.bytes.data
        for b in bufs[i + 1 :]:
            live_together = a.start.data <= b.end.data and b.start.data <= a.end.data
            disjoint = a.offset.data + a.bytes.data <= b.offset.data or b.offset.data + b.bytes.data <= a.offset.data
            assert not live_together or disjoint
    assert arena.lower_bound.data <= arena.bytes.data <= arena.no_reuse.data


@settings(max_examples=40)
@given(graphs())
def test_canonicalize_is_idempotent(case):
    module, _ = case
    once = run_pipeline(module.clone(), "canonicalize")
    twice = run_pipeline(once.clone(), "canonicalize")
    assert print_module(once) == print_module(twice)
