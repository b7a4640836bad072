/* Register transposes shared by the kernels that move between NCHW planes
 * and channel-vector layouts (conv.c's padded NHWC copy and transposed
 * stores, depthwise.c's channel blocks). */
#ifndef HY_TRANSPOSE_H
#define HY_TRANSPOSE_H

/* 8 x 8 transposes on 8-float vectors (any ISA: GCC splits them where
 * vectors are narrower): r[i][j] becomes r[j][i], so 8 rows of 8 channels
 * (pixels x channels) become 8 rows of 8 pixels (channels x pixels) and back. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32)));
#if defined(__clang__)
#define HY_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define HY_SHUF(a, b, ...) __builtin_shuffle(a, b, (v8i){__VA_ARGS__})
#endif

static inline void transpose8(v8f r[8])
{
    v8f t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = HY_SHUF(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = HY_SHUF(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = HY_SHUF(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        s[i + 1] = HY_SHUF(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        s[i + 2] = HY_SHUF(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        s[i + 3] = HY_SHUF(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = HY_SHUF(s[i], s[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[i + 4] = HY_SHUF(s[i], s[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

#endif
