/* Depthwise convolution and pooling over NHWC images (channels contiguous),
 * vectorized across channels: a vector is VL adjacent channels of one pixel,
 * so every tap of a window is one plain load, with no copy, no transpose and
 * no padded buffer.
 *
 * A register tile is JB adjacent output pixels of a row x CV channel vectors.
 * Each input column the tile reads is loaded once and serves every pixel it
 * is a tap of (a 3x3 stride-1 tile of 4 pixels loads 6 columns per kernel
 * row, not 12). The tiles whose window columns all lie inside the row take no
 * bounds checks; the one or two at each end of a row read a zero vector (a
 * pool skips the column) where a column falls outside, and store only the
 * pixels of the row. Kernel rows outside the input are skipped.
 *
 * Depthwise 3x3 and 5x5 (dilation 1) keep the channel block's weights in
 * registers over a whole strip of a row; bias and activation are applied in
 * registers (the activation a constant of the common instances), and the
 * generated epilogue then sees the finished rows. Other kernels take a
 * general tile that loads the weights per tap.
 *
 * Rows go in groups of NHWC_RG output rows of one image: strip by strip of
 * the row, channel block by channel block, row by row, so the block's share
 * of the strip's input rows stays in L1 from one output row to the next. A
 * ragged last channel vector overlaps the one before it (it recomputes a few
 * channels and stores the same values again before the epilogue runs), so
 * nothing past the arrays is read or written; fewer channels than one vector
 * take a scalar path. Threads split the output rows (over the batch too). */
#include "hy_act.h"
#include "hy_kernels.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define NHWC_VL (HY_VB / 4)
typedef float nhwc_vf __attribute__((vector_size(HY_VB)));
typedef float nhwc_vfu __attribute__((vector_size(HY_VB), aligned(4)));
typedef int nhwc_vi __attribute__((vector_size(HY_VB)));

HY_DEFINE_VECTOR_ACT(nhwc_act, nhwc_vf, nhwc_vi)

/* Channel vectors per block and pixels per tile. A 3x3 block holds 9 * CV weight vectors and
 * JB * CV accumulators: 18 + 8 of AVX-512's 32 registers, 9 + 4 of 16 elsewhere. */
#if HY_VB >= 64
#define NHWC_CV 2
#else
#define NHWC_CV 1
#endif
#define NHWC_JB 4
/* Output rows per group (see above). */
#define NHWC_RG 4
/* Bytes of input per channel block that a strip of a row group may read (within L1). */
#define NHWC_STRIP_BYTES (24 * 1024)

#define NHWC_LD(p) (*(const nhwc_vfu *)(p))
#define NHWC_ST(p, v) (*(nhwc_vfu *)(p) = (v))

/* Zeros standing in for input columns outside the row in a depthwise tile at the row's ends. */
static const float nhwc_zeros[NHWC_CV * NHWC_VL] __attribute__((aligned(64)));

/* The pixels j of an output row of ow whose window columns j*s - p + q*d (q < k) all lie in
 * [0, w): [*lo, *hi), lo <= hi. */
static void nhwc_interior(long w, long ow, long k, long s, long p, long d, long *lo, long *hi)
{
    long a = (p + s - 1) / s;
    const long top = w - 1 - (k - 1) * d + p;
    long b = top >= 0 ? top / s + 1 : 0;
    if (b > ow) b = ow;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Output pixels per strip: a channel block reads `span` input rows of about strip * sw pixels. */
static long nhwc_strip(long span, long sw)
{
    long n = NHWC_STRIP_BYTES / (long)sizeof(float) / (span * sw * NHWC_CV * NHWC_VL);
    n = n / NHWC_JB * NHWC_JB;
    return n > NHWC_JB ? n : NHWC_JB;
}

/* ---------------------------------------------------------------- depthwise */

/* One tile of a K x K, dilation 1 depthwise convolution: pixels j .. j+JB-1 of an output row
 * (the first n stored where CHECK, whose columns outside the row read zeros; all columns inside
 * the row otherwise), channel vectors ch + v VL (v < CV). rows[r] is the input row of kernel
 * row r (NULL outside the input unless ALL), wv[tap][v] the weights; SW the column stride
 * where constant (0: sw). */
static inline __attribute__((always_inline)) void nhwc_dwk_tile(const int K, const int CV, const long SW,
                                                                const int ALL, const int CHECK, const int act,
                                                                const nhwc_vf (*wv)[NHWC_CV], const nhwc_vf *bv,
                                                                const float *const *rows, float *yr, long c, long w,
                                                                long sw, long pw, long j, long n, long ch, float lo,
                                                                float hi)
{
    nhwc_vf acc[NHWC_JB][NHWC_CV];
#pragma GCC unroll 8
    for (int u = 0; u < NHWC_JB; ++u)
#pragma GCC unroll 2
        for (int v = 0; v < CV; ++v) acc[u][v] = bv[v];
    const long iw0 = j * sw - pw;
#pragma GCC unroll 5
    for (int r = 0; r < K; ++r) {
        const float *xr = rows[r];
        if (!ALL && !xr) continue;
        if (SW) { /* each input column loaded once, for every pixel of the tile it is a tap of */
            const float *xk = xr + (CHECK ? 0 : iw0 * c + ch);
#pragma GCC unroll 16
            for (int k = 0; k < (NHWC_JB - 1) * SW + K; ++k) {
                const float *p = xk;
                if (CHECK) p = iw0 + k >= 0 && iw0 + k < w ? xr + (iw0 + k) * c + ch : nhwc_zeros;
#pragma GCC unroll 2
                for (int v = 0; v < CV; ++v) {
                    const nhwc_vf x = NHWC_LD(p + v * NHWC_VL);
#pragma GCC unroll 8
                    for (int u = 0; u < NHWC_JB; ++u) {
                        const int q = k - u * (int)SW;
                        if (q >= 0 && q < K) acc[u][v] += wv[r * K + q][v] * x;
                    }
                }
                if (!CHECK) {
                    xk += c;
                    /* a pointer walked a column at a time: one add per column, where GCC would
                     * otherwise keep a precomputed offset per column on the stack */
                    __asm__("" : "+r"(xk));
                }
            }
        } else {
#pragma GCC unroll 5
            for (int q = 0; q < K; ++q)
#pragma GCC unroll 8
                for (int u = 0; u < NHWC_JB; ++u) {
                    const long iw = iw0 + u * sw + q;
                    const float *p = !CHECK || (iw >= 0 && iw < w) ? xr + iw * c + ch : nhwc_zeros;
#pragma GCC unroll 2
                    for (int v = 0; v < CV; ++v) acc[u][v] += wv[r * K + q][v] * NHWC_LD(p + v * NHWC_VL);
                }
        }
    }
    float *ys = yr + j * c + ch;
#pragma GCC unroll 8
    for (int u = 0; u < NHWC_JB; ++u) {
        if (CHECK && u >= n) break;
#pragma GCC unroll 2
        for (int v = 0; v < CV; ++v) NHWC_ST(ys + v * NHWC_VL, nhwc_act(acc[u][v], act, lo, hi));
        ys += c;
        __asm__("" : "+r"(ys));
    }
}

/* Pixels [j0, j1) of one output row of a K x K, dilation 1 depthwise convolution for the
 * channel vectors at ch + v VL (v < CV); [jlo, jhi) the pixels whose taps all lie inside the
 * row. The block's weights stay in registers. */
static inline __attribute__((always_inline)) void nhwc_dwk_block(const int K, const int CV, const long SW,
                                                                 const int ALL, long sw_rt, const float *const *rows,
                                                                 const float *wt, const float *bias, float *yr,
                                                                 long c, long w, long pw, long j0, long j1, long ch,
                                                                 long jlo, long jhi, const int act, float lo,
                                                                 float hi)
{
    const long sw = SW ? SW : sw_rt;
    nhwc_vf wv[25][NHWC_CV], bv[NHWC_CV];
#pragma GCC unroll 25
    for (int t = 0; t < K * K; ++t)
#pragma GCC unroll 2
        for (int v = 0; v < CV; ++v) wv[t][v] = NHWC_LD(wt + t * c + ch + v * NHWC_VL);
#pragma GCC unroll 2
    for (int v = 0; v < CV; ++v) bv[v] = bias ? NHWC_LD(bias + ch + v * NHWC_VL) : (nhwc_vf){0};
    for (long j = j0; j < j1; j += NHWC_JB) {
        if (j >= jlo && j + NHWC_JB <= jhi)
            nhwc_dwk_tile(K, CV, SW, ALL, 0, act, (const nhwc_vf(*)[NHWC_CV])wv, bv, rows, yr, c, w, sw, pw, j,
                          NHWC_JB, ch, lo, hi);
        else
            nhwc_dwk_tile(K, CV, SW, ALL, 1, act, (const nhwc_vf(*)[NHWC_CV])wv, bv, rows, yr, c, w, sw, pw, j,
                          j1 - j, ch, lo, hi);
    }
}

/* The instances: rows with every kernel row inside the input at stride 1 or 2 (the common case)
 * with the activation a constant, the rest with it a variable. */
#define NHWC_DWK_ARGS rows, wt, bias, yr, c, w, pw, j0, j1, ch, jlo, jhi
#define NHWC_DWK_ACTS(K, CV, SW)                                                                      \
    do {                                                                                              \
        if (act == HY_ACT_CLAMP) nhwc_dwk_block(K, CV, SW, 1, SW, NHWC_DWK_ARGS, HY_ACT_CLAMP, lo, hi); \
        else if (act == HY_ACT_RELU) nhwc_dwk_block(K, CV, SW, 1, SW, NHWC_DWK_ARGS, HY_ACT_RELU, 0, 0); \
        else nhwc_dwk_block(K, CV, SW, 1, SW, NHWC_DWK_ARGS, HY_ACT_NONE, 0, 0);                         \
    } while (0)
#define NHWC_DWK_BLOCK(NAME, K, CV, ACTS)                                                                      \
    static void NAME(const float *const *rows, const float *wt, const float *bias, float *yr, long c, long w,  \
                     long sw, long pw, long j0, long j1, long ch, long jlo, long jhi, int act, float lo,       \
                     float hi)                                                                                 \
    {                                                                                                          \
        int all = 1;                                                                                           \
        for (int r = 0; r < K; ++r) all &= rows[r] != NULL;                                                    \
        if (sw == 1 && all && ACTS) NHWC_DWK_ACTS(K, CV, 1);                                                   \
        else if (sw == 2 && all && ACTS) NHWC_DWK_ACTS(K, CV, 2);                                              \
        else if (sw == 1 && all) nhwc_dwk_block(K, CV, 1, 1, 1, NHWC_DWK_ARGS, act, lo, hi);                   \
        else if (sw == 2 && all) nhwc_dwk_block(K, CV, 2, 1, 2, NHWC_DWK_ARGS, act, lo, hi);                   \
        else if (sw == 1) nhwc_dwk_block(K, CV, 1, 0, 1, NHWC_DWK_ARGS, act, lo, hi);                          \
        else if (sw == 2) nhwc_dwk_block(K, CV, 2, 0, 2, NHWC_DWK_ARGS, act, lo, hi);                          \
        else nhwc_dwk_block(K, CV, 0, 0, sw, NHWC_DWK_ARGS, act, lo, hi);                                      \
    }
NHWC_DWK_BLOCK(nhwc_dw3_block1, 3, 1, 1)
#if NHWC_CV > 1
NHWC_DWK_BLOCK(nhwc_dw3_block2, 3, 2, 1)
#endif
/* 5x5 (EfficientNet's): one vector of channels, its 25 weights in registers on AVX-512 */
NHWC_DWK_BLOCK(nhwc_dw5_block1, 5, 1, 0)

/* Pixels [j0, j1) of output row i, any kernel, stride and dilation, for the channel vector at
 * ch: the weights are loaded per tap (from L1). */
static void nhwc_dw_any_block(const hy_conv_geometry *g, const float *xi, long i, const float *wt, const float *bias,
                              float *yr, long ch, long j0, long j1, long jlo, long jhi, int act, float lo, float hi)
{
    const long c = g->c, w = g->w, kw = g->kw, sw = g->sw, dw = g->dw, pw = g->pw;
    const nhwc_vf bv = bias ? NHWC_LD(bias + ch) : (nhwc_vf){0};
    for (long j = j0; j < j1; j += NHWC_JB) {
        const int check = !(j >= jlo && j + NHWC_JB <= jhi);
        nhwc_vf acc[NHWC_JB];
#pragma GCC unroll 8
        for (int u = 0; u < NHWC_JB; ++u) acc[u] = bv;
        for (long r = 0; r < g->kh; ++r) {
            const long ih = i * g->sh - g->ph + r * g->dh;
            if (ih < 0 || ih >= g->h) continue;
            const float *xr = xi + ih * w * c + ch;
            for (long q = 0; q < kw; ++q) {
                const nhwc_vf wq = NHWC_LD(wt + (r * kw + q) * c + ch);
#pragma GCC unroll 8
                for (int u = 0; u < NHWC_JB; ++u) {
                    const long iw = (j + u) * sw - pw + q * dw;
                    const float *p = !check || (iw >= 0 && iw < w) ? xr + iw * c : nhwc_zeros;
                    acc[u] += wq * NHWC_LD(p);
                }
            }
        }
#pragma GCC unroll 8
        for (int u = 0; u < NHWC_JB; ++u)
            if (j + u < j1) NHWC_ST(yr + (j + u) * c + ch, nhwc_act(acc[u], act, lo, hi));
    }
}

/* Output row i with fewer channels than a vector: one by one. */
static void nhwc_dw_scalar_row(const hy_conv_geometry *g, const float *xi, long i, const float *wt, const float *bias,
                               float *yr, int act, float lo, float hi)
{
    const long c = g->c, kw = g->kw;
    for (long j = 0; j < g->ow; ++j)
        for (long ch = 0; ch < c; ++ch) {
            float acc = bias ? bias[ch] : 0.0f;
            for (long r = 0; r < g->kh; ++r) {
                const long ih = i * g->sh - g->ph + r * g->dh;
                if (ih < 0 || ih >= g->h) continue;
                for (long q = 0; q < kw; ++q) {
                    const long iw = j * g->sw - g->pw + q * g->dw;
                    if (iw < 0 || iw >= g->w) continue;
                    acc += wt[(r * kw + q) * c + ch] * xi[(ih * g->w + iw) * c + ch];
                }
            }
            yr[j * c + ch] = hy_act_scalar(acc, act, lo, hi);
        }
}

/* Output rows [i0, i1) of image b, then the epilogue on them. */
static void nhwc_dw_rows(const hy_depthwise_nhwc_call *dc, long b, long i0, long i1)
{
    const hy_conv_geometry *g = &dc->geometry;
    static const hy_epilogue none = {0};
    const hy_epilogue *e = dc->epilogue ? dc->epilogue : &none;
    const long c = g->c, ow = g->ow;
    const float *xi = dc->x + b * g->h * g->w * c;
    float *y = dc->out + b * g->oh * ow * c;
    if (c < NHWC_VL) {
        for (long i = i0; i < i1; ++i)
            nhwc_dw_scalar_row(g, xi, i, dc->weights, dc->bias, y + i * ow * c, e->act, e->lo, e->hi);
    } else {
        long jlo, jhi;
        nhwc_interior(g->w, ow, g->kw, g->sw, g->pw, g->dw, &jlo, &jhi);
        const long k = g->kh == g->kw && g->dh == 1 && g->dw == 1 && (g->kh == 3 || g->kh == 5) ? g->kh : 0;
        const long span = (i1 - i0 - 1) * g->sh + (g->kh - 1) * g->dh + 1;
        const long strip = nhwc_strip(span, g->sw);
        for (long j0 = 0; j0 < ow; j0 += strip) {
            const long j1 = j0 + strip < ow ? j0 + strip : ow, hi = jhi < j1 ? jhi : j1;
            for (long ch = 0; ch < c;) {
                const long cv = k == 3 && NHWC_CV > 1 && ch + 2 * NHWC_VL <= c ? 2 : 1;
                const long at = ch + NHWC_VL <= c ? ch : c - NHWC_VL; /* a ragged last vector overlaps */
                for (long i = i0; i < i1; ++i) {
                    float *yr = y + i * ow * c;
                    if (k) {
                        const float *rows[5];
                        for (long r = 0; r < k; ++r) {
                            const long ih = i * g->sh - g->ph + r;
                            rows[r] = ih >= 0 && ih < g->h ? xi + ih * g->w * c : NULL;
                        }
#define NHWC_DW_CALL(NAME) \
    NAME(rows, dc->weights, dc->bias, yr, c, g->w, g->sw, g->pw, j0, j1, at, jlo, hi, e->act, e->lo, e->hi)
                        if (k == 5) NHWC_DW_CALL(nhwc_dw5_block1);
#if NHWC_CV > 1
                        else if (cv == 2) NHWC_DW_CALL(nhwc_dw3_block2);
#endif
                        else NHWC_DW_CALL(nhwc_dw3_block1);
#undef NHWC_DW_CALL
                    } else {
                        nhwc_dw_any_block(g, xi, i, dc->weights, dc->bias, yr, at, j0, j1, jlo, hi, e->act, e->lo,
                                          e->hi);
                    }
                }
                ch += cv * NHWC_VL;
            }
        }
    }
    if (e->tile) e->tile(e->ctx, b, i0 * ow + e->row_base, 0, (i1 - i0) * ow, c, y + i0 * ow * c, c);
}

/* The rows kernel of a call: output rows [i0, i1) of image b. */
typedef void (*nhwc_rows_fn)(const void *call, long b, long i0, long i1);

/* Output rows [u0, u1) of the batch (u = b * oh + i), in groups of up to NHWC_RG rows of one image. */
static void nhwc_units(nhwc_rows_fn rows, const void *call, long oh, long u0, long u1)
{
    for (long u = u0; u < u1;) {
        const long i = u % oh;
        long n = u1 - u < NHWC_RG ? u1 - u : NHWC_RG;
        if (n > oh - i) n = oh - i;
        rows(call, u / oh, i, i + n);
        u += n;
    }
}

/* All batch * oh output rows of a call, split into nt contiguous ranges (one per thread). */
static void nhwc_run(nhwc_rows_fn rows, const void *call, long batch, long oh, int nt)
{
    const long units = batch * oh;
    if (nt > units) nt = (int)units;
    if (nt <= 1) {
        nhwc_units(rows, call, oh, 0, units);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        HY_THREAD_ID(t, tn);
        nhwc_units(rows, call, oh, units * t / tn, units * (t + 1) / tn);
    }
}

static void nhwc_dw_call_rows(const void *call, long b, long i0, long i1)
{
    nhwc_dw_rows((const hy_depthwise_nhwc_call *)call, b, i0, i1);
}

int hy_depthwise2d_nhwc(const hy_depthwise_nhwc_call *dc, int threads)
{
    const hy_conv_geometry *g = &dc->geometry;
    if (dc->batch <= 0 || g->c <= 0 || g->oh <= 0 || g->ow <= 0) return HY_OK;
    const long units = dc->batch * g->oh;
    const double macs = (double)units * g->ow * g->c * g->kh * g->kw;
    const double touched = (double)dc->batch * g->c * ((double)g->h * g->w + (double)g->oh * g->ow);
    int nt = threads < 1 ? 1 : threads;
    /* one thread only where the data is small too (see depthwise.c) */
    if ((macs < 2.0 * HY_PARALLEL_MIN_MACS && touched < (double)HY_PARALLEL_MIN_TOUCH) || units < 2) nt = 1;
    nhwc_run(nhwc_dw_call_rows, dc, dc->batch, g->oh, nt);
    return HY_OK;
}

/* ---------------------------------------------------------------- pooling */

/* a > b ? a : b lane by lane (x86's max: b where either is NaN); whether a lane is NaN */
#if HY_VB == 64 && defined(__AVX512F__)
#include <immintrin.h>
#define NHWC_VMAX(a, b) ((nhwc_vf)_mm512_max_ps((__m512)(a), (__m512)(b)))
#define NHWC_ANY_NAN(a) (_mm512_cmp_ps_mask((__m512)(a), (__m512)(a), _CMP_UNORD_Q) != 0)
#elif HY_VB == 32 && defined(__AVX__)
#include <immintrin.h>
#define NHWC_VMAX(a, b) ((nhwc_vf)_mm256_max_ps((__m256)(a), (__m256)(b)))
#define NHWC_ANY_NAN(a) (_mm256_movemask_ps(_mm256_cmp_ps((__m256)(a), (__m256)(a), _CMP_UNORD_Q)) != 0)
#elif HY_VB == 16 && defined(__SSE__)
#include <immintrin.h>
#define NHWC_VMAX(a, b) ((nhwc_vf)_mm_max_ps((__m128)(a), (__m128)(b)))
#define NHWC_ANY_NAN(a) (_mm_movemask_ps(_mm_cmpunord_ps((__m128)(a), (__m128)(a))) != 0)
#else
static inline nhwc_vf nhwc_vmax_sel(nhwc_vf a, nhwc_vf b)
{
    const nhwc_vi m = a > b;
    return (nhwc_vf)(((nhwc_vi)a & m) | ((nhwc_vi)b & ~m));
}
static inline int nhwc_any_nan(nhwc_vf a)
{
    union {
        nhwc_vi v;
        unsigned long long q[HY_VB / 8];
    } bad = {a != a};
    unsigned long long any = 0;
    for (int k = 0; k < HY_VB / 8; ++k) any |= bad.q[k];
    return any != 0;
}
#define NHWC_VMAX(a, b) nhwc_vmax_sel(a, b)
#define NHWC_ANY_NAN(a) nhwc_any_nan(a)
#endif

/* The window of output (i, j) along one dim: data [*s, *e), and the avg divisor (at least 1). */
static long nhwc_window(long o, long stride, long pad, long k, long size, int include_pad, long *s, long *e)
{
    const long a = o * stride - pad, b = a + k;
    *s = a < 0 ? 0 : a;
    *e = b < size ? b : size;
    const long n = include_pad ? (b < size + pad ? b : size + pad) - a : *e - *s;
    return n > 1 ? n : 1;
}

/* The maximum over the window of channel ch of output (i, j), NaN if the window holds one. */
static float nhwc_max_exact(const hy_pool_nhwc_call *pc, const float *xi, long i, long j, long ch)
{
    const hy_conv_geometry *g = &pc->geometry;
    long hs, he, ws, we;
    nhwc_window(i, g->sh, g->ph, g->kh, g->h, 0, &hs, &he);
    nhwc_window(j, g->sw, g->pw, g->kw, g->w, 0, &ws, &we);
    float m = -INFINITY;
    for (long ih = hs; ih < he; ++ih)
        for (long iw = ws; iw < we; ++iw) {
            const float x = xi[(ih * g->w + iw) * g->c + ch];
            if (x != x) return x;
            m = x > m ? x : m;
        }
    return m + 0.0f;
}

/* A tile whose windows hold a NaN (or infinities of both signs), again one by one: pixels
 * [j, j+n) of output row i, channels [ch, ch+lanes). */
static __attribute__((noinline, cold)) void nhwc_max_exact_tile(const hy_pool_nhwc_call *pc, const float *xi,
                                                                 float *yr, long i, long j, long n, long ch,
                                                                 long lanes)
{
    for (long u = 0; u < n; ++u)
        for (long l = 0; l < lanes; ++l) yr[(j + u) * pc->geometry.c + ch + l] = nhwc_max_exact(pc, xi, i, j + u, ch + l);
}

/* One tile of a pooling: pixels j .. j+JB-1 of output row i (the first n stored where CHECK,
 * whose columns outside the row are skipped), channel vectors ch + v VL (v < CV), over input
 * rows [hs, he) (KH of them where KH is nonzero). Each input column is reduced over the rows
 * once (its max and sum), then taken by every pixel whose window holds it. Max takes NaN from
 * the sum: a lane whose sum is NaN (a NaN in the window, or infinities of both signs) is
 * recomputed one by one. rc is the avg divisor's row count. */
static inline __attribute__((always_inline)) void nhwc_pool_tile(const int CV, const int MAX, const long KH,
                                                                 const long KW, const long SW, const int CHECK,
                                                                 const hy_pool_nhwc_call *pc, const float *xi,
                                                                 float *yr, long i, long hs, long he, long rc, long j,
                                                                 long n, long ch)
{
    const hy_conv_geometry *g = &pc->geometry;
    const long c = g->c, w = g->w, pw = g->pw, kw = KW ? KW : g->kw, sw = SW ? SW : g->sw, rs = w * c;
    nhwc_vf m[NHWC_JB][NHWC_CV], s[NHWC_JB][NHWC_CV];
#pragma GCC unroll 8
    for (int u = 0; u < NHWC_JB; ++u)
#pragma GCC unroll 2
        for (int v = 0; v < CV; ++v) m[u][v] = (nhwc_vf){0} - INFINITY, s[u][v] = (nhwc_vf){0};
    const long iw0 = j * sw - pw, rows = KH ? KH : he - hs;
#ifdef NHWC_POOL_DIRECT
#pragma GCC unroll 4
    for (long r = 0; r < rows; ++r)
#pragma GCC unroll 4
        for (long q = 0; q < kw; ++q)
#pragma GCC unroll 8
            for (int u = 0; u < NHWC_JB; ++u) {
                const long iw = iw0 + u * sw + q;
                if (CHECK && (iw < 0 || iw >= w)) continue;
#pragma GCC unroll 2
                for (int v = 0; v < CV; ++v) {
                    const nhwc_vf x = NHWC_LD(xi + (hs + r) * rs + iw * c + ch + v * NHWC_VL);
                    if (MAX) m[u][v] = NHWC_VMAX(x, m[u][v]);
                    s[u][v] += x;
                }
            }
    if (0) {
#else
    if (rows > 0) {
#endif
#pragma GCC unroll 2
        for (int v = 0; v < CV; ++v) {
            const float *p = xi + hs * rs + (CHECK ? 0 : iw0 * c) + ch + v * NHWC_VL;
#pragma GCC unroll 16
            for (long k = 0; k < (NHWC_JB - 1) * sw + kw; ++k) {
                const long iw = iw0 + k;
                if (CHECK && (iw < 0 || iw >= w)) continue;
                const float *pk = CHECK ? p + iw * c : p;
                nhwc_vf cm = NHWC_LD(pk), cs = cm;
#pragma GCC unroll 4
                for (long r = 1; r < rows; ++r) {
                    const nhwc_vf x = NHWC_LD(pk + r * rs);
                    if (MAX) cm = NHWC_VMAX(x, cm);
                    cs += x;
                }
#pragma GCC unroll 8
                for (int u = 0; u < NHWC_JB; ++u) {
                    const long q = k - u * sw;
                    if (q >= 0 && q < kw) {
                        if (MAX) m[u][v] = NHWC_VMAX(cm, m[u][v]);
                        s[u][v] += cs;
                    }
                }
                if (!CHECK) {
                    p += c;
                    __asm__("" : "+r"(p)); /* walked a column at a time (see nhwc_dwk_tile) */
                }
            }
        }
    }
    float *ys = yr + j * c + ch;
    nhwc_vf tot = (nhwc_vf){0};
#pragma GCC unroll 8
    for (int u = 0; u < NHWC_JB; ++u) {
        if (CHECK && u >= n) break;
        long cc = kw;
        if (!MAX && CHECK) {
            long ws, we;
            cc = nhwc_window(j + u, sw, pw, kw, w, pc->include_pad, &ws, &we);
        }
#pragma GCC unroll 2
        for (int v = 0; v < CV; ++v) {
            if (MAX) {
                NHWC_ST(ys + v * NHWC_VL, m[u][v] + 0.0f); /* a zero max is +0.0, whichever zero came first */
                tot += s[u][v];
            } else {
                NHWC_ST(ys + v * NHWC_VL, s[u][v] / ((nhwc_vf){0} + (float)(rc * cc)));
            }
        }
        ys += c;
    }
    if (MAX && __builtin_expect(NHWC_ANY_NAN(tot), 0))
        nhwc_max_exact_tile(pc, xi, yr, i, j, CHECK ? (n < NHWC_JB ? n : NHWC_JB) : NHWC_JB, ch, CV * NHWC_VL);
}

/* Pixels [j0, j1) of output row i for the channel vectors at ch + v VL (v < CV). */
static inline __attribute__((always_inline)) void nhwc_pool_block(const int CV, const int MAX, const long KH,
                                                                  const long KW, const long SW,
                                                                  const hy_pool_nhwc_call *pc, const float *xi,
                                                                  float *yr, long i, long ch, long j0, long j1,
                                                                  long jlo, long jhi)
{
    const hy_conv_geometry *g = &pc->geometry;
    long hs, he;
    const long rc = nhwc_window(i, g->sh, g->ph, g->kh, g->h, pc->include_pad, &hs, &he);
    for (long j = j0; j < j1; j += NHWC_JB) {
        if (j >= jlo && j + NHWC_JB <= jhi) {
            if (KH && he - hs == KH) nhwc_pool_tile(CV, MAX, KH, KW, SW, 0, pc, xi, yr, i, hs, he, rc, j, NHWC_JB, ch);
            else nhwc_pool_tile(CV, MAX, 0, KW, SW, 0, pc, xi, yr, i, hs, he, rc, j, NHWC_JB, ch);
        } else {
            nhwc_pool_tile(CV, MAX, 0, KW, SW, 1, pc, xi, yr, i, hs, he, rc, j, j1 - j, ch);
        }
    }
}

/* The instances: 3x3 at stride 2 (ResNet's) and 1, 2x2 at stride 2, and any window. */
#define NHWC_POOL_BLOCK(NAME, CV, MAX)                                                                          \
    static void NAME(const hy_pool_nhwc_call *pc, const float *xi, float *yr, long i, long ch, long j0, long j1, \
                     long jlo, long jhi)                                                                        \
    {                                                                                                           \
        const hy_conv_geometry *g = &pc->geometry;                                                              \
        if (g->kh == 3 && g->kw == 3 && g->sw == 2)                                                             \
            nhwc_pool_block(CV, MAX, 3, 3, 2, pc, xi, yr, i, ch, j0, j1, jlo, jhi);                             \
        else if (g->kh == 3 && g->kw == 3 && g->sw == 1)                                                        \
            nhwc_pool_block(CV, MAX, 3, 3, 1, pc, xi, yr, i, ch, j0, j1, jlo, jhi);                             \
        else if (g->kh == 2 && g->kw == 2 && g->sw == 2)                                                        \
            nhwc_pool_block(CV, MAX, 2, 2, 2, pc, xi, yr, i, ch, j0, j1, jlo, jhi);                             \
        else                                                                                                    \
            nhwc_pool_block(CV, MAX, 0, 0, 0, pc, xi, yr, i, ch, j0, j1, jlo, jhi);                             \
    }
NHWC_POOL_BLOCK(nhwc_max_block1, 1, 1)
NHWC_POOL_BLOCK(nhwc_avg_block1, 1, 0)
#if NHWC_CV > 1
NHWC_POOL_BLOCK(nhwc_max_block2, 2, 1)
NHWC_POOL_BLOCK(nhwc_avg_block2, 2, 0)
#endif

/* Output row i with fewer channels than a vector: one by one. */
static void nhwc_pool_scalar_row(const hy_pool_nhwc_call *pc, const float *xi, float *yr, long i)
{
    const hy_conv_geometry *g = &pc->geometry;
    const long c = g->c;
    long hs, he;
    const long rc = nhwc_window(i, g->sh, g->ph, g->kh, g->h, pc->include_pad, &hs, &he);
    for (long j = 0; j < g->ow; ++j) {
        long ws, we;
        const long cc = nhwc_window(j, g->sw, g->pw, g->kw, g->w, pc->include_pad, &ws, &we);
        for (long ch = 0; ch < c; ++ch) {
            if (pc->kind == HY_POOL_MAX) {
                yr[j * c + ch] = nhwc_max_exact(pc, xi, i, j, ch);
                continue;
            }
            float s = 0.0f;
            for (long ih = hs; ih < he; ++ih)
                for (long iw = ws; iw < we; ++iw) s += xi[(ih * g->w + iw) * c + ch];
            yr[j * c + ch] = s / (float)(rc * cc);
        }
    }
}

/* Output rows [i0, i1) of image b. */
static void nhwc_pool_rows(const hy_pool_nhwc_call *pc, long b, long i0, long i1)
{
    const hy_conv_geometry *g = &pc->geometry;
    const long c = g->c, ow = g->ow;
    const float *xi = pc->x + b * g->h * g->w * c;
    float *y = pc->out + b * g->oh * ow * c;
    if (c < NHWC_VL) {
        for (long i = i0; i < i1; ++i) nhwc_pool_scalar_row(pc, xi, y + i * ow * c, i);
        return;
    }
    long jlo, jhi;
    nhwc_interior(g->w, ow, g->kw, g->sw, g->pw, 1, &jlo, &jhi);
    const int max = pc->kind == HY_POOL_MAX;
    const long strip = nhwc_strip((i1 - i0 - 1) * g->sh + g->kh, g->sw);
    for (long j0 = 0; j0 < ow; j0 += strip) {
        const long j1 = j0 + strip < ow ? j0 + strip : ow, hi = jhi < j1 ? jhi : j1;
        for (long ch = 0; ch < c;) {
            const long cv = NHWC_CV > 1 && ch + 2 * NHWC_VL <= c ? 2 : 1;
            const long at = ch + NHWC_VL <= c ? ch : c - NHWC_VL; /* a ragged last vector overlaps */
            for (long i = i0; i < i1; ++i) {
                float *yr = y + i * ow * c;
#if NHWC_CV > 1
                if (cv == 2) {
                    if (max) nhwc_max_block2(pc, xi, yr, i, at, j0, j1, jlo, hi);
                    else nhwc_avg_block2(pc, xi, yr, i, at, j0, j1, jlo, hi);
                    continue;
                }
#endif
                if (max) nhwc_max_block1(pc, xi, yr, i, at, j0, j1, jlo, hi);
                else nhwc_avg_block1(pc, xi, yr, i, at, j0, j1, jlo, hi);
            }
            ch += cv * NHWC_VL;
        }
    }
}

static void nhwc_pool_call_rows(const void *call, long b, long i0, long i1)
{
    nhwc_pool_rows((const hy_pool_nhwc_call *)call, b, i0, i1);
}

int hy_pool2d_nhwc(const hy_pool_nhwc_call *pc, int threads)
{
    const hy_conv_geometry *g = &pc->geometry;
    if (pc->batch <= 0 || g->c <= 0 || g->oh <= 0 || g->ow <= 0) return HY_OK;
    const long units = pc->batch * g->oh;
    const double reads = (double)pc->batch * g->c * ((double)g->oh * g->ow * g->kh * g->kw + (double)g->h * g->w);
    int nt = threads < 1 ? 1 : threads;
    if (reads < (double)HY_PARALLEL_MIN_TOUCH || units < 2) nt = 1;
    nhwc_run(nhwc_pool_call_rows, pc, pc->batch, g->oh, nt);
    return HY_OK;
}
