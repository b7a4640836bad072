"""Canonicalization patterns of the `hy` ops, one law per pattern.

The generic `canonicalize` pass (xDSL's driver) runs these to a fixed point,
together with constant folding (`HyOp.fold`): an op whose operands are all
constants becomes a constant. The canonical form of a dense layer is
`hy.linear` with its bias, whichever way the frontend spelled it:

    %t = hy.transpose %w perm array<i64: 1, 0> : ...   // default export: linear
    %m = hy.matmul %x, %t : ...                          // decomposed: addmm
    %y = hy.add %m, %b : ...
  becomes
    %y = hy.linear %x, %w, %b : ...
"""

from __future__ import annotations

from xdsl.ir import Operation
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from hybridize.ir.elementwise import AddOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.shape import ReshapeOp, TransposeOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import shape_of


class TransposeOfTranspose(RewritePattern):
    # transpose(transpose(x, p), q) = transpose(x, [p[q[i]] for i])
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter):
        inner = op.input.owner
        if not isinstance(inner, TransposeOp):
            return
        p, q = inner.permutation, op.permutation
        rewriter.replace(op, TransposeOp(inner.input, [p[i] for i in q]))


class IdentityTranspose(RewritePattern):
    # transpose(x, [0, 1, ..., n-1]) = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter):
        if op.permutation == tuple(range(len(op.permutation))):
            rewriter.replace(op, [], [op.input])


class ReshapeOfReshape(RewritePattern):
    # reshape(reshape(x, s1), s2) = reshape(x, s2)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReshapeOp, rewriter: PatternRewriter):
        inner = op.input.owner
        if isinstance(inner, ReshapeOp):
            rewriter.replace(op, ReshapeOp(inner.input, shape_of(op.result)))


class IdentityReshape(RewritePattern):
    # reshape(x : T) : T = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReshapeOp, rewriter: PatternRewriter):
        if op.input.type == op.result.type:
            rewriter.replace(op, [], [op.input])


class MatmulOfTranspose(RewritePattern):
    # matmul(x, transpose(w, [1, 0])) = linear(x, w)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MatmulOp, rewriter: PatternRewriter):
        t = op.rhs.owner
        if isinstance(t, TransposeOp) and t.permutation == (1, 0):
            rewriter.replace(op, LinearOp(op.lhs, t.input))


class MatmulOfConstant(RewritePattern):
    # matmul(x, C) = linear(x, transpose(C)) for a 2-D constant C (weights in [out, in] layout)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MatmulOp, rewriter: PatternRewriter):
        if isinstance(op.rhs.owner, ConstantOp) and len(shape_of(op.rhs)) == 2:
            t = TransposeOp(op.rhs, [1, 0])
            rewriter.replace(op, [t, LinearOp(op.lhs, t.result)])


class LinearPlusBias(RewritePattern):
    # linear(x, w) + b = linear(x, w, b) when b has shape [N] (or [1, ..., 1, N])
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: AddOp, rewriter: PatternRewriter):
        for lin, b in ((op.lhs.owner, op.rhs), (op.rhs.owner, op.lhs)):
            if not isinstance(lin, LinearOp) or lin.bias is not None:
                continue
            if not lin.result.has_one_use() or op.result.type != lin.result.type:
                continue
            n = shape_of(lin.result)[-1]
            b_shape = shape_of(b)
            if not b_shape or b_shape[-1] != n or any(d != 1 for d in b_shape[:-1]):
                continue
            new_ops: list[Operation] = []
            if len(b_shape) != 1:
                flat = ReshapeOp(b, [n])
                new_ops.append(flat)
                b = flat.result
            new_ops.append(LinearOp(lin.input, lin.weight, b))
            rewriter.replace(op, new_ops)
            rewriter.erase(lin)
            return


_PATTERNS: dict[str, tuple[RewritePattern, ...]] = {
    TransposeOp.name: (TransposeOfTranspose(), IdentityTranspose()),
    ReshapeOp.name: (ReshapeOfReshape(), IdentityReshape()),
    MatmulOp.name: (MatmulOfTranspose(), MatmulOfConstant()),
    AddOp.name: (LinearPlusBias(),),
}


def patterns_for(op: type[Operation]) -> tuple[RewritePattern, ...]:
    """The canonicalization patterns rooted at ops of this class."""
    return _PATTERNS.get(op.name, ())
