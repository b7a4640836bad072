"""Linear and matmul kernels (fusion anchors)."""

from __future__ import annotations


from hybridize.backends.c.epilogue import Epilogue
from hybridize.backends.c.loops import Tensor
from hybridize.backends.dims import Dim, broadcast_strides, contiguous_strides, index_expr, product
from hybridize.ir.linalg import LinearOp, MatmulOp

def linear_rows(op: LinearOp, args: list[Tensor], out: Tensor, epilogue: Epilogue) -> list[str]:
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


def matmul_rows(op: MatmulOp, args: list[Tensor], out: Tensor, epilogue: Epilogue) -> list[str]:
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
    lines = ["{"]
    for d, size in enumerate(batch):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {size}; ++{idx[d]}) {{")
    lines += [
        f"const {t} *ab = {a.ptr} + ({index_expr(idx, sa)}) * ({m * k});",
        f"const {t} *bb = {b.ptr} + ({index_expr(idx, sb)}) * ({k * n});",
        f"const long rb = ({index_expr(idx, so)}) * ({m});",
        f"for (long i = 0; i < {m}; ++i) {{",
        "const long r = rb + i;",
        f"{t} *yr = {out.ptr} + r * {n};",
        f"for (long j = 0; j < {n}; ++j) yr[j] = 0;",
        f"for (long q = 0; q < {k}; ++q) {{",
        f"const {t} av = ab[i * {k} + q];",
        f"const {t} *br = bb + q * {n};",
        "#pragma omp simd",
        f"for (long j = 0; j < {n}; ++j) yr[j] += av * br[j];",
        "}",
        *epilogue("r"),
        "}",
    ]
    lines += ["}"] * len(batch) + ["}"]
    return lines
