"""Shape and indexing kernels: transpose, reshape, concat, slice, pad,
take, gather, iota, cumsum and cumprod."""

from __future__ import annotations

import math
from collections.abc import Sequence

from xdsl.ir import Operation

from hybridize.backends.c.generate import THREADS
from hybridize.backends.c.loops import Tensor
from hybridize.backends.c.scalar import c_number
from hybridize.backends.dims import Dim, contiguous_strides, index_expr, product

def swapped_blocks(perm: tuple[int, ...], shape) -> tuple[Dim, Dim, Dim] | None:
    """(batch, rows, cols) when `perm` keeps a leading block of dims and swaps
    the two blocks after it ([0, 3, 1, 2] on [N, H, W, C]: N, H*W, C), else None."""
    n = len(perm)
    lead = 0
    while lead < n and perm[lead] == lead:
        lead += 1
    if lead == n:
        return None
    split = perm[lead]  # the second input block starts here and comes first in the output
    tail = perm[lead:]
    if list(tail) != [*range(split, n), *range(lead, split)]:
        return None
    return product(shape[:lead]), product(shape[lead:split]), product(shape[split:])


def transpose(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    (x,) = args
    perm = op.permutation
    blocks = swapped_blocks(perm, x.shape) if x.ctype == "float" else None
    if blocks is not None:  # batched 2-D transpose in 8 x 8 register blocks
        batch, rows, cols = blocks
        return [f"hy_transpose_batched({batch}, {rows}, {cols}, {x.ptr}, {out.ptr}, {THREADS});"]
    in_strides = contiguous_strides(x.shape)
    idx = [f"i{d}" for d in range(len(out.shape))]
    src = index_expr(idx, [in_strides[p] for p in perm])
    lines = ["{"]
    for d, n in enumerate(out.shape):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    lines.append(f"{out.ptr}[{index_expr(idx, contiguous_strides(out.shape))}] = {x.ptr}[{src}];")
    return lines + ["}"] * len(out.shape) + ["}"]


def reshape(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    # Planned reshapes are views and emit nothing; this runs only when the
    # walker gave the result bytes of its own.
    return [f"memcpy({out.ptr}, {args[0].ptr}, sizeof({out.ctype}) * ({out.count}));"]


# --- shape and indexing ops ---
# Copies run as memcpy of contiguous runs or simple loop nests; index kernels
# check every index before they read (`return 1;` is "index out of range").


def _offsets(sizes: Sequence[Dim]) -> list[str]:
    """Running sums 0, s0, s0 + s1, ... as C expressions."""
    out, terms = [], []
    for s in sizes:
        out.append(" + ".join(map(str, terms)) or "0")
        terms.append(s)
    return out


def concat(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    axis = op.axis.value.data
    outer, row = product(out.shape[:axis]), product(out.shape[axis:])
    chunks = [product(t.shape[axis:]) for t in args]
    lines = ["{", f"for (long o = 0; o < {outer}; ++o) {{"]
    for t, chunk, off in zip(args, chunks, _offsets(chunks)):
        lines.append(
            f"memcpy({out.ptr} + o * {row} + ({off}), {t.ptr} + o * {chunk}, sizeof({out.ctype}) * ({chunk}));"
        )
    return lines + ["}", "}"]


def strided_slice(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    (x,) = args
    strides = contiguous_strides(x.shape)
    # a start past a dim whose stride holds the batch (time-major [T, ?, H] sliced in time) is a C expression
    base = " + ".join(f"({s * start})" for start, s in zip(op.start_values, strides) if start) or "0"
    idx = [f"i{d}" for d in range(len(out.shape))]
    src = index_expr(idx, [s * step for s, step in zip(strides, op.step_values)])
    lines = ["{"]
    for d, n in enumerate(out.shape):
        if d == len(out.shape) - 1:
            lines.append("#pragma omp simd")
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    lines.append(f"{out.ptr}[{index_expr(idx, contiguous_strides(out.shape))}] = {x.ptr}[({base}) + {src}];")
    return lines + ["}"] * len(out.shape) + ["}"]


def pad(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Each output row written once: a row of the input is copied between
    its left and right fill, every other row is filled whole."""
    (x,) = args
    if not x.shape:
        return [f"{out.ptr}[0] = {x.ptr}[0];"]
    low, t = op.low_values, out.ctype
    rank = len(out.shape)
    value = c_number(op.pad_value, t)

    def fill(dst: str, count) -> str:
        if op.pad_value == 0 and math.copysign(1.0, op.pad_value) > 0:  # +0.0: all bytes zero
            return f"memset({dst}, 0, sizeof({t}) * ({count}));"
        return f"for (long k = 0; k < ({count}); ++k) ({dst})[k] = {value};"

    idx = [f"i{d}" for d in range(rank - 1)]
    out_strides = contiguous_strides(out.shape)
    x_strides = contiguous_strides(x.shape)
    inside = " && ".join(f"{i} >= {lo} && {i} < {lo} + {n}" for i, lo, n in zip(idx, low, x.shape)) or "1"
    src = " + ".join(f"({i} - {lo}) * ({s})" for i, lo, s in zip(idx, low, x_strides[:-1])) or "0"
    n, lo = x.shape[-1], low[-1]
    lines = ["{"]
    for d in range(rank - 1):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {out.shape[d]}; ++{idx[d]}) {{")
    lines += [
        f"{t} *yr = {out.ptr} + {index_expr(idx, out_strides[:-1])};",
        f"if ({inside}) {{",
        *([fill("yr", lo)] if lo else []),
        f"memcpy(yr + {lo}, {x.ptr} + {src}, sizeof({t}) * ({n}));",
        *([fill(f"yr + {lo} + {n}", op.high_values[-1])] if op.high_values[-1] else []),
        "} else {",
        fill("yr", out.shape[-1]),
        "}",
    ]
    return lines + ["}"] * (rank - 1) + ["}"]


def _index_value(indices: Tensor, at: str, size: Dim) -> list[str]:
    """`q`, the index at `at`, after a bounds check (no read out of range)."""
    return [f"const long q = (long){indices.ptr}[{at}];", f"if (q < 0 || q >= {size}) return 1;"]


def take(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    x, indices = args
    axis = op.axis.value.data
    outer, size, inner = product(x.shape[:axis]), x.shape[axis], product(x.shape[axis + 1 :])
    count = indices.count
    return [
        "{",
        f"for (long o = 0; o < {outer}; ++o) {{",
        f"for (long k = 0; k < {count}; ++k) {{",
        *_index_value(indices, "k", size),
        f"memcpy({out.ptr} + (o * {count} + k) * {inner}, {x.ptr} + (o * {size} + q) * {inner}, "
        f"sizeof({out.ctype}) * ({inner}));",
        "}",
        "}",
        "}",
    ]


def gather(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    x, index = args
    axis = op.axis.value.data
    x_strides = contiguous_strides(x.shape)
    idx = [f"i{d}" for d in range(len(out.shape))]
    at = index_expr(idx, contiguous_strides(out.shape))
    src = index_expr([i for d, i in enumerate(idx) if d != axis], [s for d, s in enumerate(x_strides) if d != axis])
    lines = ["{"]
    for d, n in enumerate(out.shape):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    lines += _index_value(index, at, x.shape[axis])
    lines.append(f"{out.ptr}[{at}] = {x.ptr}[{src} + q * {x_strides[axis]}];")
    return lines + ["}"] * len(out.shape) + ["}"]


def iota(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """out[..., i, ...] = start + step * i along the axis, computed in double."""
    axis = op.axis.value.data
    idx = [f"i{d}" for d in range(len(out.shape))]
    lines = ["{"]
    for d, size in enumerate(out.shape):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {size}; ++{idx[d]}) {{")
    value = f"({out.ctype})({op.start.value.data!r} + {op.step.value.data!r} * (double){idx[axis]})"
    lines.append(f"{out.ptr}[{index_expr(idx, contiguous_strides(out.shape))}] = {value};")
    return lines + ["}"] * len(out.shape) + ["}"]


def cumsum(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Running sums along the axis in double (integers: in uint64_t, so they
    wrap as NumPy's, without signed-overflow UB), like PyTorch's CPU kernel;
    one independent scan per (outer, inner) position."""
    (x,) = args
    axis = op.axis.value.data
    outer, n, inner = product(x.shape[:axis]), x.shape[axis], product(x.shape[axis + 1 :])
    acc = "double" if out.ctype in ("float", "double") else "uint64_t"
    at = f"(o * {n} + i) * {inner} + j"
    product_scan = op.name == "hy.cumprod"  # the same scan with * (and 1)
    return [
        "{",
        f"for (long o = 0; o < {outer}; ++o) {{",
        f"for (long j = 0; j < {inner}; ++j) {{",
        f"{acc} s = {1 if product_scan else 0};",
        f"for (long i = 0; i < {n}; ++i) {{ s {'*' if product_scan else '+'}= ({acc}){x.ptr}[{at}]; {out.ptr}[{at}] = ({out.ctype})s; }}",
        "}",
        "}",
        "}",
    ]
