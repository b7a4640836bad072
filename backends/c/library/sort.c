/* Stable sort along one axis (hy.sort, hy.argsort), in PyTorch's order.
 *
 * Every element becomes an unsigned 64-bit key whose unsigned order is the
 * wanted order: floats by their sign-flipped bits (-0.0 read as 0.0, every
 * NaN as the one largest key), integers with the sign bit flipped; a
 * descending sort complements the keys. A bottom-up merge sort of positions
 * by key then keeps equal elements in input order. Workspace: 3 * n words
 * per call (HY_ERR_NOMEM when it cannot be allocated).
 */
#include "hy_kernels.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hy_key_f64(double v)
{
    if (v != v) return UINT64_MAX;
    if (v == 0) v = 0; /* -0.0 == 0.0 */
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

static uint64_t hy_key(int kind, const void *x, long at)
{
    switch (kind) {
    case HY_SORT_F32: return hy_key_f64((double)((const float *)x)[at]);
    case HY_SORT_F64: return hy_key_f64(((const double *)x)[at]);
    case HY_SORT_I32: return (uint64_t)(uint32_t)((const int32_t *)x)[at] ^ UINT64_C(0x80000000);
    default: return (uint64_t)((const int64_t *)x)[at] ^ (UINT64_C(1) << 63);
    }
}

int hy_sort(int kind, int descending, long outer, long n, long inner, const void *x, void *values, int64_t *indices)
{
    if (n <= 0 || outer <= 0 || inner <= 0) return HY_OK;
    uint64_t *key = malloc(sizeof(uint64_t) * (size_t)n);
    long *perm = malloc(sizeof(long) * (size_t)n), *tmp = malloc(sizeof(long) * (size_t)n);
    if (!key || !perm || !tmp) {
        free(key);
        free(perm);
        free(tmp);
        return HY_ERR_NOMEM;
    }
    const size_t size = kind == HY_SORT_F32 || kind == HY_SORT_I32 ? 4 : 8;
    for (long o = 0; o < outer; ++o) {
        for (long j = 0; j < inner; ++j) {
            const long base = o * n * inner + j;
            for (long i = 0; i < n; ++i) {
                const uint64_t k = hy_key(kind, x, base + i * inner);
                key[i] = descending ? ~k : k;
                perm[i] = i;
            }
            long *src = perm, *dst = tmp;
            for (long width = 1; width < n; width *= 2) {
                for (long lo = 0; lo < n; lo += 2 * width) {
                    const long mid = lo + width < n ? lo + width : n;
                    const long hi = lo + 2 * width < n ? lo + 2 * width : n;
                    long a = lo, b = mid, d = lo;
                    while (a < mid && b < hi) dst[d++] = key[src[b]] < key[src[a]] ? src[b++] : src[a++];
                    while (a < mid) dst[d++] = src[a++];
                    while (b < hi) dst[d++] = src[b++];
                }
                long *t = src;
                src = dst;
                dst = t;
            }
            for (long i = 0; i < n; ++i) {
                const long at = base + i * inner, from = base + src[i] * inner;
                if (indices) indices[at] = src[i];
                if (values) memcpy((char *)values + (size_t)at * size, (const char *)x + (size_t)from * size, size);
            }
        }
    }
    free(key);
    free(perm);
    free(tmp);
    return HY_OK;
}
