// vec_dot.cpp — scalar activation conversion and per-type dot products (f32, f16, bf16, q8_0, q4_0).
// Integer block sums are exact; float rounding follows llama.cpp up to summation order.
#include "backends/cpu/ref/vec_dot.hpp"

#include "backends/cpu/ref/ref_kernels.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <cmath>

MOE_BEGIN_NAMESPACE
namespace cpu {

dtype dot_type(dtype weight_type) noexcept {
    switch (weight_type) {
    case dtype::f16: return dtype::f16;
    case dtype::bf16: return dtype::bf16;
    case dtype::q8_0:
    case dtype::q4_0: return dtype::q8_0;
    default: return dtype::f32;
    }
}

namespace {
// Activation quantizer: d = amax / 127 stored as fp16, values multiplied by 127 / amax and rounded half to even.
void quantize_activation_q8_0(const float* x, block_q8_0* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * qk8_0;
        float amax = 0.0f;
        for (int j = 0; j < qk8_0; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < qk8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
    }
}
}  // namespace

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
    case dtype::q8_0: quantize_activation_q8_0(x, static_cast<block_q8_0*>(out), n / qk8_0); break;
    default: {
        float* o = static_cast<float*>(out);
        for (int64_t i = 0; i < n; ++i) o[i] = x[i];
    }
    }
}

float vec_dot(dtype weight_type, const void* w, const void* a, int64_t n) noexcept {
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
    case dtype::q4_0: {
        const block_q4_0* x = static_cast<const block_q4_0*>(w);
        const block_q8_0* y = static_cast<const block_q8_0*>(a);
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
    default: return 0.0f;  // cpu_backend::supports admits only the types above
    }
}

}  // namespace cpu
MOE_END_NAMESPACE
