/* Batched 2-D transposes of float matrices, y[b][j][i] = x[b][i][j]: the
 * layout pass's boundary transposes (NCHW <-> NHWC are [C][HW] <-> [HW][C]
 * per image). 8 x 8 blocks go through a register transpose, so both sides
 * move whole 32-byte runs; the ragged edges go element by element, column by
 * column; three rows (an RGB image going channels-last) are interleaved and
 * three columns (one going back: 108 -> 40 us at 224x224) de-interleaved 8
 * pixels at a time. Threads split the blocks of rows, or, where there are few
 * (a 7x7 plane going back to NCHW), runs of columns: two threads writing parts
 * of the same short output rows shared every cache line between them
 * (1x7x7x1280 -> 1x1280x7x7: 42 us on one thread, 84 on two). */
#include "hy_act.h"
#include "hy_kernels.h"
#include "hy_transpose.h"

/* Rows [i, i+n) from column j on (of cols; x's rows ldx apart), column by column. Not inlined:
 * with the shapes constant (a standalone export compiles a model's calls with the library)
 * GCC's loop analysis reports overflow in iterations the bounds never reach
 * (-Waggressive-loop-optimizations). */
static __attribute__((noinline)) void transpose_tail(const float *x, long ldx, float *y, long rows, long cols, long i,
                                                     long n, long j)
{
    for (; j < cols; ++j)
        for (long u = 0; u < n; ++u) y[j * rows + i + u] = x[(i + u) * ldx + j];
}

/* y[j][i] = x[i * ldx + j] for rows [i0, i1) and columns [0, cols): y's rows are `rows` long. */
static void transpose_rows(const float *x, long ldx, float *y, long rows, long cols, long i0, long i1)
{
    long i = i0;
#if defined(__AVX__)
    if (cols == 3 && ldx == 3) /* to an RGB image's planes: 8 pixels' 24 floats in, three 8-float rows out */
        for (; i + 8 <= i1; i += 8) {
            const v8f a = *(const v8fu *)(x + i * 3), b = *(const v8fu *)(x + i * 3 + 8),
                      c = *(const v8fu *)(x + i * 3 + 16);
            const v8f t0 = HY_SHUF(a, b, 0, 3, 6, 9, 12, 15, 0, 0), t1 = HY_SHUF(a, b, 1, 4, 7, 10, 13, 0, 0, 0),
                      t2 = HY_SHUF(a, b, 2, 5, 8, 11, 14, 0, 0, 0);
            *(v8fu *)(y + i) = HY_SHUF(t0, c, 0, 1, 2, 3, 4, 5, 10, 13);
            *(v8fu *)(y + rows + i) = HY_SHUF(t1, c, 0, 1, 2, 3, 4, 8, 11, 14);
            *(v8fu *)(y + 2 * rows + i) = HY_SHUF(t2, c, 0, 1, 2, 3, 4, 9, 12, 15);
        }
#endif
    for (; i + 8 <= i1; i += 8) {
        long j = 0;
        for (; j + 8 <= cols; j += 8) {
            v8f r[8];
            for (int u = 0; u < 8; ++u) r[u] = *(const v8fu *)(x + (i + u) * ldx + j);
            transpose8(r); /* r[v] = rows i .. i+7 of column j + v */
            for (int v = 0; v < 8; ++v) *(v8fu *)(y + (j + v) * rows + i) = r[v];
        }
        for (; j < cols; ++j)
            for (int u = 0; u < 8; ++u) y[j * rows + i + u] = x[(i + u) * ldx + j];
    }
    if (i == i1) return;
    /* the last few rows (all of a small-channel image): column by column, so y is written in order */
    const long n = i1 - i;
    long j = 0;
#if defined(__AVX__) /* (GCC's split of these shuffles into SSE is slower than the scalar loop) */
    if (rows == 3) { /* RGB (i is 0): 8 pixels at a time, three 8-float rows in, 24 interleaved floats out */
        const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx;
        for (; j + 8 <= cols; j += 8) {
            const v8f a = *(const v8fu *)(x0 + j), b = *(const v8fu *)(x1 + j), c = *(const v8fu *)(x2 + j);
            float *yj = y + j * 3;
            const v8f t0 = HY_SHUF(a, b, 0, 8, 0, 1, 9, 0, 2, 10), t1 = HY_SHUF(a, b, 0, 3, 11, 0, 4, 12, 0, 5),
                      t2 = HY_SHUF(a, b, 13, 0, 6, 14, 0, 7, 15, 0);
            *(v8fu *)yj = HY_SHUF(t0, c, 0, 1, 8, 3, 4, 9, 6, 7);
            *(v8fu *)(yj + 8) = HY_SHUF(t1, c, 10, 1, 2, 11, 4, 5, 12, 7);
            *(v8fu *)(yj + 16) = HY_SHUF(t2, c, 0, 13, 2, 3, 14, 5, 6, 15);
        }
    }
#endif
    transpose_tail(x, ldx, y, rows, cols, i, n, j);
}

#define TRANSPOSE_RUN 64 /* columns per unit of a column split (whole 8 x 8 blocks) */

void hy_transpose_batched(long batch, long rows, long cols, const float *x, float *y, int threads)
{
    const long blocks = (rows + 7) / 8, runs = (cols + TRANSPOSE_RUN - 1) / TRANSPOSE_RUN;
    int nt = threads < 1 ? 1 : threads;
    const int by_columns = blocks < 4 * nt;
    const long work = batch * (by_columns ? runs : blocks);
    if ((double)batch * rows * cols < (double)HY_PARALLEL_MIN_TOUCH || work < 2) nt = 1;
    if (nt == 1 || !by_columns) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (long w = 0; w < batch * blocks; ++w) {
            const long b = w / blocks, i0 = (w % blocks) * 8, i1 = i0 + 8 < rows ? i0 + 8 : rows;
            transpose_rows(x + b * rows * cols, cols, y + b * rows * cols, rows, cols, i0, i1);
        }
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long w = 0; w < work; ++w) {
        const long b = w / runs, j0 = (w % runs) * TRANSPOSE_RUN;
        const long n = cols - j0 < TRANSPOSE_RUN ? cols - j0 : TRANSPOSE_RUN;
        transpose_rows(x + b * rows * cols + j0, cols, y + b * rows * cols + j0 * rows, rows, n, 0, rows);
    }
}
