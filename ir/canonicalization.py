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

import numpy as np
from xdsl.ir import Operation
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from hybridize.ir.base import constant_value
from hybridize.ir.elementwise import (
    AddOp,
    CastOp,
    ClampOp,
    MulOp,
    NegOp,
    NotOp,
    PowOp,
    ReciprocalOp,
    ReluOp,
    RsqrtOp,
    SqrtOp,
    WhereOp,
)
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.nn import BatchNormOp, Conv2dOp
from hybridize.ir.shape import (
    BroadcastOp,
    ConcatOp,
    PadOp,
    ReshapeOp,
    SliceOp,
    TransposeOp,
)
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import is_float, shape_of


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
        if isinstance(t, TransposeOp) and t.permutation == (1, 0) and is_float(op.lhs):  # linear is float-only
            rewriter.replace(op, LinearOp(op.lhs, t.input))


class MatmulOfConstant(RewritePattern):
    # matmul(x, C) = linear(x, transpose(C)) for a 2-D constant C (weights in [out, in] layout)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MatmulOp, rewriter: PatternRewriter):
        if isinstance(op.rhs.owner, ConstantOp) and len(shape_of(op.rhs)) == 2 and is_float(op.lhs):
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


# --- elementwise, shape and indexing ops ---


class NegOfNeg(RewritePattern):
    # neg(neg(x)) = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: NegOp, rewriter: PatternRewriter):
        if isinstance(op.input.owner, NegOp):
            rewriter.replace(op, [], [op.input.owner.input])


class NotOfNot(RewritePattern):
    # not(not(x)) = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: NotOp, rewriter: PatternRewriter):
        if isinstance(op.input.owner, NotOp):
            rewriter.replace(op, [], [op.input.owner.input])


class IdentityCast(RewritePattern):
    # cast(x : T) : T = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: CastOp, rewriter: PatternRewriter):
        if op.input.type == op.result.type:
            rewriter.replace(op, [], [op.input])


EXACT_CASTS = {
    ("i1", "i32"), ("i1", "i64"), ("i1", "f32"), ("i1", "f64"),
    ("i32", "i64"), ("i32", "f64"), ("f32", "f64"),
}  # fmt: skip
"""(from, to) element types whose cast loses nothing."""


class CastOfExactCast(RewritePattern):
    # cast(cast(x : A) : B) : C = cast(x : A) : C when A -> B is exact
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: CastOp, rewriter: PatternRewriter):
        inner = op.input.owner
        if not isinstance(inner, CastOp):
            return
        a, b = (str(v.type.element_type) for v in (inner.input, inner.result))
        if (a, b) in EXACT_CASTS:
            rewriter.replace(op, CastOp(inner.input, op.result.type.element_type))


class IdentityBroadcast(RewritePattern):
    # broadcast(x : T) : T = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BroadcastOp, rewriter: PatternRewriter):
        if op.input.type == op.result.type:
            rewriter.replace(op, [], [op.input])


class BroadcastOfBroadcast(RewritePattern):
    # broadcast(broadcast(x, s1), s2) = broadcast(x, s2)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BroadcastOp, rewriter: PatternRewriter):
        if isinstance(op.input.owner, BroadcastOp):
            rewriter.replace(op, BroadcastOp(op.input.owner.input, shape_of(op.result)))


class IdentitySlice(RewritePattern):
    # slice(x, starts 0, steps 1) : typeof(x) = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SliceOp, rewriter: PatternRewriter):
        whole = all(s == 0 for s in op.start_values) and all(s == 1 for s in op.step_values)
        if whole and op.input.type == op.result.type:
            rewriter.replace(op, [], [op.input])


class SliceOfSlice(RewritePattern):
    # slice(slice(x, a, s), b, t) = slice(x, a + b * s, s * t)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SliceOp, rewriter: PatternRewriter):
        inner = op.input.owner
        if not isinstance(inner, SliceOp):
            return
        starts = [a + b * s for a, b, s in zip(inner.start_values, op.start_values, inner.step_values)]
        steps = [s * t for s, t in zip(inner.step_values, op.step_values)]
        rewriter.replace(op, SliceOp(inner.input, starts, steps, shape_of(op.result)))


class IdentityPad(RewritePattern):
    # pad(x, low 0, high 0) = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PadOp, rewriter: PatternRewriter):
        if not any(op.low_values) and not any(op.high_values):
            rewriter.replace(op, [], [op.input])


class ConcatOfOne(RewritePattern):
    # concat(x) = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ConcatOp, rewriter: PatternRewriter):
        if len(op.inputs) == 1 and op.inputs[0].type == op.result.type:
            rewriter.replace(op, [], [op.inputs[0]])


class ClampAtZeroIsRelu(RewritePattern):
    # clamp(x, min=0) = relu(x)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ClampOp, rewriter: PatternRewriter):
        if op.bounds == (0.0, None):
            rewriter.replace(op, ReluOp(op.input))


class WhereOfSameValue(RewritePattern):
    # where(c, x, x) = x
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: WhereOp, rewriter: PatternRewriter):
        if op.on_true == op.on_false and op.on_true.type == op.result.type:
            rewriter.replace(op, [], [op.on_true])


def splat_value(value) -> float | None:
    """The one value of a constant whose elements are all equal, else None."""
    array = constant_value(value)
    if array is None or array.size == 0 or not (array == array.flat[0]).all():
        return None
    return float(array.flat[0])


class PowByConstant(RewritePattern):
    # pow(x, 1) = x; pow(x, 2) = x * x; pow(x, 0.5) = sqrt(x);
    # pow(x, -1) = reciprocal(x); pow(x, -0.5) = rsqrt(x) (what PyTorch computes)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PowOp, rewriter: PatternRewriter):
        e = splat_value(op.rhs)
        x = op.lhs
        if e is None or x.type != op.result.type:
            return
        if e == 1:
            rewriter.replace(op, [], [x])
        elif e == 2:
            rewriter.replace(op, MulOp(x, x))
        elif e in (0.5, -1, -0.5):
            rewriter.replace(op, {0.5: SqrtOp, -1: ReciprocalOp, -0.5: RsqrtOp}[e](x))


# --- nn ops: convolution, pooling, normalization, reductions, attention ---


def per_channel(value, channels: int, rank: int):
    """The [channels] vector of a constant that holds one value per channel of
    axis 1 of a rank-`rank` tensor (shape [C, 1, 1], [1, C, 1, 1], [1], ...), else None."""
    array = constant_value(value)
    if array is None or array.ndim > rank:
        return None
    shape = (1,) * (rank - array.ndim) + array.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(array.reshape(-1).astype(np.float64), (channels,))


class BatchNormOfConstants(RewritePattern):
    # batch_norm(x, m, v, w, b) = x * a + (b - m * a) with a = w / sqrt(v + eps), folded to [C, 1, ..., 1] constants
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BatchNormOp, rewriter: PatternRewriter):
        params = [op.mean, op.var, op.weight, op.bias]
        arrays = [None if v is None else constant_value(v) for v in params]
        if any(a is None and v is not None for a, v in zip(arrays, params)):
            return
        mean, var, weight, bias = (1.0 if a is None else a.astype(np.float64) for a in arrays)
        if op.bias is None:
            bias = 0.0
        with np.errstate(all="ignore"):
            scale = weight / np.sqrt(var + op.epsilon)
            dtype = arrays[0].dtype
            folded = [np.broadcast_to(c, np.shape(scale)).astype(dtype) for c in (scale, bias - mean * scale)]
        # Inf or NaN among the parameters or the folded constants: x * a + c would
        # give NaN (Inf - Inf) where (x - m) * a + b does not, so keep the op
        if not all(np.isfinite(c).all() for c in (mean, var, weight, bias, *folded)):
            return
        shape = (len(scale),) + (1,) * (len(shape_of(op.input)) - 2)
        a = ConstantOp.from_numpy(folded[0].reshape(shape))
        b = ConstantOp.from_numpy(folded[1].reshape(shape))
        mul = MulOp(op.input, a.result)
        rewriter.replace(op, [a, b, mul, AddOp(mul.result, b.result)])


class ConvThenChannelAffine(RewritePattern):
    # conv2d(x, w, b) * s = conv2d(x, w * s, b * s); conv2d(x, w, b) + t = conv2d(x, w, b + t)
    # for constants w, b and s, t with one value per output channel (BN folding), when the conv has one use
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: Conv2dOp, rewriter: PatternRewriter):
        use = op.result.get_unique_use()
        if use is None or not isinstance(use.operation, MulOp | AddOp):
            return
        user = use.operation
        channels = shape_of(op.weight)[0]
        vec = per_channel(user.operands[1 - use.index], channels, 4)
        w = constant_value(op.weight)
        if vec is None or w is None or user.results[0].type != op.result.type or not np.isfinite(vec).all():
            return  # an Inf or NaN factor would reach terms the unfolded sum never multiplies (0 * Inf)
        b = np.zeros(channels, w.dtype) if op.bias is None else constant_value(op.bias)
        if b is None:
            return
        new_ops: list[Operation] = []
        weight = op.weight
        if isinstance(user, MulOp):
            scaled = ConstantOp.from_numpy((w * vec[:, None, None, None]).astype(w.dtype))
            new_ops.append(scaled)
            weight = scaled.result
            bias = ConstantOp.from_numpy((b * vec).astype(w.dtype))
        else:
            bias = ConstantOp.from_numpy((b + vec).astype(w.dtype))
        conv = Conv2dOp(
            op.input,
            weight,
            bias.result,
            stride=op.strides,
            padding=op.padding_values,
            dilation=op.dilations,
            groups=op.group_count,
        )
        rewriter.replace(user, [*new_ops, bias, conv])
        rewriter.erase(op)


class PadIntoConv(RewritePattern):
    # conv2d(pad(x, zeros around H and W), padding p) = conv2d(x, padding p + the pad's sides)
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: Conv2dOp, rewriter: PatternRewriter):
        pad = op.input.owner
        if not isinstance(pad, PadOp) or pad.pad_value != 0 or np.copysign(1.0, pad.pad_value) < 0:
            return
        low, high = pad.low_values, pad.high_values
        if len(low) != 4 or any(low[:2]) or any(high[:2]):
            return
        (t, l), (b, r) = op.paddings, op.padding_ends
        padding = (t + low[2], l + low[3], b + high[2], r + high[3])
        if padding[:2] == padding[2:]:
            padding = padding[:2]
        conv = Conv2dOp(
            pad.input, op.weight, op.bias, stride=op.strides, padding=padding, dilation=op.dilations,
            groups=op.group_count,
        )  # fmt: skip
        rewriter.replace(op, [conv])


_PATTERNS: dict[str, tuple[RewritePattern, ...]] = {
    TransposeOp.name: (TransposeOfTranspose(), IdentityTranspose()),
    ReshapeOp.name: (ReshapeOfReshape(), IdentityReshape()),
    MatmulOp.name: (MatmulOfTranspose(), MatmulOfConstant()),
    AddOp.name: (LinearPlusBias(),),
    # --- elementwise, shape and indexing ops ---
    NegOp.name: (NegOfNeg(),),
    NotOp.name: (NotOfNot(),),
    CastOp.name: (IdentityCast(), CastOfExactCast()),
    BroadcastOp.name: (IdentityBroadcast(), BroadcastOfBroadcast()),
    SliceOp.name: (IdentitySlice(), SliceOfSlice()),
    PadOp.name: (IdentityPad(),),
    ConcatOp.name: (ConcatOfOne(),),
    ClampOp.name: (ClampAtZeroIsRelu(),),
    WhereOp.name: (WhereOfSameValue(),),
    PowOp.name: (PowByConstant(),),
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    BatchNormOp.name: (BatchNormOfConstants(),),
    Conv2dOp.name: (ConvThenChannelAffine(), PadIntoConv()),
}


def patterns_for(op: type[Operation]) -> tuple[RewritePattern, ...]:
    """The canonicalization patterns rooted at ops of this class."""
    return _PATTERNS.get(op.name, ())
