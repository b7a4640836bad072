"""Kernel families of the C backend and the tables that pick one per op."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from hybridize.backends.c.epilogue import FusedEpilogue
from hybridize.backends.c.fused import fused
from hybridize.backends.c.kernels.attention import attention as library_attention
from hybridize.backends.c.kernels.conv import conv2d, conv2d_nhwc
from hybridize.backends.c.kernels.gemm import linear, matmul
from hybridize.backends.c.kernels.nn import (
    adaptive_avg_pool2d,
    batch_norm,
    conv_transpose2d,
    group_norm,
    layer_norm,
    pool2d,
    pool2d_nhwc,
    reduction,
    softmax,
)
from hybridize.backends.c.kernels.resize import resize
from hybridize.backends.c.kernels.recurrent import recurrent
from hybridize.backends.c.kernels.shape import concat, cumsum, gather, iota, pad, reshape, strided_slice, take, transpose
from hybridize.backends.c.kernels.sort import arg_reduce, sort
from hybridize.backends.c.generate import Unit
from hybridize.backends.c.loops import Tensor, elementwise
from hybridize.backends.c.scalar import SCALAR
from hybridize.backends.program import UnsupportedOpError, where
from hybridize.ir.structure import FusedOp

Anchor = Callable[[Operation, list[Tensor], Tensor, FusedEpilogue, Unit], list[str]]

ANCHORS: dict[str, Anchor] = {
    "hy.linear": linear,
    "hy.matmul": matmul,
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    "hy.conv2d": conv2d,
    "hy.conv2d_nhwc": conv2d_nhwc,
}
"""Fusion anchors: kernels that take the fused elementwise epilogue."""


def emit(op: Operation, args: list[Tensor], out: Tensor, unit: Unit) -> list[str]:
    """The C statements computing `op` into `out`."""
    if isinstance(op, FusedOp):
        return fused(op, args, out, unit)
    if op.name in ANCHORS:
        return [f"/* {op.name} */", *ANCHORS[op.name](op, args, out, FusedEpilogue(out), unit)]
    if op.name in SCALAR:
        return elementwise(op, args, out)
    if op.name in KERNELS:
        return KERNELS[op.name](op, args, out)
    supported = sorted([*SCALAR, *ANCHORS, *KERNELS, "hy.fused"])
    raise UnsupportedOpError(f"the C backend has no rule for {op.name}{where(op)} (supported: {', '.join(supported)})")


KERNELS: dict[str, Callable[[Operation, list[Tensor], Tensor], list[str]]] = {
    "hy.transpose": transpose,
    "hy.reshape": reshape,
    # --- shape and indexing ops ---
    "hy.concat": concat,
    "hy.slice": strided_slice,
    "hy.pad": pad,
    "hy.take": take,
    "hy.gather": gather,
    "hy.cumsum": cumsum,
    "hy.cumprod": cumsum,
    "hy.iota": iota,
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    "hy.max_pool2d": pool2d,
    "hy.avg_pool2d": pool2d,
    "hy.max_pool2d_nhwc": pool2d_nhwc,
    "hy.avg_pool2d_nhwc": pool2d_nhwc,
    "hy.adaptive_avg_pool2d": adaptive_avg_pool2d,
    "hy.batch_norm": batch_norm,
    "hy.layer_norm": layer_norm,
    "hy.softmax": softmax,
    "hy.log_softmax": softmax,
    "hy.reduce_sum": reduction,
    "hy.reduce_mean": reduction,
    "hy.reduce_max": reduction,
    "hy.reduce_min": reduction,
    "hy.reduce_any": reduction,
    "hy.attention": library_attention,
    "hy.conv_transpose2d": conv_transpose2d,
    "hy.group_norm": group_norm,
    "hy.resize": resize,
    "hy.sort": sort,
    "hy.argsort": sort,
    "hy.argmax": arg_reduce,
    "hy.argmin": arg_reduce,
    # --- recurrent ops ---
    "hy.lstm": recurrent,
    "hy.gru": recurrent,
    "hy.rnn_tanh": recurrent,
    "hy.rnn_relu": recurrent,
}
