/* Direct convolution on the GEMM micro-kernel's register tile, with no
 * im2col: the input image is copied once into a zero-padded NHWC buffer, so
 * the MR pixels of a tile and the channels of one kernel tap are plain
 * strided reads (channels contiguous). A tile is MR consecutive pixels of
 * the output plane (rows wrap) x NR output channels; it accumulates
 * over every tap and input channel in registers (no K blocking, no reload of
 * the output), then is stored transposed into the NCHW output with bias and
 * activation, and the generated epilogue runs on it.
 *
 * Weights are packed at build time as NR-channel panels over k = (r, q, c)
 * (kernel row, kernel column, input channel of the group).
 *
 * hy_conv2d_nhwc runs the same tiles over channels-last images (the layout
 * pass): the padded copy is a memcpy per row (none at all without padding:
 * the tiles read the image in place), and a tile of MR pixels x NR channels is
 * the output's own layout, so full panels are stored straight from registers. */
#include "hy_act.h"
#include "hy_kernels.h"
#include "hy_transpose.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CV_VL (HY_VB / 4)
/* Pixels per tile, at most HY_CONV_MR (the register tile's rows: 12 on AVX-512,
 * 6 on AVX2); hy_conv2d takes fewer (conv_rows) where the reduction is short. */
#ifndef HY_CONV_MR
#define HY_CONV_MR HY_MR
#endif
#define CV_NV (HY_NR / CV_VL)

typedef float cv_vf __attribute__((vector_size(HY_VB)));
typedef float cv_vfu __attribute__((vector_size(HY_VB), aligned(4)));

typedef int cv_vi __attribute__((vector_size(HY_VB)));
HY_DEFINE_VECTOR_ACT(cv_act, cv_vf, cv_vi)

/* The tile's bias, residual and activation, applied in registers before it is stored. */
typedef struct conv_finish {
    const float *bias;   /* HY_NR floats, 64-byte aligned (zeros past the panel's channels) */
    const float *addend; /* NULL, or HY_NR floats per tile row at row stride ald (a residual) */
    long ald;
    int act;
    float lo, hi;
} conv_finish;

static inline __attribute__((always_inline)) void conv_tile(const int mr, long taps, const long *tap_off, long clen,
                                                            const float *const *pix,
                                                            const float *restrict b, float *restrict t, long ldt,
                                                            const float *pf, long pf_lines, const conv_finish *f)
{
    cv_vf acc[HY_CONV_MR][CV_NV];
#pragma GCC unroll 16
    for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < CV_NV; ++v) acc[i][v] = (cv_vf){0};
    long line = 0;
    for (long s = 0; s < taps; ++s) {
        const float *as[HY_CONV_MR];
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i) as[i] = pix[i] + tap_off[s];
        const float *bs = b + s * clen * HY_NR;
#pragma GCC unroll 2
        for (long c = 0; c < clen; ++c, ++line) {
            if (line < pf_lines) __builtin_prefetch(pf + line * 16, 0, 2);
            cv_vf bv[CV_NV];
#pragma GCC unroll 4
            for (int v = 0; v < CV_NV; ++v) bv[v] = *(const cv_vf *)(bs + c * HY_NR + v * CV_VL);
#pragma GCC unroll 16
            for (int i = 0; i < mr; ++i) {
                const float av = as[i][c];
#pragma GCC unroll 4
                for (int v = 0; v < CV_NV; ++v) acc[i][v] += bv[v] * av;
            }
        }
    }
    cv_vf bias[CV_NV];
#pragma GCC unroll 4
    for (int v = 0; v < CV_NV; ++v) bias[v] = *(const cv_vf *)(f->bias + v * CV_VL);
    if (f->addend)
#pragma GCC unroll 16
        for (int i = 0; i < mr; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < CV_NV; ++v) acc[i][v] += *(const cv_vfu *)(f->addend + i * f->ald + v * CV_VL);
    /* one branch on the activation per tile, outside the vector loops */
#define CV_FINISH(ACT)                                                                           \
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; ++i)                                        \
        _Pragma("GCC unroll 4") for (int v = 0; v < CV_NV; ++v)                                  \
            *(cv_vfu *)(t + i * ldt + v * CV_VL) = cv_act(acc[i][v] + bias[v], ACT, f->lo, f->hi);
    if (f->act == HY_ACT_RELU) {
        CV_FINISH(HY_ACT_RELU)
    } else if (f->act == HY_ACT_CLAMP) {
        CV_FINISH(HY_ACT_CLAMP)
    } else {
        CV_FINISH(HY_ACT_NONE)
    }
#undef CV_FINISH
}

#define HY_CONV_CASE(M)                                                      \
    case M:                                                                  \
        conv_tile(M < HY_CONV_MR ? M : HY_CONV_MR, taps, tap_off, clen, pix, b, t, ldt, pf, pf_lines, f); \
        break;

static void conv_tile_mr(long mr, long taps, const long *tap_off, long clen, const float *const *pix, const float *b,
                         float *t, long ldt, const float *pf, long pf_lines, const conv_finish *f)
{
    switch (mr) {
        HY_CONV_CASE(1)
        HY_CONV_CASE(2)
        HY_CONV_CASE(3)
        HY_CONV_CASE(4)
#if HY_CONV_MR > 4
        HY_CONV_CASE(5)
        HY_CONV_CASE(6)
#endif
#if HY_CONV_MR > 6
        HY_CONV_CASE(7)
        HY_CONV_CASE(8)
#endif
#if HY_CONV_MR > 8
        HY_CONV_CASE(9)
        HY_CONV_CASE(10)
        HY_CONV_CASE(11)
        HY_CONV_CASE(12)
#endif
#if HY_CONV_MR > 12
#error "extend conv_tile_mr for HY_CONV_MR > 12"
#endif
    default:
        break;
    }
}

/* Rows [i0, i1) of the padded NHWC copy of one image, xp[(i + ph) * wp + (j + pw)][c] = x[c][i][j]
 * (rows of padding included when i0 == 0 or i1 == h): 8 x 8 blocks of (channels x columns) go
 * through a register transpose, the ragged rest one by one. */
static void to_padded_nhwc(const float *x, long plane, long step, long c, long h, long w, long ph, long pw, long hp,
                           long wp, float *xp, long i0, long i1)
{
    if (i0 == 0) memset(xp, 0, sizeof(float) * (size_t)(ph * wp * c));
    if (i1 == h) memset(xp + (h + ph) * wp * c, 0, sizeof(float) * (size_t)((hp - h - ph) * wp * c));
    for (long i = i0; i < i1; ++i) {
        float *row = xp + (i + ph) * wp * c;
        memset(row, 0, sizeof(float) * (size_t)(pw * c));
        memset(row + (pw + w) * c, 0, sizeof(float) * (size_t)((wp - pw - w) * c));
        float *dst = row + pw * c;
        long ch = 0;
        for (; ch + 8 <= c; ch += 8) {
            long j = 0;
            for (; j + 8 <= w; j += 8) {
                v8f r[8];
                for (int u = 0; u < 8; ++u) r[u] = *(const v8fu *)(x + (ch + u) * plane + i * step * w + j);
                transpose8(r); /* r[v] = channels ch .. ch+7 of column j + v */
                for (int v = 0; v < 8; ++v) *(v8fu *)(dst + (j + v) * c + ch) = r[v];
            }
            for (; j < w; ++j)
                for (int u = 0; u < 8; ++u) dst[j * c + ch + u] = x[(ch + u) * plane + i * step * w + j];
        }
        for (; ch < c; ++ch)
            for (long j = 0; j < w; ++j) dst[j * c + ch] = x[ch * plane + i * step * w + j];
    }
}

/* Pixels per tile for a reduction of k: a B panel of k x NR that outgrows L1 is
 * streamed from L2 once per tile, so long reductions take the full 12 rows
 * (512 x 7x7, k 4608: 1291 -> 1217 us); on Intel cores short ones take 8,
 * which measured faster there (32 -> 64 channels at 32x32, k 288: 202 against
 * 248 us; the 7x7 stem 1390 against 1632). AMD's Zen cores (one 512-bit FMA a
 * cycle, three load ports) run every length faster on 12: the stem 2266 ->
 * 2180 us, 32 -> 64 at 32x32 339 -> 334, 64 at 56x56 2030 -> 2021. Always the
 * whole tile where it has 8 rows or fewer. */
#ifndef CONV_SHORT_K
#if HY_ZEN
#define CONV_SHORT_K 0
#else
#define CONV_SHORT_K 1024
#endif
#endif
static inline long conv_rows(long k)
{
    return HY_CONV_MR > 8 && k <= CONV_SHORT_K ? 8 : HY_CONV_MR;
}

/* Tiles [t0, t1) of one group of one image; tile = (channel panel, output row, column block). */
static void conv_tiles(const hy_conv2d_call *cc, long bt, long gr, const float *xp, long wp, const long *tap_off,
                       long runs, long t0, long t1, int nhwc)
{
    const hy_conv_geometry *g = &cc->geometry;
    const long og = cc->out_channels_per_group, cg = g->c;
    const long cp = cc->in_channels;
    const long plane = g->oh * g->ow;
    const long k = g->kh * g->kw * cg;
    const long cmr = conv_rows(k);
    const long per_panel = (plane + cmr - 1) / cmr;
    static const hy_epilogue none = {0};
    const hy_epilogue *e = cc->epilogue ? cc->epilogue : &none;
    float t[HY_CONV_MR * HY_NR] __attribute__((aligned(64)));
    float bias[HY_NR] __attribute__((aligned(64)));
    long bias_at = -1;
    const conv_finish fin = {bias, NULL, 0, e->act, e->lo, e->hi};
    for (long tile = t0; tile < t1; ++tile) {
        const long panel = tile / per_panel, rest = tile % per_panel;
        const long p0 = rest * cmr, mr = plane - p0 < cmr ? plane - p0 : cmr;
        const long oc0 = panel * HY_NR, nr = og - oc0 < HY_NR ? og - oc0 : HY_NR;
        /* a tile is MR consecutive output pixels of the plane, across row ends
         * (7x7 planes would waste 5 of every 12 pixel slots in row tiles) */
        const float *pix[HY_CONV_MR];
        for (long i = 0, oi = p0 / g->ow, oj = p0 % g->ow; i < mr; ++i) {
            pix[i] = xp + ((oi * g->sh) * wp + oj * g->sw) * cp + gr * cg;
            if (++oj == g->ow) oj = 0, ++oi;
        }
        const float *b = cc->weights + (gr * ((og + HY_NR - 1) / HY_NR) + panel) * k * HY_NR;
        /* while this panel's tiles run, bring the next panel's weights into L2, a share per tile:
         * its first tile would otherwise stream them from memory at the FMA rate */
        const long panels = (og + HY_NR - 1) / HY_NR;
        const long share = (k * HY_NR + per_panel - 1) / per_panel;
        const long lines = panel + 1 < panels && rest * share < k * HY_NR ? (share + 15) / 16 : 0;
        const long ocg = gr * og + oc0;
        if (ocg != bias_at) { /* this panel's bias, zeros past its channels */
            for (long j = 0; j < HY_NR; ++j) bias[j] = cc->bias && j < nr ? cc->bias[ocg + j] : 0.0f;
            bias_at = ocg;
        }
        const float *pf = lines ? b + k * HY_NR + rest * share : b;
        if (nhwc) { /* pixels x channels, as the tile is: full panels straight into the output */
            const long oc = cc->groups * og;
            const long at = bt * cc->out_batch_stride + p0 * oc + ocg;
            float *y = cc->out + at;
            const float *res = e->addend ? e->addend + at : NULL; /* the residual, laid out as the output */
            /* the tile's output lines, fetched for writing while its reduction runs: an output that
             * left the caches since the last call (the 7x7 stem's 3.2 MB) otherwise stalls the
             * stores on reads from memory */
            for (long i = 0; i < mr; ++i) {
                __builtin_prefetch(y + i * oc, 1);
                __builtin_prefetch(y + i * oc + nr - 1, 1);
            }
            if (nr == HY_NR) {
                const conv_finish with_res = {bias, res, oc, e->act, e->lo, e->hi};
                conv_tile_mr(mr, runs, tap_off, k / runs, pix, b, y, oc, pf, lines, res ? &with_res : &fin);
            } else if (!res) {
                conv_tile_mr(mr, runs, tap_off, k / runs, pix, b, t, HY_NR, pf, lines, &fin);
                for (long i = 0; i < mr; ++i) memcpy(y + i * oc, t + i * HY_NR, sizeof(float) * (size_t)nr);
            } else { /* a ragged panel: the residual's row ends at nr, so it is added as the tile is copied out */
                const conv_finish bias_only = {bias, NULL, 0, HY_ACT_NONE, 0, 0};
                conv_tile_mr(mr, runs, tap_off, k / runs, pix, b, t, HY_NR, pf, lines, &bias_only);
                for (long i = 0; i < mr; ++i)
                    for (long j = 0; j < nr; ++j)
                        y[i * oc + j] = hy_act_scalar(t[i * HY_NR + j] + res[i * oc + j], e->act, e->lo, e->hi);
            }
            if (e->tile) e->tile(e->ctx, bt, p0, ocg, mr, nr, y, oc);
            continue;
        }
        conv_tile_mr(mr, runs, tap_off, k / runs, pix, b, t, HY_NR, pf, lines, &fin);
        /* store transposed: channel row oc, pixels p0 .. p0+mr contiguous */
        float *y = cc->out + bt * cc->out_batch_stride + ocg * plane + p0;
        for (long i0 = 0; i0 < mr; i0 += 8) { /* 8 pixels x 8 channels per register transpose */
            const long mi = mr - i0 < 8 ? mr - i0 : 8;
            for (long j0 = 0; j0 < nr; j0 += 8) {
                v8f r[8];
                for (int i = 0; i < 8; ++i) r[i] = i < mi ? *(const v8f *)(t + (i0 + i) * HY_NR + j0) : (v8f){0};
                transpose8(r); /* r[j] = pixels i0 .. i0+7 of channel j0 + j */
                const long jn = nr - j0 < 8 ? nr - j0 : 8;
                if (mi == 8 && jn == 8) {
                    for (int j = 0; j < 8; ++j) *(v8fu *)(y + (j0 + j) * plane + i0) = r[j];
                } else {
                    for (long j = 0; j < jn; ++j)
                        for (long i = 0; i < mi; ++i) y[(j0 + j) * plane + i0 + i] = r[j][i];
                }
            }
        }
        if (e && e->tile) e->tile(e->ctx, bt, ocg, p0, nr, mr, y, plane);
    }
}

/* Rows [i0, i1) of the padded NHWC copy of one NHWC image: each row is one run of w * c floats. */
static void nhwc_to_padded(const float *x, long c, long h, long w, long ph, long pw, long hp, long wp, float *xp,
                           long i0, long i1)
{
    if (i0 == 0) memset(xp, 0, sizeof(float) * (size_t)(ph * wp * c));
    if (i1 == h) memset(xp + (h + ph) * wp * c, 0, sizeof(float) * (size_t)((hp - h - ph) * wp * c));
    for (long i = i0; i < i1; ++i) {
        float *row = xp + (i + ph) * wp * c;
        memset(row, 0, sizeof(float) * (size_t)(pw * c));
        memcpy(row + pw * c, x + i * w * c, sizeof(float) * (size_t)(w * c));
        memset(row + (pw + w) * c, 0, sizeof(float) * (size_t)((wp - pw - w) * c));
    }
}

static int conv_run(const hy_conv2d_call *cc, int threads, int nhwc);

int hy_conv2d(const hy_conv2d_call *cc, int threads)
{
    return conv_run(cc, threads, 0);
}

int hy_conv2d_nhwc(const hy_conv2d_call *cc, int threads)
{
    return conv_run(cc, threads, 1);
}

/* The padded NHWC image the tiles read: rows [i0, i1) copied (NCHW: transposed) into xp, or, for an
 * NHWC image that needs no padding, the image itself (returned, nothing copied). */
static const float *conv_image(const hy_conv2d_call *cc, long bt, long src_plane, long step, long hp, long wp, float *xp,
                               long i0, long i1, int nhwc)
{
    const hy_conv_geometry *g = &cc->geometry;
    const long cp = cc->in_channels;
    if (!nhwc) {
        to_padded_nhwc(cc->x + bt * cp * src_plane, src_plane, step, cp, g->h, g->w, g->ph, g->pw, hp, wp, xp, i0, i1);
        return xp;
    }
    const float *x = cc->x + bt * cp * g->h * g->w;
    if (hp == g->h && wp == g->w) return x;
    nhwc_to_padded(x, cp, g->h, g->w, g->ph, g->pw, hp, wp, xp, i0, i1);
    return xp;
}

static int conv_run(const hy_conv2d_call *cc, int threads, int nhwc)
{
    /* x is read as planes of src_plane floats; a 1x1 kernel striding rows with no padding (ResNet's
     * projections) copies only the rows it reads and runs on them at row stride 1 (64 -> 128 channels,
     * 56x56 -> 28x28: half the copy) */
    const long src_plane = cc->geometry.h * cc->geometry.w;
    long step = 1;
    hy_conv2d_call rows_only;
    if (!nhwc && cc->geometry.kh == 1 && cc->geometry.ph == 0 && cc->geometry.sh > 1) {
        rows_only = *cc;
        step = cc->geometry.sh;
        rows_only.geometry.h = cc->geometry.oh;
        rows_only.geometry.sh = 1;
        cc = &rows_only;
    }
    const hy_conv_geometry *g = &cc->geometry;
    const long cp = cc->in_channels, groups = cc->groups, og = cc->out_channels_per_group;
    /* the padded image covers every input position a tap reads (zeros outside the input) */
    const long reach_h = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    const long reach_w = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    const long hp = reach_h > g->h + 2 * g->ph ? reach_h : g->h + 2 * g->ph;
    const long wp = reach_w > g->w + 2 * g->pw ? reach_w : g->w + 2 * g->pw;
    const long taps = g->kh * g->kw;
    if (cc->batch <= 0 || og <= 0 || g->oh <= 0 || g->ow <= 0) return HY_OK;
    long *tap_off = malloc(sizeof(long) * (size_t)(taps > 0 ? taps : 1));
    float *xp = hy_scratch(0, (size_t)(hp * wp * cp > 0 ? hp * wp * cp : 1));
    if (!tap_off || !xp) {
        free(tap_off);
        return HY_ERR_NOMEM;
    }
    /* The reduction runs over k = (r, q, c) in contiguous runs of the padded input: one run per
     * tap, or, with one group and no column dilation, one per kernel row (its kw taps' channels
     * are adjacent pixels' channels: the 7x7 stem over 3 channels gets runs of 21, not of 3). */
    const int row_runs = groups == 1 && g->dw == 1;
    const long runs = row_runs ? g->kh : taps;
    for (long r = 0; r < g->kh; ++r)
        for (long q = 0; q < g->kw; ++q) tap_off[r * g->kw + q] = (r * g->dh * wp + q * g->dw) * cp;
    if (row_runs)
        for (long r = 0; r < g->kh; ++r) tap_off[r] = r * g->dh * wp * cp;
    const long cmr = conv_rows(g->kh * g->kw * g->c);
    const long tiles = ((og + HY_NR - 1) / HY_NR) * ((g->oh * g->ow + cmr - 1) / cmr);
    const double macs = (double)og * groups * g->oh * g->ow * taps * g->c;
    int nt = threads < 1 ? 1 : threads;
    if (macs * cc->batch < (double)HY_PARALLEL_MIN_MACS || (tiles < 2 && cc->batch < 2)) nt = 1;
    if (nt > 1 && cc->batch >= nt) { /* whole images per thread: no barrier per image */
        int err = 0;
        const size_t floats = (size_t)(hp * wp * cp > 0 ? hp * wp * cp : 1);
#pragma omp parallel num_threads(nt) reduction(| : err)
        {
            HY_THREAD_ID(t, tn);
            float *own = t == 0 ? xp : hy_scratch(0, floats);
            if (!own) {
                err |= HY_ERR_NOMEM;
            } else {
                for (long bt = t; bt < cc->batch; bt += tn) {
                    const float *img = conv_image(cc, bt, src_plane, step, hp, wp, own, 0, g->h, nhwc);
                    for (long gr = 0; gr < groups; ++gr) conv_tiles(cc, bt, gr, img, wp, tap_off, runs, 0, tiles, nhwc);
                }
            }
        }
        free(tap_off);
        return err;
    }
    /* Two or more threads on one image split the plane, so each core reads the rows of the padded
     * copy it wrote and writes the output rows the next layer's copy reads on the same core, unless
     * the weights outweigh the image (512 x 7x7: 9.4 MB of weights, split by channel panel).
     * At 2 threads, against ORT in the same process: 32 -> 64 at 32x32 1.17 -> 1.01, 64 at 56x56
     * 1.12 -> 1.05. */
    const long panels = (og + HY_NR - 1) / HY_NR, per_panel = tiles / panels;
    const int spatial = (double)og * groups * g->kh * g->kw * g->c <= (double)g->h * g->w * cp && per_panel >= 4 * nt;
    for (long bt = 0; bt < cc->batch; ++bt) {
        if (nt == 1) {
            const float *img = conv_image(cc, bt, src_plane, step, hp, wp, xp, 0, g->h, nhwc);
            for (long gr = 0; gr < groups; ++gr) conv_tiles(cc, bt, gr, img, wp, tap_off, runs, 0, tiles, nhwc);
            continue;
        }
#pragma omp parallel num_threads(nt)
        {
            HY_THREAD_ID(t, tn);
            const float *img = conv_image(cc, bt, src_plane, step, hp, wp, xp, g->h * t / tn, g->h * (t + 1) / tn, nhwc);
#pragma omp barrier
            for (long gr = 0; gr < groups; ++gr) {
                if (spatial) { /* each thread its share of the plane, for every channel panel */
                    for (long p = 0; p < panels; ++p)
                        conv_tiles(cc, bt, gr, img, wp, tap_off, runs, p * per_panel + per_panel * t / tn,
                                   p * per_panel + per_panel * (t + 1) / tn, nhwc);
                } else {
                    conv_tiles(cc, bt, gr, img, wp, tap_off, runs, tiles * t / tn, tiles * (t + 1) / tn, nhwc);
                }
            }
        }
    }
    free(tap_off);
    return HY_OK;
}
