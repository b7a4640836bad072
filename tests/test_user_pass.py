"""A user pass registered from a test: it runs by name and `check_pass`
property-tests it on graphs full of the ops it rewrites."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

import hybridize
from hybridize.ir import ReluOp, parse_module
from hybridize.passes import PASSES, register_pass
from hybridize.testing import check_pass, count_ops, graphs


class ReluOfRelu(RewritePattern):
    # relu(relu(x)) = relu(x)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReluOp, rewriter):
        if isinstance(op.input.owner, ReluOp):
            rewriter.replace(op, [], [op.input])


@dataclass(frozen=True)
class FoldReluChains(ModulePass):
    name = "test-fold-relu-chains"

    def apply(self, ctx, module):
        PatternRewriteWalker(ReluOfRelu()).rewrite_module(module)


if FoldReluChains.name not in PASSES:
    register_pass(FoldReluChains)


def test_user_pass_runs_by_name():
    assert FoldReluChains.name in PASSES
    m = parse_module(
        """func.func @forward(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = hy.relu %x : tensor<3xf32>
  %1 = hy.relu %0 : tensor<3xf32>
  func.return %1 : tensor<3xf32>
}"""
    )
    out = hybridize.optimize(m, "test-fold-relu-chains,dce")
    assert count_ops(out, ReluOp) == 1


def test_user_pass_keeps_results(c_cache, tmp_path):
    check_pass("test-fold-relu-chains,plan", graphs(ops=[ReluOp], min_ops=3, max_ops=6), max_examples=20,
               c_examples=3, cache_dir=c_cache, reproducer_dir=tmp_path)
