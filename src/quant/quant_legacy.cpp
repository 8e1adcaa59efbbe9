// quant_legacy.cpp — q4_0/q4_1/q5_0/q5_1/q8_0: quantizers bit-exact with llama.cpp's, dequantizers with its math.
// Before: quant.cpp dispatch. After: the test-model writer, the loader and the CPU kernels (backends/cpu/ref).
#include "quant/quant_impl.hpp"

#include <cfloat>
#include <cmath>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

namespace {

// The value of largest magnitude in a block (the first one wins ties), sign kept.
float signed_absmax(const float* x, int n) noexcept {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

void min_max(const float* x, int n, float& mn, float& mx) noexcept {
    mn = FLT_MAX;
    mx = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < mn) mn = x[j];
        if (x[j] > mx) mx = x[j];
    }
}

// Bit 4 of q0 (value j) and q1 (value j + 16) into the 32-bit qh word.
uint32_t fifth_bits(uint32_t qh, int j, int q0, int q1) noexcept {
    qh |= ((static_cast<uint32_t>(q0) & 0x10u) >> 4) << j;
    qh |= ((static_cast<uint32_t>(q1) & 0x10u) >> 4) << (j + 16);
    return qh;
}

uint32_t load_qh(const uint8_t* p) noexcept {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}

void store_qh(uint8_t* p, uint32_t qh) noexcept {
    for (int k = 0; k < 4; ++k) p[k] = static_cast<uint8_t>(qh >> (8 * k));
}

}  // namespace

// q8_0: d = amax / 127, q = roundf(x / d) (as x * (1/d)), d stored as fp16.
void quantize_q8_0(const float* x, void* vy, int64_t n) noexcept {
    auto* y = static_cast<block_q8_0*>(vy);
    for (int64_t i = 0; i < n / qk8_0; ++i) {
        const float* xb = x + i * qk8_0;
        float amax = 0.0f;
        for (int j = 0; j < qk8_0; ++j) {
            const float a = std::fabs(xb[j]);
            amax = amax > a ? amax : a;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < qk8_0; ++j) y[i].qs[j] = static_cast<int8_t>(trunc_i8(std::round(xb[j] * id)));
    }
}

// q4_0: d = max / -8 (max: the signed value of largest magnitude), q = min(15, (int8)(x / d + 8.5)).
void quantize_q4_0(const float* x, void* vy, int64_t n) noexcept {
    auto* y = static_cast<block_q4_0*>(vy);
    for (int64_t i = 0; i < n / qk4_0; ++i) {
        const float* xb = x + i * qk4_0;
        const float d = signed_absmax(xb, qk4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < qk4_0 / 2; ++j) {
            const float x0 = xb[j] * id;
            const float x1 = xb[j + qk4_0 / 2] * id;
            const int q0 = imin(15, trunc_i8(x0 + 8.5f)), q1 = imin(15, trunc_i8(x1 + 8.5f));
            y[i].qs[j] = static_cast<uint8_t>(u8(q0) | (u8(q1) << 4));
        }
    }
}

// q4_1: d = (max - min) / 15, m = min, q = min(15, (int8)((x - min) / d + 0.5)).
void quantize_q4_1(const float* x, void* vy, int64_t n) noexcept {
    auto* y = static_cast<block_q4_1*>(vy);
    for (int64_t i = 0; i < n / qk4_1; ++i) {
        const float* xb = x + i * qk4_1;
        float mn, mx;
        min_max(xb, qk4_1, mn, mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        y[i].m = f32_to_fp16(mn);
        for (int j = 0; j < qk4_1 / 2; ++j) {
            const float x0 = (xb[j] - mn) * id;
            const float x1 = (xb[j + qk4_1 / 2] - mn) * id;
            const int q0 = imin(15, trunc_i8(x0 + 0.5f)), q1 = imin(15, trunc_i8(x1 + 0.5f));
            y[i].qs[j] = static_cast<uint8_t>(u8(q0) | (u8(q1) << 4));
        }
    }
}

// q5_0: d = max / -16, q = min(31, (int8)(x / d + 16.5)); low nibbles in qs, bit 4 in qh.
void quantize_q5_0(const float* x, void* vy, int64_t n) noexcept {
    auto* y = static_cast<block_q5_0*>(vy);
    for (int64_t i = 0; i < n / qk5_0; ++i) {
        const float* xb = x + i * qk5_0;
        const float d = signed_absmax(xb, qk5_0) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < qk5_0 / 2; ++j) {
            const float x0 = xb[j] * id;
            const float x1 = xb[j + qk5_0 / 2] * id;
            const int q0 = u8(imin(31, trunc_i8(x0 + 16.5f))), q1 = u8(imin(31, trunc_i8(x1 + 16.5f)));
            y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh = fifth_bits(qh, j, q0, q1);
        }
        store_qh(y[i].qh, qh);
    }
}

// q5_1: d = (max - min) / 31, m = min, q = (uint8)((x - min) / d + 0.5) (no clamp, as in llama.cpp).
void quantize_q5_1(const float* x, void* vy, int64_t n) noexcept {
    auto* y = static_cast<block_q5_1*>(vy);
    for (int64_t i = 0; i < n / qk5_1; ++i) {
        const float* xb = x + i * qk5_1;
        float mn, mx;
        min_max(xb, qk5_1, mn, mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        y[i].m = f32_to_fp16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < qk5_1 / 2; ++j) {
            const float x0 = (xb[j] - mn) * id;
            const float x1 = (xb[j + qk5_1 / 2] - mn) * id;
            const int q0 = trunc_u8(x0 + 0.5f), q1 = trunc_u8(x1 + 0.5f);
            y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh = fifth_bits(qh, j, q0, q1);
        }
        store_qh(y[i].qh, qh);
    }
}

void dequantize_q8_0(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q8_0*>(vx);
    for (int64_t i = 0; i < n / qk8_0; ++i) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < qk8_0; ++j) y[i * qk8_0 + j] = fl(x[i].qs[j]) * d;
    }
}

void dequantize_q4_0(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q4_0*>(vx);
    for (int64_t i = 0; i < n / qk4_0; ++i) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < qk4_0 / 2; ++j) {
            y[i * qk4_0 + j] = fl((x[i].qs[j] & 0x0f) - 8) * d;
            y[i * qk4_0 + j + qk4_0 / 2] = fl((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q4_1*>(vx);
    for (int64_t i = 0; i < n / qk4_1; ++i) {
        const float d = fp16_to_f32(x[i].d), m = fp16_to_f32(x[i].m);
        for (int j = 0; j < qk4_1 / 2; ++j) {
            y[i * qk4_1 + j] = fl(x[i].qs[j] & 0x0f) * d + m;
            y[i * qk4_1 + j + qk4_1 / 2] = fl(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_q5_0(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q5_0*>(vx);
    for (int64_t i = 0; i < n / qk5_0; ++i) {
        const float d = fp16_to_f32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < qk5_0 / 2; ++j) {
            const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10u);
            const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10u);
            y[i * qk5_0 + j] = fl(((x[i].qs[j] & 0x0f) | h0) - 16) * d;
            y[i * qk5_0 + j + qk5_0 / 2] = fl(((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

void dequantize_q5_1(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q5_1*>(vx);
    for (int64_t i = 0; i < n / qk5_1; ++i) {
        const float d = fp16_to_f32(x[i].d), m = fp16_to_f32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < qk5_1 / 2; ++j) {
            const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10u);
            const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10u);
            y[i * qk5_1 + j] = fl((x[i].qs[j] & 0x0f) | h0) * d + m;
            y[i * qk5_1 + j + qk5_1 / 2] = fl((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

}  // namespace quant_detail
MOE_END_NAMESPACE
