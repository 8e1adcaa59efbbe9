// vec_dot.cpp — activation conversion and dot-product dispatch for every weight type (f32/f16/bf16/q8_0/q4_0 here).
// Before: vec_dot_legacy/k/iq.cpp for the other families. After: the reference matmul kernels (matmul.cpp).
#include "backends/cpu/ref/vec_dot.hpp"

#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/ref/vec_dot_impl.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <cmath>

MOE_BEGIN_NAMESPACE
namespace cpu {

// The activation format of each weight type: llama.cpp's type_traits_cpu[type].vec_dot_type.
dtype dot_type(dtype weight_type) noexcept {
    switch (weight_type) {
    case dtype::f16: return dtype::f16;
    case dtype::bf16: return dtype::bf16;
    case dtype::q8_0:
    case dtype::q4_0:
    case dtype::q5_0:
    case dtype::iq4_nl:
    case dtype::mxfp4: return dtype::q8_0;
    case dtype::q4_1:
    case dtype::q5_1: return dtype::q8_1;
    case dtype::q2_k:
    case dtype::q3_k:
    case dtype::q4_k:
    case dtype::q5_k:
    case dtype::q6_k:
    case dtype::iq4_xs: return dtype::q8_k;
    default: return dtype::f32;
    }
}

namespace dot_detail {
// llama.cpp's x86 quantize_row_q8_0: d = amax / 127 stored as fp16, values multiplied by 127 / amax and rounded half
// to even (non-finite results saturate as _mm256_cvtps_epi32 + packs do).
void quantize_act_q8_0(const float* x, block_q8_0* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * qk8_0;
        float amax = 0.0f;
        for (int j = 0; j < qk8_0; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < qk8_0; ++j) y[i].qs[j] = sat_i8(round_i32(xb[j] * id));
    }
}

// q4_0: llama.cpp repacks q4_0 on x86 (sequential fma per block); ggml_vec_dot_q4_0_q8_0 uses the eight lanes.
float dot_q4_0(const block_q4_0* x, const block_q8_0* y, int64_t nb, dot_path path) noexcept {
    auto values = [](const block_q4_0& b, int8_t* v) {
        for (int j = 0; j < qk4_0 / 2; ++j) {
            v[j] = static_cast<int8_t>((b.qs[j] & 0x0f) - 8);
            v[j + qk4_0 / 2] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
        }
    };
    if (path != dot_path::vec_dot) {
        return dot_b32_repacked(x, y, nb, values, [](const block_q4_0& b) { return fp16_to_f32(b.d); });
    }
    lanes8 acc;
    int8_t v[qk4_0];
    for (int64_t b = 0; b < nb; ++b) {
        values(x[b], v);
        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        chunk_lanes(s, v, y[b].qs, 1, 1);
        acc.fma(fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d), s);
    }
    return acc.hsum();
}

}  // namespace dot_detail

using namespace dot_detail;

void convert_activation(dtype weight_type, const float* x, void* out, int64_t n) noexcept {
    switch (dot_type(weight_type)) {
    case dtype::f16: {
        uint16_t* o = static_cast<uint16_t*>(out);
        for (int64_t i = 0; i < n; ++i) o[i] = f32_to_fp16(x[i]);
        break;
    }
    case dtype::bf16: {
        uint16_t* o = static_cast<uint16_t*>(out);
        for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(x[i]);
        break;
    }
    case dtype::q8_0: quantize_act_q8_0(x, static_cast<block_q8_0*>(out), n / qk8_0); break;
    case dtype::q8_1: quantize_act_q8_1(x, static_cast<block_q8_1*>(out), n / qk8_1); break;
    case dtype::q8_k: quantize_act_q8_k(x, static_cast<block_q8_k*>(out), n / qk_k); break;
    default: {
        float* o = static_cast<float*>(out);
        for (int64_t i = 0; i < n; ++i) o[i] = x[i];
    }
    }
}

dot_path llama_dot_path(dtype weight_type) noexcept {
    switch (weight_type) {
    case dtype::q4_0:
    case dtype::q4_k:
    case dtype::iq4_nl:
    case dtype::mxfp4: return dot_path::repacked;  // any AVX2 host
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case dtype::q2_k: return __builtin_cpu_supports("avx512f") ? dot_path::repacked : dot_path::vec_dot;
#endif
    default: return dot_path::vec_dot;
    }
}

dot_path llama_dot_path(dtype weight_type, int64_t n_rows) noexcept {
    return n_rows % 8 == 0 ? llama_dot_path(weight_type) : dot_path::vec_dot;
}

dot_path llama_dense_dot_path(dtype weight_type, int64_t n_rows, int64_t i, int64_t R) noexcept {
    const dot_path p = llama_dot_path(weight_type, n_rows);
    // only q4_k's GEMM sums in another order than its GEMV
    return weight_type == dtype::q4_k && p == dot_path::repacked && R >= 4 && i < R - R % 4 ? dot_path::repacked_gemm : p;
}

float vec_dot(dtype weight_type, const void* w, const void* a, int64_t n) noexcept {
    if (weight_type == dtype::q4_0) {
        // The engine core's q4_0 sum (block by block, multiply then add), kept as the default because the model
        // conformance tests were tuned on it; dot_path::repacked is bit-exact with llama.cpp's repacked kernels.
        const auto* x = static_cast<const block_q4_0*>(w);
        const auto* y = static_cast<const block_q8_0*>(a);
        float s = 0.0f;
        for (int64_t b = 0; b < n / qk4_0; ++b) {
            int32_t sumi = 0;
            for (int j = 0; j < qk4_0 / 2; ++j) {
                sumi += (int32_t(x[b].qs[j] & 0x0f) - 8) * int32_t(y[b].qs[j]);
                sumi += (int32_t(x[b].qs[j] >> 4) - 8) * int32_t(y[b].qs[j + qk4_0 / 2]);
            }
            s += static_cast<float>(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
        }
        return s;
    }
    return vec_dot(weight_type, w, a, n, llama_dot_path(weight_type));
}

float vec_dot(dtype weight_type, const void* w, const void* a, int64_t n, dot_path path) noexcept {
    switch (weight_type) {
    case dtype::f32: return dot(static_cast<const float*>(w), static_cast<const float*>(a), n);
    case dtype::f16: {
        const uint16_t* x = static_cast<const uint16_t*>(w);
        const uint16_t* y = static_cast<const uint16_t*>(a);
        float s = 0.0f;
        for (int64_t i = 0; i < n; ++i) s += fp16_to_f32(x[i]) * fp16_to_f32(y[i]);
        return s;
    }
    case dtype::bf16: {
        const uint16_t* x = static_cast<const uint16_t*>(w);
        const uint16_t* y = static_cast<const uint16_t*>(a);
        float s = 0.0f;
        for (int64_t i = 0; i < n; ++i) s += bf16_to_f32(x[i]) * bf16_to_f32(y[i]);
        return s;
    }
    case dtype::q8_0: {
        // Eight float lanes, lane j accumulating fma(d, sum of products 4j..4j+3, lane) over the blocks, then the
        // pairwise horizontal sum: the order of llama.cpp's x86 q8_0 x q8_0 kernel, which its token-by-token
        // decode uses, so random-weight models route experts the way llama.cpp does.
        const block_q8_0* x = static_cast<const block_q8_0*>(w);
        const block_q8_0* y = static_cast<const block_q8_0*>(a);
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int64_t b = 0; b < n / qk8_0; ++b) {
            const float d = fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
            for (int j = 0; j < 8; ++j) {
                int32_t sumi = 0;
                for (int i = 4 * j; i < 4 * j + 4; ++i) sumi += int32_t(x[b].qs[i]) * int32_t(y[b].qs[i]);
                lane[j] = std::fma(d, static_cast<float>(sumi), lane[j]);
            }
        }
        const float r0 = lane[0] + lane[4], r1 = lane[1] + lane[5], r2 = lane[2] + lane[6], r3 = lane[3] + lane[7];
        return (r0 + r2) + (r1 + r3);
    }
    case dtype::q4_0:
        return dot_q4_0(static_cast<const block_q4_0*>(w), static_cast<const block_q8_0*>(a), n / qk4_0, path);
    case dtype::q4_1: return dot_q4_1(static_cast<const block_q4_1*>(w), static_cast<const block_q8_1*>(a), n / qk4_1);
    case dtype::q5_0: return dot_q5_0(static_cast<const block_q5_0*>(w), static_cast<const block_q8_0*>(a), n / qk5_0);
    case dtype::q5_1: return dot_q5_1(static_cast<const block_q5_1*>(w), static_cast<const block_q8_1*>(a), n / qk5_1);
    case dtype::q2_k:
        return dot_q2_k(static_cast<const block_q2_k*>(w), static_cast<const block_q8_k*>(a), n / qk_k, path);
    case dtype::q3_k: return dot_q3_k(static_cast<const block_q3_k*>(w), static_cast<const block_q8_k*>(a), n / qk_k);
    case dtype::q4_k:
        return dot_q4_k(static_cast<const block_q4_k*>(w), static_cast<const block_q8_k*>(a), n / qk_k, path);
    case dtype::q5_k: return dot_q5_k(static_cast<const block_q5_k*>(w), static_cast<const block_q8_k*>(a), n / qk_k);
    case dtype::q6_k: return dot_q6_k(static_cast<const block_q6_k*>(w), static_cast<const block_q8_k*>(a), n / qk_k);
    case dtype::iq4_nl:
        return dot_iq4_nl(static_cast<const block_iq4_nl*>(w), static_cast<const block_q8_0*>(a), n / qk4_nl, path);
    case dtype::iq4_xs:
        return dot_iq4_xs(static_cast<const block_iq4_xs*>(w), static_cast<const block_q8_k*>(a), n / qk_k);
    case dtype::mxfp4:
        return dot_mxfp4(static_cast<const block_mxfp4*>(w), static_cast<const block_q8_0*>(a), n / qk_mxfp4, path);
    default: return 0.0f;  // cpu_backend::supports admits only the types above (can_convert)
    }
}

}  // namespace cpu
MOE_END_NAMESPACE
