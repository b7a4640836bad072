/* Vectorizable float math for generated loops: branch-free, so GCC
 * vectorizes the loops that call them (a call to libm's erff stays scalar
 * without -ffast-math, about 10x slower in a GELU epilogue).
 *
 * hy_expf_neg: exp(x) for x <= 0 (clamped at -88, where it flushes to 0),
 *   Cephes' polynomial on [-ln2/2, ln2/2] times 2^n built in the exponent
 *   bits; relative error < 2e-7.
 * hy_erff: erf(x) as x * P(x^2) on |x| < 1 and 1 - exp(-(x^2 + G(|x|))) on
 *   1 <= |x| < 4 (coefficients fitted for hybridize by least squares against
 *   double-precision erf; relative error < 2e-7 below 1, absolute < 1e-7
 *   above), +-1 beyond; NaN stays NaN. */
#ifndef HY_MATH_H
#define HY_MATH_H

#include <stdint.h>

static inline float hy_expf_neg(float x)
{
    x = x < -88.0f ? -88.0f : x;
    const float t = x * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23 + round(x / ln 2) */
    const float n = t - 12582912.0f;
    const float z = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * z + 1.3981999507e-3f;
    p = p * z + 8.3334519073e-3f;
    p = p * z + 4.1665795894e-2f;
    p = p * z + 1.6666665459e-1f;
    p = p * z + 5.0000001201e-1f;
    p = p * z * z + z + 1.0f;
    union { float f; uint32_t i; } two = { .f = t }; /* unsigned: a NaN's bits shift without UB */
    two.i = (two.i - 0x4B400000u + 127u) << 23;
    return p * two.f;
}

static inline float hy_erff(float x)
{
    const float a = __builtin_fabsf(x);
    const float s = x * x;
    float p = 7.923267548903823e-05f;
    p = p * s - 0.0008030970930121839f;
    p = p * s + 0.005190674215555191f;
    p = p * s - 0.026855047792196274f;
    p = p * s + 0.11283615231513977f;
    p = p * s - 0.3761262893676758f;
    p = p * s + 1.128379225730896f;
    const float small = p * x;
    const float b = a >= 4.0f ? 4.0f : a; /* NaN stays NaN */
    const float u = (b - 2.5f) * 0.6666666666666666f;
    float g = -4.168195664533414e-05f;
    g = g * u + 0.0002270829863846302f;
    g = g * u - 0.0008810029248706996f;
    g = g * u + 0.00319097051396966f;
    g = g * u - 0.010961438529193401f;
    g = g * u + 0.03664727881550789f;
    g = g * u - 0.12623925507068634f;
    g = g * u + 0.5290210247039795f;
    g = g * u + 1.556815266609192f;
    const float big = a >= 4.0f ? 1.0f : 1.0f - hy_expf_neg(-(b * b + g));
    return a < 1.0f ? small : __builtin_copysignf(big, x);
}

#endif
