/* Machine probe for benchmarks: the single-thread FMA peak, measured by
 * sixteen independent chains of vector multiply-adds (enough to hide the
 * FMA latency on two ports), at the library's vector width. */
#include "hy_kernels.h"

#include <time.h>

typedef float hy_probe_v __attribute__((vector_size(HY_VB)));

double hy_fma_peak_gflops(long iterations)
{
    hy_probe_v acc[16];
    hy_probe_v m = (hy_probe_v){0} + 0.999999f, a = (hy_probe_v){0} + 1e-7f;
    for (int i = 0; i < 16; ++i) acc[i] = (hy_probe_v){0} + (float)i;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) acc[i] = acc[i] * m + a;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    float sink = 0;
    for (int i = 0; i < 16; ++i) sink += acc[i][0];
    const double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    const double flops = 2.0 * 16 * (HY_VB / 4) * (double)iterations;
    return sink == 12345.678f ? 0 : flops / s / 1e9;
}
