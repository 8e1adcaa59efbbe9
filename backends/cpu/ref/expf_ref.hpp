// expf_ref.hpp — the reference kernels' expf: glibc's double-precision table algorithm (2^(k/32) from a table times
// a cubic in the remainder), written with explicit fused multiply-adds where glibc's FMA build fuses, so it gives
// the same bits as that libm's expf on every host, and SIMD kernels can repeat it lane for lane.
// Before: attention scores minus their maximum. After: attend_cached.cpp's softmax; simd::exp_f32 (x86 kernels).
#pragma once

#include <moe/config.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace expf_data {

// 2^(i/32) rounded to double, as bits, minus i << 47: adding k << 47 (k = i mod 32) restores 2^(i/32) and puts
// 2^(k div 32) into the exponent.
constexpr uint64_t tab[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b,
    0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb,
    0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429,
    0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, 0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da, 0x3fefd0765b6e4540};
constexpr double inv_ln2_32 = 0x1.71547652b82fep+5;  // 32 / ln 2
constexpr double shift = 0x1.8p+52;                  // adding it rounds to an integer in the low mantissa bits
constexpr double c0 = 0x1.c6af84b912394p-20, c1 = 0x1.ebfce50fac4f3p-13, c2 = 0x1.62e42ff0c52d6p-6;
constexpr uint32_t big = 0x42b00000;  // |x| >= 88 (and NaN, infinities): expf_ref's special cases

}  // namespace expf_data

// e^x for |x| < 88: x * 32 / ln 2 = k + r (k the nearest integer), e^x = 2^(k/32) * (1 + r (c2 + r (c1 + r c0))) in
// double, rounded once to float at the end.
inline float expf_main(float x) noexcept {
    namespace d = expf_data;
    const double xd = x;
    const double z = std::fma(d::inv_ln2_32, xd, d::shift);
    uint64_t ki;
    std::memcpy(&ki, &z, sizeof ki);
    const double kd = z - d::shift;
    const double r = std::fma(d::inv_ln2_32, xd, -kd);
    const uint64_t t = d::tab[ki % 32] + (ki << 47);
    double s;
    std::memcpy(&s, &t, sizeof s);
    const double p = std::fma(r, d::c0, d::c1), r2 = r * r, y = std::fma(r, d::c2, 1.0);
    return static_cast<float>(std::fma(p, r2, y) * s);
}

// e^x, glibc's special cases included: overflow past 88.72 gives +inf, underflow below -103.97 gives 0, between
// -103.28 and -103.97 the smallest subnormal; NaN stays NaN.
inline float expf_ref(float x) noexcept {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) >= expf_data::big) {
        if (bits == 0xff800000u) return 0.0f;                 // -inf
        if ((bits & 0x7fffffffu) >= 0x7f800000u) return x + x;  // +inf, NaN
        if (x > 0x1.62e42ep6f) return HUGE_VALF;
        if (x < -0x1.9fe368p6f) return 0.0f;
        if (x < -0x1.9d1d9ep6f) return 0x1p-149f;
    }
    return expf_main(x);
}

}  // namespace cpu
MOE_END_NAMESPACE
