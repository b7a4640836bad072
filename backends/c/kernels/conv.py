"""Convolution (a fusion anchor).

Float32 convolutions with constant weights run on the kernel library's
direct convolution (`library/conv.c`): the input is copied once into a
padded NHWC buffer and tiles of MR pixels x NR output channels accumulate
over every tap in registers, reading it in place (no im2col); the weights
are packed at build time. Channels-last 3x3 stride-1 convolutions with
enough channels and pixels run by Winograd F(2x2, 3x3) instead
(`library/winograd.c`, weights transformed and packed at build time,
`winograd_fits`). Depthwise convolutions stay generated and direct
(`_depthwise_conv`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from xdsl.ir import Operation

from hybridize.backends.c.epilogue import FusedEpilogue
from hybridize.backends.c.generate import THREADS, Unit
from hybridize.backends.c.kernels.gemm import Operand, sgemm_call, transposed_pays
from hybridize.backends.c.pack import aligned, pack_a, pack_b, pack_conv_weights
from hybridize.backends.c.loops import Tensor
from hybridize.backends.dims import product
from hybridize.ir.nn import to_nchw

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
        """The geometry of a conv2d or conv2d_nhwc (shapes read in the op's layout)."""
        (sh, sw), (ph, pw), (dh, dw) = op.strides, op.paddings, op.dilations
        c, h, wd = (int(d) for d in to_nchw(x.shape, op.NHWC)[1:])
        oh, ow = (int(d) for d in to_nchw(out.shape, op.NHWC)[2:])
        o, _, kh, kw = (int(d) for d in w.shape)
        return ConvGeometry(c, h, wd, o, op.group_count, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw)

    @property
    def pointwise(self) -> bool:
        """A 1x1 stride-1 conv with no padding: the output plane is the input's."""
        return (
            self.kh == self.kw == 1
            and (self.sh, self.sw, self.ph, self.pw) == (1, 1, 0, 0)
            and (self.oh, self.ow) == (self.h, self.w)
        )

    def c_geometry(self, channels: int) -> str:
        """The `hy_conv_geometry` initializer of this conv over `channels` input channels."""
        fields = (channels, self.h, self.w, self.kh, self.kw, self.oh, self.ow, self.sh, self.sw, self.ph, self.pw, self.dh, self.dw)
        return "{ " + ", ".join(map(str, fields)) + " }"

    def flattened(self) -> ConvGeometry:
        """A pointwise conv as one of height 1 over the flattened plane."""
        return replace(self, h=1, w=self.h * self.w, oh=1, ow=self.oh * self.ow, rows=self.oh)


def tap_range(out_size: int, in_size: int, stride: int, offset: int) -> tuple[int, int]:
    """Output indices [lo, hi) with 0 <= j*stride + offset < in_size."""
    lo = min(max(0, -(offset // stride)), out_size)
    hi = min(max(-((offset - in_size) // stride), lo), out_size)
    return lo, hi


def conv2d_rows(op: Operation, args: list[Tensor], out: Tensor, epilogue: Callable[[str], list[str]]) -> list[str]:
    x, w = args[0], args[1]
    bias = args[2].ptr if len(args) == 3 else None
    g = ConvGeometry.of(op, x, w, out)
    if g.c == g.groups:
        body = _depthwise_conv(g, x, w, bias, out, epilogue)
    else:
        body = _conv_tiles(g.flattened() if g.pointwise else g, x, w, bias, out, epilogue)
    return ["{", f"for (long b = 0; b < {x.shape[0]}; ++b) {{", *body, "}", "}"]


def _conv_tiles(g: ConvGeometry, x: Tensor, w: Tensor, bias, out: Tensor, epilogue: Callable[[str], list[str]]) -> list[str]:
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


def _depthwise_conv(g: ConvGeometry, x: Tensor, w: Tensor, bias, out: Tensor, epilogue: Callable[[str], list[str]]) -> list[str]:
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


def conv2d(op: Operation, args: list[Tensor], out: Tensor, epilogue: FusedEpilogue, unit: Unit) -> list[str]:
    """Float32 convolutions with constant weights run on the library's direct
    convolution (`library/conv.c`), the weights packed here; depthwise and the
    rest keep the generated kernels."""
    x, w = args[0], args[1]
    if int(w.shape[1]) == 0:  # no input channels: the bias (or 0), as in NumPy
        from hybridize.backends.c.kernels.nn import conv2d_no_channels

        return conv2d_no_channels(args, out, epilogue.rows)
    bias = args[2] if len(args) == 3 else None
    if any(t.ctype != "float" for t in (out, *args)) or w.const is None:
        return conv2d_rows(op, args, out, epilogue.rows)
    g = ConvGeometry.of(op, x, w, out)
    if g.c == g.groups and g.c > 1:
        return _depthwise_call(g, x, w, bias, out, epilogue, unit)

    if (g.pointwise and g.oh * g.ow > POINTWISE_DIRECT_PLANE) or g.c // g.groups * g.kh * g.kw < SMALL_K:
        return _conv_gemm(g, x, w, bias, out, epilogue, unit)
    _, _, nr = unit.tile
    og, cg = g.o // g.groups, g.c // g.groups
    # per group: [og, cg, kh, kw] -> B (k x og) with k = (kernel row, kernel column, channel)
    groups = w.const.reshape(g.groups, og, cg, g.kh, g.kw)
    parts = [pack_conv_weights(wg, nr) for wg in groups]
    packed = unit.add_constant(_joined(parts))
    return [
        "{",
        *epilogue.declare(unit, (1, 2)),
        f"const hy_conv2d_call gc = {{ {x.shape[0]}, {g.c}, {g.groups}, {og}, {g.c_geometry(cg)}, {x.ptr}, {packed}, "
        f"{bias.ptr if bias else '0'}, {out.ptr}, {g.o * g.oh * g.ow}, &ge }};",
        f"const int rc = hy_conv2d(&gc, {THREADS});",
        "if (rc) return rc;",
        "}",
    ]


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """Groups' packed weights one after another, 64-byte aligned."""
    return parts[0] if len(parts) == 1 else aligned(np.concatenate(parts))


POINTWISE_DIRECT_PLANE = 64
"""A 1x1 convolution over at most this many pixels runs on the direct kernel,
not as a GEMM over a ragged pixel panel: tiles of pixels wrap the plane, and
the reduction is not split (960 -> 320 channels at 7x7: 250 -> 190 us,
320 -> 1280: 325 -> 257 us; at 14x14 the GEMM is faster, 141 against 150)."""

SMALL_K = 64
"""Below this many multiply-adds per output the direct kernel's transposed
stores cost more than packing patches: such convolutions run as GEMMs."""


def _conv_gemm(g: ConvGeometry, x: Tensor, w: Tensor, bias, out: Tensor, epilogue: FusedEpilogue, unit: Unit):
    """A convolution as a GEMM per group over the batch: output channels x
    pixels = weights (packed at build time) x patches (packed per block by
    the library from the input, `HY_CONV`; a 1x1 stride-1 convolution reads
    the input as a channels x pixels matrix). When the plane is small
    against the tile (7x7 against 32 columns) it runs transposed (pixels x
    channels)."""
    _, mr, nr = unit.tile
    og, cg = g.o // g.groups, g.c // g.groups
    k, plane, image = cg * g.kh * g.kw, g.oh * g.ow, g.c * g.h * g.w
    weights = w.const.reshape(g.groups, og, k)
    pointwise = g.pointwise
    prelude: tuple[str, ...] = ()
    if not pointwise:
        prelude = (f"static const hy_conv_geometry gg = {g.c_geometry(cg)};",)
    xg = f"{x.ptr} + gr * {cg * g.h * g.w}"
    if transposed_pays(og, plane, k, unit):  # pixels x channels: patches are A, weights B
        packed = unit.add_constant(_joined([pack_b(wg.T, nr) for wg in weights]))
        if pointwise:
            a = Operand("HY_STRIDED", xg, "1", str(plane), str(image))
        else:
            a = Operand("HY_CONV", xg, batch_stride=str(image), conv="&gg")
        b = Operand("HY_PACKED", f"{packed} + gr * {-(-og // nr) * nr * k}")
        m, n, trans = plane, og, True
    else:
        packed = unit.add_constant(_joined([pack_a(wg, mr) for wg in weights]))
        a = Operand("HY_PACKED", f"{packed} + gr * {-(-og // mr) * mr * k}")
        if pointwise:
            b = Operand("HY_STRIDED", xg, str(plane), "1", str(image))
        else:
            b = Operand("HY_CONV", xg, batch_stride=str(image), conv="&gg")
        m, n, trans = og, plane, False
    call = sgemm_call(
        unit,
        batch=x.shape[0],
        m=m,
        n=n,
        k=k,
        a=a,
        b=b,
        c=f"{out.ptr} + gr * {og * plane}",
        c_offset=f"gr * {og * plane}",
        ldc=plane,
        c_batch_stride=g.o * plane,
        trans=trans,
        bias=f"{bias.ptr} + gr * {og}" if bias else None,
        bias_rows=True,
        epilogue=epilogue,
        split=(1, 2),
        row_base=f"gr * {og}",
        prelude=prelude,
    )
    return [f"for (long gr = 0; gr < {g.groups}; ++gr) {{", *call, "}"]


def _depthwise_call(g: ConvGeometry, x: Tensor, w: Tensor, bias, out: Tensor, epilogue: FusedEpilogue, unit: Unit):
    """One input channel per group: the library's direct depthwise kernel."""
    return [
        "{",
        *epilogue.declare(unit, (1, 2)),
        f"const hy_depthwise_call gc = {{ {x.shape[0]}, {g.o // g.c}, {g.c_geometry(g.c)}, {x.ptr}, {w.ptr}, "
        f"{bias.ptr if bias else '0'}, {out.ptr}, {g.o * g.oh * g.ow}, &ge }};",
        f"const int rc = hy_depthwise2d(&gc, {THREADS});",
        "if (rc) return rc;",
        "}",
    ]


# --- channels-last convolution (`hy.conv2d_nhwc`, the layout pass) ---


def conv2d_nhwc(op: Operation, args: list[Tensor], out: Tensor, epilogue: FusedEpilogue, unit: Unit) -> list[str]:
    """A channels-last convolution on the library: a tile of pixels x output
    channels is what the output holds, so it is stored as it is (no
    transposes), and an image that needs no padding is read in place. A 1x1
    stride-1 conv is the GEMM pixels x channels = x [HW, C] times the packed
    weights; a depthwise conv runs the library's NHWC depthwise kernel. The
    epilogue sees each image as a pixels x channels matrix: split (1, 3)."""
    x, w = args[0], args[1]
    bias = args[2] if len(args) == 3 else None
    g = ConvGeometry.of(op, x, w, out)
    og, cg = g.o // g.groups, g.c // g.groups
    if any(t.ctype != "float" for t in (out, *args)) or w.const is None or cg == 0:
        return _conv_nhwc_loops(g, x, w, bias, out, epilogue)
    split = (1, 3)
    if g.c == g.groups and g.o == g.c and g.c > 1:  # depthwise: weights tap-major [kh*kw][c]
        packed = unit.add_constant(aligned(np.ascontiguousarray(w.const.reshape(g.c, g.kh * g.kw).T, np.float32)))
        return [
            "{",
            *epilogue.declare(unit, split),
            f"const hy_depthwise_nhwc_call gc = {{ {x.shape[0]}, {g.c_geometry(g.c)}, {x.ptr}, {packed}, "
            f"{bias.ptr if bias else '0'}, {out.ptr}, &ge }};",
            f"const int rc = hy_depthwise2d_nhwc(&gc, {THREADS});",
            "if (rc) return rc;",
            "}",
        ]
    _, mr, nr = unit.tile
    if g.pointwise and g.groups == 1 and g.oh * g.ow > POINTWISE_DIRECT_PLANE:
        packed = unit.add_constant(pack_b(w.const.reshape(g.o, g.c).T, nr))
        return sgemm_call(
            unit,
            batch=x.shape[0],
            m=g.oh * g.ow,
            n=g.o,
            k=g.c,
            a=Operand("HY_STRIDED", x.ptr, str(g.c), "1", str(g.h * g.w * g.c)),
            b=Operand("HY_PACKED", packed),
            c=out.ptr,
            ldc=g.o,
            c_batch_stride=g.oh * g.ow * g.o,
            bias=bias.ptr if bias else None,
            epilogue=epilogue,
            split=split,
        )
    winograd = winograd_fits(g)
    if winograd:
        packed = unit.add_constant(pack_winograd_weights(w.const, nr))
    else:
        groups = w.const.reshape(g.groups, og, cg, g.kh, g.kw)
        packed = unit.add_constant(_joined([pack_conv_weights(wg, nr) for wg in groups]))
    return [
        "{",
        *epilogue.declare(unit, split, addend_offset="0"),
        f"const hy_conv2d_call gc = {{ {x.shape[0]}, {g.c}, {g.groups}, {og}, {g.c_geometry(cg)}, {x.ptr}, {packed}, "
        f"{bias.ptr if bias else '0'}, {out.ptr}, {g.o * g.oh * g.ow}, &ge }};",
        f"const int rc = {'hy_winograd_nhwc' if winograd else 'hy_conv2d_nhwc'}(&gc, {THREADS});",
        "if (rc) return rc;",
        "}",
    ]


WINOGRAD_MIN_TILES = 16
"""A 3x3 stride-1 conv runs by Winograd F(2x2, 3x3) (`library/winograd.c`) from
this many 2x2 output tiles per image and 16 channels in and out. Its weights
are 16/9 of the direct conv's and each is used once per tile (the direct conv:
once per pixel, 4x as often), so with few tiles the weights' traffic decides:
two 512 -> 512 convs at 1 thread ran 2235 us by Winograd against 388 us direct
on a 2x2 plane (1 tile), 1351 against 893 on 3x3 (4 tiles), and 2648 against
4546 on 7x7 (16 tiles). Small convs with few tiles win less (64 -> 64 on 4x4:
19 against 25 us) or lose (16 -> 16 on 4x4: 6.5 against 6.0 us; 16 -> 8 on
32x32: 235 against 143 us, as 8 output channels waste most of the 32-wide
GEMM tile), hence the channel bound."""


def winograd_fits(g: ConvGeometry) -> bool:
    """Whether `g` (a channels-last conv) runs by Winograd F(2x2, 3x3)."""
    return (
        g.groups == 1
        and (g.kh, g.kw, g.sh, g.sw, g.dh, g.dw) == (3, 3, 1, 1, 1, 1)
        and min(g.c, g.o) >= 16
        and ((g.oh + 1) // 2) * ((g.ow + 1) // 2) >= WINOGRAD_MIN_TILES
    )


_WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


def pack_winograd_weights(w: np.ndarray, nr: int) -> np.ndarray:
    """Weights [o, c, 3, 3] as the 16 kernels U[xi] = G g G^T of F(2x2, 3x3)
    (xi = 4 * row + column), each c x o in NR-column panels (`pack_b` of the
    stack: the layout `hy_winograd_nhwc` reads); transformed in float64."""
    o, c = w.shape[:2]
    taps = np.ascontiguousarray(np.asarray(w, np.float32).reshape(o, c, 9).transpose(2, 1, 0))  # [r*3 + q, c, o]
    # U[4a + b] = sum over (r, q) of G[a, r] G[b, q] g[r, q]: one product with kron(G, G)
    u = (np.kron(_WINOGRAD_G, _WINOGRAD_G) @ taps.reshape(9, c * o).astype(np.float64)).reshape(16, c, o)
    return pack_b(u, nr)


def _conv_nhwc_loops(g: ConvGeometry, x: Tensor, w: Tensor, bias, out: Tensor, epilogue: FusedEpilogue) -> list[str]:
    """Any channels-last convolution (another element type, weights computed
    at run time, no input channels): one output pixel's channels at a time,
    each a sum over its group's channels and the taps inside the input, then
    the epilogue on that pixel's row of channels."""
    t = out.ctype
    og, cg = g.o // g.groups, g.c // g.groups
    return [
        "{",
        f"for (long r = 0; r < {product(out.shape[:-1])}; ++r) {{",
        f"const long b = r / {g.oh * g.ow}, i = r / {g.ow} % {g.oh}, j = r % {g.ow};",
        f"{t} *yr = {out.ptr} + r * {g.o};",
        f"for (long o = 0; o < {g.o}; ++o) {{",
        f"{t} acc = {f'{bias.ptr}[o]' if bias else '0'};",
        f"const {t} *wo = {w.ptr} + o * {cg * g.kh * g.kw};",
        f"const long c0 = o / {og} * {cg};",
        f"for (long p = 0; p < {g.kh}; ++p) {{",
        f"const long ih = i * {g.sh} - {g.ph} + p * {g.dh};",
        f"if (ih < 0 || ih >= {g.h}) continue;",
        f"for (long q = 0; q < {g.kw}; ++q) {{",
        f"const long iw = j * {g.sw} - {g.pw} + q * {g.dw};",
        f"if (iw < 0 || iw >= {g.w}) continue;",
        f"const {t} *xp = {x.ptr} + ((b * {g.h} + ih) * {g.w} + iw) * {g.c} + c0;",
        f"for (long c = 0; c < {cg}; ++c) acc += wo[(c * {g.kh} + p) * {g.kw} + q] * xp[c];",
        "}",
        "}",
        "yr[o] = acc;",
        "}",
        *epilogue.rows("r"),
        "}",
        "}",
    ]
