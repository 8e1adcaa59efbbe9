// quant.cpp — row conversions between float and f32/f16/bf16/q8_0/q4_0, bit-exact with llama.cpp's reference code.
// The test-model writer quantizes weights here; the loader and the scalar reference kernels dequantize here.
#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <cmath>
#include <cstring>
#include <string>

MOE_BEGIN_NAMESPACE

namespace {

// float -> int8 as C's (int8_t)x compiles on x86 (cvttss2si, then the low byte): truncation toward zero for
// values in range; non-finite and out-of-range inputs, which only a non-finite block gives, become 0.
int float_to_int8_trunc(float x) noexcept {
    if (!(x > -129.0f && x < 128.0f)) return 0;
    return static_cast<int>(static_cast<int8_t>(static_cast<int>(x)));
}

// q8_0: amax = max |x|, d = amax / 127, q = round(x / d) (as x * (1/d)), d stored as fp16.
void quantize_q8_0(const float* x, block_q8_0* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * qk8_0;
        float amax = 0.0f;
        for (int j = 0; j < qk8_0; ++j) {
            const float a = std::fabs(xb[j]);
            amax = amax > a ? amax : a;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < qk8_0; ++j) {
            const float v = xb[j] * id;
            y[i].qs[j] = static_cast<int8_t>(float_to_int8_trunc(std::round(v)));
        }
    }
}

// q4_0: max = the value of largest magnitude (first one wins, sign kept), d = max / -8,
// q = min(15, trunc(x / d + 8.5)), low nibble = value j, high nibble = value j + 16.
void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * qk4_0;
        float amax = 0.0f;
        float max = 0.0f;
        for (int j = 0; j < qk4_0; ++j) {
            const float v = xb[j];
            if (amax < std::fabs(v)) {
                amax = std::fabs(v);
                max = v;
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < qk4_0 / 2; ++j) {
            const float x0 = xb[j] * id;  // separate statements: no fused multiply-add, as in the C reference
            const float x1 = xb[j + qk4_0 / 2] * id;
            const float s0 = x0 + 8.5f;
            const float s1 = x1 + 8.5f;
            const int q0 = float_to_int8_trunc(s0);
            const int q1 = float_to_int8_trunc(s1);
            const auto xi0 = static_cast<uint8_t>(q0 < 15 ? q0 : 15);
            const auto xi1 = static_cast<uint8_t>(q1 < 15 ? q1 : 15);
            y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
        }
    }
}

void dequantize_q8_0(const block_q8_0* x, float* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < qk8_0; ++j) y[i * qk8_0 + j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

void dequantize_q4_0(const block_q4_0* x, float* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < qk4_0 / 2; ++j) {
            const int x0 = (x[i].qs[j] & 0x0f) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[i * qk4_0 + j] = static_cast<float>(x0) * d;
            y[i * qk4_0 + j + qk4_0 / 2] = static_cast<float>(x1) * d;
        }
    }
}

status check_args(const char* fn, dtype type, const void* a, const void* b, int64_t n) {
    if (!can_convert(type)) {
        const dtype_traits* tr = dtype_info(static_cast<uint32_t>(type));
        return status(errc::unsupported, std::string(fn) + ": type " + (tr != nullptr ? tr->name : "?") +
                                             " is not supported");
    }
    if (n < 0) return status(errc::invalid_argument, std::string(fn) + ": negative element count");
    const uint32_t bs = traits(type).block_size;
    if (n % bs != 0) {
        return status(errc::invalid_argument, std::string(fn) + ": " + std::to_string(n) +
                                                  " elements is not a multiple of the " + dtype_name(type) +
                                                  " block size " + std::to_string(bs));
    }
    if (n > 0 && (a == nullptr || b == nullptr)) return status(errc::invalid_argument, std::string(fn) + ": null pointer");
    return ok_status();
}

}  // namespace

bool can_convert(dtype type) noexcept {
    switch (type) {
    case dtype::f32:
    case dtype::f16:
    case dtype::bf16:
    case dtype::q8_0:
    case dtype::q4_0: return true;
    default: return false;
    }
}

status quantize_row(dtype type, const float* src, void* dst, int64_t n) {
    MOE_TRY(check_args("quantize_row", type, src, dst, n));
    if (n == 0) return ok_status();
    switch (type) {
    case dtype::f32: std::memmove(dst, src, static_cast<size_t>(n) * sizeof(float)); break;
    case dtype::f16: {
        auto* y = static_cast<uint16_t*>(dst);
        for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(src[i]);
        break;
    }
    case dtype::bf16: {
        auto* y = static_cast<uint16_t*>(dst);
        for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(src[i]);
        break;
    }
    case dtype::q8_0: quantize_q8_0(src, static_cast<block_q8_0*>(dst), n / qk8_0); break;
    case dtype::q4_0: quantize_q4_0(src, static_cast<block_q4_0*>(dst), n / qk4_0); break;
    default: return status(errc::internal, "quantize_row: unhandled type");
    }
    return ok_status();
}

status dequantize_row(dtype type, const void* src, float* dst, int64_t n) {
    MOE_TRY(check_args("dequantize_row", type, src, dst, n));
    if (n == 0) return ok_status();
    switch (type) {
    case dtype::f32: std::memmove(dst, src, static_cast<size_t>(n) * sizeof(float)); break;
    case dtype::f16: {
        const auto* x = static_cast<const uint16_t*>(src);
        for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(x[i]);
        break;
    }
    case dtype::bf16: {
        const auto* x = static_cast<const uint16_t*>(src);
        for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(x[i]);
        break;
    }
    case dtype::q8_0: dequantize_q8_0(static_cast<const block_q8_0*>(src), dst, n / qk8_0); break;
    case dtype::q4_0: dequantize_q4_0(static_cast<const block_q4_0*>(src), dst, n / qk4_0); break;
    default: return status(errc::internal, "dequantize_row: unhandled type");
    }
    return ok_status();
}

MOE_END_NAMESPACE
