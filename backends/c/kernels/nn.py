"""NN kernels: pooling, normalization, softmax, reductions, attention."""

from __future__ import annotations

from xdsl.ir import Operation

from hybridize.backends.c.generate import THREADS
from hybridize.backends.c.kernels.conv import _affine, tap_range
from hybridize.backends.c.loops import Tensor, loop_nest
from hybridize.backends.dims import Dim, broadcast_strides, contiguous_strides, index_expr, product

# --- nn ops: pooling, normalization, softmax, reductions, attention ---
# Float-only kernels (reductions also take integers and i1). Loops run over
# whole rows or planes with contiguous, vectorized innermost loops; the few
# temporaries are small fixed-size stack arrays.


def _literal(value: float, ctype: str) -> str:
    return f"(({ctype}){value!r})"


def conv2d_no_channels(args: list[Tensor], out: Tensor, rows) -> list[str]:
    """A conv2d over 0 input channels sums nothing: its output is the bias
    (or 0), as in NumPy; `rows(r)` is the fused epilogue of output row r."""
    t = out.ctype
    if len(args) == 3:
        bias = Tensor(args[2].ptr, (out.shape[1], Dim(1), Dim(1)), t)
        lines = loop_nest(out, [bias], lambda loads: ([], loads[0]))
    else:
        lines = ["#pragma omp simd", f"for (long k = 0; k < {out.count}; ++k) {out.ptr}[k] = 0;"]
    finish = rows("r")
    if finish:
        lines += [
            f"for (long r = 0; r < {product(out.shape[:-1])}; ++r) {{",
            f"{t} *yr = {out.ptr} + r * {out.shape[-1]};",
            *finish,
            "}",
        ]
    return ["{", *lines, "}"]


def pool2d_nhwc(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Channels-last max or average pooling (the layout pass) on the library's
    `hy_pool2d_nhwc`, vectorized over channels."""
    (x,) = args
    h, wd, c = (int(d) for d in x.shape[1:])
    oh, ow = int(out.shape[1]), int(out.shape[2])
    (kh, kw), (sh, sw), (ph, pw) = op.kernels, op.strides, op.paddings
    is_max = op.name == "hy.max_pool2d_nhwc"
    include = 0 if is_max else int(op.include_pad)
    if x.ctype != "float" or out.ctype != "float":
        return _pool_nhwc_loops(x, out, is_max, include, h, wd, c, oh, ow, kh, kw, sh, sw, ph, pw)
    geometry = ", ".join(map(str, (c, h, wd, kh, kw, oh, ow, sh, sw, ph, pw, 1, 1)))
    return [
        "{",
        f"const hy_pool_nhwc_call gc = {{ {x.shape[0]}, {'HY_POOL_MAX' if is_max else 'HY_POOL_AVG'}, {include}, "
        f"{{ {geometry} }}, {x.ptr}, {out.ptr} }};",
        f"const int rc = hy_pool2d_nhwc(&gc, {THREADS});",
        "if (rc) return rc;",
        "}",
    ]


def _pool_nhwc_loops(x: Tensor, out: Tensor, is_max: bool, include: int, h, wd, c, oh, ow, kh, kw, sh, sw, ph, pw):
    """Channels-last pooling in another element type: each output element
    over its data window (NaN wins a max; an empty window gives -inf or 0;
    the divisor as `hy.avg_pool2d` defines it)."""
    t = out.ctype
    if is_max:  # + 0: a zero max is +0.0, as in NumPy
        init, update, finish = "-INFINITY", "a = v > a || v != v ? v : a;", "a + 0"
    else:
        init, update = "0", "a += v;"
        if include:
            dh, dw = f"(({h + ph} < hs + {kh} ? {h + ph} : hs + {kh}) - hs)", f"(({wd + pw} < ws + {kw} ? {wd + pw} : ws + {kw}) - ws)"
        else:
            dh, dw = "(he - h0)", "(we - w0)"
        finish = f"a / (({dh} > 1 ? {dh} : 1) * ({dw} > 1 ? {dw} : 1))"
    return [
        "{",
        f"for (long r = 0; r < {product(out.shape[:-1])}; ++r) {{",
        f"const long b = r / {oh * ow}, i = r / {ow} % {oh}, j = r % {ow};",
        f"const long hs = i * {sh} - {ph}, ws = j * {sw} - {pw};",
        f"const long h0 = hs > 0 ? hs : 0, he = hs + {kh} < {h} ? hs + {kh} : {h};",
        f"const long w0 = ws > 0 ? ws : 0, we = ws + {kw} < {wd} ? ws + {kw} : {wd};",
        f"for (long ch = 0; ch < {c}; ++ch) {{",
        f"{t} a = {init};",
        "for (long ih = h0; ih < he; ++ih)",
        "for (long iw = w0; iw < we; ++iw) {",
        f"const {t} v = {x.ptr}[((b * {h} + ih) * {wd} + iw) * {c} + ch];",
        update,
        "}",
        f"{out.ptr}[r * {c} + ch] = {finish};",
        "}",
        "}",
        "}",
    ]


def pool2d(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Max or average over each window; one output row at a time, a tap's
    valid columns computed at generation time (no bounds checks inside)."""
    (x,) = args
    h, wd = int(x.shape[2]), int(x.shape[3])
    oh, ow = int(out.shape[2]), int(out.shape[3])
    (kh, kw), (sh, sw), (ph, pw) = op.kernels, op.strides, op.paddings
    t = out.ctype
    is_max = op.name == "hy.max_pool2d"
    if is_max and kh > 1 and wd <= 16384:
        return _max_pool_rows_first(x, out, h, wd, oh, ow, kh, kw, sh, sw, ph, pw)
    lines = [
        *_pool_rows(x, out, h, wd, oh, ow, kh, sh, ph),
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
    if is_max:  # a zero max is +0.0, whichever of -0.0 and 0.0 came first (as on the NumPy backend)
        lines += ["#pragma omp simd", f"for (long j = 0; j < {ow}; ++j) yr[j] += 0;"]
    else:
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


def parallel_reads(reads) -> str:
    """The pragma splitting the loop that follows between the threads when it
    reads at least the library's `HY_PARALLEL_MIN_TOUCH` elements (in a model
    the input lies in the caches of the threads that wrote it: CNN's global
    pool over 64 x 32x32 took 20 us on one thread at 2, 9 at 1). The loop
    body must not return."""
    return (
        f"#pragma omp parallel for num_threads({THREADS}) schedule(static) "
        f"if({THREADS} > 1 && (double)({reads}) >= (double)HY_PARALLEL_MIN_TOUCH)"
    )


def _pool_rows(x: Tensor, out: Tensor, h, wd, oh, ow, kh, sh, ph) -> list[str]:
    """The loops over planes and output rows of a pooling (two braces left open):
    `xp` the input plane, `yr` the output row, input rows [hs, he) of its window.
    Planes are split between the threads; on one image, rows of every plane
    are (the convolution before split the plane, so each thread reads the
    rows its core wrote, and the one after reads them there)."""
    t = out.ctype
    planes = product(x.shape[:2])
    reads = f"{planes} * {oh * ow * kh + h * wd}"
    if x.shape[0] == 1 and oh >= 2:
        parts = f"({THREADS} > 1 ? {THREADS} : 1)"
        # iteration (part, plane): the static schedule deals each thread one part of the rows
        head = [
            parallel_reads(reads),
            f"for (long pp = 0; pp < {parts} * {planes}; ++pp) {{",
            f"const long part = pp / {planes}, pl = pp % {planes};",
        ]
        rows = (f"{oh} * part / {parts}", f"{oh} * (part + 1) / {parts}")
    else:
        head = [parallel_reads(reads), f"for (long pl = 0; pl < {planes}; ++pl) {{"]
        rows = ("0", str(oh))
    return [
        *head,
        f"const {t} *xp = {x.ptr} + pl * {h * wd};",
        f"for (long i = {rows[0]}; i < {rows[1]}; ++i) {{",
        f"{t} *yr = {out.ptr} + (pl * {oh} + i) * {ow};",
        f"const long h0 = i * {sh} - {ph};",
        f"const long hs = h0 < 0 ? 0 : h0, he = h0 + {kh} < {h} ? h0 + {kh} : {h};",
    ]


def _max_pool_rows_first(x: Tensor, out: Tensor, h, wd, oh, ow, kh, kw, sh, sw, ph, pw) -> list[str]:
    """Max pooling in two passes per output row: the maximum over the window's
    input rows into a row buffer (contiguous, vectorized), then over each
    window's columns of that buffer: kh + kw passes instead of kh * kw strided
    ones (ResNet's 3x3 stride-2 pool over 112x112: about 2x). Where every tap
    of a window is inside the row, the second pass takes all of them in
    registers and stores once (a pass per tap over the output row: 254 ->
    183 us there). NaN propagates in both passes; an empty window is -inf."""
    t = out.ctype
    take = "m = (v > m || v != v) ? v : m;"
    ranges = [tap_range(ow, wd, sw, q - pw) for q in range(kw)]
    lines = [
        *_pool_rows(x, out, h, wd, oh, ow, kh, sh, ph),
        f"{t} cm[{wd}];",
        "if (hs < he) {",
        f"memcpy(cm, xp + hs * {wd}, sizeof(cm));",
        "} else {",
        "#pragma omp simd",
        f"for (long c = 0; c < {wd}; ++c) cm[c] = -INFINITY;",
        "}",
        "for (long ih = hs + 1; ih < he; ++ih) {",
        f"const {t} *xr = xp + ih * {wd};",
        "#pragma omp simd",
        f"for (long c = 0; c < {wd}; ++c) {{ const {t} v = xr[c]; cm[c] = (v > cm[c] || v != v) ? v : cm[c]; }}",
        "}",
    ]

    def columns(a: int, b: int, taps: list[int]) -> list[str]:
        # a zero max is +0.0, whichever of -0.0 and 0.0 came first (as on the NumPy backend)
        body = " ".join(f"{{ const {t} v = cm[{_affine('j', sw, q - pw)}]; {take} }}" for q in taps)
        return ["#pragma omp simd", f"for (long j = {a}; j < {b}; ++j) {{ {t} m = -INFINITY; {body} yr[j] = m + 0; }}"]

    # segments of columns between the taps' range ends: each takes the taps inside the row there
    # (the interior all of them, a border fewer)
    edges = sorted({0, ow, *(v for r in ranges for v in r)})
    for a, b in zip(edges, edges[1:]):
        lines += columns(a, b, [q for q, (lo, hi) in enumerate(ranges) if lo <= a and b <= hi])
    return lines + ["}", "}"]


def adaptive_avg_pool2d(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    (x,) = args
    h, wd = int(x.shape[2]), int(x.shape[3])
    oh, ow = int(out.shape[2]), int(out.shape[3])
    t = out.ctype
    planes = product(x.shape[:2])
    if oh == ow == 1:  # global average pooling: one reduction per plane
        return [
            parallel_reads(f"{planes} * {h * wd}"),
            f"for (long pl = 0; pl < {planes}; ++pl) {{",
            f"const {t} *xp = {x.ptr} + pl * {h * wd};",
            f"{t} s = 0;",
            "#pragma omp simd reduction(+:s)",
            f"for (long k = 0; k < {h * wd}; ++k) s += xp[k];",
            f"{out.ptr}[pl] = s / {h * wd};",
            "}",
        ]
    return [
        parallel_reads(f"{planes} * {h * wd}"),
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
        "union { float f; uint32_t i; } e_2n = { .f = e_t };",
        "e_2n.i = (e_2n.i - 0x4B400000u + 127u) << 23;",  # the float 2^n (unsigned: a NaN's bits shift out, no UB)
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
_UNSIGNED_OF = {"int32_t": "uint32_t", "int64_t": "uint64_t"}


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
    # integer sums wrap (two's complement, as NumPy's): accumulate in the unsigned type, no signed-overflow UB
    acc_t = _UNSIGNED_OF.get(t) if kind in ("sum", "mean") else None
    if acc_t is not None:
        update = f"({t})(({acc_t}){{y}} + ({acc_t})v)"
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
                f"{acc_t or t} acc = {init};",
                f"#pragma omp simd reduction({op_sym}:acc)",
                f"for (long {last} = 0; {last} < {size}; ++{last}) acc {op_sym}= {f'({acc_t}){src}' if acc_t else src};",
                f"{{ const {t} v = ({t})acc; {dst} = {update.format(y=dst)}; }}",
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
    if kind in ("max", "min") and is_float:  # a zero max/min is +0.0 whatever order the lanes met -0.0 and 0.0
        lines += ["#pragma omp simd", f"for (long k = 0; k < {out.count}; ++k) {out.ptr}[k] += 0;"]
    return lines + ["}"]


ATTENTION_KEYS_BYTES = 256 * 1024
"""Largest stack copy of one batch's keys, transposed ([E, S])."""


def _zero_weights(lo: str, hi: str, ev: int) -> list[str]:
    """Keys j in [lo, hi) weigh 0 in the output row: they add 0 * v[j], which
    is NaN where v[j] is Inf or NaN (NumPy's and torch's matmul)."""
    return [
        f"if (vbad) for (long j = {lo}; j < {hi}; ++j) {{",
        "#pragma omp simd",
        f"for (long c = 0; c < {ev}; ++c) yl[c] += 0 * vb[j * {ev} + c];",
        "}",
    ]


def attention(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Per batch, the keys are transposed once into a stack buffer ([E, S]), so
    a query row's scores are E vectorized axpys over S; then masking, a stable
    softmax in a stack row of S scores, and the weighted sum of value rows.
    A fully masked row gives zeros (PyTorch's safe softmax), and keys weighed
    by 0 still turn an Inf or NaN value into NaN (0 * Inf), as in NumPy."""
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
        # whether a value is Inf or NaN: then the keys a row weighs by 0 still count (0 * Inf = NaN, as in NumPy)
        "int vbad = 0;",
        "#pragma omp simd reduction(|:vbad)",
        f"for (long k = 0; k < {keys * ev}; ++k) vbad |= !(vb[k] - vb[k] == 0);",
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
        "int bad = 0;",
        "#pragma omp simd reduction(max:mx) reduction(|:bad)",
        "for (long j = 0; j < sn; ++j) { mx = s[j] > mx ? s[j] : mx; bad |= s[j] != s[j]; }",
        "if (bad) mx = NAN;",  # a NaN score makes the row NaN, as in NumPy and torch
        "#pragma omp simd",
        f"for (long c = 0; c < {ev}; ++c) yl[c] = 0;",
        "if (mx == -INFINITY) {",  # every key masked: weights 0
        *_zero_weights("0", str(keys), ev),
        "continue;",
        "}",
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
        *(_zero_weights("sn", str(keys), ev) if op.is_causal else []),  # the keys after l
        f"const {t} inv = 1 / sum;",
        "#pragma omp simd",
        f"for (long c = 0; c < {ev}; ++c) yl[c] *= inv;",
        "}",
    ]
    return lines + ["}"] * len(batch) + ["}"]


def group_norm(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Per (sample, group): mean, then the biased variance of the centred
    values (two passes, as layer_norm), then per channel the scale and shift."""
    x = args[0]
    c, g = int(x.shape[1]), op.group_count
    inner = product(x.shape[2:])
    width = (c // g) * inner
    t = out.ctype
    y = "(xr[k] - mu) * rs"
    if len(args) > 1:
        y = f"{y} * {args[1].ptr}[ch]"
    if len(args) > 2:
        y = f"{y} + {args[2].ptr}[ch]"
    return [
        f"for (long r = 0; r < {product(x.shape[:1]) * g}; ++r) {{",
        f"const {t} *xg = {x.ptr} + r * {width};",
        f"{t} *yg = {out.ptr} + r * {width};",
        f"{t} s = 0, v = 0;",
        "#pragma omp simd reduction(+:s)",
        f"for (long k = 0; k < {width}; ++k) s += xg[k];",
        f"const {t} mu = s / ({t})({width});",
        "#pragma omp simd reduction(+:v)",
        f"for (long k = 0; k < {width}; ++k) {{ const {t} d = xg[k] - mu; v += d * d; }}",
        f"const {t} rs = 1 / sqrt(v / ({t})({width}) + {_literal(op.epsilon, t)});",
        f"for (long cc = 0; cc < {c // g}; ++cc) {{",
        f"const long ch = (r % {g}) * {c // g} + cc;",
        "(void)ch;",
        f"const {t} *xr = xg + cc * {inner};",
        f"{t} *yr = yg + cc * {inner};",
        "#pragma omp simd",
        f"for (long k = 0; k < {inner}; ++k) yr[k] = {y};",
        "}",
        "}",
    ]


def conv_transpose2d(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Scatter form: the output starts as the bias (or 0); each input row
    adds, for each kernel tap, its weighted pixels into the output row and
    columns the tap lands on (ranges computed here, no bounds checks inside)."""
    x, w = args[0], args[1]
    _, c, h, wd = x.shape
    h, wd, c = int(h), int(wd), int(c)
    _, og, kh, kw = (int(d) for d in w.shape)
    oh, ow = int(out.shape[2]), int(out.shape[3])
    (sh, sw), (ph, pw), (dh, dw) = op.strides, op.paddings, op.dilations
    g = op.group_count
    cg, o = c // g, og * g
    t = out.ctype
    fill = f"{args[2].ptr}[oc]" if len(args) == 3 else "0"
    lines = [
        "{",
        f"for (long b = 0; b < {x.shape[0]}; ++b) {{",
        f"for (long oc = 0; oc < {o}; ++oc) {{",
        f"{t} *yp = {out.ptr} + (b * {o} + oc) * {oh * ow};",
        "#pragma omp simd",
        f"for (long k = 0; k < {oh * ow}; ++k) yp[k] = {fill};",
        "}",
        f"for (long gc = 0; gc < {c}; ++gc) {{",
        f"const long gr = gc / {cg};",
        f"const {t} *xp = {x.ptr} + (b * {c} + gc) * {h * wd};",
        f"for (long ih = 0; ih < {h}; ++ih) {{",
        f"const {t} *xr = xp + ih * {wd};",
        f"for (long u = 0; u < {kh}; ++u) {{",
        f"const long i = ih * {sh} - {ph} + u * {dh};",
        f"if (i < 0 || i >= {oh}) continue;",
        f"for (long oo = 0; oo < {og}; ++oo) {{",
        f"{t} *yr = {out.ptr} + ((b * {o} + gr * {og} + oo) * {oh} + i) * {ow};",
        f"const {t} *wr = {w.ptr} + ((gc * {og} + oo) * {kh} + u) * {kw};",
    ]
    for v in range(kw):
        lo, hi = tap_range(wd, ow, sw, v * dw - pw)
        if lo < hi:
            lines += [
                "#pragma omp simd",
                f"for (long iw = {lo}; iw < {hi}; ++iw) yr[{_affine('iw', sw, v * dw - pw)}] += xr[iw] * wr[{v}];",
            ]
    return lines + ["}", "}", "}", "}", "}", "}"]
