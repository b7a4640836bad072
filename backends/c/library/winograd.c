/* Winograd F(2x2, 3x3) convolution over NHWC images (hy_winograd_nhwc).
 *
 * A 3x3 stride-1 convolution computes each 2x2 block of output pixels ("tile") from the 4x4
 * input patch under it: Y = A^T [ U (.) V ] A, with V = B^T d B the patch's transform and
 * U = G g G^T the kernel's (packed at build time, backends/c/kernels/conv.py). Summed over
 * input channels, the 16 products (.) are 16 GEMMs: M[xi] (tiles x out) = V[xi] (tiles x in)
 * times U[xi] (in x out), 16 multiply-adds per tile and channel pair where the direct
 * convolution does 36: 2.25x less arithmetic, at the price of the two transforms.
 *
 * Tiles run in chunks sized so that one chunk's V and M stay in this core's L2: per chunk the
 * input transform writes V, hy_sgemm (one thread, pre-packed U) writes M, and the output
 * transform adds the bias and the residual, applies the activation and stores the pixels, then
 * hands each finished output row segment to the tile epilogue. Threads take contiguous runs of
 * whole chunks; with fewer chunks than threads they share the tiles evenly or, where a plane has
 * few tiles (7x7: 16), each transforms them all for its share of the output channels.
 *
 * The transforms' coefficients are 0, +-1 and +-1/2, so the result differs from the direct
 * convolution by a few float roundings (relative 1e-6 on the bench's models). */
#include "hy_act.h"
#include "hy_kernels.h"

#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define WG_VL (HY_VB / 4)
typedef float wg_vf __attribute__((vector_size(HY_VB)));
typedef float wg_vfu __attribute__((vector_size(HY_VB), aligned(4)));
typedef int wg_vi __attribute__((vector_size(HY_VB)));
HY_DEFINE_VECTOR_ACT(wg_act, wg_vf, wg_vi)

static inline long wg_min(long a, long b) { return a < b ? a : b; }

/* V of one tile for channels [c0, c0+n) (n = WG_VL: vectors; otherwise one channel at a time):
 * v[xi * ldv + c] for the tile's 16 positions xi = 4 * row + column. */
static void wg_input_tile(const float *x, long h, long w, long c, long r0, long q0, long c0, float *v, long ldv)
{
    int rows_ok[4], cols_ok[4];
    for (int i = 0; i < 4; ++i) {
        rows_ok[i] = r0 + i >= 0 && r0 + i < h;
        cols_ok[i] = q0 + i >= 0 && q0 + i < w;
    }
    const int inside = rows_ok[0] && rows_ok[3] && cols_ok[0] && cols_ok[3];
    long ch = c0;
    for (; ch + WG_VL <= c; ch += WG_VL) {
        wg_vf d[4][4], t[4][4];
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j)
                d[i][j] = inside || (rows_ok[i] && cols_ok[j])
                              ? *(const wg_vfu *)(x + ((r0 + i) * w + q0 + j) * c + ch)
                              : (wg_vf){0};
        for (int j = 0; j < 4; ++j) { /* B^T d: rows */
            t[0][j] = d[0][j] - d[2][j];
            t[1][j] = d[1][j] + d[2][j];
            t[2][j] = d[2][j] - d[1][j];
            t[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; ++i) { /* (B^T d) B: columns */
            *(wg_vfu *)(v + (4 * i + 0) * ldv + ch) = t[i][0] - t[i][2];
            *(wg_vfu *)(v + (4 * i + 1) * ldv + ch) = t[i][1] + t[i][2];
            *(wg_vfu *)(v + (4 * i + 2) * ldv + ch) = t[i][2] - t[i][1];
            *(wg_vfu *)(v + (4 * i + 3) * ldv + ch) = t[i][1] - t[i][3];
        }
    }
    for (; ch < c; ++ch) {
        float d[4][4], t[4][4];
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) d[i][j] = rows_ok[i] && cols_ok[j] ? x[((r0 + i) * w + q0 + j) * c + ch] : 0.0f;
        for (int j = 0; j < 4; ++j) {
            t[0][j] = d[0][j] - d[2][j];
            t[1][j] = d[1][j] + d[2][j];
            t[2][j] = d[2][j] - d[1][j];
            t[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; ++i) {
            v[(4 * i + 0) * ldv + ch] = t[i][0] - t[i][2];
            v[(4 * i + 1) * ldv + ch] = t[i][1] + t[i][2];
            v[(4 * i + 2) * ldv + ch] = t[i][2] - t[i][1];
            v[(4 * i + 3) * ldv + ch] = t[i][1] - t[i][3];
        }
    }
}

/* The 2x2 output pixels of one tile from m[xi * ldm + o]: A^T m A, + bias, + residual, activation;
 * out points at the tile's top-left pixel (channel 0), rows/cols (1 or 2) of it are stored. */
static void wg_output_tile(const float *m, long ldm, long oc, const float *bias, const float *res, long orow,
                           long ps, int rows, int cols, const hy_epilogue *e, float *out)
{
    long o = 0;
    for (; o + WG_VL <= oc; o += WG_VL) {
        wg_vf s0[4], s1[4];
        for (int i = 0; i < 4; ++i) {
            const wg_vf a = *(const wg_vfu *)(m + (4 * i + 0) * ldm + o), b = *(const wg_vfu *)(m + (4 * i + 1) * ldm + o);
            const wg_vf c = *(const wg_vfu *)(m + (4 * i + 2) * ldm + o), d = *(const wg_vfu *)(m + (4 * i + 3) * ldm + o);
            s0[i] = a + b + c;
            s1[i] = b - c - d;
        }
        const wg_vf bv = bias ? *(const wg_vfu *)(bias + o) : (wg_vf){0};
        wg_vf y[2][2] = {{s0[0] + s0[1] + s0[2] + bv, s1[0] + s1[1] + s1[2] + bv},
                         {s0[1] - s0[2] - s0[3] + bv, s1[1] - s1[2] - s1[3] + bv}};
        for (int i = 0; i < rows; ++i)
            for (int j = 0; j < cols; ++j) {
                wg_vf r = y[i][j];
                if (res) r += *(const wg_vfu *)(res + i * orow + j * ps + o);
                *(wg_vfu *)(out + i * orow + j * ps + o) = wg_act(r, e->act, e->lo, e->hi);
            }
    }
    for (; o < oc; ++o) {
        float s0[4], s1[4];
        for (int i = 0; i < 4; ++i) {
            const float a = m[(4 * i) * ldm + o], b = m[(4 * i + 1) * ldm + o];
            const float c = m[(4 * i + 2) * ldm + o], d = m[(4 * i + 3) * ldm + o];
            s0[i] = a + b + c;
            s1[i] = b - c - d;
        }
        const float bv = bias ? bias[o] : 0.0f;
        const float y[2][2] = {{s0[0] + s0[1] + s0[2] + bv, s1[0] + s1[1] + s1[2] + bv},
                               {s0[1] - s0[2] - s0[3] + bv, s1[1] - s1[2] - s1[3] + bv}};
        for (int i = 0; i < rows; ++i)
            for (int j = 0; j < cols; ++j) {
                float r = y[i][j];
                if (res) r += res[i * orow + j * ps + o];
                out[i * orow + j * ps + o] = hy_act_scalar(r, e->act, e->lo, e->hi);
            }
    }
}

/* Output channels [o0, o1) of tiles [t0, t1) of the call (numbered image by image, row by row),
 * through ws (V then M). */
static int wg_chunk(const hy_conv2d_call *cc, long t0, long t1, long o0, long o1, float *ws)
{
    const hy_conv_geometry *g = &cc->geometry;
    static const hy_epilogue none = {0};
    const hy_epilogue *e = cc->epilogue ? cc->epilogue : &none;
    const long c = cc->in_channels, oc = cc->out_channels_per_group;
    const long th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2, per_image = th * tw, n = t1 - t0;
    float *v = ws, *m = ws + 16 * n * c;
    for (long t = t0; t < t1; ++t) {
        const long bt = t / per_image, ti = t % per_image / tw, tj = t % tw;
        wg_input_tile(cc->x + bt * g->h * g->w * c, g->h, g->w, c, 2 * ti - g->ph, 2 * tj - g->pw, 0,
                      v + (t - t0) * c, n * c);
    }
    const hy_operand a = {HY_STRIDED, v, c, 1, n * c, NULL};
    const hy_operand b = {HY_PACKED, cc->weights + o0 * c, 0, 0, ((oc + HY_NR - 1) / HY_NR) * HY_NR * c, NULL};
    const int rc = hy_sgemm(16, n, o1 - o0, c, &a, &b, m + o0, n * oc, oc, 0, NULL, 1);
    if (rc) return rc;
    const long orow = g->ow * oc;
    for (long t = t0; t < t1; ++t) {
        const long bt = t / per_image, ti = t % per_image / tw, tj = t % tw;
        const long at = bt * cc->out_batch_stride + (2 * ti * g->ow + 2 * tj) * oc;
        const int rows = (int)wg_min(2, g->oh - 2 * ti), cols = (int)wg_min(2, g->ow - 2 * tj);
        wg_output_tile(m + (t - t0) * oc + o0, n * oc, o1 - o0, cc->bias ? cc->bias + o0 : NULL,
                       e->addend ? e->addend + at + o0 : NULL, orow, oc, rows, cols, e, cc->out + at + o0);
    }
    if (e->tile) /* each output row segment the chunk finished, as pixels x channels */
        for (long t = t0; t < t1;) {
            const long bt = t / per_image, ti = t % per_image / tw, tj = t % tw;
            const long end = wg_min(t1, t - tj + tw); /* this tile row's last tile in the chunk, + 1 */
            const long j0 = 2 * tj, j1 = wg_min(g->ow, 2 * (tj + end - t));
            for (long i = 2 * ti; i < wg_min(g->oh, 2 * ti + 2); ++i)
                e->tile(e->ctx, bt, i * g->ow + j0, o0, j1 - j0, o1 - o0,
                        cc->out + bt * cc->out_batch_stride + (i * g->ow + j0) * oc + o0, oc);
            t = end;
        }
    return HY_OK;
}

int hy_winograd_nhwc(const hy_conv2d_call *cc, int threads)
{
    const hy_conv_geometry *g = &cc->geometry;
    const long c = cc->in_channels, oc = cc->out_channels_per_group;
    if (cc->batch <= 0 || oc <= 0 || g->oh <= 0 || g->ow <= 0) return HY_OK;
    const long tiles = cc->batch * ((g->oh + 1) / 2) * ((g->ow + 1) / 2);
    /* a chunk's V and M (16 x chunk x (in + out) floats) in half of L2, whole register tiles */
    long l2 = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    if (l2 <= 0) l2 = 512 * 1024;
    long chunk = l2 / 2 / (16 * (c + oc) * (long)sizeof(float)) / HY_MR * HY_MR;
    if (chunk < 2 * HY_MR) chunk = 2 * HY_MR;
    int nt = threads < 1 ? 1 : threads;
    if ((double)tiles * 16 * c * oc < (double)HY_PARALLEL_MIN_MACS) nt = 1;
    const long panels = (oc + HY_NR - 1) / HY_NR;
    long parts = 1; /* column parts per chunk: with fewer chunks than threads, threads split the channels */
    if (nt > 1 && tiles < (long)nt * chunk) {
        if (tiles >= (long)nt * 2 * HY_MR || panels < nt) { /* share the tiles evenly */
            chunk = (tiles + nt - 1) / nt;
            chunk = (chunk + HY_MR - 1) / HY_MR * HY_MR;
        } else { /* few tiles (a 7x7 plane): each thread transforms them all, for its share of panels */
            chunk = tiles;
            parts = nt;
        }
    }
    const long chunks = (tiles + chunk - 1) / chunk;
    if (chunks * parts < 2) nt = 1;
    const size_t floats = (size_t)(16 * wg_min(chunk, tiles) * (c + oc));
    int err = 0;
#pragma omp parallel num_threads(nt) reduction(| : err) if (nt > 1)
    {
        HY_THREAD_ID(t, tn);
        float *ws = hy_scratch(3, floats);
        if (!ws) {
            err |= HY_ERR_NOMEM;
        } else {
            /* contiguous shares: a thread's tiles are the rows its neighbours in the model wrote */
            const long lo = chunks * parts * t / tn, hi = chunks * parts * (t + 1) / tn;
            for (long k = lo; k < hi && !err; ++k) {
                const long ck = k / parts, p = k % parts;
                const long o0 = panels * p / parts * HY_NR, o1 = wg_min(oc, panels * (p + 1) / parts * HY_NR);
                if (o0 < o1) err |= wg_chunk(cc, ck * chunk, wg_min(tiles, (ck + 1) * chunk), o0, o1, ws);
            }
        }
    }
    return err;
}
