// quant_mxfp4.cpp — MXFP4 (E2M1 values, one E8M0 exponent per 32): llama.cpp's quantizer, exponent search, decoder.
// Before: quant.cpp dispatch. After: the CPU dot product (backends/cpu/ref/vec_dot_iq.cpp) reads the same blocks.
#include "quant/quant_impl.hpp"

#include <cmath>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

namespace {

// ggml's best_index_mxfp4: the first index with the smallest |values[i] * d - x|.
int best_index_mxfp4(float x, float d) noexcept {
    int best_index = 0;
    float best_err = std::fabs(fl(mxfp4_values[0]) * d - x);
    for (int i = 1; i < 16; ++i) {
        const float err = std::fabs(fl(mxfp4_values[i]) * d - x);
        if (err < best_err) {
            best_index = i;
            best_err = err;
        }
    }
    return best_index;
}

// Quantizes one block with exponent e (indices into qs as q4_0 packs them); returns the block's squared error.
double encode_block(const float* x, uint8_t e, block_mxfp4& y) noexcept {
    const float d = e8m0_half(e);
    y.e = e;
    double err = 0.0;
    for (int j = 0; j < qk_mxfp4 / 2; ++j) {
        const int q0 = best_index_mxfp4(x[j], d), q1 = best_index_mxfp4(x[j + qk_mxfp4 / 2], d);
        y.qs[j] = u8(q0 | (q1 << 4));
        const double e0 = static_cast<double>(fl(mxfp4_values[q0]) * d) - x[j];
        const double e1 = static_cast<double>(fl(mxfp4_values[q1]) * d) - x[j + qk_mxfp4 / 2];
        err += e0 * e0 + e1 * e1;
    }
    return err;
}

}  // namespace

// llama.cpp: e = floor(log2(amax)) - 2 + 127 (so amax lands near the top value 6), nearest E2M1 value per element.
// With refine, exponents e-1 and e+1 are tried too and a block changes only if its squared error drops.
void quantize_mxfp4(const float* x, void* vy, int64_t n, bool refine) noexcept {
    auto* y = static_cast<block_mxfp4*>(vy);
    for (int64_t i = 0; i < n / qk_mxfp4; ++i, x += qk_mxfp4) {
        float amax = 0.0f;
        for (int j = 0; j < qk_mxfp4; ++j) {
            if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
        }
        const uint8_t e = amax > 0.0f ? u8(trunc_u8(std::floor(std::log2(amax)) - 2.0f + 127.0f)) : u8(0);
        double best = encode_block(x, e, y[i]);
        if (!refine || !std::isfinite(best)) continue;
        for (int de = -1; de <= 1; de += 2) {
            const int e2 = static_cast<int>(e) + de;
            if (e2 < 0 || e2 > 254) continue;
            block_mxfp4 trial;
            const double err = encode_block(x, u8(e2), trial);
            if (err < best) {
                best = err;
                y[i] = trial;
            }
        }
    }
}

void dequantize_mxfp4(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_mxfp4*>(vx);
    for (int64_t i = 0; i < n / qk_mxfp4; ++i, y += qk_mxfp4) {
        const float d = e8m0_half(x[i].e);
        for (int j = 0; j < qk_mxfp4 / 2; ++j) {
            y[j] = fl(mxfp4_values[x[i].qs[j] & 0xf]) * d;
            y[j + qk_mxfp4 / 2] = fl(mxfp4_values[x[i].qs[j] >> 4]) * d;
        }
    }
}

}  // namespace quant_detail
MOE_END_NAMESPACE
