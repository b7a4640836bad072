/* hybridize kernel library: the shared kernels generated model code calls.
 *
 * Compiled once per machine, compiler and flags (see backends/c/build.py) and
 * linked into every model. The register tile (HY_MR x HY_NR floats) and the
 * vector width (HY_VB bytes) are chosen in backends/c/isa.py from the CPU's
 * features and passed with -D, so the packed weights the Python side writes
 * and the kernels that read them always agree; the defaults below serve a
 * standalone build with no flags.
 *
 * GEMM: C = A * B (+ bias, activation, tile callback), per batch element:
 *
 *     hy_operand a = { HY_STRIDED, x, .rs = 512, .cs = 1 };    A[i][k] = x[i*512 + k]
 *     hy_operand b = { HY_PACKED, packed_w };                   B in NR-column panels
 *     hy_epilogue e = { .bias = bias, .act = HY_ACT_RELU };
 *     hy_sgemm(1, m, n, k, &a, &b, y, 0, n, 0, &e, threads);
 */
#ifndef HY_KERNELS_H
#define HY_KERNELS_H

#ifndef HY_VB
#if defined(__AVX512F__)
#define HY_VB 64
#define HY_MR 12
#define HY_NR 32
#elif defined(__AVX__)
#define HY_VB 32
#define HY_MR 6
#define HY_NR 16
#else
#define HY_VB 16
#define HY_MR 6
#define HY_NR 8
#endif
#endif

#include "hy_math.h"

#define HY_OK 0
#define HY_ERR_INDEX 1
#define HY_ERR_NOMEM 2

/* An operand of a GEMM, as the packing routines read it. */
enum hy_operand_kind {
    HY_PACKED = 0,  /* pre-packed at build time: A in MR-row panels, B in NR-column panels, K-major */
    HY_STRIDED = 1, /* A[i][k] = ptr[i*rs + k*cs] (B[k][j] = ptr[k*rs + j*cs]) */
    HY_CONV = 2,    /* the patches of one image: B[k][p] (or A[p][k]) = x[c][oh*sh-ph+r*dh][ow*sw-pw+q*dw] */
};

typedef struct hy_conv_geometry {
    long c, h, w;   /* input channels (of this group), height, width */
    long kh, kw;    /* kernel; k = (c * kh + r) * kw + q */
    long oh, ow;    /* output plane; pixel p = i * ow + j */
    long sh, sw, ph, pw, dh, dw;
} hy_conv_geometry;

typedef struct hy_operand {
    int kind;
    const float *ptr;
    long rs, cs;               /* HY_STRIDED element strides */
    long batch_stride;         /* floats between batch elements (0: shared, e.g. weights) */
    const hy_conv_geometry *conv;
} hy_operand;

enum hy_activation { HY_ACT_NONE = 0, HY_ACT_RELU = 1, HY_ACT_CLAMP = 2 };

/* A tile of the stored result is finished: rows [row0, row0+rows) and columns
 * [col0, col0+cols) of batch element `batch`, at `c` with row stride `ldc`.
 * Generated code applies the fused elementwise epilogue here, while the tile
 * is in L1. `ctx` is the table of tensors the epilogue reads. */
typedef void (*hy_tile_fn)(const void *const *ctx, long batch, long row0, long col0, long rows, long cols,
                           float *c, long ldc);

typedef struct hy_epilogue {
    const float *bias;     /* NULL, or one value per column of the stored result (per row if bias_rows) */
    int bias_rows;
    int act;               /* applied in registers after the bias */
    float lo, hi;          /* HY_ACT_CLAMP bounds */
    hy_tile_fn tile;       /* NULL, or called on each finished tile after bias and act */
    const void *const *ctx;
    long row_base;         /* added to the row numbers `tile` is given (a group's first channel) */
    const float *addend;   /* NULL, or a tensor laid out as the result (a residual): addend[o] is added
                            * to c[o], for every offset o from c the kernel stores, after the bias and
                            * before act, in registers. Only hy_sgemm and hy_conv2d_nhwc read it. */
} hy_epilogue;

/* C_b = A_b * B_b for b < batch: A is m x k, B is k x n. The result is stored
 * at c + b*c_batch_stride with row stride ldc, transposed when c_trans (C[i][j]
 * at j*ldc + i: the stored result is n x m). Returns HY_OK or HY_ERR_NOMEM. */
int hy_sgemm(long batch, long m, long n, long k, const hy_operand *a, const hy_operand *b, float *c,
             long c_batch_stride, long ldc, int c_trans, const hy_epilogue *epi, int threads);

/* A direct convolution (conv.c): out = conv(x, weights) + bias, activation,
 * tile epilogue, over `batch` NCHW images. `geometry.c` is the channels of
 * one group; `weights` are packed per group in NR-channel panels over
 * k = (kernel row, kernel column, channel). The epilogue sees the output as
 * channels x pixels of each image. */
typedef struct hy_conv2d_call {
    long batch, in_channels, groups, out_channels_per_group;
    hy_conv_geometry geometry;
    const float *x;
    const float *weights;
    const float *bias;          /* NULL or one per output channel */
    float *out;
    long out_batch_stride;
    const hy_epilogue *epilogue;
} hy_conv2d_call;

int hy_conv2d(const hy_conv2d_call *call, int threads);

/* The same convolution over NHWC images (`hy.conv2d_nhwc`, the layout pass):
 * x is [batch][h][w][in_channels], out [batch][oh][ow][groups * out_channels_per_group]
 * (channels contiguous), `out_batch_stride` floats between images. The
 * epilogue sees each image's output as a pixels x channels matrix (row
 * i*ow + j, column = channel, ldc = the output channels). */
int hy_conv2d_nhwc(const hy_conv2d_call *call, int threads);

/* A 3x3 stride-1 convolution of one group by Winograd F(2x2, 3x3) (winograd.c), NHWC as
 * hy_conv2d_nhwc (same epilogue contract, `geometry.kh/kw` 3, strides and dilations 1, any
 * padding): `weights` are the 16 transformed kernels U[xi] = G g G^T (xi = 4 * row + column),
 * each in_channels x out channels packed in NR-column panels, one after another. */
int hy_winograd_nhwc(const hy_conv2d_call *call, int threads);

/* A depthwise convolution (depthwise.c): output channel o reads input
 * channel o / multiplier; `geometry.c` is the input channels; weights are
 * [channels][kh][kw] as the model has them. The epilogue sees the output as
 * channels x pixels of each image, one output row at a time. */
typedef struct hy_depthwise_call {
    long batch, multiplier;
    hy_conv_geometry geometry;
    const float *x;
    const float *weights;
    const float *bias;
    float *out;
    long out_batch_stride;
    const hy_epilogue *epilogue;
} hy_depthwise_call;

int hy_depthwise2d(const hy_depthwise_call *call, int threads);

/* NHWC kernels (nhwc.c; the layout pass's `hy.conv2d_nhwc` with one filter
 * per channel, `hy.max_pool2d_nhwc`, `hy.avg_pool2d_nhwc`): activations are
 * [batch][h][w][c], channels contiguous; threads split rows of the output.
 *
 * Depthwise, multiplier 1: out[b][i][j][ch] = bias[ch] + sum over taps (r, q)
 * of weights[(r*kw + q)*c + ch] * x[b][i*sh - ph + r*dh][j*sw - pw + q*dw][ch],
 * zero outside the input. `geometry.c` is the channels. The epilogue's act
 * is applied in registers after the bias; its tile function (if any) then sees
 * each image's output as a pixels x channels matrix (row i*ow + j, column ch,
 * ldc = c). */
typedef struct hy_depthwise_nhwc_call {
    long batch;
    hy_conv_geometry geometry;
    const float *x;
    const float *weights;       /* [kh*kw][c], tap-major (packed at build time) */
    const float *bias;          /* NULL or c floats */
    float *out;
    const hy_epilogue *epilogue;
} hy_depthwise_nhwc_call;

int hy_depthwise2d_nhwc(const hy_depthwise_nhwc_call *call, int threads);

/* Pooling over NHWC images, with the window semantics of hy.max_pool2d and
 * hy.avg_pool2d (ir/nn.py): per spatial dim, output o has start = o*s - p,
 * end = start + k; its data window is [max(start, 0), min(end, size)). A window
 * with no data gives -inf (max) or 0 (avg). Max propagates NaN. Avg divides by
 * the data window's element count, or with include_pad by the product over both
 * dims of (min(end, size + p) - start). `geometry.c` is the channels; kh, kw
 * the window; dh, dw unused (1). */
enum hy_pool_kind { HY_POOL_MAX = 0, HY_POOL_AVG = 1 };
typedef struct hy_pool_nhwc_call {
    long batch;
    int kind, include_pad;
    hy_conv_geometry geometry;
    const float *x;
    float *out;
} hy_pool_nhwc_call;

int hy_pool2d_nhwc(const hy_pool_nhwc_call *call, int threads);

/* Scaled dot-product attention (attention.c) over `heads` contiguous
 * [l, e] / [s, e] / [s, ev] slices of q, k, v (a stride of 0 shares one),
 * into out [heads, l, ev]. The mask (if mask_kind: 1 bool, keep where true;
 * 2 float, added) of head h, row i, key j is at
 * (h / mask_inner_count) * mask_outer + (h % mask_inner_count) * mask_inner
 * + i * mask_row + j * mask_col. */
typedef struct hy_attention_call {
    long heads, l, s, e, ev;
    const float *q, *k, *v;
    long q_stride, k_stride, v_stride;
    float *out;
    float scale;
    int causal, mask_kind;
    const void *mask;
    long mask_inner_count, mask_outer, mask_inner, mask_row, mask_col;
} hy_attention_call;

int hy_attention(const hy_attention_call *call, int threads);

/* y[b][j][i] = x[b][i][j] for b < batch, i < rows, j < cols (transpose.c). */
void hy_transpose_batched(long batch, long rows, long cols, const float *x, float *y, int threads);

/* The tile this library was built with (backends/c/build.py checks it). */
void hy_kernel_config(int *vector_bytes, int *mr, int *nr);

/* Stable sort of each of the outer * inner lines of n elements of x (line
 * (o, j) at x[o*n*inner + j], stride inner) in PyTorch's order (NaN largest);
 * writes the sorted values and/or (either may be NULL) their positions.
 * Returns HY_OK or HY_ERR_NOMEM. */
enum hy_sort_kind { HY_SORT_F32 = 0, HY_SORT_F64 = 1, HY_SORT_I32 = 2, HY_SORT_I64 = 3 };
int hy_sort(int kind, int descending, long outer, long n, long inner, const void *x, void *values, int64_t *indices);

/* The single-thread FMA peak in GFLOP/s, measured over `iterations` (probe.c). */
double hy_fma_peak_gflops(long iterations);

/* Work below this many multiply-adds runs on one thread. */
#define HY_PARALLEL_MIN_MACS (1L << 18)
/* ... unless it reads and writes at least this many elements of activations: in a model they
 * lie in the caches of the threads that wrote them, and one thread pulling the others' share
 * costs more than the fork (about 2 us; 190 KB from the other core of this VM: about 40 us). */
#define HY_PARALLEL_MIN_TOUCH (1L << 14)

#endif
