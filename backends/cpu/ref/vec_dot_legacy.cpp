// vec_dot_legacy.cpp — q4_1/q5_1 x q8_1 and q5_0 x q8_0 dot products, q8_1 activations, llama.cpp's AVX2 order.
// Before: blocks from src/quant. After: vec_dot.cpp dispatch, the reference matmul kernels (matmul.cpp).
#include "backends/cpu/ref/vec_dot_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace dot_detail {

namespace {

// The 32 values of a block: low nibbles (values 0..15), high nibbles (16..31), plus bit j of qh << 4 when qh is given,
// minus `offset`.
void block_values(const uint8_t* qs, const uint8_t* qh, int offset, int8_t* v) noexcept {
    uint32_t h = 0;
    if (qh != nullptr) std::memcpy(&h, qh, sizeof h);
    for (int j = 0; j < 16; ++j) {
        v[j] = static_cast<int8_t>((qs[j] & 0x0f) + static_cast<int>(((h >> j) & 1u) << 4) - offset);
        v[j + 16] = static_cast<int8_t>((qs[j] >> 4) + static_cast<int>(((h >> (j + 16)) & 1u) << 4) - offset);
    }
}

}  // namespace

// llama.cpp's x86 quantize_row_q8_1: d = amax / 127 (fp16), values x * (127 / amax) rounded half to even,
// s = fp16(d * sum of the rounded values).
void quantize_act_q8_1(const float* x, block_q8_1* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * qk8_1;
        float amax = 0.0f;
        for (int j = 0; j < qk8_1; ++j) {
            const float a = std::fabs(xb[j]);
            amax = amax > a ? amax : a;
        }
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = f32_to_fp16(d);
        uint32_t sum = 0;
        for (int j = 0; j < qk8_1; ++j) {
            const int32_t q = round_i32(xb[j] * id);
            sum += static_cast<uint32_t>(q);
            y[i].qs[j] = sat_i8(q);
        }
        y[i].s = f32_to_fp16(d * static_cast<float>(static_cast<int32_t>(sum)));
    }
}

// acc = fma(dx * dy, lanes, acc) per block; the min term m * s accumulates separately (a fused multiply-add too).
float dot_q4_1(const block_q4_1* x, const block_q8_1* y, int64_t nb) noexcept {
    lanes8 acc;
    float summs = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
        summs = std::fma(fp16_to_f32(x[b].m), fp16_to_f32(y[b].s), summs);
        const float d = fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int8_t v[32];
        block_values(x[b].qs, nullptr, 0, v);
        chunk_lanes(s, v, y[b].qs, 1, 1);
        acc.fma(d, s);
    }
    return acc.hsum() + summs;
}

float dot_q5_0(const block_q5_0* x, const block_q8_0* y, int64_t nb) noexcept {
    lanes8 acc;
    for (int64_t b = 0; b < nb; ++b) {
        const float d = fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int8_t v[32];
        block_values(x[b].qs, x[b].qh, 16, v);
        chunk_lanes(s, v, y[b].qs, 1, 1);
        acc.fma(d, s);
    }
    return acc.hsum();
}

float dot_q5_1(const block_q5_1* x, const block_q8_1* y, int64_t nb) noexcept {
    lanes8 acc;
    float summs = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
        summs = std::fma(fp16_to_f32(x[b].m), fp16_to_f32(y[b].s), summs);
        const float d = fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int8_t v[32];
        block_values(x[b].qs, x[b].qh, 0, v);
        chunk_lanes(s, v, y[b].qs, 1, 1);
        acc.fma(d, s);
    }
    return acc.hsum() + summs;
}

}  // namespace dot_detail
}  // namespace cpu
MOE_END_NAMESPACE
