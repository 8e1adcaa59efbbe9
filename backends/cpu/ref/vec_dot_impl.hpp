// vec_dot_impl.hpp — shared by the dot-product files: llama.cpp's x86 8-lane accumulation, per-family functions.
// Before: include/moe/quant.hpp blocks. After: vec_dot.cpp dispatches to the functions declared here.
#pragma once

#include "backends/cpu/ref/vec_dot.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace dot_detail {

// Eight float accumulators as one AVX register of llama.cpp's kernels.
struct lanes8 {
    float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    // v[m] = fma(d, float(s[m]), v[m]): _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc).
    void fma(float d, const int32_t* s) noexcept {
        for (int m = 0; m < 8; ++m) v[m] = std::fma(d, static_cast<float>(s[m]), v[m]);
    }
    void add(const lanes8& o) noexcept {
        for (int m = 0; m < 8; ++m) v[m] += o.v[m];
    }
    // hsum_float_8: upper half + lower half, then (r0 + r2) + (r1 + r3).
    float hsum() const noexcept {
        const float r0 = v[4] + v[0], r1 = v[5] + v[1], r2 = v[6] + v[2], r3 = v[7] + v[3];
        return (r0 + r2) + (r1 + r3);
    }
};

// The lane of element e in llama.cpp's 32-byte registers: bytes 4m..4m+3 are summed into int32 lane m.
inline int lane_of(int e) noexcept { return (e & 31) >> 2; }

// One 32-value chunk into the eight int32 lanes: lane m += scale * (v . q8 over elements 4m..4m+3), with scale s_lo
// for the first 16 values (lanes 0-3) and s_hi for the last 16. Integer sums are exact, so only the lane split matters.
inline void chunk_lanes(int32_t* sumi, const int8_t* v, const int8_t* q8, int32_t s_lo, int32_t s_hi) noexcept {
    int32_t p[32];
    for (int e = 0; e < 32; ++e) p[e] = int32_t(v[e]) * int32_t(q8[e]);
    for (int m = 0; m < 8; ++m) {
        sumi[m] += (m < 4 ? s_lo : s_hi) * (p[4 * m] + p[4 * m + 1] + p[4 * m + 2] + p[4 * m + 3]);
    }
}

// _mm256_cvtps_epi32 after rounding: round half to even, INT32_MIN ("indefinite") for NaN and out-of-range values.
inline int32_t round_i32(float x) noexcept {
    const float r = std::nearbyint(x);
    if (r >= -2147483648.0f && r < 2147483648.0f) return static_cast<int32_t>(r);
    return INT32_MIN;
}
inline int8_t sat_i8(int32_t v) noexcept { return static_cast<int8_t>(v < -128 ? -128 : v > 127 ? 127 : v); }

// ggml's nearest_int (round half to even through the 1.5 * 2^23 trick; deterministic for any input).
inline int nearest_int(float x) noexcept {
    const float v = x + 12582912.0f;
    int32_t i;
    std::memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

// llama.cpp's repacked GEMV/GEMM for 32-element blocks (q4_0, iq4_nl, mxfp4 as CPU_REPACK stores them), per output:
// acc = fma(float(sum of the block's 32 products), x_scale * y_scale, acc) over the blocks in order.
template <class B, class Values, class Scale>
float dot_b32_repacked(const B* x, const block_q8_0* y, int64_t nb, Values values, Scale scale) noexcept {
    float acc = 0.0f;
    int8_t v[32];
    for (int64_t b = 0; b < nb; ++b) {
        values(x[b], v);
        int32_t sumi = 0;
        for (int e = 0; e < 32; ++e) sumi += int32_t(v[e]) * int32_t(y[b].qs[e]);
        acc = std::fma(static_cast<float>(sumi), scale(x[b]) * fp16_to_f32(y[b].d), acc);
    }
    return acc;
}

// ---- activation converters -----------------------------------------------------------------------------------------

void quantize_act_q8_0(const float* x, block_q8_0* y, int64_t nb) noexcept;  // vec_dot.cpp
void quantize_act_q8_1(const float* x, block_q8_1* y, int64_t nb) noexcept;  // vec_dot_legacy.cpp
void quantize_act_q8_k(const float* x, block_q8_k* y, int64_t nb) noexcept;  // vec_dot_k.cpp

// ---- dot products of nb blocks (or super-blocks) --------------------------------------------------------------------

float dot_q4_0(const block_q4_0* x, const block_q8_0* y, int64_t nb, dot_path path) noexcept;  // vec_dot.cpp
float dot_q4_1(const block_q4_1* x, const block_q8_1* y, int64_t nb) noexcept;
float dot_q5_0(const block_q5_0* x, const block_q8_0* y, int64_t nb) noexcept;
float dot_q5_1(const block_q5_1* x, const block_q8_1* y, int64_t nb) noexcept;
float dot_q2_k(const block_q2_k* x, const block_q8_k* y, int64_t nb, dot_path path) noexcept;
float dot_q3_k(const block_q3_k* x, const block_q8_k* y, int64_t nb) noexcept;
float dot_q4_k(const block_q4_k* x, const block_q8_k* y, int64_t nb, dot_path path) noexcept;
float dot_q5_k(const block_q5_k* x, const block_q8_k* y, int64_t nb) noexcept;
float dot_q6_k(const block_q6_k* x, const block_q8_k* y, int64_t nb) noexcept;
float dot_iq4_nl(const block_iq4_nl* x, const block_q8_0* y, int64_t nb, dot_path path) noexcept;
float dot_iq4_xs(const block_iq4_xs* x, const block_q8_k* y, int64_t nb) noexcept;
float dot_mxfp4(const block_mxfp4* x, const block_q8_0* y, int64_t nb, dot_path path) noexcept;

}  // namespace dot_detail
}  // namespace cpu
MOE_END_NAMESPACE
