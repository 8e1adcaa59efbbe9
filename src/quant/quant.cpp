// quant.cpp — row conversions between float and every supported type: argument checks, f32/f16/bf16, dispatch.
// Before: per-family files (quant_legacy/k/k_low/iq/mxfp4.cpp). After: test-model writer, loader, CPU kernels.
#include "quant/quant_impl.hpp"

#include <cstring>
#include <string>

MOE_BEGIN_NAMESPACE

namespace {

using namespace quant_detail;

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
    if (n > 0 && (a == nullptr || b == nullptr)) {
        return status(errc::invalid_argument, std::string(fn) + ": null pointer");
    }
    return ok_status();
}

status quantize(const char* fn, dtype type, const float* src, void* dst, int64_t n, bool refine) {
    MOE_TRY(check_args(fn, type, src, dst, n));
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
    case dtype::q8_0: quantize_q8_0(src, dst, n); break;
    case dtype::q4_0: quantize_q4_0(src, dst, n); break;
    case dtype::q4_1: quantize_q4_1(src, dst, n); break;
    case dtype::q5_0: quantize_q5_0(src, dst, n); break;
    case dtype::q5_1: quantize_q5_1(src, dst, n); break;
    case dtype::q2_k: quantize_q2_k(src, dst, n, refine); break;
    case dtype::q3_k: quantize_q3_k(src, dst, n, refine); break;
    case dtype::q4_k: quantize_q4_k(src, dst, n, refine); break;
    case dtype::q5_k: quantize_q5_k(src, dst, n, refine); break;
    case dtype::q6_k: quantize_q6_k(src, dst, n, refine); break;
    case dtype::iq4_nl: quantize_iq4_nl(src, dst, n); break;
    case dtype::iq4_xs: quantize_iq4_xs(src, dst, n, refine); break;
    case dtype::mxfp4: quantize_mxfp4(src, dst, n, refine); break;
    default: return status(errc::internal, std::string(fn) + ": unhandled type");
    }
    return ok_status();
}

}  // namespace

bool can_convert(dtype type) noexcept {
    switch (type) {
    case dtype::f32:
    case dtype::f16:
    case dtype::bf16:
    case dtype::q8_0:
    case dtype::q4_0:
    case dtype::q4_1:
    case dtype::q5_0:
    case dtype::q5_1:
    case dtype::q2_k:
    case dtype::q3_k:
    case dtype::q4_k:
    case dtype::q5_k:
    case dtype::q6_k:
    case dtype::iq4_nl:
    case dtype::iq4_xs:
    case dtype::mxfp4: return true;
    default: return false;
    }
}

status quantize_row(dtype type, const float* src, void* dst, int64_t n) {
    return quantize("quantize_row", type, src, dst, n, true);
}

status quantize_row_reference(dtype type, const float* src, void* dst, int64_t n) {
    return quantize("quantize_row_reference", type, src, dst, n, false);
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
    case dtype::q8_0: dequantize_q8_0(src, dst, n); break;
    case dtype::q4_0: dequantize_q4_0(src, dst, n); break;
    case dtype::q4_1: dequantize_q4_1(src, dst, n); break;
    case dtype::q5_0: dequantize_q5_0(src, dst, n); break;
    case dtype::q5_1: dequantize_q5_1(src, dst, n); break;
    case dtype::q2_k: dequantize_q2_k(src, dst, n); break;
    case dtype::q3_k: dequantize_q3_k(src, dst, n); break;
    case dtype::q4_k: dequantize_q4_k(src, dst, n); break;
    case dtype::q5_k: dequantize_q5_k(src, dst, n); break;
    case dtype::q6_k: dequantize_q6_k(src, dst, n); break;
    case dtype::iq4_nl: dequantize_iq4_nl(src, dst, n); break;
    case dtype::iq4_xs: dequantize_iq4_xs(src, dst, n); break;
    case dtype::mxfp4: dequantize_mxfp4(src, dst, n); break;
    default: return status(errc::internal, "dequantize_row: unhandled type");
    }
    return ok_status();
}

MOE_END_NAMESPACE
