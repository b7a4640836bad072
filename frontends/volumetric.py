"""3-D (volumetric) convolution on the 2-D convolution op, shared by the
torch and MXNet frontends.

The depth taps are stacked as channels of one 2-D convolution:

    x [N, C, D, H, W] -> [N*D', C*KD, H, W]   channel c*KD + kd = x[:, c, d'*sd + kd*dd]
    w [O, C/g, KD, KH, KW] -> [O, C/g*KD, KH, KW]
    conv2d -> [N*D', O, H', W'] -> [N, O, D', H', W']

Channel c*KD + kd keeps each group's channels contiguous, so `groups` carries
over unchanged. The stacked input is KD times the input (a video patch
embedding, kernel = stride, stacks nothing twice). With a dynamic batch, which
cannot merge with the depth, each output depth is its own 2-D convolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation, SSAValue

from hybridize.ir.nn import Conv2dOp
from hybridize.ir.shape import ConcatOp, PadOp, ReshapeOp, SliceOp, TransposeOp
from hybridize.ir.types import DYNAMIC, shape_of


def conv3d_as_2d(
    emit: Callable[[Operation], SSAValue],
    x: SSAValue,
    weight: SSAValue,
    bias: SSAValue | None,
    *,
    stride: Sequence[int],
    low: Sequence[int],
    high: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> SSAValue:
    """`x` [N, C, D, H, W] (static C, D, H, W) convolved with `weight`
    [O, C/groups, KD, KH, KW]; padding `low`/`high` per spatial dim."""
    out_c, group_c, kd, kh, kw = shape_of(weight)
    n, c, d, h, w = shape_of(x)
    if low[0] or high[0]:
        x = emit(PadOp(x, [0, 0, low[0], 0, 0], [0, 0, high[0], 0, 0]))
        d += low[0] + high[0]
    depth = (d - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    w2 = emit(ReshapeOp(weight, (out_c, group_c * kd, kh, kw)))
    pad2 = [low[1], low[2]] if list(low[1:]) == list(high[1:]) else [low[1], low[2], high[1], high[2]]
    if n == DYNAMIC:  # the batch cannot merge with the depth: one 2-D convolution per output depth
        planes = []
        for z in range(depth):
            slab = emit(SliceOp(x, [0, 0, z * stride[0], 0, 0], [1, 1, dilation[0], 1, 1], [n, c, kd, h, w]))
            y = emit(Conv2dOp(emit(ReshapeOp(slab, (n, c * kd, h, w))), w2, bias, stride=stride[1:], padding=pad2,
                              dilation=dilation[1:], groups=groups))  # fmt: skip
            planes.append(emit(ReshapeOp(y, (n, out_c, 1, *shape_of(y)[2:]))))
        return planes[0] if depth == 1 else emit(ConcatOp(planes, 2))
    taps = []
    for t in range(kd):
        tap = emit(SliceOp(x, [0, 0, t * dilation[0], 0, 0], [1, 1, stride[0], 1, 1], [n, c, depth, h, w]))
        taps.append(emit(ReshapeOp(tap, (n, c, 1, depth, h, w))))
    stacked = taps[0] if kd == 1 else emit(ConcatOp(taps, 2))  # [N, C, KD, D', H, W]
    moved = emit(TransposeOp(stacked, [0, 3, 1, 2, 4, 5]))
    flat = emit(ReshapeOp(moved, (n * depth, c * kd, h, w)))
    y = emit(Conv2dOp(flat, w2, bias, stride=stride[1:], padding=pad2, dilation=dilation[1:], groups=groups))
    _, o, oh, ow = shape_of(y)
    y = emit(ReshapeOp(y, (n, depth, o, oh, ow)))
    return emit(TransposeOp(y, [0, 2, 1, 3, 4]))
