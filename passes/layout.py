"""`layout`: channels-last (NHWC) activations for convolutions and pools.

The C backend's convolution reads each pixel's channels as one contiguous
run and writes a tile of pixels x output channels; over NCHW planes every
conv pays a transposing copy of its input and a transposed store of its
output. This pass gives the graph channels-last activations between the
first conv and the last one, with transposes only at the boundary:

1. Every float32 `hy.conv2d` with constant weights (not a depthwise conv
   with a channel multiplier) and every float32 `hy.max_pool2d` /
   `hy.avg_pool2d` with static channels and plane becomes its `_nhwc` form
   between two transposes:

       // conv2d(x) = transpose(conv2d_nhwc(transpose(x, [0, 2, 3, 1])), [0, 3, 1, 2])

2. A transpose back to NCHW sinks through the elementwise ops that read it,
   when every other operand is the same transpose, a scalar, a constant or
   a small tensor (a bias, a scale) that can be transposed instead:

       // relu(transpose(x, p)) = transpose(relu(x), p)
       // add(transpose(a, p), transpose(b, p)) = transpose(add(a, b), p)

3. A global average pool of such a transpose is a mean over the plane:

       // adaptive_avg_pool2d(transpose(x, [0, 3, 1, 2])) to 1x1 = transpose(reduce_mean(x, [1, 2]), [0, 3, 1, 2])

4. Back-to-back transposes cancel (canonicalize's laws, run at the end):

       // transpose(transpose(x, p), q) = transpose(x, p∘q); transpose(x, identity) = x

What is left is one transpose per graph input that a conv reads and one
per value a layout-blind op (a flatten, a linear, an output) reads:

    %0 = hy.transpose %x perm [0, 2, 3, 1] : tensor<1x3x32x32xf32> -> tensor<1x32x32x3xf32>
    %1 = hy.conv2d_nhwc %0, %w1, %b1 stride [1, 1] padding [1, 1] : (...) -> tensor<1x32x32x32xf32>
    %2 = hy.relu %1 : tensor<1x32x32x32xf32>
    %3 = hy.conv2d_nhwc %2, %w2, %b2 stride [1, 1] padding [1, 1] : (...) -> tensor<1x32x32x64xf32>
    %4 = hy.relu %3 : tensor<1x32x32x64xf32>
    %5 = hy.reduce_mean %4 axes [1, 2] keepdim : tensor<1x32x32x64xf32> -> tensor<1x1x1x64xf32>
    %6 = hy.transpose %5 perm [0, 3, 1, 2] : tensor<1x1x1x64xf32> -> tensor<1x64x1x1xf32>

Ops inside `hy.fused` regions are left alone (run `layout` before `fuse`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import Float32Type, ModuleOp, TensorType
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.canonicalize import CanonicalizePass
from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination
from xdsl.transforms.dead_code_elimination import region_dce

from hybridize.ir.base import BinaryOp, UnaryOp
from hybridize.ir.elementwise import CastOp, CompareOp, WhereOp
from hybridize.ir.locations import keep_location
from hybridize.ir.nn import (
    AdaptiveAvgPool2dOp,
    AvgPool2dNhwcOp,
    AvgPool2dOp,
    Conv2dNhwcOp,
    Conv2dOp,
    MaxPool2dNhwcOp,
    MaxPool2dOp,
)
from hybridize.ir.reduce import ReduceMeanOp
from hybridize.ir.shape import ReshapeOp, TransposeOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import DYNAMIC, shape_of

TO_NHWC = (0, 2, 3, 1)
"""[N, C, H, W] -> [N, H, W, C]."""
TO_NCHW = (0, 3, 1, 2)
"""[N, H, W, C] -> [N, C, H, W]."""

SMALL_OPERAND = 4096
"""Elements of a non-transposed operand (a bias, a scale) that an elementwise
op may read through an added transpose when a transpose sinks past it."""


def _top_level(op: Operation) -> bool:
    return isinstance(op.parent_op(), FuncOp)


def _channels_last_ready(value: SSAValue) -> bool:
    """A float32 [N, C, H, W] value whose C, H and W are static."""
    t = value.type
    if not isinstance(t, TensorType) or not isinstance(t.element_type, Float32Type):
        return False
    shape = shape_of(value)
    return len(shape) == 4 and all(d != DYNAMIC for d in shape[1:])


def _between_transposes(rewriter: PatternRewriter, op: Operation, make) -> None:
    """Replace `op` by `make(transpose(op's input, TO_NHWC))` transposed back."""
    into = TransposeOp(op.operands[0], TO_NHWC)
    inner = make(into.results[0])
    back = TransposeOp(inner.results[0], TO_NCHW)
    rewriter.replace(op, [into, inner, back])


class ConvToNhwc(RewritePattern):
    # conv2d(x) = transpose(conv2d_nhwc(transpose(x, [0, 2, 3, 1])), [0, 3, 1, 2])
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: Conv2dOp, rewriter: PatternRewriter):
        if not _top_level(op) or not _channels_last_ready(op.input) or not _channels_last_ready(op.result):
            return
        if not isinstance(op.weight.owner, ConstantOp):
            return
        o, cg = shape_of(op.weight)[:2]
        c, g = shape_of(op.input)[1], op.group_count
        if cg == 0 or (g == c and g > 1 and o != c):  # no channels; a depthwise conv with a channel multiplier
            return
        _between_transposes(
            rewriter,
            op,
            lambda x: Conv2dNhwcOp(
                x, op.weight, op.bias, stride=op.strides, padding=op.padding_values, dilation=op.dilations, groups=g
            ),
        )


class PoolToNhwc(RewritePattern):
    # pool(x) = transpose(pool_nhwc(transpose(x, [0, 2, 3, 1])), [0, 3, 1, 2])
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not isinstance(op, MaxPool2dOp | AvgPool2dOp) or not _top_level(op):
            return
        if not _channels_last_ready(op.input) or not _channels_last_ready(op.result):
            return
        out = shape_of(op.result)[2:]
        if isinstance(op, MaxPool2dOp):
            make = lambda x: MaxPool2dNhwcOp(x, op.kernels, op.strides, op.paddings, out)  # noqa: E731
        else:
            make = lambda x: AvgPool2dNhwcOp(x, op.kernels, op.strides, op.paddings, out, op.include_pad)  # noqa: E731
        _between_transposes(rewriter, op, make)


class GlobalPoolOfTranspose(RewritePattern):
    # adaptive_avg_pool2d(transpose(x, [0, 3, 1, 2])) to 1x1 = transpose(reduce_mean(x, [1, 2], keepdim), [0, 3, 1, 2])
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: AdaptiveAvgPool2dOp, rewriter: PatternRewriter):
        t = op.input.owner
        if not _top_level(op) or not isinstance(t, TransposeOp) or t.permutation != TO_NCHW:
            return
        if tuple(shape_of(op.result)[2:]) != (1, 1) or any(d in (0, DYNAMIC) for d in shape_of(t.input)[1:3]):
            return
        mean = ReduceMeanOp(t.input, [1, 2], keepdim=True)
        rewriter.replace(op, [mean, TransposeOp(mean.results[0], TO_NCHW)])


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _elementwise(op: Operation) -> bool:
    return isinstance(op, UnaryOp | BinaryOp | CompareOp | WhereOp | CastOp)


class SinkTranspose(RewritePattern):
    # f(transpose(a, p), transpose(b, p), s) = transpose(f(a, b, transpose(s, p^-1)), p)  (f elementwise)
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not _elementwise(op) or not _top_level(op) or len(op.results) != 1:
            return
        out = shape_of(op.results[0])
        if len(out) != 4:
            return
        inner_of = {}
        for v in op.operands:
            t = v.owner
            if isinstance(t, TransposeOp) and t.permutation == TO_NCHW and shape_of(v) == out:
                inner_of[v] = t.input
        if not inner_of:
            return
        inv = _inverse(TO_NCHW)
        new_ops: list[Operation] = []
        operands = []
        for v in op.operands:
            if v in inner_of:
                operands.append(inner_of[v])
                continue
            shape = shape_of(v)
            if len(shape) == 0:
                operands.append(v)
                continue
            folds = isinstance(v.owner, ConstantOp)  # canonicalize transposes a constant once, at compile time
            if len(shape) > 4 or any(d == DYNAMIC for d in shape) or (not folds and int(np.prod(shape)) > SMALL_OPERAND):
                return
            if len(shape) < 4:
                r = ReshapeOp(v, (1,) * (4 - len(shape)) + tuple(shape))
                new_ops.append(r)
                v = r.results[0]
            t = TransposeOp(v, inv)
            new_ops.append(t)
            operands.append(t.results[0])
        result_type = op.results[0].type
        inner_type = TensorType(result_type.element_type, [out[i] for i in inv])
        inner = type(op).create(
            operands=operands,
            result_types=[inner_type],
            properties=dict(op.properties),
            attributes=dict(op.attributes),
        )
        back = TransposeOp(inner.results[0], TO_NCHW)
        rewriter.replace(op, [*new_ops, inner, back])


@dataclass(frozen=True)
class Layout(ModulePass):
    """Channels-last convolutions and pools, with the transposes between
    them cancelled (see the module docstring); `pools=false` keeps pools NCHW."""

    name = "layout"

    pools: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns: list[RewritePattern] = [ConvToNhwc(), SinkTranspose(), GlobalPoolOfTranspose()]
        if self.pools:
            patterns.append(PoolToNhwc())
        PatternRewriteWalker(GreedyRewritePatternApplier(list(keep_location(patterns))), apply_recursively=True).rewrite_module(op)
        CanonicalizePass().apply(ctx, op)
        CommonSubexpressionElimination().apply(ctx, op)  # one transpose per value, for every reader
        for f in op.walk():
            if isinstance(f, FuncOp):
                region_dce(f.body)
