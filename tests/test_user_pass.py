"""The README's user pass works as written: register, run by name, property-test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

import hybridize
from hybridize.ir import ReluOp, parse_module
from hybridize.ir.strategies import graphs
from hybridize.passes import PASSES, register_pass


class ReluOfRelu(RewritePattern):
    # relu(relu(x)) = relu(x)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReluOp, rewriter):
        if isinstance(op.input.owner, ReluOp):
            rewriter.replace(op, [], [op.input])


@register_pass
@dataclass(frozen=True)
class FoldDoubleRelu(ModulePass):
    name = "fold-double-relu"

    def apply(self, ctx, module):
        PatternRewriteWalker(ReluOfRelu()).rewrite_module(module)


def test_user_pass_runs_by_name():
    assert "fold-double-relu" in PASSES
    m = parse_module(
        """func.func @forward(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = hy.relu %x : tensor<3xf32>
  %1 = hy.relu %0 : tensor<3xf32>
  func.return %1 : tensor<3xf32>
}"""
    )
    out = hybridize.optimize(m, "fold-double-relu,dce")
    assert sum(op.name == "hy.relu" for op in out.walk()) == 1


@settings(max_examples=30)
@given(graphs())
def test_user_pass_keeps_results(case):
    module, inputs = case
    expected = hybridize.build(module, "numpy")(*inputs)
    got = hybridize.build(hybridize.optimize(module, "fold-double-relu,plan"), "numpy")(*inputs)
    for g, e in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_allclose(g, e, rtol=1e-6)
