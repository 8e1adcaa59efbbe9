// half.hpp — IEEE binary16 and bfloat16 <-> float conversions, bit-exact with F16C/ggml rounding.
// Used by quant.hpp (block scales), the GGUF test-model writer and the F16/BF16 kernels.
#pragma once

#include <moe/config.hpp>

#include <cstdint>
#include <cstring>

MOE_BEGIN_NAMESPACE

inline uint32_t f32_bits(float f) noexcept { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_f32(uint32_t u) noexcept { float f; std::memcpy(&f, &u, 4); return f; }

// binary16 -> float, exact for every input including subnormals, Inf and NaN.
inline float fp16_to_f32(uint16_t h) noexcept {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));  // Inf / NaN
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        // subnormal: value = mant * 2^-24
        float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

// float -> binary16 with round-to-nearest-even (what F16C's vcvtps2ph and ggml's fallback produce).
inline uint16_t f32_to_fp16(float f) noexcept {
    const uint32_t x = f32_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // NaN stays NaN
    if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: Inf
    if (ax < 0x38800000u) {
        // result is subnormal or zero: value / 2^-24, rounded to nearest even
        if (ax < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25: rounds to 0
        const uint32_t e = ax >> 23;
        const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126u - e;  // bring to units of 2^-24: m * 2^(e-150) / 2^-24 = m >> (126 - e)
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return static_cast<uint16_t>(sign | r);
    }
    uint32_t r = ax - 0x38000000u;  // rebias exponent 127 -> 15
    const uint32_t rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
}

inline float bf16_to_f32(uint16_t h) noexcept { return bits_f32(static_cast<uint32_t>(h) << 16); }

// float -> bfloat16, round-to-nearest-even; NaN kept quiet (as ggml_compute_fp32_to_bf16 does).
inline uint16_t f32_to_bf16(float f) noexcept {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64u);
    return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

MOE_END_NAMESPACE
