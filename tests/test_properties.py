"""Properties on random graphs over every op (hypothesis, `hybridize.testing`):
passes keep what a graph computes (the unoptimized NumPy run is the oracle,
`check_pass`), the memory plan never overlaps live buffers and never beats the
lower bound, canonicalize is idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

import hybridize
from hybridize.ir import ARENA, BUF, print_module
from hybridize.ir import elementwise as E
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.module import forward_func
from hybridize.ir.nn import AdaptiveAvgPool2dOp, AvgPool2dOp, Conv2dOp, LayerNormOp, MaxPool2dOp, SoftmaxOp
from hybridize.ir.reduce import ReduceSumOp
from hybridize.ir.shape import BroadcastOp, ReshapeOp, TransposeOp
from hybridize.passes import run_pipeline
from hybridize.testing import check_pass, graphs


@pytest.mark.parametrize("pipeline", ["canonicalize", "cse,dce", "fuse", "fuse,plan", "canonicalize,cse,fuse,plan",
                                      "plan{inplace=false}", "layout", "layout{pools=false},fuse"])
def test_passes_keep_results_numpy(pipeline, tmp_path):
    check_pass(pipeline, graphs(max_ops=8), backends=("numpy",), max_examples=20, reproducer_dir=tmp_path)


FUSABLE = [LinearOp, MatmulOp, Conv2dOp, E.AddOp, E.MulOp, E.ReluOp, E.GeluOp, E.SigmoidOp, E.ClampOp, BroadcastOp,
           ReshapeOp, TransposeOp, SoftmaxOp, LayerNormOp, ReduceSumOp]


def test_fuse_and_plan_keep_results_on_fusion_patterns(tmp_path):
    check_pass("fuse,plan", graphs(ops=FUSABLE, min_ops=3, max_ops=6, dtypes=["float32", "float64"]),
               backends=("numpy",), max_examples=12, reproducer_dir=tmp_path)


def test_c_backend_agrees_after_the_default_pipeline(c_cache, tmp_path):
    check_pass("canonicalize,cse,fuse,plan", graphs(max_ops=8), backends=("c",), c_examples=8,
               cache_dir=c_cache, reproducer_dir=tmp_path)


LAYOUT_OPS = [Conv2dOp, MaxPool2dOp, AvgPool2dOp, AdaptiveAvgPool2dOp, E.AddOp, E.MulOp, E.ReluOp, E.ClampOp,
              E.SigmoidOp, BroadcastOp, ReshapeOp, TransposeOp]


def test_layout_keeps_results_on_conv_graphs(c_cache, tmp_path):
    """Channels-last convs and pools, with transposes sunk through elementwise
    ops and cancelled, on the NumPy reference and the C backend."""
    check_pass("canonicalize,cse,layout,fuse,plan", graphs(ops=LAYOUT_OPS, min_ops=3, max_ops=7, dtypes=["float32"]),
               backends=("numpy", "c"), max_examples=25, c_examples=8, cache_dir=c_cache, reproducer_dir=tmp_path)


@settings(max_examples=60)
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
