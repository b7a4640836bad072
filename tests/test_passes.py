"""Passes one by one: the registry, canonicalization laws, fusion kernel
counts, the memory plan's invariants, and pipeline errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import module, ops_named, top_level_ops
from xdsl.passes import ModulePass

import hybridize
from hybridize.ir import ARENA, BUF, parse_module, print_module
from hybridize.ir.module import forward_func
from hybridize.passes import PASSES, PipelineError, parse_pipeline, run_pipeline
from hybridize.passes.liveness import analyze, lower_bound


@pytest.mark.parametrize("name", sorted(PASSES))
def test_every_registered_pass_loads_under_its_name(name):
    cls = PASSES[name]()
    assert issubclass(cls, ModulePass)
    assert cls.name == name
    run_pipeline(module(), name)  # runs on a real module


def test_unknown_pass_lists_the_registered_ones():
    with pytest.raises(PipelineError, match="unknown pass 'nosuch' \\(registered passes: ") as info:
        parse_pipeline("fuse,nosuch")
    for name in ("canonicalize", "cse", "dce", "fuse", "plan"):
        assert name in str(info.value)


def test_pass_options_parse():
    (fuse,) = parse_pipeline("fuse{max-ops=3 anchors=false}")
    assert fuse.max_ops == 3 and fuse.anchors is False
    with pytest.raises(PipelineError):
        parse_pipeline("fuse{max-ops=")


def test_failing_pass_is_named_with_the_ones_before_it():
    with pytest.raises(PipelineError, match=r"pass 'fuse' \(after canonicalize\)"):
        run_pipeline(module(), "canonicalize,fuse{max-ops=1}")


TRANSPOSES = """
func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = hy.transpose %x perm [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  %1 = hy.transpose %0 perm [1, 0] : tensor<3x2xf32> -> tensor<2x3xf32>
  %2 = hy.reshape %1 : tensor<2x3xf32> -> tensor<6xf32>
  %3 = hy.reshape %2 : tensor<6xf32> -> tensor<2x3xf32>
  func.return %3 : tensor<2x3xf32>
}
"""


def test_canonicalize_removes_transpose_pairs_and_reshape_chains():
    m = run_pipeline(parse_module(TRANSPOSES), "canonicalize")
    assert top_level_ops(m) == []  # forward(x) = x


ADDMM = """
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = hy.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]> : tensor<2x4xf32>
  %b = hy.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %t = hy.transpose %w perm [1, 0] : tensor<2x4xf32> -> tensor<4x2xf32>
  %m = hy.matmul %x, %t : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  %y = hy.add %m, %b : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
"""


def test_canonicalize_turns_addmm_into_linear_with_bias_and_keeps_values():
    m = parse_module(ADDMM)
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    before = hybridize.build(m, "numpy")(x)
    c = run_pipeline(m.clone(), "canonicalize")
    (lin,) = ops_named(c, "hy.linear")
    assert lin.bias is not None
    assert [op.name for op in top_level_ops(c)] == ["hy.linear"]
    np.testing.assert_allclose(hybridize.build(c, "numpy")(x), before, rtol=1e-6)


def test_canonicalize_is_a_fixed_point():
    once = run_pipeline(parse_module(ADDMM), "canonicalize")
    twice = run_pipeline(once.clone(), "canonicalize")
    assert print_module(once) == print_module(twice)


def test_constant_folding():
    m = parse_module(
        """
func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  %a = hy.constant dense<[1.0, -2.0]> : tensor<2xf32>
  %b = hy.relu %a : tensor<2xf32>
  %c = hy.add %x, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %c : tensor<2xf32>
}"""
    )
    c = run_pipeline(m, "canonicalize")
    assert not ops_named(c, "hy.relu")
    (const,) = ops_named(c, "hy.constant")
    np.testing.assert_array_equal(const.numpy(), [1.0, 0.0])


def test_fuse_makes_one_kernel_per_linear_relu_pair():
    m = run_pipeline(module(), "fuse")
    kinds = [op.name for op in top_level_ops(m)]
    assert kinds == ["hy.fused", "hy.linear"]
    (fused,) = ops_named(m, "hy.fused")
    assert [op.name for op in fused.ops] == ["hy.linear", "hy.relu"]


def test_fuse_elementwise_chain_and_respects_max_ops():
    text = """
func.func @forward(%x: tensor<4x4xf32>, %y: tensor<4xf32>) -> tensor<4x4xf32> {
  %0 = hy.add %x, %y : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  %1 = hy.mul %0, %x : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = hy.relu %1 : tensor<4x4xf32>
  %3 = hy.sub %2, %y : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  func.return %3 : tensor<4x4xf32>
}"""
    assert len(top_level_ops(run_pipeline(parse_module(text), "fuse"))) == 1
    assert len(top_level_ops(run_pipeline(parse_module(text), "fuse{max-ops=2}"))) == 2


def test_fuse_duplicates_a_cheap_shared_producer_else_leaves_it_outside():
    text = """
func.func @forward(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = hy.relu %x : tensor<4xf32>
  %1 = hy.add %0, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = hy.mul %0, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %1, %2 : tensor<4xf32>, tensor<4xf32>
}"""
    m = run_pipeline(parse_module(text), "fuse{duplicate=false}")
    assert [op.name for op in top_level_ops(m)] == ["hy.relu", "hy.add", "hy.mul"]
    m = run_pipeline(parse_module(text), "fuse")  # relu is recomputed in both kernels
    assert [[b.name for b in op.ops] for op in top_level_ops(m)] == [["hy.relu", "hy.add"], ["hy.relu", "hy.mul"]]


CHAIN = """
func.func @forward(%x: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %0 = hy.relu %x : tensor<16x16xf32>
  %1 = hy.add %0, %0 : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  %2 = hy.transpose %1 perm [1, 0] : tensor<16x16xf32> -> tensor<16x16xf32>
  %3 = hy.mul %2, %1 : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  %4 = hy.relu %3 : tensor<16x16xf32>
  %5 = hy.sub %4, %x : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  func.return %5 : tensor<16x16xf32>
}"""


def test_plan_reuses_dead_buffers_in_place():
    m = run_pipeline(parse_module(CHAIN), "plan")
    arena = forward_func(m).attributes[ARENA]
    bufs = {op.name + str(i): op.attributes[BUF] for i, op in enumerate(top_level_ops(m)) if BUF in op.attributes}
    assert arena.bytes.data == arena.lower_bound.data  # optimal on a chain
    assert arena.no_reuse.data == 5 * 1024
    assert any(b.inplace.data >= 0 for b in bufs.values())


def test_plan_without_reuse_is_the_sum():
    m = run_pipeline(parse_module(CHAIN), "plan{reuse=false}")
    arena = forward_func(m).attributes[ARENA]
    assert arena.bytes.data == arena.no_reuse.data


def test_liveness_lower_bound_counts_overlapping_values():
    m = parse_module(CHAIN)
    intervals = analyze(forward_func(m))
    assert lower_bound(intervals) == 2 * 1024  # %1 stays live across the transpose


def test_stale_plan_is_reported():
    m = run_pipeline(module(), "plan,canonicalize")
    m2 = run_pipeline(m.clone(), "fuse")  # fuse drops the plan: fine
    hybridize.build(m2, "numpy")
    with pytest.raises(ValueError, match="stale"):
        bad = run_pipeline(module(), "plan")

        relu = ops_named(bad, "hy.relu")[0]
        relu.attributes.pop(BUF)
        hybridize.build(bad, "numpy")
