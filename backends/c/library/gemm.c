/* GEMM in the BLIS/GotoBLAS anatomy: blocks of B (KC x NC) and of A (MC x KC)
 * packed into panels the micro-kernel streams, an MR x NR register tile, bias
 * and activation applied to the tile in registers before it is stored, then
 * the generated epilogue called on the stored tile while it is in L1.
 *
 *   for jc in N by NC:            B block -> packed NR-column panels (or pre-packed weights)
 *     for pc in K by KC:
 *       for ic in M by MC:        A block -> packed MR-row panels (or pre-packed weights)
 *         for jr in NC by NR:     one B panel stays in L1
 *           for ir in MC by MR:   micro-kernel: tile += A panel * B panel
 *
 * Threads split the tile grid (or the batch) once per call; each thread packs
 * what it reads into its own workspace. Nothing returns from inside the
 * parallel region: errors are collected and returned after it. */
#include "hy_act.h"
#include "hy_kernels.h"
#include "hy_transpose.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define VL (HY_VB / 4)
#define MR HY_MR
#define NR HY_NR
#define NV (NR / VL)

#if NR % VL != 0
#error "HY_NR must be a multiple of the vector length"
#endif

#ifndef HY_KC
#define HY_KC 256 /* K block where B is packed per call or read in place */
#endif
#ifndef HY_KC_MAX
#define HY_KC_MAX 1024
#endif
#ifndef HY_MC
#define HY_MC (MR * 16)
#endif
#ifndef HY_NC
#define HY_NC (NR * 32)
#endif
#ifndef GEMM_A_IN_PLACE_PANELS
#define GEMM_A_IN_PLACE_PANELS 3 /* B panels up to which A with contiguous rows is not packed (gemm_part) */
#endif
/* Reduction length from which a tile prefetches its C lines for writing (ukernel). On AMD's Zen
 * cores always: an output that left the caches (MobileNetV2's 112x112x96 expansion, k 16, 4.8 MB)
 * stalled its stores on reads from memory, 811 -> 570 us with them; on Intel cores a short
 * reduction's prefetches only queued behind its stores (a 1x1 conv of 16 -> 96 channels: 1118 ->
 * 921 us without them). */
#ifndef GEMM_PREFETCH_C_K
#if HY_ZEN
#define GEMM_PREFETCH_C_K 1
#else
#define GEMM_PREFETCH_C_K 128
#endif
#endif
#ifndef GEMM_A_AHEAD
#define GEMM_A_AHEAD 2 /* tiles ahead a pre-packed A panel is prefetched */
#endif

typedef float vf __attribute__((vector_size(HY_VB)));
typedef float vfu __attribute__((vector_size(HY_VB), aligned(4)));
typedef int vi __attribute__((vector_size(HY_VB)));

static inline long min_l(long a, long b) { return a < b ? a : b; }

void hy_kernel_config(int *vector_bytes, int *mr, int *nr)
{
    *vector_bytes = HY_VB;
    *mr = MR;
    *nr = NR;
}

/* --- per-thread workspace for packed blocks --- */

static __thread float *ws_ptr;
static __thread size_t ws_floats;

static float *workspace(size_t floats)
{
    if (ws_floats < floats) {
        free(ws_ptr);
        size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
        ws_ptr = aligned_alloc(64, bytes);
        ws_floats = ws_ptr ? floats : 0;
    }
    return ws_ptr;
}

/* --- packing --- */

/* m floats from src[t * stride] to d[t], or zeros when src is NULL. Stride 2
 * takes 8 at a time, reading 16 floats and keeping the even ones; it stops
 * one element early, so it never reads past src[(m - 1) * stride]. */
static inline void copy_run(float *restrict d, const float *restrict src, long stride, long m)
{
    long t = 0;
    if (!src) {
        memset(d, 0, sizeof(float) * (size_t)m);
        return;
    }
    if (stride == 1) {
        memcpy(d, src, sizeof(float) * (size_t)m);
        return;
    }
    if (stride == 2)
        for (; t + 8 < m; t += 8) {
            const v8f lo = *(const v8fu *)(src + 2 * t), hi = *(const v8fu *)(src + 2 * t + 8);
            *(v8fu *)(d + t) = HY_SHUF(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
        }
    for (; t < m; ++t) d[t] = src[t * stride];
}

/* Append `count` values (src[t*stride], or zeros when src is NULL) to panels
 * of width w: the cursor is at lane *lane of the panel row *dst. */
static inline void put_run(float **dst, long *lane, long w, long panel_stride, const float *src, long stride, long count)
{
    while (count > 0) {
        long m = min_l(count, w - *lane);
        float *d = *dst + *lane;
        copy_run(d, src, stride, m);
        if (src) src += m * stride;
        count -= m;
        *lane += m;
        if (*lane == w) {
            *lane = 0;
            *dst += panel_stride;
        }
    }
}

/* Pixels [p0, p0+np) of the patch rows [k0, k0+kc) of one image into panels
 * of width w: out[panel][kk][lane], zero lanes past np. */
static void pack_conv(const hy_conv_geometry *g, const float *x, long k0, long kc, long p0, long np, long w, float *out)
{
    const long panel_stride = kc * w;
    const long padded = (np + w - 1) / w * w;
    for (long kk = 0; kk < kc; ++kk) {
        const long k = k0 + kk;
        const long q = k % g->kw, r = (k / g->kw) % g->kh, ch = k / (g->kw * g->kh);
        const float *xc = x + ch * g->h * g->w;
        float *dst = out + kk * w;
        long lane = 0;
        long oi = p0 / g->ow, oj = p0 % g->ow, left = np;
        const long dq = q * g->dw - g->pw;
        /* output columns j with 0 <= j*sw + dq < w */
        long jlo = dq >= 0 ? 0 : (-dq + g->sw - 1) / g->sw;
        long jhi = g->w - dq <= 0 ? 0 : (g->w - dq + g->sw - 1) / g->sw;
        if (jlo > g->ow) jlo = g->ow;
        if (jhi > g->ow) jhi = g->ow;
        if (jhi < jlo) jhi = jlo;
        while (left > 0) {
            const long run = min_l(g->ow - oj, left);
            const long end = oj + run;
            const long ih = oi * g->sh - g->ph + r * g->dh;
            if (ih < 0 || ih >= g->h) {
                put_run(&dst, &lane, w, panel_stride, NULL, 0, run);
            } else {
                const float *xr = xc + ih * g->w;
                /* zeros left of the input, the input's columns, zeros right of it */
                const long a = jlo < oj ? oj : (jlo > end ? end : jlo);
                const long b = jhi < a ? a : (jhi > end ? end : jhi);
                put_run(&dst, &lane, w, panel_stride, NULL, 0, a - oj);
                if (b > a) put_run(&dst, &lane, w, panel_stride, xr + a * g->sw + dq, g->sw, b - a);
                put_run(&dst, &lane, w, panel_stride, NULL, 0, end - b);
            }
            left -= run;
            oi += 1;
            oj = 0;
        }
        put_run(&dst, &lane, w, panel_stride, NULL, 0, padded - np);
    }
}

/* Rows [i0, i0+mc) x columns [k0, k0+kc) of A into MR-row panels. */
static void pack_a(const hy_operand *a, long b, long i0, long mc, long k0, long kc, float *out)
{
    if (a->kind == HY_CONV) {
        pack_conv(a->conv, a->ptr + b * a->batch_stride, k0, kc, i0, mc, MR, out);
        return;
    }
    const float *base = a->ptr + b * a->batch_stride;
    for (long ip = 0; ip < mc; ip += MR) {
        const long mr = min_l(MR, mc - ip);
        float *dst = out + ip * kc;
        if (a->cs == 1 && mr == MR) {
            /* MR row streams in, one contiguous MR-vector out per k */
            const float *src[MR];
            for (int r = 0; r < MR; ++r) src[r] = base + (i0 + ip + r) * a->rs + k0;
            long kk = 0;
#if MR >= 8
            /* 8 k at a time through register transposes of rows [0, 8) and [MR - 8, MR) (they
             * overlap for MR 12; the overlap is stored twice with the same values): 1024 x 128 x 256
             * against pre-packed B spent a tenth of its time in the element-by-element copy */
            for (; kk + 8 <= kc; kk += 8) {
                v8f lo[8], hi[8];
#pragma GCC unroll 8
                for (int r = 0; r < 8; ++r) {
                    lo[r] = *(const v8fu *)(src[r] + kk);
                    hi[r] = *(const v8fu *)(src[MR - 8 + r] + kk);
                }
                transpose8(lo); /* lo[u] = rows 0 .. 7 at k = kk + u */
                transpose8(hi);
#pragma GCC unroll 8
                for (int u = 0; u < 8; ++u) {
                    *(v8fu *)(dst + (kk + u) * MR) = lo[u];
                    *(v8fu *)(dst + (kk + u) * MR + MR - 8) = hi[u];
                }
            }
#endif
            for (; kk < kc; ++kk) {
#pragma GCC unroll 16
                for (int r = 0; r < MR; ++r) dst[kk * MR + r] = src[r][kk];
            }
            continue;
        } else if (a->cs == 1) {
            for (long r = 0; r < mr; ++r) {
                const float *src = base + (i0 + ip + r) * a->rs + k0;
                for (long kk = 0; kk < kc; ++kk) dst[kk * MR + r] = src[kk];
            }
        } else {
            for (long kk = 0; kk < kc; ++kk) {
                const float *src = base + (i0 + ip) * a->rs + (k0 + kk) * a->cs;
                for (long r = 0; r < mr; ++r) dst[kk * MR + r] = src[r * a->rs];
            }
        }
        /* lanes past mr stay unset: the micro-kernel for mr rows never reads them */
    }
}

/* Rows [k0, k0+kc) x columns [j0, j0+nc) of B into NR-column panels. */
static void pack_b(const hy_operand *bo, long b, long k0, long kc, long j0, long nc, float *out)
{
    if (bo->kind == HY_CONV) {
        pack_conv(bo->conv, bo->ptr + b * bo->batch_stride, k0, kc, j0, nc, NR, out);
        return;
    }
    const float *base = bo->ptr + b * bo->batch_stride;
    for (long jp = 0; jp < nc; jp += NR) {
        const long nr = min_l(NR, nc - jp);
        float *dst = out + jp * kc;
        if (bo->cs == 1) {
            for (long kk = 0; kk < kc; ++kk) {
                const float *src = base + (k0 + kk) * bo->rs + j0 + jp;
                float *d = dst + kk * NR;
#pragma omp simd
                for (long j = 0; j < nr; ++j) d[j] = src[j];
                for (long j = nr; j < NR; ++j) d[j] = 0;
            }
        } else if (bo->rs == 1 && nr == NR) {
            /* columns contiguous (a transposed operand): NR column streams in, one NR-row out per k */
            const float *src[NR];
            for (int j = 0; j < NR; ++j) src[j] = base + k0 + (j0 + jp + j) * bo->cs;
            for (long kk = 0; kk < kc; ++kk) {
#pragma GCC unroll 32
                for (int j = 0; j < NR; ++j) dst[kk * NR + j] = src[j][kk];
            }
        } else {
            for (long j = 0; j < nr; ++j) {
                const float *src = base + k0 * bo->rs + (j0 + jp + j) * bo->cs;
                for (long kk = 0; kk < kc; ++kk) dst[kk * NR + j] = src[kk * bo->rs];
            }
            for (long kk = 0; kk < kc; ++kk)
                for (long j = nr; j < NR; ++j) dst[kk * NR + j] = 0;
        }
    }
}

/* --- the micro-kernel --- */

typedef struct tile_epilogue {
    const float *bias_i;  /* per tile row (NULL: none), already offset to the tile */
    const float *bias_j;  /* per tile column */
    const float *addend;  /* NULL, or the residual laid out as C, already offset to the tile */
    int act;
    float lo, hi;
} tile_epilogue;

HY_DEFINE_VECTOR_ACT(act_v, vf, vi)

/* Accumulator sets: small tiles split k over up to U_MAX sets of MR x NV
 * vectors, so enough FMAs are in flight to hide their latency. */
enum { U_MAX = 4 };

static inline __attribute__((always_inline)) void zero_sets(vf acc[U_MAX][MR][NV], const int u_sets, const int mr,
                                                            const int nv)
{
#pragma GCC unroll 4
    for (int u = 0; u < u_sets; ++u)
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) acc[u][i][v] = (vf){0};
}

/* The sets summed into acc[0]. */
static inline __attribute__((always_inline)) void fold_sets(vf acc[U_MAX][MR][NV], const int u_sets, const int mr,
                                                            const int nv)
{
#pragma GCC unroll 4
    for (int u = 1; u < u_sets; ++u)
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) acc[0][i][v] += acc[u][i][v];
}

/* The first n (1 <= n <= VL) floats at p in the low lanes, zeros above; the low n lanes of x
 * to p. Nothing past p[n - 1] is read or written (masked on AVX-512 and AVX2). */
#if HY_VB == 64 && defined(__AVX512F__)
#include <immintrin.h>
static inline vf load_n(const float *p, int n) { return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p); }
static inline void store_n(float *p, vf x, int n) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)x); }
#elif HY_VB == 32 && defined(__AVX2__)
#include <immintrin.h>
static inline __m256i mask_n(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
static inline vf load_n(const float *p, int n) { return (vf)_mm256_maskload_ps(p, mask_n(n)); }
static inline void store_n(float *p, vf x, int n) { _mm256_maskstore_ps(p, mask_n(n), (__m256)x); }
#else
static inline vf load_n(const float *p, int n)
{
    vf x = {0};
    for (int j = 0; j < n; ++j) x[j] = p[j];
    return x;
}
static inline void store_n(float *p, vf x, int n)
{
    for (int j = 0; j < n; ++j) p[j] = x[j];
}
#endif

/* The whole-vector tile (cs == 1, nr == nv VL: C's rows are the tile's rows) without a branch per
 * vector: the first K block starts from the bias, a later one adds what C holds once, and the
 * activation is a clamp (relu to [0, inf], none skipped), with or without the residual, one
 * instance each, where the branches on the epilogue used to sit in front of every vector. */
#if HY_VB == 64 && defined(__AVX512F__)
static inline vf clamp_v(vf x, vf lo, vf hi)
{
    /* max(lo, x) returns x where x is NaN (its second operand), as x < lo ? lo : x does; min likewise */
    return (vf)_mm512_min_ps((__m512)hi, _mm512_max_ps((__m512)lo, (__m512)x));
}
#elif HY_VB == 32 && defined(__AVX2__)
static inline vf clamp_v(vf x, vf lo, vf hi)
{
    return (vf)_mm256_min_ps((__m256)hi, _mm256_max_ps((__m256)lo, (__m256)x));
}
#else
static inline vf clamp_v(vf x, vf lo, vf hi) { return act_v(x, HY_ACT_CLAMP, lo[0], hi[0]); }
#endif

/* Set 0 of a whole-vector tile before its k loop: the bias in the first K block, zeros after. */
static inline __attribute__((always_inline)) void init_full(const int mr, const int nv, vf acc[MR][NV], int first,
                                                            const tile_epilogue *e)
{
    vf bj[NV];
#pragma GCC unroll 4
    for (int v = 0; v < nv; ++v) bj[v] = first && e->bias_j ? *(const vfu *)(e->bias_j + v * VL) : (vf){0};
    if (first && e->bias_i) {
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) acc[i][v] = bj[v] + e->bias_i[i];
    } else {
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) acc[i][v] = bj[v];
    }
}

static inline __attribute__((always_inline)) void store_full_as(const int mr, const int nv, const int add,
                                                                const int clamp, vf acc[MR][NV], float *restrict c,
                                                                long rs, const float *restrict d, vf lo, vf hi)
{
#pragma GCC unroll 16
    for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < nv; ++v) {
            vf x = acc[i][v];
            if (add) x += *(const vfu *)(d + i * rs + v * VL);
            if (clamp) x = clamp_v(x, lo, hi);
            *(vfu *)(c + i * rs + v * VL) = x;
        }
}

/* The finished whole-vector tile into C (see init_full: the bias is in it already when `first`). */
static inline __attribute__((always_inline)) void store_full(const int mr, const int nv, vf acc[MR][NV],
                                                             float *restrict c, long rs, int first, int last,
                                                             const tile_epilogue *e)
{
    if (!first)
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) acc[i][v] += *(const vfu *)(c + i * rs + v * VL);
    const vf none = {0};
    if (!last) {
        store_full_as(mr, nv, 0, 0, acc, c, rs, NULL, none, none);
        return;
    }
    const int clamp = e->act == HY_ACT_RELU || e->act == HY_ACT_CLAMP;
    const vf lo = none + (e->act == HY_ACT_RELU ? 0.0f : e->lo);
    const vf hi = none + (e->act == HY_ACT_RELU ? __builtin_inff() : e->hi);
    if (e->addend) {
        if (clamp) store_full_as(mr, nv, 1, 1, acc, c, rs, e->addend, lo, hi);
        else store_full_as(mr, nv, 1, 0, acc, c, rs, e->addend, lo, hi);
    } else {
        if (clamp) store_full_as(mr, nv, 0, 1, acc, c, rs, NULL, lo, hi);
        else store_full_as(mr, nv, 0, 0, acc, c, rs, NULL, lo, hi);
    }
}

/* A finished tile that is not whole vectors (mr x nr of acc, nv vectors a row; see store_full for
 * those) into C: added to what C holds unless `first`; bias, residual and activation applied when
 * `last`. A ragged last vector through masked loads and stores, element by element where C is
 * transposed (cs != 1). Only store_copy calls it. */
static inline __attribute__((always_inline)) void store_tile(const int mr, const int nv, vf acc[MR][NV],
                                                             float *restrict c, long rs, long cs, long nr, int first,
                                                             int last, const tile_epilogue *e)
{
    if (cs == 1) { /* a ragged last panel: whole vectors, then the partial one masked */
        for (int v = 0; v < nv; ++v) {
            const int n = nr - v * VL >= VL ? VL : (int)(nr - v * VL);
            if (n <= 0) break;
            const vf bj = last && e->bias_j ? load_n(e->bias_j + v * VL, n) : (vf){0};
            for (int i = 0; i < mr; ++i) {
                float *ci = c + i * rs + v * VL;
                vf x = acc[i][v];
                if (!first) x += load_n(ci, n);
                if (last) {
                    if (e->bias_i) x += e->bias_i[i];
                    x += bj;
                    if (e->addend) x += load_n(e->addend + i * rs + v * VL, n);
                    x = act_v(x, e->act, e->lo, e->hi);
                }
                store_n(ci, x, n);
            }
        }
        return;
    }
    float t[MR][NR] __attribute__((aligned(64)));
#pragma GCC unroll 16
    for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) *(vf *)(&t[i][v * VL]) = v < nv ? acc[i][v] : (vf){0};
    for (int i = 0; i < mr; ++i)
        for (long j = 0; j < nr; ++j) {
            float *cij = c + i * rs + j * cs;
            float x = t[i][j];
            if (!first) x += *cij;
            if (last) {
                if (e->bias_i) x += e->bias_i[i];
                if (e->bias_j) x += e->bias_j[j];
                if (e->addend) x += e->addend[i * rs + j * cs];
                x = hy_act_scalar(x, e->act, e->lo, e->hi);
            }
            *cij = x;
        }
}

/* store_tile on a copy of the accumulators: its ragged paths index them with runtime bounds,
 * which on acc itself kept all of them in memory for the whole k loop (a tile spilled and
 * reloaded its 24 vectors: 12 x 32 at k 16 ran 640 cycles against 445 without) */
static inline __attribute__((always_inline)) void store_copy(const int mr, const int nv, vf acc[MR][NV],
                                                             float *restrict c, long rs, long cs, long nr, int first,
                                                             int last, const tile_epilogue *e)
{
    vf t[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < nv; ++v) t[i][v] = acc[i][v];
    store_tile(mr, nv, t, c, rs, cs, nr, first, last, e);
}

/* tile (mr x nr of MR x NR; nv vectors of each row) = A panel * B panel over kc; C (+)= tile.
 * Small tiles split k over several accumulator sets so enough FMAs are in
 * flight to hide their latency. */
static inline __attribute__((always_inline)) void ukernel(const int mr, const int nv, const int a_rows, long lda, long kc,
                                                          const float *restrict a, const float *restrict b, long ldb,
                                                          float *restrict c, long rs, long cs, long nr, int first,
                                                          int last, const tile_epilogue *e, const float *pf,
                                                          long pf_lines, const float *a_next)
{
    /* the tile's rows arrive while its k loop runs (GEMM_PREFETCH_C_K) */
    if (cs == 1 && kc >= GEMM_PREFETCH_C_K)
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i) {
            __builtin_prefetch(c + i * rs, 1);
            __builtin_prefetch(c + i * rs + NR - 1, 1);
        }
    /* A(i, k): a packed panel is K-major (MR floats per k); A read in place is row-major at lda,
     * row i at ap[i / 3] + (i % 3) lda: four pointers walked along k and one byte stride, every
     * row one addressing mode (GCC otherwise kept a pointer per row and spilled them: a 12 x 16
     * tile in place ran 20 cycles per k where its 12 FMAs need 12) */
    const char *ap[4];
    const long lb = lda * (long)sizeof(float);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) ap[q] = (const char *)(a + 3 * q * lda);
#define A_AT(i, u) \
    (a_rows ? *(const float *)(ap[(i) / 3] + ((i) % 3) * lb + (u) * (long)sizeof(float)) : a[(k + (u)) * MR + (i)])
#define A_STEP(n)                                                                      \
    do {                                                                               \
        if (a_rows) {                                                                  \
            for (int q = 0; q < 4; ++q) ap[q] += (n) * (long)sizeof(float);            \
            __asm__("" : "+r"(ap[0]), "+r"(ap[1]), "+r"(ap[2]), "+r"(ap[3]));          \
        }                                                                              \
    } while (0)
    const int u_sets = mr * nv >= 8 ? 1 : (mr * nv >= 4 ? 2 : 4);
    const int full = cs == 1 && nr == nv * VL;
    vf acc[U_MAX][MR][NV];
    zero_sets(acc, u_sets, mr, nv);
    if (full) init_full(mr, nv, acc[0], first, e);
    long k = 0, line = 0;
#pragma GCC unroll 2
    for (; k + u_sets <= kc; k += u_sets, ++line) {
        /* this tile's share of the next B panel into L2, one line per step */
        if (line < pf_lines) __builtin_prefetch(pf + line * 16, 0, 2);
#ifdef HY_PREFETCH_A
        if (a_next) __builtin_prefetch(a_next + (k + u_sets * 8) * MR); /* the next A panel, into L1 */
#else
        (void)a_next;
#endif
#pragma GCC unroll 4
        for (int u = 0; u < u_sets; ++u) {
            const float *bk = b + (k + u) * ldb;
            vf bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) bv[v] = *(const vfu *)(bk + v * VL);
#pragma GCC unroll 16
            for (int i = 0; i < mr; ++i) {
                const float av = A_AT(i, u);
#pragma GCC unroll 4
                for (int v = 0; v < nv; ++v) acc[u][i][v] += bv[v] * av;
            }
        }
        A_STEP(u_sets);
    }
    for (; k < kc; ++k) {
        const float *bk = b + k * ldb;
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) acc[0][i][v] += *(const vfu *)(bk + v * VL) * A_AT(i, 0);
        A_STEP(1);
    }
#undef A_AT
#undef A_STEP
    fold_sets(acc, u_sets, mr, nv);

    if (full) store_full(mr, nv, acc[0], c, rs, first, last, e);
    else store_copy(mr, nv, acc[0], c, rs, cs, nr, first, last, e);
}

/* A tile of at most one vector's columns (N <= VL, or a ragged last panel) runs on one vector
 * per row (the other accumulators stay zero): a 1x1 conv of 32 -> 16 channels over 112x112
 * pixels did twice the FMAs on the full 12 x 32 tile */
#define HY_UK_CALL(M, NVV, ROWS, LDA) \
    ukernel(M < MR ? M : MR, NVV, ROWS, LDA, kc, a, b, ldb, c, rs, cs, nr, first, last, e, pf, pf_lines, a_next)
#define HY_UK_CASE(M)                                                                         \
    case M:                                                                                   \
        if (NV > 1 && nr <= VL) {                                                             \
            if (lda) HY_UK_CALL(M, 1, 1, lda);                                                \
            else HY_UK_CALL(M, 1, 0, 0);                                                      \
        } else if (lda) {                                                                     \
            HY_UK_CALL(M, NV, 1, lda);                                                        \
        } else {                                                                              \
            HY_UK_CALL(M, NV, 0, 0);                                                          \
        }                                                                                     \
        break;

/* The micro-kernel for mr rows; A is a packed panel (lda 0) or rows of A read in place at lda. */
static void ukernel_mr(long mr, long lda, long kc, const float *a, const float *b, long ldb, float *c, long rs,
                       long cs, long nr, int first, int last, const tile_epilogue *e, const float *pf,
                       long pf_lines, const float *a_next)
{
    switch (mr) {
        HY_UK_CASE(1)
        HY_UK_CASE(2)
        HY_UK_CASE(3)
        HY_UK_CASE(4)
#if MR > 4
        HY_UK_CASE(5)
        HY_UK_CASE(6)
#endif
#if MR > 6
        HY_UK_CASE(7)
        HY_UK_CASE(8)
#endif
#if MR > 8
        HY_UK_CASE(9)
        HY_UK_CASE(10)
        HY_UK_CASE(11)
        HY_UK_CASE(12)
#endif
#if MR > 12
#error "extend ukernel_mr for HY_MR > 12"
#endif
    default:
        break;
    }
}

/* Small M (a GEMV, or up to GV_MAX rows) against pre-packed B: A's rows are
 * read in place (a packed A panel would spread a few rows over MR lanes and
 * fill L1 with padding), K runs whole, and the k loop is split over enough
 * accumulator sets to keep the FMAs independent while each B panel streams
 * from L2; rows GV_AHEAD ahead are prefetched into L1. Measured on a 512 x 256
 * layer (512 KB of weights in L2): 3.5 us against 5.0 us for the packed path. */
#define GV_MAX 4
#ifndef GV_AHEAD
#define GV_AHEAD 16
#endif

static inline __attribute__((always_inline)) void gemv_tile(const int mr, long k, const float *restrict a, long lda,
                                                            const float *restrict b, float *restrict c, long rs,
                                                            long cs, long nr, const tile_epilogue *e)
{
    const int u_sets = mr * NV >= 8 ? 1 : (mr * NV >= 4 ? 2 : 4);
    const int full = cs == 1 && nr == NR;
    vf acc[U_MAX][MR][NV];
    zero_sets(acc, u_sets, mr, NV);
    if (full) init_full(mr, NV, acc[0], 1, e);
    long kk = 0;
    for (; kk + u_sets <= k; kk += u_sets) {
        const float *bk = b + kk * NR;
#pragma GCC unroll 4
        for (int u = 0; u < u_sets; ++u) {
            __builtin_prefetch(bk + (u + GV_AHEAD) * NR, 0, 3);
            vf bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) bv[v] = *(const vfu *)(bk + u * NR + v * VL);
#pragma GCC unroll 4
            for (int i = 0; i < mr; ++i) {
                const float av = a[i * lda + kk + u];
#pragma GCC unroll 4
                for (int v = 0; v < NV; ++v) acc[u][i][v] += bv[v] * av;
            }
        }
    }
    for (; kk < k; ++kk)
#pragma GCC unroll 4
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[0][i][v] += *(const vfu *)(b + kk * NR + v * VL) * a[i * lda + kk];
    fold_sets(acc, u_sets, mr, NV);
    if (full) store_full(mr, NV, acc[0], c, rs, 1, 1, e);
    else store_copy(mr, NV, acc[0], c, rs, cs, nr, 1, 1, e);
}

static void gemv_tile_mr(long mr, long k, const float *a, long lda, const float *b, float *c, long rs, long cs,
                         long nr, const tile_epilogue *e)
{
    switch (mr) {
    case 1: gemv_tile(1, k, a, lda, b, c, rs, cs, nr, e); break;
    case 2: gemv_tile(2, k, a, lda, b, c, rs, cs, nr, e); break;
    case 3: gemv_tile(3, k, a, lda, b, c, rs, cs, nr, e); break;
    case 4: gemv_tile(4, k, a, lda, b, c, rs, cs, nr, e); break;
    default: break;
    }
}

/* --- the driver --- */

typedef struct gemm_call {
    long m, n, k;
    const hy_operand *a, *b;
    float *c;
    long cbs, ldc;
    int trans;
    const hy_epilogue *epi;
} gemm_call;

/* The register epilogue of the tile at (i0, j0), stored at c_offset floats from C: its slice of
 * the bias and of the residual, the activation. */
static inline tile_epilogue tile_epi(const hy_epilogue *epi, int bias_on_i, int bias_on_j, long i0, long j0,
                                     long c_offset)
{
    tile_epilogue te = {0};
    if (epi) {
        te.bias_i = bias_on_i ? epi->bias + i0 : NULL;
        te.bias_j = bias_on_j ? epi->bias + j0 : NULL;
        te.addend = epi->addend ? epi->addend + c_offset : NULL;
        te.act = epi->act;
        te.lo = epi->lo;
        te.hi = epi->hi;
    }
    return te;
}

/* The generated epilogue on a finished (stored) tile, in the stored result's coordinates. */
static inline void finish_tile(const gemm_call *g, long bt, long i0, long j0, long mr, long nr, float *ct)
{
    const hy_epilogue *epi = g->epi;
    if (!epi || !epi->tile) return;
    if (g->trans) epi->tile(epi->ctx, bt, j0 + epi->row_base, i0, nr, mr, ct, g->ldc);
    else epi->tile(epi->ctx, bt, i0 + epi->row_base, j0, mr, nr, ct, g->ldc);
}

/* The K block against pre-packed B (a linear layer's weights): as long as the
 * A block (HY_MC x kc) and one B panel (kc x NR) fill at most half of this
 * core's L2, so C (too big for L2 at 1024 x 1024) is read and written once
 * per kc, not once per 256: 1024^3 at 1 thread, against the FMA probe in the
 * same moments, 71% -> 80% of the peak; 256 x 4096 x 1024 79% -> 84%.
 * Where B is packed per call or read in place its panel rows come from
 * farther away and a longer block measured slower (a 1x1 conv of 512 -> 256
 * channels at 28x28: 64% -> 61% of the peak at kc 512), so those keep HY_KC. */
static long kc_packed_b(void)
{
    static long cached;
    long kc = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (kc) return kc;
    long l2 = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    kc = l2 > 0 ? l2 / 2 / ((long)(HY_MC + NR) * (long)sizeof(float)) / 64 * 64 : HY_KC;
    kc = kc < HY_KC ? HY_KC : (kc > HY_KC_MAX ? HY_KC_MAX : kc);
    __atomic_store_n(&cached, kc, __ATOMIC_RELAXED);
    return kc;
}

/* Rows [i_lo, i_hi) and columns [j_lo, j_hi) of batch element bt. */
static int gemm_part(const gemm_call *g, long bt, long i_lo, long i_hi, long j_lo, long j_hi)
{
    const long k = g->k;
    /* K blocks keep a B panel near (L1 at HY_KC, L2 at the longer blocks kc_packed_b
     * allows) across the A panels of a block; with a single A panel (GEMV, M <= MR)
     * nothing is reused, so K runs whole */
    const int pack_a_needed = g->a->kind != HY_PACKED, pack_b_needed = g->b->kind != HY_PACKED;
    const long kc_cap = pack_b_needed ? HY_KC : kc_packed_b();
    const long nblocks = i_hi - i_lo <= MR ? 1 : (k + kc_cap - 1) / kc_cap;
    const long kc_max = (k + nblocks - 1) / nblocks;
    const long rs = g->trans ? 1 : g->ldc, cs = g->trans ? g->ldc : 1;
    const hy_epilogue *epi = g->epi;
    const int bias_on_i = epi && epi->bias && (epi->bias_rows != g->trans);
    const int bias_on_j = epi && epi->bias && !bias_on_i;
    if (!pack_b_needed && g->a->kind == HY_STRIDED && g->a->cs == 1 && i_hi - i_lo <= GV_MAX && MR >= GV_MAX) {
        const float *a = g->a->ptr + bt * g->a->batch_stride + i_lo * g->a->rs;
        const float *pb = g->b->ptr + bt * g->b->batch_stride;
        const long mr = i_hi - i_lo;
        for (long j0 = j_lo; j0 < j_hi; j0 += NR) {
            const long nr = min_l(NR, j_hi - j0);
            const long at = bt * g->cbs + i_lo * rs + j0 * cs;
            const tile_epilogue te = tile_epi(epi, bias_on_i, bias_on_j, i_lo, j0, at);
            float *ct = g->c + at;
            gemv_tile_mr(mr, k, a, g->a->rs, pb + (j0 / NR) * k * NR, ct, rs, cs, nr, &te);
            finish_tile(g, bt, i_lo, j0, mr, nr, ct);
        }
        return HY_OK;
    }
    /* B with contiguous rows (a 1x1 convolution's input, channels x pixels) is read in place:
     * the micro-kernel loads row k of a panel from B itself, so the input is not copied
     * (144 -> 24 channels over 56x56: the copy was 1.8 MB per call) */
    const int b_in_place = pack_b_needed && g->b->kind == HY_STRIDED && g->b->cs == 1 && g->b->rs >= NR;
    /* A with contiguous rows (activations times pre-packed weights: a linear layer, a channels-last
     * 1x1 conv) is read in place too: the micro-kernel broadcasts A(i, k) from row i, so A is never
     * copied into panels (a 1x1 conv of 32 -> 16 channels over 112x112 pixels ran 675 us with the
     * copy). Beyond a few B panels packing pays only where A's rows lie a multiple of 4 KB apart
     * (the MR rows a tile reads share one L1 set and evict each other: 1024^3 110 -> 100 GFLOP/s in
     * place, k 2048 and 3072 alike) or B is wider than one NC block (N 2048: ~1% slower in place).
     * Elsewhere in place measured faster at 1 thread, AVX-512 (12x32): 1024 x 256 x 512 112 -> 115
     * GFLOP/s, 1024 x 128 x 256 109 -> 114, 1024 x 256 x 768 111 -> 114; AVX2 (6x16) 106 -> 112,
     * 100 -> 112, 105 -> 113. */
    const long a_row_bytes = g->a->rs * (long)sizeof(float);
    const int a_in_place = pack_a_needed && !pack_b_needed && g->a->kind == HY_STRIDED && g->a->cs == 1 &&
                           (j_hi - j_lo <= GEMM_A_IN_PLACE_PANELS * NR || (j_hi - j_lo <= HY_NC && a_row_bytes % 4096));
    float *ws = NULL, *wa = NULL, *wb = NULL;
    if ((pack_a_needed && !a_in_place) || pack_b_needed) {
        const size_t na = pack_a_needed && !a_in_place ? (size_t)(HY_MC + MR) * kc_max : 0;
        const size_t nb = pack_b_needed ? (size_t)(HY_NC + NR) * kc_max : 0;
        ws = workspace(na + nb);
        if (!ws) return HY_ERR_NOMEM;
        wa = ws;
        wb = ws + ((na + 15) & ~(size_t)15);
    }
    for (long jc = j_lo; jc < j_hi; jc += HY_NC) {
        const long nc = min_l(HY_NC, j_hi - jc);
        for (long pc = 0; pc < k; pc += kc_max) {
            const long kc = min_l(kc_max, k - pc);
            const int first = pc == 0, last = pc + kc == k;
            const float *pb;
            long pb_stride;
            if (b_in_place) { /* only a ragged last panel is packed (reading on would pass the row's end) */
                const long full = nc / NR * NR;
                if (full < nc) pack_b(g->b, bt, pc, kc, jc + full, nc - full, wb);
                pb = wb - (full / NR) * kc * NR; /* panel full / NR of this block is wb */
                pb_stride = kc * NR;
            } else if (pack_b_needed) {
                pack_b(g->b, bt, pc, kc, jc, nc, wb);
                pb = wb;
                pb_stride = kc * NR;
            } else {
                pb = g->b->ptr + bt * g->b->batch_stride + (jc / NR) * k * NR + pc * NR;
                pb_stride = k * NR;
            }
            for (long ic = i_lo; ic < i_hi; ic += HY_MC) {
                const long mc = min_l(HY_MC, i_hi - ic);
                const float *pa;
                long pa_stride, lda = 0;
                if (a_in_place) {
                    pa = g->a->ptr + bt * g->a->batch_stride + ic * g->a->rs + pc;
                    pa_stride = MR * g->a->rs;
                    lda = g->a->rs;
                } else if (pack_a_needed) {
                    pack_a(g->a, bt, ic, mc, pc, kc, wa);
                    pa = wa;
                    pa_stride = kc * MR;
                } else {
                    pa = g->a->ptr + bt * g->a->batch_stride + (ic / MR) * k * MR + pc * MR;
                    pa_stride = k * MR;
                }
                for (long jr = 0; jr < nc; jr += NR) {
                    const long nr = min_l(NR, nc - jr);
                    const float *bp = pb + (jr / NR) * pb_stride;
                    long ldb = NR;
                    if (b_in_place && jr + NR <= nc) { /* a whole panel read where it is: row k at rs */
                        bp = g->b->ptr + bt * g->b->batch_stride + pc * g->b->rs + jc + jr;
                        ldb = g->b->rs;
                    }
                    for (long ir = 0; ir < mc; ir += MR) {
                        const long mr = min_l(MR, mc - ir);
                        const long i0 = ic + ir, j0 = jc + jr;
                        const long at = bt * g->cbs + i0 * rs + j0 * cs;
                        const tile_epilogue te = tile_epi(epi, bias_on_i, bias_on_j, i0, j0, at);
                        float *ct = g->c + at;
                        /* a pre-packed B panel comes from memory: while this panel's tiles run, each
                         * brings its share of the next one into L2 (a freshly packed one is in cache) */
                        const long tiles = (mc + MR - 1) / MR, share = (kc * NR + tiles - 1) / tiles;
                        int pf_on = !pack_b_needed && jr + NR < nc;
                        const float *next = bp + pb_stride + (ir / MR) * share;
                        long lines = pf_on ? (share + 15) / 16 : 0;
                        /* pre-packed A (weights times activations, as a 1x1 conv runs): on the first B
                         * panel each tile brings the A panel GEMM_A_AHEAD tiles on into L2, so weights
                         * stream from memory at its bandwidth, not its latency (later B panels find
                         * them in L2). 1280 x 49 x 320 with weights from DRAM: 456 -> 344 us */
                        if (!pf_on && !pack_a_needed && jr == 0) {
                            const long ahead = (ic + ir) / MR + GEMM_A_AHEAD;
                            if (ahead * MR < i_hi) {
                                next = g->a->ptr + bt * g->a->batch_stride + ahead * k * MR + pc * MR;
                                lines = (kc * MR + 15) / 16;
                                pf_on = 1;
                            }
                        }
                        const float *a_next = ir + MR < mc && !lda ? pa + (ir / MR + 1) * pa_stride : NULL;
                        ukernel_mr(mr, lda, kc, pa + (ir / MR) * pa_stride, bp, ldb, ct, rs, cs, nr, first, last, &te,
                                   pf_on ? next : bp, lines, a_next);
                        if (last) finish_tile(g, bt, i0, j0, mr, nr, ct);
                    }
                }
            }
        }
    }
    return HY_OK;
}

/* K = 0: C = bias and activation of zero, then the epilogue. */
static void gemm_empty(const gemm_call *g, long bt)
{
    float *c = g->c + bt * g->cbs;
    const long rows = g->trans ? g->n : g->m, cols = g->trans ? g->m : g->n;
    const hy_epilogue *e = g->epi;
    tile_epilogue te = {0};
    if (e) {
        te.act = e->act;
        te.lo = e->lo;
        te.hi = e->hi;
    }
    for (long r = 0; r < rows; ++r)
        for (long j = 0; j < cols; ++j) {
            float x = 0;
            if (e && e->bias) x = e->bias_rows ? e->bias[r] : e->bias[j];
            if (e && e->addend) x += e->addend[bt * g->cbs + r * g->ldc + j];
            c[r * g->ldc + j] = hy_act_scalar(x, te.act, te.lo, te.hi);
        }
    if (e && e->tile) e->tile(e->ctx, bt, e->row_base, 0, rows, cols, c, g->ldc);
}

int hy_sgemm(long batch, long m, long n, long k, const hy_operand *a, const hy_operand *b, float *c,
             long c_batch_stride, long ldc, int c_trans, const hy_epilogue *epi, int threads)
{
    if (batch <= 0 || m <= 0 || n <= 0) return HY_OK;
    gemm_call g = {m, n, k, a, b, c, c_batch_stride, ldc, c_trans, epi};
    if (k <= 0) {
        for (long bt = 0; bt < batch; ++bt) gemm_empty(&g, bt);
        return HY_OK;
    }
    int nt = threads < 1 ? 1 : threads;
    /* small work stays on one thread; a GEMV streaming large weights gains from two cores' caches */
    const double macs = (double)batch * m * n * k;
    if (macs < (double)HY_PARALLEL_MIN_MACS && !(m <= 2 * MR && (double)n * k * sizeof(float) >= 256 * 1024)) nt = 1;
    const long mp = (m + MR - 1) / MR, np = (n + NR - 1) / NR;
    if (nt > 1 && batch < nt && mp * np < 2) nt = 1;
    int err = 0;
    if (nt == 1) {
        for (long bt = 0; bt < batch; ++bt) err |= gemm_part(&g, bt, 0, m, 0, n);
        return err;
    }
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        HY_THREAD_ID(t, tn);
        if (batch >= tn) {
            for (long bt = t; bt < batch; bt += tn) err |= gemm_part(&g, bt, 0, m, 0, n);
        } else {
            /* split the longer side of the tile grid into tn panel-aligned ranges */
            for (long bt = 0; bt < batch; ++bt) {
                if (hy_gemm_splits_columns(m, n)) {
                    const long lo = np * t / tn * NR, hi = min_l(np * (t + 1) / tn * NR, n);
                    if (lo < hi) err |= gemm_part(&g, bt, 0, m, lo, hi);
                } else {
                    const long lo = mp * t / tn * MR, hi = min_l(mp * (t + 1) / tn * MR, m);
                    if (lo < hi) err |= gemm_part(&g, bt, lo, hi, 0, n);
                }
            }
        }
    }
    return err;
}
