"""Ordering kernels: stable sort and argsort (the library's `hy_sort`),
argmax and argmin (generated loops)."""

from __future__ import annotations

from xdsl.ir import Operation

from hybridize.backends.c.loops import Tensor
from hybridize.backends.dims import product

_SORT_KIND = {"float": "HY_SORT_F32", "double": "HY_SORT_F64", "int32_t": "HY_SORT_I32", "int64_t": "HY_SORT_I64"}


def sort(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """hy.sort (values) and hy.argsort (positions): one library call over
    every line along the axis (`return 2` when its workspace is missing)."""
    (x,) = args
    a = op.dim
    outer, n, inner = product(x.shape[:a]), x.shape[a], product(x.shape[a + 1 :])
    values, indices = (out.ptr, "NULL") if op.name == "hy.sort" else ("NULL", out.ptr)
    call = (
        f"hy_sort({_SORT_KIND[x.ctype]}, {int(op.is_descending)}, {outer}, {n}, {inner}, "
        f"{x.ptr}, {values}, {indices})"
    )
    return [f"if ({call}) return 2;"]


def arg_reduce(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """The first position of the extreme along the axis; the first NaN wins
    (PyTorch's argmax/argmin)."""
    (x,) = args
    a = op.dim
    outer, n, inner = product(x.shape[:a]), x.shape[a], product(x.shape[a + 1 :])
    t = x.ctype
    cmp = ">" if op.name == "hy.argmax" else "<"
    nan = t in ("float", "double")
    return [
        "{",
        f"for (long o = 0; o < {outer}; ++o) {{",
        f"for (long j = 0; j < {inner}; ++j) {{",
        f"const {t} *xl = {x.ptr} + o * {n} * {inner} + j;",
        f"{t} best = xl[0];",
        "long at = 0;",
        *(["if (best == best) {"] if nan else ["{"]),
        f"for (long i = 1; i < {n}; ++i) {{",
        f"const {t} v = xl[i * {inner}];",
        *(["if (v != v) { at = i; break; }"] if nan else []),
        f"if (v {cmp} best) {{ best = v; at = i; }}",
        "}",
        "}",
        f"{out.ptr}[o * {inner} + j] = at;",
        "}",
        "}",
        "}",
    ]
