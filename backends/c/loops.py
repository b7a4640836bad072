"""Tensors as generated C sees them, and the vectorized loop nests of
elementwise ops (broadcast strides, adjacent dims merged)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.ir import Operation

from hybridize.backends.c.scalar import scalar_body
from hybridize.backends.dims import Dim, broadcast_strides, contiguous_strides, index_expr, product

@dataclass
class Tensor:
    """A value as the C code sees it: a pointer variable, its shape as `Dim`s
    (static numbers, or multiples of the batch `n`) and its C element type."""

    ptr: str
    shape: tuple[Dim, ...]
    ctype: str
    const: np.ndarray | None = None  # the value, for a constant (kernels may pack it at build time)

    @property
    def count(self) -> Dim:
        return product(self.shape)


def collapse(shape: Sequence[Dim], all_strides: list[list[Dim]]) -> tuple[list[Dim], list[list[Dim]]]:
    """Merge adjacent dims that every operand walks contiguously; drop 1s."""
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    new_shape: list[Dim] = []
    new_strides: list[list[Dim]] = [[] for _ in all_strides]
    for d in dims:
        if new_shape and all(s[-1] == st[d] * shape[d] for s, st in zip(new_strides, all_strides)):
            new_shape[-1] = new_shape[-1] * shape[d]
            for s, st in zip(new_strides, all_strides):
                s[-1] = st[d]
            continue
        new_shape.append(shape[d])
        for s, st in zip(new_strides, all_strides):
            s.append(st[d])
    return new_shape, new_strides


def loop_nest(out: Tensor, ins: Sequence[Tensor], body: Callable[[list[str]], tuple[list[str], str]]) -> list[str]:
    """out[i] = body(ins at the broadcast index i), innermost loop vectorized."""
    strides = [contiguous_strides(out.shape)] + [broadcast_strides(t.shape, out.shape) for t in ins]
    shape, strides = collapse(out.shape, strides)
    idx = [f"i{d}" for d in range(len(shape))]
    loads = [f"{t.ptr}[{index_expr(idx, s)}]" for t, s in zip(ins, strides[1:])]
    stmts, result = body(loads)
    lines: list[str] = ["{"]
    for d, n in enumerate(shape):
        if d == len(shape) - 1:
            lines.append("#pragma omp simd")
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    lines += stmts + [f"{out.ptr}[{index_expr(idx, strides[0])}] = {result};"]
    lines += ["}"] * len(shape) + ["}"]
    return lines


def elementwise(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    return loop_nest(out, args, scalar_body([op], op.operands, op.results[0], out.ctype))
