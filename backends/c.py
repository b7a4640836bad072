"""C backend: one C function per module, written so that GCC vectorizes its
inner loops at `-O3 -march=native` (contiguous innermost loops, `omp simd`
reductions, sizes known at compile time).

    int hy_forward(const void *in0, void *out0, const void *const *consts, void *arena)
    {
        char *A = (char *)arena;
        const float *x0 = (const float *)in0;
        float *y0 = (float *)out0;
        const float *c0 = (const float *)consts[0];
        float *v0 = (float *)(A + 0);
        /* hy.fused: hy.linear, hy.relu */
        for (long r = 0; r < 1; ++r) { ...dot products...; ...epilogue on the row... }
        ...
    }

The function returns 0, or a nonzero `ERRORS` code when a kernel finds bad
data at run time (an index out of range): kernels emit `return <code>;`.

Rules come from two tables: `SCALAR` gives each elementwise op's C expression
(used alone and inside fused loops), `KERNELS` emits the loop nest of every
other op. Nothing from the model's names reaches the source: the walker names
values `x0`, `c3`, `v7`, ....
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from xdsl.ir import Operation, SSAValue

from hybridize.backends.dims import (
    BATCH,
    Dim,
    broadcast_strides,
    contiguous_strides,
    dims_of,
    index_expr,
    product,
)
from hybridize.backends.program import Program, UnsupportedOpError
from hybridize.ir.base import Elementwise, FusionAnchor
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.structure import FusedOp
from hybridize.ir.types import element_kind, shape_of

FUNCTION = "hy_forward"

ERRORS: dict[int, str] = {
    1: "index out of range",
}
"""Codes a generated function may return, and what the caller raises for them."""


# --- elementwise math, comparisons, logic, casts: helpers of their SCALAR rules ---
# Constants are written in the result's C type (`0.5f` for float) so float
# math never widens to double; bounds use ternaries so NaN passes through.


def c_number(value: float, ctype: str) -> str:
    """`value` as a C literal of `ctype` (INFINITY / NAN from <math.h>)."""
    if ctype not in ("float", "double"):
        return str(int(value))
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    return repr(float(value)) + ("f" if ctype == "float" else "")


def c_clamp(x: str, lo: str | None, hi: str | None) -> str:
    """min(max(x, lo), hi) for an operand expression; NaN stays NaN."""
    if lo is not None:
        x = f"({x} < {lo} ? {lo} : {x})"
    if hi is not None:
        x = f"({x} > {hi} ? {hi} : {x})"
    return x


def _c_gelu(op: Operation, a: list[str], t: str) -> str:
    x = a[0]
    if op.approximate.data == "tanh":
        inner = f"{c_number(0.7978845608028654, t)} * ({x} + {c_number(0.044715, t)} * ({x} * {x} * {x}))"
        return f"({c_number(0.5, t)} * {x} * (1 + tanh({inner})))"
    return f"({x} * {c_number(0.5, t)} * (1 + erf({x} * {c_number(0.7071067811865476, t)})))"


def _c_abs(op: Operation, a: list[str], t: str) -> str:
    return f"fabs({a[0]})" if t in ("float", "double") else f"({a[0]} < 0 ? -{a[0]} : {a[0]})"


def _c_clamp(op: Operation, a: list[str], t: str) -> str:
    lo, hi = (None if b is None else c_number(b, t) for b in op.bounds)
    return c_clamp(a[0], lo, hi)


# --- scalar expressions of elementwise ops ---
# An entry is a format string over the operand expressions ({0}, {1}, ...) or a
# function (op, operand expressions, C type of the result) -> expression.
# Math functions come from <tgmath.h>, so `exp(x)` is expf for float operands.
ScalarRule = str | Callable[[Operation, list[str], str], str]

SCALAR: dict[str, ScalarRule] = {
    # arithmetic
    "hy.add": "({0} + {1})",
    "hy.sub": "({0} - {1})",
    "hy.mul": "({0} * {1})",
    "hy.div": "({0} / {1})",
    "hy.relu": "({0} < 0 ? 0 : {0})",  # NaN stays NaN, like np.maximum
    # --- elementwise math, comparisons, logic, casts ---
    "hy.pow": "pow({0}, {1})",
    "hy.maximum": "({0} > {1} || {0} != {0} ? {0} : {1})",  # NaN if either is NaN
    "hy.minimum": "({0} < {1} || {0} != {0} ? {0} : {1})",
    "hy.neg": "(-{0})",
    "hy.abs": _c_abs,
    "hy.exp": "exp({0})",
    "hy.expm1": "expm1({0})",
    "hy.log": "log({0})",
    "hy.log1p": "log1p({0})",
    "hy.sqrt": "sqrt({0})",
    "hy.rsqrt": "(1 / sqrt({0}))",
    "hy.reciprocal": "(1 / {0})",
    "hy.erf": "erf({0})",
    "hy.sigmoid": "(1 / (1 + exp(-{0})))",
    "hy.tanh": "tanh({0})",
    "hy.sin": "sin({0})",
    "hy.cos": "cos({0})",
    "hy.floor": "floor({0})",
    "hy.silu": "({0} / (1 + exp(-{0})))",
    "hy.hardswish": lambda op, a, t: f"({a[0]} * {c_clamp(f'({a[0]} + 3)', '0', '6')} / 6)",
    "hy.hardsigmoid": lambda op, a, t: f"({c_clamp(f'({a[0]} + 3)', '0', '6')} / 6)",
    "hy.softplus": "({0} > 20 ? {0} : log1p(exp({0})))",  # PyTorch's threshold
    "hy.gelu": _c_gelu,
    "hy.leaky_relu": lambda op, a, t: f"({a[0]} > 0 ? {a[0]} : {a[0]} * {c_number(op.slope.value.data, t)})",
    "hy.elu": lambda op, a, t: f"({a[0]} > 0 ? {a[0]} : {c_number(op.alpha.value.data, t)} * expm1({a[0]}))",
    "hy.clamp": _c_clamp,
    "hy.eq": "({0} == {1})",
    "hy.ne": "({0} != {1})",
    "hy.lt": "({0} < {1})",
    "hy.le": "({0} <= {1})",
    "hy.gt": "({0} > {1})",
    "hy.ge": "({0} >= {1})",
    "hy.and": "({0} & {1})",
    "hy.or": "({0} | {1})",
    "hy.xor": "({0} ^ {1})",
    "hy.not": "(!{0})",
    "hy.where": "({0} ? {1} : {2})",
    "hy.cast": lambda op, a, t: f"(({t}){a[0]})",  # to _Bool: nonzero (NaN too), like NumPy
    "hy.broadcast": "{0}",  # the loop nest reads the input at broadcast strides
}


def scalar_expr(op: Operation, args: list[str], ctype: str) -> str:
    rule = SCALAR.get(op.name)
    if rule is None:
        raise UnsupportedOpError(
            f"the C backend has no scalar rule for {op.name} (elementwise ops: {', '.join(sorted(SCALAR))})"
        )
    return rule.format(*args) if isinstance(rule, str) else rule(op, args, ctype)


@dataclass
class Tensor:
    """A value as the C code sees it: a pointer variable, its shape as `Dim`s
    (static numbers, or multiples of the batch `n`) and its C element type."""

    ptr: str
    shape: tuple[Dim, ...]
    ctype: str

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


def scalar_body(ops: Sequence[Operation], args: Sequence[SSAValue], result: SSAValue, ctype: str):
    """Scalar code of an elementwise op sequence: one `const T t<k>` per op."""

    def body(loads: list[str]) -> tuple[list[str], str]:
        names = {a: l for a, l in zip(args, loads)}
        stmts = []
        for k, op in enumerate(ops):
            t = element_kind(op.results[0]).c
            expr = scalar_expr(op, [names[o] for o in op.operands], t)
            stmts.append(f"const {t} t{k} = {expr};")
            names[op.results[0]] = f"t{k}"
        return stmts, names[result]

    return body


def elementwise(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    return loop_nest(out, args, scalar_body([op], op.operands, op.results[0], out.ctype))


# --- anchors: a loop over output rows; `epilogue(row)` runs on each finished row ---
Epilogue = Callable[[str], list[str]]


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


# --- nn ops: convolution (an anchor) ---
# For each output row (b, i) and group, the input rows the kernel reads are
# copied once into a zero-padded stack buffer, split into `stride` phases so
# every tap reads contiguous columns. A register tile of U output channels x
# 1-3 SIMD vectors of columns then accumulates over channels and taps (GCC/Clang
# vector extensions keep the tile in registers: ~2x the speed of loops over an
# accumulator row in memory). A 1x1 stride-1 conv runs over whole planes.
# Depthwise convs (one input channel per output) accumulate straight into the
# output row with all taps of a kernel row in one vectorized expression.

CONV_VECTOR_BYTES = 32
"""SIMD width of the register tile (AVX2; GCC splits it on narrower targets)."""
CONV_BUFFER_BYTES = 256 * 1024
"""Largest padded-input stack buffer; more input channels are done in chunks."""


@dataclass(frozen=True)
class ConvGeometry:
    """The static sizes of one conv2d: input [N, c, h, w], weight [o, c/groups,
    kh, kw], output [N, o, oh, ow]; `rows` real output rows per computed row
    (more than 1 for a 1x1 conv run over its flattened plane)."""

    c: int
    h: int
    w: int
    o: int
    groups: int
    kh: int
    kw: int
    oh: int
    ow: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    rows: int = 1

    @staticmethod
    def of(op: Operation, x: Tensor, w: Tensor, out: Tensor) -> ConvGeometry:
        (sh, sw), (ph, pw), (dh, dw) = op.strides, op.paddings, op.dilations
        c, h, wd = (int(d) for d in x.shape[1:])
        o, _, kh, kw = (int(d) for d in w.shape)
        return ConvGeometry(c, h, wd, o, op.group_count, kh, kw, int(out.shape[2]), int(out.shape[3]), sh, sw, ph, pw, dh, dw)

    @property
    def pointwise(self) -> bool:
        return self.kh == self.kw == 1 and (self.sh, self.sw, self.ph, self.pw) == (1, 1, 0, 0)

    def flattened(self) -> ConvGeometry:
        """A pointwise conv as one of height 1 over the flattened plane."""
        return replace(self, h=1, w=self.h * self.w, oh=1, ow=self.oh * self.ow, rows=self.oh)


def tap_range(out_size: int, in_size: int, stride: int, offset: int) -> tuple[int, int]:
    """Output indices [lo, hi) with 0 <= j*stride + offset < in_size."""
    lo = min(max(0, -(offset // stride)), out_size)
    hi = min(max(-((offset - in_size) // stride), lo), out_size)
    return lo, hi


def conv2d_rows(op: Operation, args: list[Tensor], out: Tensor, epilogue: Epilogue) -> list[str]:
    x, w = args[0], args[1]
    bias = args[2].ptr if len(args) == 3 else None
    g = ConvGeometry.of(op, x, w, out)
    if g.c == g.groups:
        body = _depthwise_conv(g, x, w, bias, out, epilogue)
    else:
        body = _conv_tiles(g.flattened() if g.pointwise else g, x, w, bias, out, epilogue)
    return ["{", f"for (long b = 0; b < {x.shape[0]}; ++b) {{", *body, "}", "}"]


def _conv_tiles(g: ConvGeometry, x: Tensor, w: Tensor, bias, out: Tensor, epilogue: Epilogue) -> list[str]:
    """The register-tiled conv (see above), one output row `i` of batch `b` at a time."""
    t = out.ctype
    og, cg = g.o // g.groups, g.c // g.groups
    size = 8 if t == "double" else 4
    vl = CONV_VECTOR_BYTES // size

    def used(nv: int) -> float:  # the share of computed columns that are real
        return g.ow / (-(-g.ow // (nv * vl)) * nv * vl)

    # tile: u channels x nv vectors of columns in <= 12 accumulator registers,
    # the widest that wastes little of the row's last block of columns
    nv = next((nv for nv in (3, 2) if used(nv) >= 0.85), max((1, 2, 3), key=used))
    u = max(d for d in range(1, min(8, 12 // nv) + 1) if og % d == 0)
    block = nv * vl
    # a buffer row is `sw` phases of `lp` columns: phase f, index k holds input column k*sw + f - pw
    lp = -(-g.ow // block) * block + (g.kw - 1) * g.dw // g.sw + 1
    chunk = max(1, min(cg, CONV_BUFFER_BYTES // (g.kh * g.sw * lp * size)))
    acc = [[f"a{k}_{v}" for v in range(nv)] for k in range(u)]
    lines = [
        f"typedef {t} vec __attribute__((vector_size({CONV_VECTOR_BYTES})));",
        f"{t} xb[{chunk}][{g.kh}][{g.sw}][{lp}];",
        f"for (long i = 0; i < {g.oh}; ++i) {{",
        # the kernel rows p with 0 <= i*sh - ph + p*dh < h
        f"const long h0 = i * {g.sh} - {g.ph};",
        f"const long p0 = h0 >= 0 ? 0 : (-h0 + {g.dh - 1}) / {g.dh};",
        f"const long p1 = h0 + {(g.kh - 1) * g.dh} < {g.h} ? {g.kh} : ({g.h} - h0 + {g.dh - 1}) / {g.dh};",
        f"for (long gr = 0; gr < {g.groups}; ++gr) {{",
        f"for (long cb = 0; cb < {cg}; cb += {chunk}) {{",
        f"const long cn = {cg} - cb < {chunk} ? {cg} - cb : {chunk};",
        "for (long ci = 0; ci < cn; ++ci) {",
        "for (long p = p0; p < p1; ++p) {",
        f"const {t} *xr = {x.ptr} + ((b * {g.c} + gr * {cg} + cb + ci) * {g.h} + h0 + p * {g.dh}) * {g.w};",
        f"for (long f = 0; f < {g.sw}; ++f) {{",
        "#pragma omp simd",
        f"for (long k = 0; k < {lp}; ++k) {{",
        f"const long col = k * {g.sw} + f - {g.pw};",
        f"xb[ci][p][f][k] = col >= 0 && col < {g.w} ? xr[col] : 0;",
        "}",
        "}",
        "}",
        "}",
        f"for (long oc = gr * {og}; oc < (gr + 1) * {og}; oc += {u}) {{",
        f"for (long j0 = 0; j0 < {g.ow}; j0 += {block}) {{",
        f"const long jn = {g.ow} - j0 < {block} ? {g.ow} - j0 : {block};",
        f"{t} tmp[{block}];",
        "vec " + ", ".join(a for row in acc for a in row) + ";",
    ]
    rows = [f"{out.ptr} + ((b * {g.o} + oc + {k}) * {g.oh} + i) * {g.ow} + j0" for k in range(u)]
    for k in range(u):  # the tile starts from the bias, or from the previous chunk's sums
        init = f"for (long v = 0; v < {block}; ++v) tmp[v] = {f'{bias}[oc + {k}]' if bias else '0'};"
        lines += [
            f"if (cb == 0) {{ {init} }} else memcpy(tmp, {rows[k]}, jn * sizeof({t}));",
            " ".join(f"memcpy(&{a}, tmp + {v * vl}, sizeof(vec));" for v, a in enumerate(acc[k])),
        ]
    lines += [
        "for (long ci = 0; ci < cn; ++ci) {",
        f"const {t} *wc = {w.ptr} + (oc * {cg} + cb + ci) * {g.kh * g.kw};",
        "for (long p = p0; p < p1; ++p) {",
    ]
    for q in range(g.kw):
        lines += [
            "{",
            f"const {t} *xs = &xb[ci][p][{q * g.dw % g.sw}][j0 + {q * g.dw // g.sw}];",
            "vec " + ", ".join(f"in{v}" for v in range(nv)) + ";",
            " ".join(f"memcpy(&in{v}, xs + {v * vl}, sizeof(vec));" for v in range(nv)),
        ]
        for k in range(u):
            fma = " ".join(f"{a} += wv * in{v};" for v, a in enumerate(acc[k]))
            lines.append(f"{{ const {t} wv = wc[{k * cg * g.kh * g.kw} + p * {g.kw} + {q}]; {fma} }}")
        lines.append("}")
    lines += ["}", "}"]
    for k in range(u):
        lines += [
            " ".join(f"memcpy(tmp + {v * vl}, &{a}, sizeof(vec));" for v, a in enumerate(acc[k])),
            f"memcpy({rows[k]}, tmp, jn * sizeof({t}));",
        ]
    return lines + [
        "}",  # j0
        "}",  # oc
        "}",  # cb
        "}",  # gr
        # every output row of step i is finished: the epilogue runs on each
        f"for (long oc = 0; oc < {g.o}; ++oc) {{",
        f"for (long i2 = i * {g.rows}; i2 < (i + 1) * {g.rows}; ++i2) {{",
        f"const long r = (b * {g.o} + oc) * {g.rows * g.oh} + i2;",
        f"{t} *yr = {out.ptr} + r * {g.ow // g.rows};",
        *epilogue("r"),
        "}",
        "}",
        "}",  # i
    ]


def _affine(var: str, scale: int, offset: int) -> str:
    """`var * scale + offset` without the trivial parts."""
    term = var if scale == 1 else f"{var} * {scale}"
    return term if offset == 0 else f"{term} {'+' if offset > 0 else '-'} {abs(offset)}"


def _depthwise_conv(g: ConvGeometry, x: Tensor, w: Tensor, bias, out: Tensor, epilogue: Epilogue) -> list[str]:
    """One input channel per output channel: accumulate straight into the
    output row; where every tap of a kernel row is inside the input, the taps
    are unrolled into one expression (one store per output element)."""
    t = out.ctype
    og = g.o // g.groups
    ranges = [tap_range(g.ow, g.w, g.sw, q * g.dw - g.pw) for q in range(g.kw)]
    inner_lo = max(lo for lo, _ in ranges)
    inner_hi = max(min(hi for _, hi in ranges), inner_lo)
    taps = " + ".join(f"wp[{q}] * xr[{_affine('j', g.sw, q * g.dw - g.pw)}]" for q in range(g.kw))
    lines = [
        f"for (long oc = 0; oc < {g.o}; ++oc) {{",
        f"const {t} *xc = {x.ptr} + (b * {g.c} + oc / {og}) * {g.h * g.w};",
        f"const {t} *wc = {w.ptr} + oc * {g.kh * g.kw};",
        f"for (long i = 0; i < {g.oh}; ++i) {{",
        f"const long r = (b * {g.o} + oc) * {g.oh} + i;",
        f"{t} *yr = {out.ptr} + r * {g.ow};",
        "#pragma omp simd",
        f"for (long j = 0; j < {g.ow}; ++j) yr[j] = {f'{bias}[oc]' if bias else '0'};",
        f"for (long p = 0; p < {g.kh}; ++p) {{",
        f"const long ih = i * {g.sh} - {g.ph} + p * {g.dh};",
        f"if (ih < 0 || ih >= {g.h}) continue;",
        f"const {t} *xr = xc + ih * {g.w};",
        f"const {t} *wp = wc + p * {g.kw};",
    ]
    if inner_lo < inner_hi:
        lines += ["#pragma omp simd", f"for (long j = {inner_lo}; j < {inner_hi}; ++j) yr[j] += {taps};"]
    for q, (lo, hi) in enumerate(ranges):  # the borders, tap by tap
        off = q * g.dw - g.pw
        for a, b in ((lo, min(hi, inner_lo)), (max(lo, inner_hi), hi)):
            if a < b:
                lines.append(f"for (long j = {a}; j < {b}; ++j) yr[j] += wp[{q}] * xr[{_affine('j', g.sw, off)}];")
    return lines + ["}", *epilogue("r"), "}", "}"]


ANCHORS: dict[str, Callable[[Operation, list[Tensor], Tensor, Epilogue], list[str]]] = {
    "hy.linear": linear_rows,
    "hy.matmul": matmul_rows,
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    "hy.conv2d": conv2d_rows,
}


def row_epilogue(ops, args: list[Tensor], arg_values, anchor: SSAValue, result: SSAValue, out: Tensor) -> Epilogue:
    """Elementwise ops applied to one finished output row `yr` (still in L1)."""
    if not ops:
        return lambda row: []
    n = out.shape[-1] if out.shape else Dim(1)
    lead = list(out.shape[:-1])
    lead_strides = contiguous_strides(lead)

    def epilogue(row: str) -> list[str]:
        lines = ["{"]
        loads = []
        for i, t in enumerate(args):
            s = broadcast_strides(t.shape, out.shape)
            off_terms = []
            for d, size in enumerate(lead):
                if s[d]:
                    coord = f"(({row} / ({lead_strides[d]})) % ({size}))" if len(lead) > 1 else row
                    off_terms.append(f"{coord} * {s[d]}")
            lines.append(f"const {t.ctype} *e{i} = {t.ptr} + {' + '.join(off_terms) or '0'};")
            last = s[-1] if s else Dim(0)
            loads.append(f"e{i}[{'j' if last == 1 else ('0' if last == 0 else f'j * {last}')}]")
        stmts, res = scalar_body(ops, [*arg_values, anchor], result, out.ctype)([*loads, "yr[j]"])
        lines += ["#pragma omp simd", f"for (long j = 0; j < {n}; ++j) {{", *stmts, f"yr[j] = {res};", "}", "}"]
        return lines

    return epilogue


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


def transpose(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    (x,) = args
    perm = op.permutation
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
    base = sum(start * int(s) for start, s in zip(op.start_values, strides) if start)
    idx = [f"i{d}" for d in range(len(out.shape))]
    src = index_expr(idx, [s * step for s, step in zip(strides, op.step_values)])
    lines = ["{"]
    for d, n in enumerate(out.shape):
        if d == len(out.shape) - 1:
            lines.append("#pragma omp simd")
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    lines.append(f"{out.ptr}[{index_expr(idx, contiguous_strides(out.shape))}] = {x.ptr}[{base} + {src}];")
    return lines + ["}"] * len(out.shape) + ["}"]


def pad(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Fill with the value, then copy the input's rows into place."""
    (x,) = args
    if not x.shape:
        return [f"{out.ptr}[0] = {x.ptr}[0];"]
    low = op.low_values
    out_strides = contiguous_strides(out.shape)
    base = sum(lo * int(s) for lo, s in zip(low, out_strides) if lo)
    idx = [f"i{d}" for d in range(len(x.shape) - 1)]
    lines = [
        "{",
        "#pragma omp simd",
        f"for (long i = 0; i < {out.count}; ++i) {out.ptr}[i] = {c_number(op.pad_value, out.ctype)};",
    ]
    for d, n in enumerate(x.shape[:-1]):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    dst = index_expr(idx, out_strides[:-1])
    src = index_expr(idx, contiguous_strides(x.shape)[:-1])
    row = x.shape[-1]
    lines.append(f"memcpy({out.ptr} + {base} + {dst}, {x.ptr} + {src}, sizeof({out.ctype}) * ({row}));")
    return lines + ["}"] * len(idx) + ["}"]


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
    """Running sums along the axis in double (int64_t for integers), like
    PyTorch's CPU kernel; one independent scan per (outer, inner) position."""
    (x,) = args
    axis = op.axis.value.data
    outer, n, inner = product(x.shape[:axis]), x.shape[axis], product(x.shape[axis + 1 :])
    acc = "double" if out.ctype in ("float", "double") else "int64_t"
    at = f"(o * {n} + i) * {inner} + j"
    return [
        "{",
        f"for (long o = 0; o < {outer}; ++o) {{",
        f"for (long j = 0; j < {inner}; ++j) {{",
        f"{acc} s = 0;",
        f"for (long i = 0; i < {n}; ++i) {{ s += {x.ptr}[{at}]; {out.ptr}[{at}] = ({out.ctype})s; }}",
        "}",
        "}",
        "}",
    ]


# --- nn ops: pooling, normalization, softmax, reductions, attention ---
# Float-only kernels (reductions also take integers and i1). Loops run over
# whole rows or planes with contiguous, vectorized innermost loops; the few
# temporaries are small fixed-size stack arrays.


def _literal(value: float, ctype: str) -> str:
    return f"(({ctype}){value!r})"


def pool2d(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Max or average over each window; one output row at a time, a tap's
    valid columns computed at generation time (no bounds checks inside)."""
    (x,) = args
    h, wd = int(x.shape[2]), int(x.shape[3])
    oh, ow = int(out.shape[2]), int(out.shape[3])
    (kh, kw), (sh, sw), (ph, pw) = op.kernels, op.strides, op.paddings
    t = out.ctype
    is_max = op.name == "hy.max_pool2d"
    lines = [
        f"for (long pl = 0; pl < {product(x.shape[:2])}; ++pl) {{",
        f"const {t} *xp = {x.ptr} + pl * {h * wd};",
        f"for (long i = 0; i < {oh}; ++i) {{",
        f"{t} *yr = {out.ptr} + (pl * {oh} + i) * {ow};",
        f"const long h0 = i * {sh} - {ph};",
        f"const long hs = h0 < 0 ? 0 : h0, he = h0 + {kh} < {h} ? h0 + {kh} : {h};",
        "#pragma omp simd",
        f"for (long j = 0; j < {ow}; ++j) yr[j] = {'-INFINITY' if is_max else '0'};",
        "for (long ih = hs; ih < he; ++ih) {",
        f"const {t} *xr = xp + ih * {wd};",
    ]
    for q in range(kw):
        lo, hi = tap_range(ow, wd, sw, q - pw)
        if lo < hi:
            src = f"xr[{_affine('j', sw, q - pw)}]"
            # padding never wins; NaN propagates like torch's max_pool2d
            step = f"const {t} v = {src}; yr[j] = (v > yr[j] || v != v) ? v : yr[j];" if is_max else f"yr[j] += {src};"
            lines += ["#pragma omp simd", f"for (long j = {lo}; j < {hi}; ++j) {{ {step} }}"]
    lines.append("}")
    if not is_max:
        if op.include_pad:
            rows = f"(h0 + {kh} < {h + ph} ? h0 + {kh} : {h + ph}) - h0"
            cols = f"(w0 + {kw} < {wd + pw} ? w0 + {kw} : {wd + pw}) - w0"
        else:
            rows = "he - hs"
            cols = f"(w0 + {kw} < {wd} ? w0 + {kw} : {wd}) - (w0 < 0 ? 0 : w0)"
        lines += [
            f"const long dh = {rows};",
            "#pragma omp simd",
            f"for (long j = 0; j < {ow}; ++j) {{",
            f"const long w0 = j * {sw} - {pw};",
            f"const long cnt = dh * ({cols});",
            f"yr[j] /= ({t})(cnt > 0 ? cnt : 1);",  # an empty window averages to 0
            "}",
        ]
    return lines + ["}", "}"]


def adaptive_avg_pool2d(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    (x,) = args
    h, wd = int(x.shape[2]), int(x.shape[3])
    oh, ow = int(out.shape[2]), int(out.shape[3])
    t = out.ctype
    planes = product(x.shape[:2])
    if oh == ow == 1:  # global average pooling: one reduction per plane
        return [
            f"for (long pl = 0; pl < {planes}; ++pl) {{",
            f"const {t} *xp = {x.ptr} + pl * {h * wd};",
            f"{t} s = 0;",
            "#pragma omp simd reduction(+:s)",
            f"for (long k = 0; k < {h * wd}; ++k) s += xp[k];",
            f"{out.ptr}[pl] = s / {h * wd};",
            "}",
        ]
    return [
        f"for (long pl = 0; pl < {planes}; ++pl) {{",
        f"const {t} *xp = {x.ptr} + pl * {h * wd};",
        f"for (long i = 0; i < {oh}; ++i) {{",
        f"const long h0 = i * {h} / {oh}, h1 = ((i + 1) * {h} + {oh - 1}) / {oh};",
        f"for (long j = 0; j < {ow}; ++j) {{",
        f"const long w0 = j * {wd} / {ow}, w1 = ((j + 1) * {wd} + {ow - 1}) / {ow};",
        f"{t} s = 0;",
        "for (long ih = h0; ih < h1; ++ih) {",
        "#pragma omp simd reduction(+:s)",
        f"for (long iw = w0; iw < w1; ++iw) s += xp[ih * {wd} + iw];",
        "}",
        f"{out.ptr}[(pl * {oh} + i) * {ow} + j] = s / ({t})((h1 - h0) * (w1 - w0));",
        "}",
        "}",
        "}",
    ]


def batch_norm(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    x, mean, var = args[:3]
    rest = iter(args[3:])
    weight = next(rest).ptr + "[ch]" if op.weight is not None else "1"
    bias = next(rest).ptr + "[ch]" if op.bias is not None else "0"
    c, inner = int(x.shape[1]), product(x.shape[2:])
    t = out.ctype
    return [
        f"for (long b = 0; b < {x.shape[0]}; ++b) {{",
        f"for (long ch = 0; ch < {c}; ++ch) {{",
        f"const {t} a = {weight} / sqrt({var.ptr}[ch] + {_literal(op.epsilon, t)});",
        f"const {t} m = {mean.ptr}[ch], s = {bias};",
        f"const {t} *xp = {x.ptr} + (b * {c} + ch) * {inner};",
        f"{t} *yp = {out.ptr} + (b * {c} + ch) * {inner};",
        "#pragma omp simd",
        f"for (long k = 0; k < {inner}; ++k) yp[k] = (xp[k] - m) * a + s;",
        "}",
        "}",
    ]


def layer_norm(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    x = args[0]
    axis = op.first_axis
    rows, width = product(x.shape[:axis]), product(x.shape[axis:])
    t = out.ctype
    y = "(xr[k] - mu) * rs"
    if len(args) > 1:
        y = f"{y} * {args[1].ptr}[k]"
    if len(args) > 2:
        y = f"{y} + {args[2].ptr}[k]"
    return [
        f"for (long r = 0; r < {rows}; ++r) {{",
        f"const {t} *xr = {x.ptr} + r * {width};",
        f"{t} *yr = {out.ptr} + r * {width};",
        f"{t} s = 0, v = 0;",
        "#pragma omp simd reduction(+:s)",
        f"for (long k = 0; k < {width}; ++k) s += xr[k];",
        f"const {t} mu = s / ({t})({width});",
        "#pragma omp simd reduction(+:v)",
        f"for (long k = 0; k < {width}; ++k) {{ const {t} d = xr[k] - mu; v += d * d; }}",
        f"const {t} rs = 1 / sqrt(v / ({t})({width}) + {_literal(op.epsilon, t)});",
        "#pragma omp simd",
        f"for (long k = 0; k < {width}; ++k) yr[k] = {y};",
        "}",
    ]


EXP_FLOOR = -88.0
"""Float exp arguments are clamped to this first: exp(-88) flushes to 0, so -inf gives 0."""


def exp_shifted(src: str, dst: str, t: str) -> tuple[list[str], list[str]]:
    """Two loop bodies computing `dst = exp(src)` for `src` <= 0 (an input
    minus its maximum): the first stores the clamped argument in `dst`, the
    second replaces it by its exp. For float the second is Cephes' polynomial
    on [-ln2/2, ln2/2] times 2^n built in the exponent bits (relative error
    < 1e-7), which GCC vectorizes, where a call to expf stays scalar without
    -ffast-math (a measured 10x); double calls libm's exp."""
    if t != "float":
        return [f"{dst} = {src};"], [f"{dst} = exp({dst});"]
    return [f"{{ const float e_d = {src}; {dst} = e_d < {EXP_FLOOR}f ? {EXP_FLOOR}f : e_d; }}"], [
        f"const float e_x = {dst};",
        "const float e_t = e_x * 1.44269504088896341f + 12582912.0f;",  # 1.5 * 2^23 + round(x / ln 2)
        "const float e_n = e_t - 12582912.0f;",
        "const float e_z = e_x - e_n * 0.693359375f + e_n * 2.12194440e-4f;",  # x - n ln 2, in two parts
        "float e_p = 1.9875691500e-4f;",
        "e_p = e_p * e_z + 1.3981999507e-3f;",
        "e_p = e_p * e_z + 8.3334519073e-3f;",
        "e_p = e_p * e_z + 4.1665795894e-2f;",
        "e_p = e_p * e_z + 1.6666665459e-1f;",
        "e_p = e_p * e_z + 5.0000001201e-1f;",
        "e_p = e_p * e_z * e_z + e_z + 1.0f;",
        "union { float f; int32_t i; } e_2n = { .f = e_t };",
        "e_2n.i = (e_2n.i - 0x4B400000 + 127) << 23;",  # the float 2^n
        f"{dst} = e_p * e_2n.f;",
    ]


SOFTMAX_COLUMNS = 64
"""Columns of a strided softmax handled together (stack arrays of this size)."""


def softmax(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Stable (log-)softmax: max, then the sum of exp(x - max) (kept in the
    output as scratch), then scale (or subtract the log). Along the last axis
    a row at a time; along another axis in blocks of columns."""
    (x,) = args
    a = op.dim
    outer, n, inner = product(x.shape[:a]), x.shape[a], product(x.shape[a + 1 :])
    t = out.ctype
    log = op.name == "hy.log_softmax"
    if inner == 1:
        clamp, exp = exp_shifted("xr[k] - m", "yr[k]", t)
        final = "yr[k] = (xr[k] - m) - ls;" if log else "yr[k] *= inv;"
        return [
            f"for (long r = 0; r < {outer}; ++r) {{",
            f"const {t} *xr = {x.ptr} + r * {n};",
            f"{t} *yr = {out.ptr} + r * {n};",
            f"{t} m = -INFINITY, s = 0;",
            "#pragma omp simd reduction(max:m)",
            f"for (long k = 0; k < {n}; ++k) m = xr[k] > m ? xr[k] : m;",
            "#pragma omp simd",
            f"for (long k = 0; k < {n}; ++k) {{",
            *clamp,
            "}",
            "#pragma omp simd reduction(+:s)",
            f"for (long k = 0; k < {n}; ++k) {{",
            *exp,
            "s += yr[k];",
            "}",
            f"const {t} {'ls = log(s)' if log else 'inv = 1 / s'};",
            "#pragma omp simd",
            f"for (long k = 0; k < {n}; ++k) {final}",
            "}",
        ]
    cols = min(SOFTMAX_COLUMNS, int(inner))
    clamp, exp = exp_shifted("xr[k] - m[k]", "yr[k]", t)
    final = "yr[k] = (xr[k] - m[k]) - s[k];" if log else "yr[k] /= s[k];"
    rows = [
        f"const {t} *xr = {x.ptr} + (r * {n} + d) * {inner} + col0;",
        f"{t} *yr = {out.ptr} + (r * {n} + d) * {inner} + col0;",
    ]
    return [
        f"for (long r = 0; r < {outer}; ++r) {{",
        f"for (long col0 = 0; col0 < {inner}; col0 += {cols}) {{",
        f"const long cn = {inner} - col0 < {cols} ? {inner} - col0 : {cols};",
        f"{t} m[{cols}], s[{cols}];",
        "for (long k = 0; k < cn; ++k) { m[k] = -INFINITY; s[k] = 0; }",
        f"for (long d = 0; d < {n}; ++d) {{",
        f"const {t} *xr = {x.ptr} + (r * {n} + d) * {inner} + col0;",
        "#pragma omp simd",
        "for (long k = 0; k < cn; ++k) m[k] = xr[k] > m[k] ? xr[k] : m[k];",
        "}",
        f"for (long d = 0; d < {n}; ++d) {{",
        *rows,
        "#pragma omp simd",
        "for (long k = 0; k < cn; ++k) {",
        *clamp,
        "}",
        "#pragma omp simd",
        "for (long k = 0; k < cn; ++k) {",
        *exp,
        "s[k] += yr[k];",
        "}",
        "}",
        *(["for (long k = 0; k < cn; ++k) s[k] = log(s[k]);"] if log else []),
        f"for (long d = 0; d < {n}; ++d) {{",
        *rows,
        "#pragma omp simd",
        f"for (long k = 0; k < cn; ++k) {final}",
        "}",
        "}",
        "}",
    ]


_REDUCE_INIT = {"sum": "0", "mean": "0", "any": "0"}
_INT_MIN_MAX = {"int32_t": ("INT32_MIN", "INT32_MAX"), "int64_t": ("INT64_MIN", "INT64_MAX")}


def reduction(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """y = fold(x) over `axes`. Adjacent dims that are all reduced or all kept
    merge, so the loop nest alternates kept and reduced runs of the input in
    memory order; the innermost run is a vectorized reduction into one
    accumulator (reduced) or a vectorized update of an output row (kept)."""
    (x,) = args
    kind = op.name.removeprefix("hy.reduce_")
    t = out.ctype
    axes = set(op.dims)
    runs: list[list] = []  # [size, reduced]
    for d, size in enumerate(x.shape):
        if size == 1:
            continue
        if runs and runs[-1][1] == (d in axes):
            runs[-1][0] = runs[-1][0] * size
        else:
            runs.append([size, d in axes])
    if not runs:
        runs = [[Dim(1), True]]
    in_strides = contiguous_strides([r[0] for r in runs])
    kept = [r[0] for r in runs if not r[1]]
    kept_strides = iter(contiguous_strides(kept))
    out_strides = [Dim(0) if r[1] else next(kept_strides) for r in runs]
    is_float = t in ("float", "double")
    if kind in ("max", "min"):
        lowest, highest = ("-INFINITY", "INFINITY") if is_float else _INT_MIN_MAX[t]
        init = lowest if kind == "max" else highest
        cmp = ">" if kind == "max" else "<"
        nan = " || v != v" if is_float else ""  # NaN propagates, as in NumPy and torch
        update = f"(v {cmp} {{y}}{nan}) ? v : {{y}}"
    else:
        init = _REDUCE_INIT[kind]
        update = "{y} | v" if kind == "any" else "{y} + v"
    idx = [f"i{d}" for d in range(len(runs))]
    src = f"{x.ptr}[{index_expr(idx, in_strides)}]"
    dst = f"{out.ptr}[{index_expr(idx, out_strides)}]"
    lines = [
        "{",
        "#pragma omp simd",
        f"for (long k = 0; k < {out.count}; ++k) {out.ptr}[k] = {init};",
    ]
    for d, (size, _) in enumerate(runs[:-1]):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {size}; ++{idx[d]}) {{")
    last = idx[-1]
    size, reduced = runs[-1]
    if reduced:
        if kind in ("max", "min"):
            flag = " reduction(|:bad)" if is_float else ""
            lines += [
                f"{t} acc = {init};",
                *(["int bad = 0;"] if is_float else []),
                f"#pragma omp simd reduction({kind}:acc){flag}",
                f"for (long {last} = 0; {last} < {size}; ++{last}) {{",
                f"const {t} v = {src};",
                f"acc = v {cmp} acc ? v : acc;",
                *(["bad |= v != v;"] if is_float else []),
                "}",
                *(["if (bad) acc = NAN;"] if is_float else []),
                f"{{ const {t} v = acc; {dst} = {update.format(y=dst)}; }}",
            ]
        else:
            op_sym = "|" if kind == "any" else "+"
            lines += [
                f"{t} acc = {init};",
                f"#pragma omp simd reduction({op_sym}:acc)",
                f"for (long {last} = 0; {last} < {size}; ++{last}) acc {op_sym}= {src};",
                f"{{ const {t} v = acc; {dst} = {update.format(y=dst)}; }}",
            ]
    else:
        lines += [
            "#pragma omp simd",
            f"for (long {last} = 0; {last} < {size}; ++{last}) {{ const {t} v = {src}; {dst} = {update.format(y=dst)}; }}",
        ]
    lines += ["}"] * (len(runs) - 1)
    if kind == "mean":
        count = product([r[0] for r in runs if r[1]])
        lines += ["#pragma omp simd", f"for (long k = 0; k < {out.count}; ++k) {out.ptr}[k] /= ({t})({count});"]
    return lines + ["}"]


ATTENTION_KEYS_BYTES = 256 * 1024
"""Largest stack copy of one batch's keys, transposed ([E, S])."""


def attention(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Per batch, the keys are transposed once into a stack buffer ([E, S]), so
    a query row's scores are E vectorized axpys over S; then masking, a stable
    softmax in a stack row of S scores, and the weighted sum of value rows.
    A fully masked row gives zeros (PyTorch's safe softmax)."""
    q, k, v = args[:3]
    mask = args[3] if len(args) > 3 else None
    batch = list(q.shape[:-2])
    length, e = int(q.shape[-2]), int(q.shape[-1])
    keys, ev = int(k.shape[-2]), int(v.shape[-1])
    t = out.ctype
    size = 8 if t == "double" else 4
    transposed = e * keys * size <= ATTENTION_KEYS_BYTES
    idx = [f"b{d}" for d in range(len(batch))]
    bi = index_expr(idx, contiguous_strides(batch)) if batch else "0"
    lines = ["{"]
    if transposed:
        lines.append(f"{t} kt[{e}][{keys}];")
    for d, size_d in enumerate(batch):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {size_d}; ++{idx[d]}) {{")
    lines += [
        f"const long bi = {bi};",
        f"const {t} *qb = {q.ptr} + bi * {length * e};",
        f"const {t} *kb = {k.ptr} + bi * {keys * e};",
        f"const {t} *vb = {v.ptr} + bi * {keys * ev};",
    ]
    if transposed:
        lines.append(f"for (long j = 0; j < {keys}; ++j) for (long c = 0; c < {e}; ++c) kt[c][j] = kb[j * {e} + c];")
    lines += [
        f"for (long l = 0; l < {length}; ++l) {{",
        f"const {t} *ql = qb + l * {e};",
        f"{t} *yl = {out.ptr} + (bi * {length} + l) * {ev};",
        f"{t} s[{keys}];",
        f"const long sn = {f'l + 1 < {keys} ? l + 1 : {keys}' if op.is_causal else keys};",  # causal: keys 0..l
    ]
    scale = _literal(op.scale_value, t)
    if transposed:
        # four key rows per pass over the scores: a quarter of the loads and stores
        quad = " + ".join(f"ql[c + {u}] * kt[c + {u}][j]" for u in range(4))
        lines += [
            "for (long j = 0; j < sn; ++j) s[j] = 0;",
            "long c = 0;",
            f"for (; c + 4 <= {e}; c += 4) {{",
            "#pragma omp simd",
            f"for (long j = 0; j < sn; ++j) s[j] += {quad};",
            "}",
            f"for (; c < {e}; ++c) {{",
            "#pragma omp simd",
            "for (long j = 0; j < sn; ++j) s[j] += ql[c] * kt[c][j];",
            "}",
            "#pragma omp simd",
            f"for (long j = 0; j < sn; ++j) s[j] *= {scale};",
        ]
    else:
        lines += [
            "for (long j = 0; j < sn; ++j) {",
            f"const {t} *kj = kb + j * {e};",
            f"{t} d = 0;",
            "#pragma omp simd reduction(+:d)",
            f"for (long c = 0; c < {e}; ++c) d += ql[c] * kj[c];",
            f"s[j] = d * {scale};",
            "}",
        ]
    if mask is not None:
        ms = broadcast_strides(mask.shape, [*batch, Dim(length), Dim(keys)])
        at = f"{mask.ptr}[{index_expr([*idx, 'l', 'j'], ms)}]"
        lines += [
            "#pragma omp simd",
            f"for (long j = 0; j < sn; ++j) s[j] = {at} ? s[j] : -INFINITY;"
            if mask.ctype == "_Bool"
            else f"for (long j = 0; j < sn; ++j) s[j] += {at};",
        ]
    lines += [
        f"{t} mx = -INFINITY, sum = 0;",
        "#pragma omp simd reduction(max:mx)",
        "for (long j = 0; j < sn; ++j) mx = s[j] > mx ? s[j] : mx;",
        "#pragma omp simd",
        f"for (long c = 0; c < {ev}; ++c) yl[c] = 0;",
        "if (mx == -INFINITY) continue;",
    ]
    clamp, exp = exp_shifted("s[j] - mx", "s[j]", t)
    lines += [
        "#pragma omp simd",
        "for (long j = 0; j < sn; ++j) {",
        *clamp,
        "}",
        "#pragma omp simd reduction(+:sum)",
        "for (long j = 0; j < sn; ++j) {",
        *exp,
        "sum += s[j];",
        "}",
        # four value rows per pass over the output row
        "long j = 0;",
        "for (; j + 4 <= sn; j += 4) {",
        f"const {t} *vj = vb + j * {ev};",
        "#pragma omp simd",
        f"for (long c = 0; c < {ev}; ++c) yl[c] += "
        + " + ".join(f"s[j + {u}] * vj[{u * ev} + c]" for u in range(4))
        + ";",
        "}",
        "for (; j < sn; ++j) {",
        f"const {t} *vj = vb + j * {ev};",
        "#pragma omp simd",
        f"for (long c = 0; c < {ev}; ++c) yl[c] += s[j] * vj[c];",
        "}",
        f"const {t} inv = 1 / sum;",
        "#pragma omp simd",
        f"for (long c = 0; c < {ev}; ++c) yl[c] *= inv;",
        "}",
    ]
    return lines + ["}"] * len(batch) + ["}"]


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


def generate(prog: Program) -> str:
    """The C source of `hy_forward` for a lowered, planned program."""
    tensors: dict[SSAValue, Tensor] = {}
    decls: list[str] = ["char *A = (char *)arena;"]
    params = parameters(prog)
    for value, storage in prog.storage.items():
        t = element_kind(value).c
        name = prog.names[value]
        tensors[value] = Tensor(name, dims_of(shape_of(value)), t)
        root = prog.storage[prog.root(value)]
        const = "const " if root.kind in ("input", "const") else ""
        if storage.kind == "input":
            decls.append(f"const {t} *{name} = (const {t} *)in{storage.index};")
        elif storage.kind == "output":
            decls.append(f"{t} *{name} = ({t} *)out{storage.index};")
        elif storage.kind == "const":
            decls.append(f"const {t} *{name} = (const {t} *)consts[{storage.index}];")
        elif storage.kind == "arena":
            static, per_batch = storage.offset
            decls.append(f"{t} *{name} = ({t} *)(A + {static}{f' + {per_batch} * {BATCH}' if per_batch else ''});")
        elif storage.kind == "view":
            decls.append(f"{const}{t} *{name} = ({const}{t} *){prog.names[storage.base]};")
        else:
            raise ValueError(f"the C backend needs a planned module ({name} has no buffer)")
    body: list[str] = []
    for step in prog.steps:
        if prog.storage[step.op.results[0]].kind == "view":
            continue
        args = [tensors[o] for o in step.op.operands]
        body += kernel_for(step.op)(step.op, args, tensors[step.op.results[0]])
    for c in prog.copies:
        out_t = Tensor(c.out, dims_of(shape_of(c.value)), element_kind(c.value).c)
        body.append(
            f"memcpy(({out_t.ctype} *)out{prog.output_names.index(c.out)}, {c.src}, "
            f"sizeof({out_t.ctype}) * ({out_t.count}));"
        )
    lines = [
        "/* generated by hybridize (C backend) */",
        f"/* forward{prog.signature()} */",
        "#include <stdint.h>",
        "#include <string.h>",
        "#include <tgmath.h>",
        "",
        f"int {FUNCTION}({', '.join(params)})",
        "{",
        *indent([*decls, "(void)A;", *body, "return 0;"]),
        "}",
        "",
    ]
    return "\n".join(lines)


def parameters(prog: Program) -> list[str]:
    """`[long hy_batch,] inputs, outputs, constants table, arena`."""
    params = [f"long {BATCH}"] if prog.dynamic else []
    params += [f"const void *in{i}" for i in range(len(prog.inputs))]
    params += [f"void *out{i}" for i in range(len(prog.outputs))]
    return params + ["const void *const *consts", "void *arena"]


def declaration(prog: Program) -> str:
    """The cdef line cffi needs for the generated function."""
    return f"int {FUNCTION}({', '.join(parameters(prog))});"


def indent(lines: list[str]) -> list[str]:
    """Indent generated C by brace depth so the source reads like hand-written code."""
    out, depth = [], 1
    for line in lines:
        depth -= line.startswith("}")
        out.append("    " * max(depth, 0) + line if not line.startswith("#pragma") else line)
        depth += line.endswith("{")
    return out
