"""Passes for the opt-tool plugin tests (`--load-pass-plugin`)."""

from dataclasses import dataclass

from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from hybridize.ir import ReluOp
from hybridize.passes import register_pass


class ReluOfRelu(RewritePattern):
    # relu(relu(x)) = relu(x)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReluOp, rewriter):
        if isinstance(op.input.owner, ReluOp):
            rewriter.replace_op(op, [], [op.input])


@register_pass
@dataclass(frozen=True)
class FoldDoubleRelu(ModulePass):
    """Fold relu(relu(x)) into relu(x)."""

    name = "fold-double-relu"

    def apply(self, ctx, module):
        PatternRewriteWalker(ReluOfRelu()).rewrite_module(module)


@register_pass
@dataclass(frozen=True)
class BreakRelu(ModulePass):
    """Make the first relu read a value of another type (IR that does not verify)."""

    name = "break-relu"

    def apply(self, ctx, module):
        for op in module.walk():
            if isinstance(op, ReluOp):
                op.operands = [op.parent_block().args[1]]
                return


@register_pass
@dataclass(frozen=True)
class Boom(ModulePass):
    """Raise, as a buggy pass does."""

    name = "boom"
    where: str = "here"
    """Where it explodes."""

    def apply(self, ctx, module):
        raise RuntimeError(f"boom in my pass ({self.where})")
