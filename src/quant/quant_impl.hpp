// quant_impl.hpp — shared by the quantizer files: x86 float->int conversions, E8M0 scales, per-family functions.
// Before: include/moe/quant.hpp (block structs). After: quant.cpp dispatches to the functions declared here.
#pragma once

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <cstdint>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

// ---- conversions with llama.cpp's exact semantics ------------------------------------------------------------------

// ggml's nearest_int: adds 1.5 * 2^23 and reads the low mantissa bits, i.e. round half to even for |x| < 2^22.
// Larger or non-finite inputs give the same (meaningless, but deterministic) bits as ggml, without undefined behaviour.
inline int nearest_int(float x) noexcept {
    const float v = x + 12582912.0f;
    int32_t i;
    std::memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

// C's float -> int conversion as x86-64 compiles it (cvttss2si): truncation toward zero, and INT32_MIN (the
// "integer indefinite" value) for NaN and out-of-range inputs.
inline int32_t trunc_i32(float x) noexcept {
    if (x >= -2147483648.0f && x < 2147483648.0f) return static_cast<int32_t>(x);
    return INT32_MIN;
}

// (int8_t)x and (uint8_t)x for a float x, as x86-64 compiles them: trunc_i32, then the low byte.
inline int trunc_i8(float x) noexcept {
    return static_cast<int>(static_cast<int8_t>(static_cast<uint8_t>(static_cast<uint32_t>(trunc_i32(x)) & 0xffu)));
}
inline int trunc_u8(float x) noexcept { return static_cast<int>(static_cast<uint32_t>(trunc_i32(x)) & 0xffu); }

inline float fl(int v) noexcept { return static_cast<float>(v); }
inline uint8_t u8(int v) noexcept { return static_cast<uint8_t>(v); }
inline int imin(int a, int b) noexcept { return a < b ? a : b; }
inline int imax(int a, int b) noexcept { return a > b ? a : b; }
inline int clampi(int v, int lo, int hi) noexcept { return imax(lo, imin(hi, v)); }

// E8M0 exponent e -> 2^(e - 128): half the MX scale, because mxfp4_values are doubled (ggml_e8m0_to_fp32_half).
inline float e8m0_half(uint8_t e) noexcept {
    const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// Sum of squared differences of n floats, in double (the quantizers' measure for "not worse than llama.cpp").
inline double sq_err(const float* x, const float* y, int n) noexcept {
    double s = 0.0;
    for (int i = 0; i < n; ++i) {
        const double e = static_cast<double>(x[i]) - static_cast<double>(y[i]);
        s += e * e;
    }
    return s;
}

// ---- per-family row functions (n is a whole number of blocks; pointers are valid) ---------------------------------
// refine = false gives llama.cpp's bytes; true adds the search of quant_refine.hpp (error never higher).

// quant_legacy.cpp: 32-element blocks.
void quantize_q4_0(const float* x, void* y, int64_t n) noexcept;
void quantize_q4_1(const float* x, void* y, int64_t n) noexcept;
void quantize_q5_0(const float* x, void* y, int64_t n) noexcept;
void quantize_q5_1(const float* x, void* y, int64_t n) noexcept;
void quantize_q8_0(const float* x, void* y, int64_t n) noexcept;
void dequantize_q4_0(const void* x, float* y, int64_t n) noexcept;
void dequantize_q4_1(const void* x, float* y, int64_t n) noexcept;
void dequantize_q5_0(const void* x, float* y, int64_t n) noexcept;
void dequantize_q5_1(const void* x, float* y, int64_t n) noexcept;
void dequantize_q8_0(const void* x, float* y, int64_t n) noexcept;

// quant_k.cpp (q4_k, q5_k, q6_k) and quant_k_low.cpp (q2_k, q3_k): 256-element super-blocks.
void quantize_q2_k(const float* x, void* y, int64_t n, bool refine) noexcept;
void quantize_q3_k(const float* x, void* y, int64_t n, bool refine) noexcept;
void quantize_q4_k(const float* x, void* y, int64_t n, bool refine) noexcept;
void quantize_q5_k(const float* x, void* y, int64_t n, bool refine) noexcept;
void quantize_q6_k(const float* x, void* y, int64_t n, bool refine) noexcept;
void dequantize_q2_k(const void* x, float* y, int64_t n) noexcept;
void dequantize_q3_k(const void* x, float* y, int64_t n) noexcept;
void dequantize_q4_k(const void* x, float* y, int64_t n) noexcept;
void dequantize_q5_k(const void* x, float* y, int64_t n) noexcept;
void dequantize_q6_k(const void* x, float* y, int64_t n) noexcept;

// quant_iq.cpp: non-linear 4-bit.
void quantize_iq4_nl(const float* x, void* y, int64_t n) noexcept;
void quantize_iq4_xs(const float* x, void* y, int64_t n, bool refine) noexcept;
void dequantize_iq4_nl(const void* x, float* y, int64_t n) noexcept;
void dequantize_iq4_xs(const void* x, float* y, int64_t n) noexcept;

// quant_mxfp4.cpp.
void quantize_mxfp4(const float* x, void* y, int64_t n, bool refine) noexcept;
void dequantize_mxfp4(const void* x, float* y, int64_t n) noexcept;

}  // namespace quant_detail
MOE_END_NAMESPACE
