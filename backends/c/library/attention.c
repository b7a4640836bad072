/* Scaled dot-product attention on the library GEMM, one head at a time:
 * scores = Q K^T (K read transposed by the packing), then per query row the
 * scale, mask, causal cut and a stable softmax, then out = P V. Heads run in
 * parallel; each thread owns its score buffer.
 *
 * Semantics (as the NumPy reference): a NaN score makes its row NaN; a row
 * with every key masked gives zeros; keys weighed 0 still turn an Inf or NaN
 * value into NaN (the P V product computes them). */
#include "hy_act.h"
#include "hy_kernels.h"

#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void softmax_row(const hy_attention_call *ac, long h, long l, float *row)
{
    const long s = ac->s;
    const long sn = ac->causal ? (l + 1 < s ? l + 1 : s) : s;
    const float scale = ac->scale;
    if (ac->mask_kind) {
        const long off = (h / ac->mask_inner_count) * ac->mask_outer + (h % ac->mask_inner_count) * ac->mask_inner +
                         l * ac->mask_row;
        if (ac->mask_kind == 1) {
            const _Bool *m = (const _Bool *)ac->mask + off;
            for (long j = 0; j < sn; ++j) row[j] = m[j * ac->mask_col] ? row[j] * scale : -INFINITY;
        } else {
            const float *m = (const float *)ac->mask + off;
            for (long j = 0; j < sn; ++j) row[j] = row[j] * scale + m[j * ac->mask_col];
        }
    } else {
#pragma omp simd
        for (long j = 0; j < sn; ++j) row[j] *= scale;
    }
    float mx = -INFINITY;
    int bad = 0;
#pragma omp simd reduction(max : mx) reduction(| : bad)
    for (long j = 0; j < sn; ++j) {
        mx = row[j] > mx ? row[j] : mx;
        bad |= row[j] != row[j];
    }
    if (bad) { /* a NaN score: the row is NaN */
        for (long j = 0; j < s; ++j) row[j] = NAN;
        return;
    }
    if (mx == -INFINITY) { /* every key masked: weights 0 */
        for (long j = 0; j < s; ++j) row[j] = 0;
        return;
    }
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (long j = 0; j < sn; ++j) {
        row[j] = hy_expf_neg(row[j] - mx);
        sum += row[j];
    }
    const float inv = 1 / sum;
#pragma omp simd
    for (long j = 0; j < sn; ++j) row[j] *= inv;
    for (long j = sn; j < s; ++j) row[j] = 0;
}

static int attention_head(const hy_attention_call *ac, long h, float *scores, int threads)
{
    const long l = ac->l, s = ac->s, e = ac->e, ev = ac->ev;
    const hy_operand q = {HY_STRIDED, ac->q + h * ac->q_stride, e, 1, 0, 0};
    const hy_operand kt = {HY_STRIDED, ac->k + h * ac->k_stride, 1, e, 0, 0};
    int err = hy_sgemm(1, l, s, e, &q, &kt, scores, 0, s, 0, NULL, threads);
    for (long i = 0; i < l; ++i) softmax_row(ac, h, i, scores + i * s);
    const hy_operand p = {HY_STRIDED, scores, s, 1, 0, 0};
    const hy_operand v = {HY_STRIDED, ac->v + h * ac->v_stride, ev, 1, 0, 0};
    err |= hy_sgemm(1, l, ev, s, &p, &v, ac->out + h * l * ev, 0, ev, 0, NULL, threads);
    return err;
}

int hy_attention(const hy_attention_call *ac, int threads)
{
    if (ac->heads <= 0 || ac->l <= 0 || ac->ev <= 0) return HY_OK;
    const size_t bytes = sizeof(float) * (size_t)(ac->l * (ac->s > 0 ? ac->s : 1));
    int nt = threads < 1 ? 1 : threads;
    if (ac->heads < 2 || (double)ac->heads * ac->l * ac->s * (ac->e + ac->ev) < (double)HY_PARALLEL_MIN_MACS) nt = 1;
    int err = 0;
    if (nt == 1) {
        float *scores = hy_scratch(2, bytes / sizeof(float));
        if (!scores) return HY_ERR_NOMEM;
        for (long h = 0; h < ac->heads; ++h) err |= attention_head(ac, h, scores, threads);
        return err;
    }
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        float *scores = hy_scratch(2, bytes / sizeof(float));
        if (!scores) {
            err |= HY_ERR_NOMEM;
        }
        /* every thread reaches the loop (its iterations are shared out); one without memory skips them */
#pragma omp for schedule(static)
        for (long h = 0; h < ac->heads; ++h)
            if (scores) err |= attention_head(ac, h, scores, 1);
    }
    return err;
}
