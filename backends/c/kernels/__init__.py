"""Kernel families of the C backend and the tables that pick one per op."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation

from hybridize.backends.c.epilogue import Epilogue, row_epilogue
from hybridize.backends.c.kernels.conv import conv2d_rows
from hybridize.backends.c.kernels.gemm import linear_rows, matmul_rows
from hybridize.backends.c.kernels.nn import (
    adaptive_avg_pool2d,
    attention,
    batch_norm,
    layer_norm,
    pool2d,
    reduction,
    softmax,
)
from hybridize.backends.c.kernels.shape import concat, cumsum, gather, iota, pad, reshape, strided_slice, take, transpose
from hybridize.backends.c.loops import Tensor, elementwise, loop_nest
from hybridize.backends.c.scalar import SCALAR, scalar_body
from hybridize.backends.program import UnsupportedOpError
from hybridize.ir.base import Elementwise, FusionAnchor
from hybridize.ir.structure import FusedOp

ANCHORS: dict[str, Callable[[Operation, list[Tensor], Tensor, Epilogue], list[str]]] = {
    "hy.linear": linear_rows,
    "hy.matmul": matmul_rows,
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    "hy.conv2d": conv2d_rows,
}


def fused(op: FusedOp, args: list[Tensor], out: Tensor) -> list[str]:
    body = op.ops
    (result,) = op.yielded.values
    anchors = [b for b in body if b.has_trait(FusionAnchor)]
    block_args = list(op.body.block.args)
    if not anchors:
        return [f"/* {op.name}: {', '.join(b.name for b in body)} */"] + loop_nest(
            out, args, scalar_body(body, block_args, result, out.ctype)
        )
    (anchor,) = anchors
    epi = [b for b in body if b is not anchor]
    if any(not b.has_trait(Elementwise) for b in epi) or anchor.results[0].type != result.type:
        raise UnsupportedOpError(f"{op.name}: the C backend fuses one anchor with an elementwise epilogue")
    by_arg = dict(zip(block_args, args))
    anchor_args = [by_arg[v] for v in anchor.operands]
    used = [a for a in block_args if any(a is o for b in epi for o in b.operands)]
    # epilogue ops that precede the anchor do not read it; all run per element
    lines = [f"/* {op.name}: {', '.join(b.name for b in body)} */"]
    lines += ANCHORS[anchor.name](
        anchor, anchor_args, out, row_epilogue(epi, [by_arg[a] for a in used], used, anchor.results[0], result, out)
    )
    return lines


def kernel_for(op: Operation) -> Callable[[Operation, list[Tensor], Tensor], list[str]]:
    if isinstance(op, FusedOp):
        return fused
    if op.name in ANCHORS:
        return lambda op, args, out: ANCHORS[op.name](op, args, out, lambda row: [])
    if op.name in SCALAR:
        return elementwise
    if op.name in KERNELS:
        return KERNELS[op.name]
    supported = sorted([*SCALAR, *ANCHORS, *KERNELS, "hy.fused"])
    raise UnsupportedOpError(f"the C backend has no rule for {op.name} (supported: {', '.join(supported)})")


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
    "hy.iota": iota,
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    "hy.max_pool2d": pool2d,
    "hy.avg_pool2d": pool2d,
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
    "hy.attention": attention,
}
