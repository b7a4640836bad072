/* Helpers internal to the library. Activations the kernels apply in registers before a tile is stored; relu
 * and clamp keep NaN, as the scalar rules of generated code do. Internal to
 * the library: each kernel instantiates the vector form for its vector type. */
#ifndef HY_ACT_H
#define HY_ACT_H

#include "hy_kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* 1 on AMD's Zen cores (the compiler's tuning target, `__znverN__` under -march=native), where a
 * few kernel choices measured differently from Intel's (conv.c's pixels per tile, gemm.c's C
 * prefetch); the compile cache key names the tuning target, so a cached library is never another
 * core family's. */
#if defined(__znver1__) || defined(__znver2__) || defined(__znver3__) || defined(__znver4__) || defined(__znver5__)
#define HY_ZEN 1
#else
#define HY_ZEN 0
#endif

static inline float hy_act_scalar(float x, int act, float lo, float hi)
{
    if (act == HY_ACT_RELU) return x < 0 ? 0 : x;
    if (act == HY_ACT_CLAMP) {
        x = x < lo ? lo : x;
        return x > hi ? hi : x;
    }
    return x;
}

/* static inline V NAME(V x, int act, float lo, float hi) for a float vector type V and its int vector type I */
#define HY_DEFINE_VECTOR_ACT(NAME, V, I)                                  \
    static inline V NAME(V x, int act, float lo, float hi)                \
    {                                                                     \
        if (act == HY_ACT_RELU) return (V)((I)x & ~(I)(x < (V){0}));      \
        if (act == HY_ACT_CLAMP) {                                        \
            const V l = (V){0} + lo, h = (V){0} + hi;                     \
            I m = x < l;                                                  \
            x = (V)(((I)x & ~m) | ((I)l & m));                            \
            m = x > h;                                                    \
            return (V)(((I)x & ~m) | ((I)h & m));                         \
        }                                                                 \
        return x;                                                         \
    }

/* Per-thread scratch buffers that grow and are kept, so a call allocates
 * nothing once warm (fresh megabyte buffers cost page faults on every call).
 * Slots: 0 conv input copy, 1 depthwise planes, 2 attention scores,
 * 3 Winograd transforms. NULL when memory runs out. */
#include <stdlib.h>
#define HY_SCRATCH_SLOTS 4
static __thread float *hy_scratch_ptr[HY_SCRATCH_SLOTS];
static __thread size_t hy_scratch_len[HY_SCRATCH_SLOTS];

static inline float *hy_scratch(int slot, size_t floats)
{
    if (hy_scratch_len[slot] < floats) {
        free(hy_scratch_ptr[slot]);
        const size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
        hy_scratch_ptr[slot] = aligned_alloc(64, bytes ? bytes : 64);
        hy_scratch_len[slot] = hy_scratch_ptr[slot] ? floats : 0;
    }
    return hy_scratch_ptr[slot];
}

/* Whether threads on one m x n GEMM (hy_sgemm) split its n columns rather than its m rows:
 * its longer side in tiles. A 1x1 convolution's columns are pixels, so the depthwise
 * convolution after one splits pixels where it did. */
static inline int hy_gemm_splits_columns(long m, long n)
{
    return (n + HY_NR - 1) / HY_NR >= (m + HY_MR - 1) / HY_MR;
}

/* t, tn: this thread's number and the team's size (0, 1 without OpenMP) */
#ifdef _OPENMP
#define HY_THREAD_ID(t, tn) const long t = omp_get_thread_num(), tn = omp_get_num_threads()
#else
#define HY_THREAD_ID(t, tn) const long t = 0, tn = 1
#endif

#endif
