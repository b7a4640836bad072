/* Batched 2-D transposes of float matrices, y[b][j][i] = x[b][i][j]: the
 * layout pass's boundary transposes (NCHW <-> NHWC are [C][HW] <-> [HW][C]
 * per image). 8 x 8 blocks go through a register transpose, so both sides
 * move whole 32-byte runs; the ragged edges go element by element. Threads
 * split the blocks of rows. */
#include "hy_act.h"
#include "hy_kernels.h"
#include "hy_transpose.h"

static void transpose_rows(const float *x, float *y, long rows, long cols, long i0, long i1)
{
    long i = i0;
    for (; i + 8 <= i1; i += 8) {
        long j = 0;
        for (; j + 8 <= cols; j += 8) {
            v8f r[8];
            for (int u = 0; u < 8; ++u) r[u] = *(const v8fu *)(x + (i + u) * cols + j);
            transpose8(r); /* r[v] = rows i .. i+7 of column j + v */
            for (int v = 0; v < 8; ++v) *(v8fu *)(y + (j + v) * rows + i) = r[v];
        }
        for (; j < cols; ++j)
            for (int u = 0; u < 8; ++u) y[j * rows + i + u] = x[(i + u) * cols + j];
    }
    for (; i < i1; ++i)
        for (long j = 0; j < cols; ++j) y[j * rows + i] = x[i * cols + j];
}

void hy_transpose_batched(long batch, long rows, long cols, const float *x, float *y, int threads)
{
    const long blocks = (rows + 7) / 8, work = batch * blocks;
    int nt = threads < 1 ? 1 : threads;
    if ((double)batch * rows * cols < (double)HY_PARALLEL_MIN_TOUCH || work < 2) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (long w = 0; w < work; ++w) {
        const long b = w / blocks, i0 = (w % blocks) * 8, i1 = i0 + 8 < rows ? i0 + 8 : rows;
        transpose_rows(x + b * rows * cols, y + b * rows * cols, rows, cols, i0, i1);
    }
}
