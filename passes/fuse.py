"""`fuse`: group ops that backends can run as one kernel into `hy.fused`.

A group grows upward from a root (an elementwise op whose result is not consumed
by a fusible op of its own) through producers whose only user is in the group:
- elementwise producers (any number), and
- at most one anchor (`hy.linear`, `hy.matmul`) whose result has the root's
  shape, so the elementwise ops become its epilogue.

    %1 = hy.linear %x, %w, %b : ...        // linear + bias + relu
    %2 = hy.relu %1 : ...
  becomes
    %2 = hy.fused (%x, %w, %b) : ... {
    ^0(%a, %b, %c):
      %3 = hy.linear %a, %b, %c : ...
      %4 = hy.relu %3 : ...
      hy.yield %4 : ...
    }

Options: `max-ops` bounds a group's size; `anchors=false` fuses elementwise
chains only. Fusing invalidates an existing memory plan (run `plan` after).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import Block, Operation, Region
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from hybridize.ir.attributes import ARENA, BUF
from hybridize.ir.base import Elementwise, FusionAnchor
from hybridize.ir.locations import fused_location
from hybridize.ir.structure import FusedOp, YieldOp


def fusible_elementwise(op: Operation) -> bool:
    return op.has_trait(Elementwise) and len(op.results) == 1


@dataclass
class FuseGroups(RewritePattern):
    # f(g(x), ...) with g's only user f = fused{g; f}(x, ...)
    max_ops: int
    anchors: bool

    def match_and_rewrite(self, root: Operation, rewriter: PatternRewriter, /):
        if not fusible_elementwise(root) or isinstance(root.parent_op(), FusedOp):
            return
        # Not a root if its only user is elementwise too: that user roots the group.
        use = root.results[0].get_unique_use()
        if use is not None and fusible_elementwise(use.operation):
            return
        block = root.parent_block()
        group = {root}
        anchor = None
        work = [root]
        while work:
            op = work.pop()
            for v in op.operands:
                p = v.owner
                if not isinstance(p, Operation) or p in group or p.parent_block() is not block:
                    continue
                if len(group) >= self.max_ops or not v.has_one_use() or len(p.results) != 1:
                    continue
                if fusible_elementwise(p):
                    group.add(p)
                    work.append(p)
                elif (
                    self.anchors
                    and anchor is None
                    and p.has_trait(FusionAnchor)
                    and p.results[0].type == root.results[0].type
                ):
                    anchor = p
                    group.add(p)  # the anchor's own operands stay outside
        if len(group) < 2:
            return
        ops = [op for op in block.ops if op in group]  # program order
        inputs = []
        for op in ops:
            for v in op.operands:
                if v.owner not in group and v not in inputs:
                    inputs.append(v)
        fused = build_fused(inputs, ops, root)
        rewriter.replace(root, fused)
        for op in reversed(ops[:-1]):
            rewriter.erase(op)


def build_fused(inputs, ops: list[Operation], root: Operation) -> FusedOp:
    """A fused op computing `root` from `inputs` with clones of `ops` as its body."""
    block = Block(arg_types=[v.type for v in inputs])
    mapping = dict(zip(inputs, block.args))
    for op in ops:
        clone = op.clone(value_mapper=mapping)
        clone.attributes.pop(BUF, None)
        block.add_op(clone)
    block.add_op(YieldOp(mapping[root.results[0]]))
    fused = FusedOp(inputs, [root.results[0].type], Region(block))
    fused.location = fused_location(ops)  # the members keep their own
    return fused


@dataclass(frozen=True)
class Fuse(ModulePass):
    name = "fuse"

    max_ops: int = 16
    """The largest number of ops in one fused region."""
    anchors: bool = True
    """Fuse elementwise epilogues into linear/matmul kernels."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.max_ops < 2:
            raise ValueError(f"fuse: max-ops must be at least 2, got {self.max_ops}")
        for func in op.walk():
            if isinstance(func, FuncOp):
                func.attributes.pop(ARENA, None)
        PatternRewriteWalker(
            FuseGroups(self.max_ops, self.anchors), walk_reverse=True, apply_recursively=False
        ).rewrite_module(op)
