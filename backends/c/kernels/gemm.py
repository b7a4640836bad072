"""Linear and matmul (fusion anchors): float32 runs on the kernel library's
GEMM (`library/gemm.c`) with constant weights packed at build time; other
dtypes keep a generic row kernel.

For `y = relu(x @ W.T + b)` with x of 1x512 the generated C is

    {
        const hy_operand ga = { HY_STRIDED, x0, 512, 1, 0, 0 };
        const hy_operand gb = { HY_PACKED, ((const float *)consts[6]), 0, 0, 0, 0 };
        const hy_epilogue ge = { c1, 0, HY_ACT_RELU, 0, 0, 0, 0, 0, 0 };
        const int rc = hy_sgemm(1, 1, 256, 512, &ga, &gb, v0, 0, 256, 0, &ge, hy_threads);
        if (rc) return rc;
    }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hybridize.backends.c.epilogue import FusedEpilogue, run_stride

__all__ = ["THREADS", "Operand", "linear", "matmul", "sgemm_call"]
from hybridize.backends.c.generate import THREADS, Unit
from hybridize.backends.c.loops import Tensor
from hybridize.backends.c.pack import pack_a, pack_b
from hybridize.backends.dims import Dim, broadcast_strides, contiguous_strides, index_expr, product
from hybridize.ir.linalg import LinearOp, MatmulOp

DYNAMIC_ROWS_GUESS = 64
"""Rows assumed for a dynamic batch when choosing a GEMM's orientation."""

SKINNY_N = 4
"""Linear layers with at most this many outputs (a classifier's last layer) run as dot products."""


@dataclass(frozen=True)
class Operand:
    """A `hy_operand` initializer: kind, pointer, strides, batch stride, conv geometry."""

    kind: str
    ptr: str
    rs: str = "0"
    cs: str = "0"
    batch_stride: str = "0"
    conv: str = "0"

    def c(self) -> str:
        return f"{{ {self.kind}, {self.ptr}, {self.rs}, {self.cs}, {self.batch_stride}, {self.conv} }}"


def padded_work(m: int, n: int, mr: int, nr: int) -> int:
    """Multiply-adds per k of an m x n GEMM computed in whole MR x NR tiles."""
    return -(-m // mr) * mr * -(-n // nr) * nr


def transposed_pays(m: int, n: int, k: int, unit: Unit) -> bool:
    """Whether computing C^T = B^T A^T costs clearly less than C = A B: it
    wastes less of the tile on ragged edges, but stores each element of C
    one by one (about two cycles each, against k / 32 cycles of FMAs)."""
    _, mr, nr = unit.tile
    fma = k / 32
    normal = padded_work(m, n, mr, nr) * fma
    transposed = padded_work(n, m, mr, nr) * (fma + 2)
    return transposed < 0.93 * normal


def static_or(d: Dim, guess: int) -> int:
    return int(d) if d.static else guess


def sgemm_call(
    unit: Unit,
    *,
    batch: Dim | str,
    m: Dim | str,
    n: Dim | str,
    k: Dim | str,
    a: Operand,
    b: Operand,
    c: str,
    ldc: Dim | str,
    c_batch_stride: Dim | str = "0",
    trans: bool = False,
    bias: str | None = None,
    bias_rows: bool = False,
    epilogue: FusedEpilogue,
    split: tuple[int, int],
    row_base: str = "0",
    prelude: tuple[str, ...] = (),
    c_offset: str = "0",
) -> list[str]:
    """One `hy_sgemm` call with its operands and epilogue, in a block of its own.
    `c` is the output's pointer plus `c_offset` elements (a group's slice): a
    residual the epilogue adds is read at the same offset."""
    return [
        "{",
        *prelude,
        f"const hy_operand ga = {a.c()};",
        f"const hy_operand gb = {b.c()};",
        *epilogue.declare(
            unit, split, bias=bias or "0", bias_rows=bias_rows, row_base=row_base, addend_offset=c_offset
        ),
        f"const int rc = hy_sgemm({batch}, {m}, {n}, {k}, &ga, &gb, {c}, {c_batch_stride}, {ldc}, {int(trans)}, "
        f"&ge, {THREADS});",
        "if (rc) return rc;",
        "}",
    ]


def _f32(*tensors: Tensor) -> bool:
    return all(t.ctype == "float" for t in tensors)


def linear(op: LinearOp, args: list[Tensor], out: Tensor, epilogue: FusedEpilogue, unit: Unit) -> list[str]:
    """y = x W^T + b over the last dim of x. Constant W is packed for the side
    of the GEMM that wastes less of the tile: B (normal) or A (C^T = W x^T)."""
    x, w = args[0], args[1]
    bias = args[2] if len(args) == 3 else None
    if not _f32(out, *args) or not w.shape[0].static or not w.shape[1].static:
        return linear_rows(op, args, out, epilogue.rows)
    n_out, k = int(w.shape[0]), int(w.shape[1])
    if n_out <= SKINNY_N:  # a few dot products per row: the row kernel wastes no tile
        return linear_rows(op, args, out, epilogue.rows)
    rows = product(x.shape[:-1])
    _, mr, nr = unit.tile
    split = (0, max(len(out.shape) - 1, 0))
    common = dict(k=k, c=out.ptr, ldc=n_out, bias=bias.ptr if bias else None, epilogue=epilogue, split=split, batch=1)
    if w.const is not None:
        weights = w.const.reshape(n_out, k)
        if transposed_pays(static_or(rows, DYNAMIC_ROWS_GUESS), n_out, k, unit):
            packed = unit.add_constant(pack_a(weights, mr))
            return sgemm_call(
                unit, m=n_out, n=rows, a=Operand("HY_PACKED", packed), b=Operand("HY_STRIDED", x.ptr, "1", str(k)),
                trans=True, **common,
            )
        packed = unit.add_constant(pack_b(weights.T, nr))
        return sgemm_call(
            unit, m=rows, n=n_out, a=Operand("HY_STRIDED", x.ptr, str(k), "1"), b=Operand("HY_PACKED", packed), **common
        )
    return sgemm_call(
        unit, m=rows, n=n_out, a=Operand("HY_STRIDED", x.ptr, str(k), "1"), b=Operand("HY_STRIDED", w.ptr, "1", str(k)),
        **common,
    )


def matmul(op: MatmulOp, args: list[Tensor], out: Tensor, epilogue: FusedEpilogue, unit: Unit) -> list[str]:
    """Batched a @ b on the library GEMM: one call over the flattened batch
    when both operands walk it with one stride (equal or broadcast batch)."""
    a, b = args
    if not _f32(out, a, b) or len(a.shape) < 2 or len(b.shape) < 2:
        return matmul_rows(op, args, out, epilogue.rows)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = list(out.shape[:-2])
    # batch strides in matrices: one stride each over the flat batch (equal or broadcast), else the row kernel
    sa, sb = (run_stride(batch, broadcast_strides(t.shape[:-2], batch)) for t in (a, b))
    if sa is None or sb is None:
        return matmul_rows(op, args, out, epilogue.rows)
    _, mr, nr = unit.tile
    bsa, bsb = str(sa * (m * k)), str(sb * (k * n))
    split = (len(out.shape) - 2, len(out.shape) - 1)
    common = dict(
        batch=product(batch), k=k, c=out.ptr, ldc=n, c_batch_stride=m * n, epilogue=epilogue, split=split
    )
    if b.const is not None and bsb == "0" and n.static and k.static:
        packed = unit.add_constant(pack_b(b.const.reshape(int(k), int(n)), nr))
        return sgemm_call(
            unit, m=m, n=n, a=Operand("HY_STRIDED", a.ptr, str(k), "1", bsa), b=Operand("HY_PACKED", packed), **common
        )
    if a.const is not None and bsa == "0" and m.static and k.static:
        packed = unit.add_constant(pack_a(a.const.reshape(int(m), int(k)), mr))
        return sgemm_call(
            unit, m=m, n=n, a=Operand("HY_PACKED", packed), b=Operand("HY_STRIDED", b.ptr, str(n), "1", bsb), **common
        )
    if m.static and n.static and k.static and transposed_pays(int(m), int(n), int(k), unit):
        return sgemm_call(
            unit, m=n, n=m, a=Operand("HY_STRIDED", b.ptr, "1", str(n), bsb),
            b=Operand("HY_STRIDED", a.ptr, "1", str(k), bsa), trans=True, **common,
        )
    return sgemm_call(
        unit, m=m, n=n, a=Operand("HY_STRIDED", a.ptr, str(k), "1", bsa), b=Operand("HY_STRIDED", b.ptr, str(n), "1", bsb),
        **common,
    )


# --- generic row kernels (float64 and integer GEMMs) ---


def linear_rows(op: LinearOp, args: list[Tensor], out: Tensor, epilogue: Callable[[str], list[str]]) -> list[str]:
    x, w = args[0], args[1]
    bias = args[2].ptr if len(args) == 3 else None
    n_out, k_in = w.shape
    rows = product(x.shape[:-1])
    t = out.ctype
    u = 4  # output columns per pass over the input row

    def finish(j: str, acc: str) -> str:
        return f"yr[{j}] = {acc} + {bias}[{j}];" if bias else f"yr[{j}] = {acc};"

    accs = ", ".join(f"s{j} = 0" for j in range(u))
    wrows = " ".join(f"const {t} *w{j} = {w.ptr} + (n + {j}) * {k_in};" for j in range(u))
    fma = " ".join(f"s{j} += xv * w{j}[k];" for j in range(u))
    return [
        f"for (long r = 0; r < {rows}; ++r) {{",
        f"const {t} *xr = {x.ptr} + r * {k_in};",
        f"{t} *yr = {out.ptr} + r * {n_out};",
        "long n = 0;",
        f"for (; n + {u} <= {n_out}; n += {u}) {{",
        wrows,
        f"{t} {accs};",
        f"#pragma omp simd reduction(+:{', '.join(f's{j}' for j in range(u))})",
        f"for (long k = 0; k < {k_in}; ++k) {{ const {t} xv = xr[k]; {fma} }}",
        *(finish(f"n + {j}", f"s{j}") for j in range(u)),
        "}",
        f"for (; n < {n_out}; ++n) {{",
        f"const {t} *w0 = {w.ptr} + n * {k_in};",
        f"{t} s0 = 0;",
        "#pragma omp simd reduction(+:s0)",
        f"for (long k = 0; k < {k_in}; ++k) s0 += xr[k] * w0[k];",
        finish("n", "s0"),
        "}",
        *epilogue("r"),
        "}",
    ]


def matmul_rows(op: MatmulOp, args: list[Tensor], out: Tensor, epilogue: Callable[[str], list[str]]) -> list[str]:
    a, b = args
    a2 = (Dim(1), *a.shape) if len(a.shape) == 1 else a.shape
    b2 = (*b.shape, Dim(1)) if len(b.shape) == 1 else b.shape
    m, k, n = a2[-2], a2[-1], b2[-1]
    batch = [Dim(1)] * max(len(a2) - 2, len(b2) - 2)
    for s in (a2[:-2], b2[:-2]):
        for i, d in enumerate(s):
            j = len(batch) - len(s) + i
            if d != 1:
                batch[j] = d
    sa = broadcast_strides(a2[:-2], batch)
    sb = broadcast_strides(b2[:-2], batch)
    so = contiguous_strides(batch)
    idx = [f"b{d}" for d in range(len(batch))]
    t = out.ctype
    # integer products and sums wrap (in unsigned arithmetic: no UB), as on the NumPy backend
    u = f"u{t}" if t.startswith("int") else None
    accumulate = f"yr[j] = ({t})(({u})yr[j] + ({u})av * ({u})br[j]);" if u else "yr[j] += av * br[j];"
    # The epilogue finishes rows of the output's last dim. A matrix @ vector
    # output's last dim is m, not n = 1: its row is the whole batch element,
    # finished after the i loop (row by row it would run m elements from each).
    batch_row = f"({index_expr(idx, so)})"
    vector_b = len(b.shape) == 1 and len(a.shape) > 1
    row_tail = [] if vector_b else epilogue("r")
    batch_tail = epilogue(batch_row) if vector_b else []
    if batch_tail:
        batch_tail = ["{", f"{t} *yr = {out.ptr} + rb;", *batch_tail, "}"]
    lines = ["{"]
    for d, size in enumerate(batch):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {size}; ++{idx[d]}) {{")
    lines += [
        f"const {t} *ab = {a.ptr} + ({index_expr(idx, sa)}) * ({m * k});",
        f"const {t} *bb = {b.ptr} + ({index_expr(idx, sb)}) * ({k * n});",
        f"const long rb = {batch_row} * ({m});",
        f"for (long i = 0; i < {m}; ++i) {{",
        "const long r = rb + i;",
        f"{t} *yr = {out.ptr} + r * {n};",
        f"for (long j = 0; j < {n}; ++j) yr[j] = 0;",
        f"for (long q = 0; q < {k}; ++q) {{",
        f"const {t} av = ab[i * {k} + q];",
        f"const {t} *br = bb + q * {n};",
        "#pragma omp simd",
        f"for (long j = 0; j < {n}; ++j) {accumulate}",
        "}",
        *row_tail,
        "}",
        *batch_tail,
    ]
    lines += ["}"] * len(batch) + ["}"]
    return lines
