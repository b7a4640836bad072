/* Depthwise convolution (one input channel per output channel, as in
 * MobileNet), direct: each channel's plane is copied once into a zero-padded
 * buffer, so every tap of an output row is one vectorized pass with no
 * bounds checks; bias and activation are applied to the row, then the
 * generated epilogue runs on it while it is in L1. Threads split channels. */
#include "hy_act.h"
#include "hy_kernels.h"
#include "hy_transpose.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void dw_channels(const hy_depthwise_call *dc, long bt, long c0, long c1, long i0, long i1, float *xp, long hp,
                        long wp, const float *zero)
{
    const hy_conv_geometry *g = &dc->geometry;
    static const hy_epilogue none = {0};
    const hy_epilogue *e = dc->epilogue ? dc->epilogue : &none;
    const long plane = g->oh * g->ow, per = dc->multiplier;
    for (long oc = c0; oc < c1; ++oc) {
        const long ic = oc / per;
        const float *x = dc->x + (bt * g->c + ic) * g->h * g->w;
        const int k3 = g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sw <= 2;
        if (!k3 && (oc == c0 || oc % per == 0)) {  /* a new input plane, padded */
            memset(xp, 0, sizeof(float) * (size_t)(hp * wp));
            for (long i = 0; i < g->h; ++i) memcpy(xp + (i + g->ph) * wp + g->pw, x + i * g->w, sizeof(float) * g->w);
        }
        const float *wk = dc->weights + oc * g->kh * g->kw;
        const float bias = dc->bias ? dc->bias[oc] : 0;
        float *y = dc->out + bt * dc->out_batch_stride + oc * plane;
        for (long i = i0; i < i1; ++i) {
            float *yr = y + i * g->ow;
            if (k3) {  /* the common case: all nine taps in one pass, read in place */
                const float *rows[3];
                for (int p = 0; p < 3; ++p) {
                    const long ih = i * g->sh - g->ph + p;
                    rows[p] = ih >= 0 && ih < g->h ? x + ih * g->w : zero;
                }
                const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
                const float w0 = wk[0], w1 = wk[1], w2 = wk[2], w3 = wk[3], w4 = wk[4], w5 = wk[5], w6 = wk[6],
                            w7 = wk[7], w8 = wk[8];
                const long sw = g->sw, pw = g->pw;
                /* interior: columns j whose taps j*sw - pw + {0,1,2} are all inside the row */
                long jlo = (pw + sw - 1) / sw, jhi = g->w - 3 + pw >= 0 ? (g->w - 3 + pw) / sw + 1 : 0;
                if (jhi > g->ow) jhi = g->ow;
                if (jlo > jhi) jlo = jhi;
                for (long j = 0; j < g->ow; ++j) {
                    if (j == jlo) j = jhi;
                    if (j >= g->ow) break;
                    float acc = bias;
                    for (int q = 0; q < 3; ++q) {
                        const long iw = j * sw - pw + q;
                        if (iw >= 0 && iw < g->w) acc += wk[q] * r0[iw] + wk[3 + q] * r1[iw] + wk[6 + q] * r2[iw];
                    }
                    yr[j] = acc;
                }
                const float *a0 = r0 - pw, *a1 = r1 - pw, *a2 = r2 - pw;
                if (sw == 1) {
#pragma omp simd
                    for (long j = jlo; j < jhi; ++j)
                        yr[j] = bias + w0 * a0[j] + w1 * a0[j + 1] + w2 * a0[j + 2] + w3 * a1[j] + w4 * a1[j + 1] +
                                w5 * a1[j + 2] + w6 * a2[j] + w7 * a2[j + 1] + w8 * a2[j + 2];
                } else {
#pragma omp simd
                    for (long j = jlo; j < jhi; ++j)
                        yr[j] = bias + w0 * a0[2 * j] + w1 * a0[2 * j + 1] + w2 * a0[2 * j + 2] + w3 * a1[2 * j] +
                                w4 * a1[2 * j + 1] + w5 * a1[2 * j + 2] + w6 * a2[2 * j] + w7 * a2[2 * j + 1] +
                                w8 * a2[2 * j + 2];
                }
                goto finish;
            }
#pragma omp simd
            for (long j = 0; j < g->ow; ++j) yr[j] = bias;
            for (long p = 0; p < g->kh; ++p) {
                const float *xr = xp + (i * g->sh + p * g->dh) * wp;
                for (long q = 0; q < g->kw; ++q) {
                    const float wv = wk[p * g->kw + q];
                    const float *xs = xr + q * g->dw;
                    if (g->sw == 1) {
#pragma omp simd
                        for (long j = 0; j < g->ow; ++j) yr[j] += wv * xs[j];
                    } else {
#pragma omp simd
                        for (long j = 0; j < g->ow; ++j) yr[j] += wv * xs[j * g->sw];
                    }
                }
            }
        finish:
            if (e->act != HY_ACT_NONE) {
#pragma omp simd
                for (long j = 0; j < g->ow; ++j) yr[j] = hy_act_scalar(yr[j], e->act, e->lo, e->hi);
            }
            if (e->tile) e->tile(e->ctx, bt, oc, i * g->ow, 1, g->ow, yr, plane);
        }
    }
}

/* Small planes (7x7, 14x14): vectors run across channels instead of along
 * rows. VL channels at a time, the input planes are gathered into a padded
 * [hp][wp][VL] buffer, every output pixel is one vector sum over the taps,
 * and the [pixels][VL] result goes back to the NCHW rows with bias and
 * activation; the epilogue then sees each channel's whole plane. Both moves
 * go through 8 x 8 register transposes over the flattened plane (pixel p of
 * 8 channels is one vector), so a 7-wide row costs no scalar loop. */
#define DW_VL (HY_VB / 4)
typedef float dw_vf __attribute__((vector_size(HY_VB)));
typedef int dw_vi __attribute__((vector_size(HY_VB)));

HY_DEFINE_VECTOR_ACT(dw_act_v, dw_vf, dw_vi)

/* Channels [ch, ch+8) of the flat pixels [0, n) of planes x (stride plane) into rows of
 * `lanes` floats at dst[pos(p) * lanes], pos(p) = (p / w + ph) * wp + p % w + pw. */
static void dw_gather8(const float *x, long plane, long n, long w, long ph, long pw, long wp, float *dst, long lanes)
{
    long p = 0, i = 0, j = 0; /* pixel p is (i, j) */
    for (; p + 8 <= n; p += 8) {
        v8f r[8];
        for (int u = 0; u < 8; ++u) r[u] = *(const v8fu *)(x + u * plane + p);
        transpose8(r); /* r[v] = the 8 channels of pixel p + v */
        for (int v = 0; v < 8; ++v) {
            *(v8fu *)(dst + ((i + ph) * wp + j + pw) * lanes) = r[v];
            if (++j == w) j = 0, ++i;
        }
    }
    for (; p < n; ++p) {
        for (int u = 0; u < 8; ++u) dst[((i + ph) * wp + j + pw) * lanes + u] = x[u * plane + p];
        if (++j == w) j = 0, ++i;
    }
}

/* Rows of `lanes` floats src[k * lanes + u] (u < 8) of the flat pixels [0, n) into the
 * 8 NCHW planes y + u * plane. */
static void dw_scatter8(const float *src, long lanes, long n, float *y, long plane)
{
    long k = 0;
    for (; k + 8 <= n; k += 8) {
        v8f r[8];
        for (int v = 0; v < 8; ++v) r[v] = *(const v8fu *)(src + (k + v) * lanes);
        transpose8(r); /* r[u] = pixels k .. k+7 of channel u */
        for (int u = 0; u < 8; ++u) *(v8fu *)(y + u * plane + k) = r[u];
    }
    for (; k < n; ++k)
        for (int u = 0; u < 8; ++u) y[u * plane + k] = src[k * lanes + u];
}

/* One block's 3x3 (dilation 1) output pixels: three row sums so the FMAs of a pixel
 * are three short chains, the activation a constant of each instance. */
static inline __attribute__((always_inline)) void dw_block3x3(const dw_vf *xin, const dw_vf *wv, dw_vf bias,
                                                              dw_vf *yv, const hy_conv_geometry *g, long wp,
                                                              const int act, float lo, float hi)
{
    const dw_vf w0 = wv[0], w1 = wv[1], w2 = wv[2], w3 = wv[3], w4 = wv[4], w5 = wv[5], w6 = wv[6], w7 = wv[7],
                w8 = wv[8];
    const long sw = g->sw;
    for (long i = 0; i < g->oh; ++i) {
        const dw_vf *r0 = xin + i * g->sh * wp, *r1 = r0 + wp, *r2 = r1 + wp;
        dw_vf *yr = yv + i * g->ow;
        for (long j = 0; j < g->ow; ++j) {
            const long o = j * sw;
            const dw_vf s0 = bias + w0 * r0[o] + w1 * r0[o + 1] + w2 * r0[o + 2];
            const dw_vf s1 = w3 * r1[o] + w4 * r1[o + 1] + w5 * r1[o + 2];
            const dw_vf s2 = w6 * r2[o] + w7 * r2[o + 1] + w8 * r2[o + 2];
            yr[j] = dw_act_v(s0 + s1 + s2, act, lo, hi);
        }
    }
}

static void dw_across_channels(const hy_depthwise_call *dc, long bt, long c0, long c1, float *work, long hp, long wp)
{
    const hy_conv_geometry *g = &dc->geometry;
    static const hy_epilogue none = {0};
    const hy_epilogue *e = dc->epilogue ? dc->epilogue : &none;
    const long plane = g->oh * g->ow, taps = g->kh * g->kw, in_plane = g->h * g->w;
    dw_vf *xin = (dw_vf *)work;          /* [hp][wp] vectors of VL channels */
    dw_vf *wv = xin + hp * wp;            /* [taps] */
    dw_vf *yv = wv + taps;                /* [plane] */
    /* the padding stays zero from block to block: each block rewrites only the interior
     * (a ragged last block leaves the previous block's values in its unused lanes, whose
     * weights are zero and whose results are never stored) */
    memset(xin, 0, sizeof(dw_vf) * (size_t)(hp * wp));
    for (long cb = c0; cb < c1; cb += DW_VL) {
        const long lanes = c1 - cb < DW_VL ? c1 - cb : DW_VL;
        float *xf = (float *)xin, *wf = (float *)wv;
        for (long t = 0; t < taps; ++t) wv[t] = (dw_vf){0};
        dw_vf bias = {0};
        const float *xb = dc->x + (bt * g->c + cb) * in_plane;
        long l = 0;
        for (; DW_VL % 8 == 0 && l + 8 <= lanes; l += 8)
            dw_gather8(xb + l * in_plane, in_plane, in_plane, g->w, g->ph, g->pw, wp, xf + l, DW_VL);
        for (; l < lanes; ++l)
            for (long i = 0; i < g->h; ++i)
                for (long j = 0; j < g->w; ++j)
                    xf[((i + g->ph) * wp + j + g->pw) * DW_VL + l] = xb[l * in_plane + i * g->w + j];
        for (l = 0; l < lanes; ++l) {
            const long ch = cb + l;
            for (long t = 0; t < taps; ++t) wf[t * DW_VL + l] = dc->weights[ch * taps + t];
            if (dc->bias) bias[l] = dc->bias[ch];
        }
        if (g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1) { /* MobileNet's: nine taps unrolled */
            if (e->act == HY_ACT_CLAMP) dw_block3x3(xin, wv, bias, yv, g, wp, HY_ACT_CLAMP, e->lo, e->hi);
            else if (e->act == HY_ACT_RELU) dw_block3x3(xin, wv, bias, yv, g, wp, HY_ACT_RELU, 0, 0);
            else dw_block3x3(xin, wv, bias, yv, g, wp, HY_ACT_NONE, 0, 0);
        } else {
            for (long i = 0; i < g->oh; ++i)
                for (long j = 0; j < g->ow; ++j) {
                    dw_vf acc = bias;
                    for (long p = 0; p < g->kh; ++p) {
                        const dw_vf *xr = xin + (i * g->sh + p * g->dh) * wp + j * g->sw;
                        for (long q = 0; q < g->kw; ++q) acc += wv[p * g->kw + q] * xr[q * g->dw];
                    }
                    yv[i * g->ow + j] = dw_act_v(acc, e->act, e->lo, e->hi);
                }
        }
        const float *yf = (const float *)yv;
        float *y = dc->out + bt * dc->out_batch_stride + cb * plane;
        for (l = 0; DW_VL % 8 == 0 && l + 8 <= lanes; l += 8) dw_scatter8(yf + l, DW_VL, plane, y + l * plane, plane);
        for (; l < lanes; ++l)
            for (long k = 0; k < plane; ++k) y[l * plane + k] = yf[k * DW_VL + l];
        if (e->tile)
            for (l = 0; l < lanes; ++l) e->tile(e->ctx, bt, cb + l, 0, 1, plane, y + l * plane, plane);
    }
}

/* Stride 1, dilation 1, "same" width (ow == w): the plane is one flat row.
 * Output pixel p reads input p + (r - ph) * w + (q - pw) for tap (r, q), so
 * vectors run over flat pixels across row ends (a 7- or 56-wide row wastes no
 * lanes) and each kernel column's sum is masked where its column falls outside
 * the row (a select, not a multiply: an infinity there must not become NaN).
 * Each channel's plane is copied once between zero rows. */
typedef float dwf_vfu __attribute__((vector_size(HY_VB), aligned(4)));
#define DWF_KW 7 /* widest kernel the flat path takes */

static int dw_flat_fits(const hy_depthwise_call *dc)
{
    const hy_conv_geometry *g = &dc->geometry;
    return g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->ow == g->w && g->kw <= DWF_KW &&
           g->kh <= DWF_KW && g->pw < g->kw && g->ph < g->kh && g->oh == g->h + 2 * g->ph - g->kh + 1;
}

/* Vectors after which the column masks repeat: lcm(w, VL) / VL. */
static long dw_flat_period(long w)
{
    long a = w, b = DW_VL;
    while (b) {
        const long t = a % b;
        a = b;
        b = t;
    }
    return w / a;
}

/* Floats of the flat buffer: the plane between ph zero rows above and kh zero rows below,
 * with a vector of slack at both ends. */
static long dw_flat_floats(const hy_conv_geometry *g)
{
    return (g->ph + g->h + g->kh) * g->w + 2 * DW_VL + 2 * DWF_KW;
}

/* Vectors [v0, v1) of one channel's flat plane; kh and kw constants where the caller can make them so. */
static inline __attribute__((always_inline)) void dw_flat_plane(const long kh, const long kw, const float *xin,
                                                                const float *wk, float bias, float *y,
                                                                const dw_vi *masks, long period, long v0, long v1, long plane, long w,
                                                                long ph, long pw, const int act, float lo, float hi)
{
    dw_vf wv[DWF_KW * DWF_KW];
    for (long t = 0; t < kh * kw; ++t) wv[t] = (dw_vf){0} + wk[t];
    for (long v = v0, m = v0 % period; v < v1; ++v, m = m + 1 == period ? 0 : m + 1) {
        const long p0 = v * DW_VL;
        dw_vf acc = (dw_vf){0} + bias;
        for (long q = 0; q < kw; ++q) {
            const float *xs = xin + p0 - ph * w + q - pw;
            dw_vf t = wv[q] * *(const dwf_vfu *)xs;
            for (long r = 1; r < kh; ++r) t += wv[r * kw + q] * *(const dwf_vfu *)(xs + r * w);
            acc += q == pw ? t : (dw_vf)((dw_vi)t & masks[q * period + m]);
        }
        acc = dw_act_v(acc, act, lo, hi);
        if (p0 + DW_VL <= plane) {
            *(dwf_vfu *)(y + p0) = acc;
        } else {
            for (long l = 0; l < plane - p0; ++l) y[p0 + l] = acc[l];
        }
    }
}

/* Channels [c0, c1), output pixels [q0, q1) of each (q0 a multiple of VL): a thread either
 * takes whole channels, or every channel's share of the plane. */
static void dw_flat(const hy_depthwise_call *dc, long bt, long c0, long c1, long q0, long q1, float *buf, dw_vi *masks)
{
    const hy_conv_geometry *g = &dc->geometry;
    static const hy_epilogue none = {0};
    const hy_epilogue *e = dc->epilogue ? dc->epilogue : &none;
    const long w = g->w, plane = g->oh * g->ow, in_plane = g->h * g->w, per = dc->multiplier;
    const long kh = g->kh, kw = g->kw, lead = DW_VL + DWF_KW + g->ph * w;
    float *xin = buf + lead; /* xin[p] = input pixel p of the channel; zeros around */
    memset(buf, 0, sizeof(float) * (size_t)lead);
    memset(xin + in_plane, 0, sizeof(float) * (size_t)(dw_flat_floats(g) - lead - in_plane));
    /* masks[q * period + m]: lanes of vector v (m = v mod period) whose column j - pw + q is
     * inside the row; the pattern repeats every lcm(w, VL) pixels */
    const long v0 = q0 / DW_VL, v1 = (q1 + DW_VL - 1) / DW_VL, period = dw_flat_period(w);
    for (long q = 0; q < kw; ++q)
        for (long m = 0; m < period; ++m)
            for (int l = 0; l < DW_VL; ++l) {
                const long col = (m * DW_VL + l) % w - g->pw + q;
                masks[q * period + m][l] = col >= 0 && col < w ? -1 : 0;
            }
    /* the input pixels the vectors read: taps from (-ph, -pw) to (kh-1-ph, kw-1-pw) */
    long lo = v0 * DW_VL - g->ph * w - g->pw, hi = v1 * DW_VL + (kh - 1 - g->ph) * w + (kw - 1 - g->pw);
    if (lo < 0) lo = 0;
    if (hi > in_plane) hi = in_plane;
    for (long oc = c0; oc < c1; ++oc) {
        if ((oc == c0 || oc % per == 0) && lo < hi)
            memcpy(xin + lo, dc->x + (bt * g->c + oc / per) * in_plane + lo, sizeof(float) * (size_t)(hi - lo));
        const float *wk = dc->weights + oc * kh * kw;
        const float bias = dc->bias ? dc->bias[oc] : 0;
        float *y = dc->out + bt * dc->out_batch_stride + oc * plane;
#define DWF_PLANE(KH, KW, ACT) \
    dw_flat_plane(KH, KW, xin, wk, bias, y, masks, period, v0, v1, plane, w, g->ph, g->pw, ACT, e->lo, e->hi)
        if (kh == 3 && kw == 3 && e->act == HY_ACT_CLAMP) DWF_PLANE(3, 3, HY_ACT_CLAMP);
        else if (kh == 3 && kw == 3 && e->act == HY_ACT_RELU) DWF_PLANE(3, 3, HY_ACT_RELU);
        else if (kh == 3 && kw == 3 && e->act == HY_ACT_NONE) DWF_PLANE(3, 3, HY_ACT_NONE);
        else DWF_PLANE(kh, kw, e->act);
#undef DWF_PLANE
        const long end = q1 < plane ? q1 : plane;
        if (e->tile && end > q0) e->tile(e->ctx, bt, oc, q0, 1, end - q0, y + q0, plane);
    }
}

int hy_depthwise2d(const hy_depthwise_call *dc, int threads)
{
    const hy_conv_geometry *g = &dc->geometry;
    const long channels = g->c * dc->multiplier;
    if (dc->batch <= 0 || channels <= 0 || g->oh <= 0 || g->ow <= 0) return HY_OK;
    const long reach_h = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    const long reach_w = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    const long hp = reach_h > g->h + 2 * g->ph ? reach_h : g->h + 2 * g->ph;
    const long wp = reach_w > g->w + 2 * g->pw ? reach_w : g->w + 2 * g->pw;
    const double macs = (double)dc->batch * channels * g->oh * g->ow * g->kh * g->kw;
    const double touched = (double)dc->batch * (g->c * g->h * g->w + channels * g->oh * g->ow);
    int nt = threads < 1 ? 1 : threads;
    /* one thread only where the data is small too: in a model the input is spread over the
     * caches of the threads that wrote it, and one thread would pull the others' share (960 x
     * 7x7 after a 2-thread 1x1 conv: 76 us on 1 thread, 38 on 2) */
    if ((macs < 2.0 * HY_PARALLEL_MIN_MACS && touched < (double)HY_PARALLEL_MIN_TOUCH) || channels < 2) nt = 1;
    /* small planes (the padded block of VL channels within 96 KB: up to 28x28 with 16 lanes):
     * vectors across channels (one input channel per output); measured faster than rows
     * there (192 x 28x28: 92 against 155 us), as fast at 56x56, slower at 112x112 */
    const int across = dc->multiplier == 1 && (double)hp * wp * DW_VL * sizeof(float) <= 96.0 * 1024;
    const int flat = dw_flat_fits(dc) && !across;
    const int k3 = g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sw <= 2;
    /* Threads take every channel's share of the plane where the 1x1 convolution before (a GEMM
     * over channels x pixels) splits pixels, so each reads the pixels its core wrote and writes
     * those the 1x1 convolution after reads there; whole channels otherwise. The share is in
     * the GEMM's NR-pixel panels (rows, with a stride). */
    const long units = flat ? (g->oh * g->ow + HY_NR - 1) / HY_NR : g->oh;
    const int by_pixels = nt > 1 && !across && (flat || k3) && hy_gemm_splits_columns(g->c, g->h * g->w) && units >= 2 * nt;
    int err = 0;
    if (flat) {
        const long period = dw_flat_period(g->w);
        const long plane = g->oh * g->ow;
        for (long bt = 0; bt < dc->batch; ++bt) {
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : err)
            {
                HY_THREAD_ID(t, tn);
                long c0 = channels * t / tn, c1 = channels * (t + 1) / tn, q0 = 0, q1 = plane;
                if (by_pixels) {
                    c0 = 0;
                    c1 = channels;
                    q0 = units * t / tn * HY_NR;
                    q1 = units * (t + 1) / tn * HY_NR;
                    if (q1 > plane) q1 = plane;
                }
                /* the masks as vectors, after the buffer rounded up to whole vectors */
                const long floats = (dw_flat_floats(g) + DW_VL - 1) / DW_VL * DW_VL;
                float *work = hy_scratch(1, (size_t)(floats + g->kw * period * DW_VL));
                if (!work) err |= HY_ERR_NOMEM;
                else if (c0 < c1 && q0 < q1) dw_flat(dc, bt, c0, c1, q0, q1, work, (dw_vi *)(work + floats));
            }
        }
        return err;
    }
    for (long bt = 0; bt < dc->batch; ++bt) {
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : err)
        {
            HY_THREAD_ID(t, tn);
            long c0 = channels * t / tn, c1 = channels * (t + 1) / tn, i0 = 0, i1 = g->oh;
            if (across) { /* whole blocks of VL channels per thread */
                const long blocks = (channels + DW_VL - 1) / DW_VL;
                c0 = blocks * t / tn * DW_VL;
                c1 = blocks * (t + 1) / tn * DW_VL;
                if (c1 > channels) c1 = channels;
            } else if (by_pixels) {
                c0 = 0;
                c1 = channels;
                i0 = g->oh * t / tn;
                i1 = g->oh * (t + 1) / tn;
            }
            if (across && c0 >= c1) {
                /* nothing for this thread */
            } else if (across) {
                float *work = hy_scratch(1, DW_VL * (size_t)(hp * wp + g->kh * g->kw + g->oh * g->ow));
                if (!work) {
                    err |= HY_ERR_NOMEM;
                } else {
                    dw_across_channels(dc, bt, c0, c1, work, hp, wp);
                }
            } else {
                float *xp = hy_scratch(1, (size_t)(hp * wp + wp));
                if (!xp) {
                    err |= HY_ERR_NOMEM;
                } else {
                    float *zero = xp + hp * wp; /* a row of zeros for kernel rows outside the input */
                    memset(zero, 0, sizeof(float) * (size_t)wp);
                    if (c0 < c1 && i0 < i1) dw_channels(dc, bt, c0, c1, i0, i1, xp, hp, wp, zero);
                }
            }
        }
    }
    return err;
}
