/* Helpers internal to the library. Activations the kernels apply in registers before a tile is stored; relu
 * and clamp keep NaN, as the scalar rules of generated code do. Internal to
 * the library: each kernel instantiates the vector form for its vector type. */
#ifndef HY_ACT_H
#define HY_ACT_H

#include "hy_kernels.h"

#ifdef _OPENMP
#include <omp.h>
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

/* t, tn: this thread's number and the team's size (0, 1 without OpenMP) */
#ifdef _OPENMP
#define HY_THREAD_ID(t, tn) const long t = omp_get_thread_num(), tn = omp_get_num_threads()
#else
#define HY_THREAD_ID(t, tn) const long t = 0, tn = 1
#endif

#endif
