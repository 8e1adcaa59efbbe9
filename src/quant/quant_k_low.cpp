// quant_k_low.cpp — q2_k/q3_k: llama.cpp's reference quantizers bit-exact, optional refinement, dequantizers.
// Before: quant.cpp dispatch, quant_k_search.cpp, quant_refine.cpp. After: CPU dot products read the same blocks.
#include "quant/quant_k_common.hpp"
#include "quant/quant_refine.hpp"

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

namespace {

constexpr int8_t q3_levels[8] = {-4, -3, -2, -1, 0, 1, 2, 3};

// llama.cpp's q2_k reference for one super-block: writes scales, d, dmin and the 2-bit levels L.
void ref_q2_k(const float* x, block_q2_k& y, uint8_t* L) noexcept {
    uint8_t Laux[16];
    float weights[16], mins[16], scales[16];
    const float q4scale = 15.0f;
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0.0f) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < 16; ++j) y.scales[j] = u8(nearest_int(iscale * scales[j]));
        y.d = f32_to_fp16(max_scale / q4scale);
    } else {
        for (int j = 0; j < 16; ++j) y.scales[j] = 0;
        y.d = f32_to_fp16(0.0f);
    }
    if (max_min > 0.0f) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < 16; ++j) {
            const auto l = static_cast<uint32_t>(nearest_int(iscale * mins[j]));
            y.scales[j] = u8(static_cast<int>(y.scales[j] | ((l << 4) & 0xffu)));
        }
        y.dmin = f32_to_fp16(max_min / q4scale);
    } else {
        y.dmin = f32_to_fp16(0.0f);
    }
    for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_f32(y.d) * fl(y.scales[j] & 0xf);
        if (d == 0.0f) continue;
        const float dm = fp16_to_f32(y.dmin) * fl(y.scales[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = u8(clampi(nearest_int((x[16 * j + ii] + dm) / d), 0, 3));
    }
}

// llama.cpp's q3_k reference for one super-block: writes scales and d; L[i] = level + 4 (0..7).
void ref_q3_k(const float* x, block_q3_k& y, uint8_t* L) noexcept {
    int8_t Ls[qk_k];
    float scales[16];
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
        scales[j] = make_q3_quants(16, 4, x + 16 * j, Ls + 16 * j);
        const float scale = std::fabs(scales[j]);
        if (scale > amax) {
            amax = scale;
            max_scale = scales[j];
        }
    }
    std::memset(y.scales, 0, 12);
    if (max_scale != 0.0f) {
        const float iscale = -32.0f / max_scale;
        int sc[16];
        for (int j = 0; j < 16; ++j) {
            const int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
            sc[j] = clampi(l, -32, 31);
        }
        pack_scales_q3_k(sc, y.scales);
        y.d = f32_to_fp16(1.0f / iscale);
    } else {
        y.d = f32_to_fp16(0.0f);
    }
    int sc[16];
    unpack_scales_q3_k(y.scales, sc);
    for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_f32(y.d) * fl(sc[j]);
        if (d == 0.0f) continue;
        for (int ii = 0; ii < 16; ++ii) {
            Ls[16 * j + ii] = static_cast<int8_t>(clampi(nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
        }
    }
    for (int i = 0; i < qk_k; ++i) L[i] = static_cast<uint8_t>(Ls[i]);
}

// The third bit of each level goes to hmask (bit k of hmask[l] for element 32k + l), the low two bits to qs.
void pack_q3_k(uint8_t* L, block_q3_k& y) noexcept {
    std::memset(y.hmask, 0, qk_k / 8);
    for (int j = 0; j < qk_k; ++j) {
        if (L[j] > 3) {
            y.hmask[j % 32] = u8(y.hmask[j % 32] | (1 << (j / 32)));
            L[j] = u8(L[j] - 4);
        }
    }
    pack_2bit_k(L, y.qs);
}

}  // namespace

void quantize_q2_k(const float* x, void* vy, int64_t n, bool refine) noexcept {
    auto* y = static_cast<block_q2_k*>(vy);
    uint8_t L[qk_k];
    for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
        ref_q2_k(x, y[i], L);
        if (refine) {
            uint8_t sc[16], m[16];
            for (int j = 0; j < 16; ++j) sc[j] = u8(y[i].scales[j] & 0xf), m[j] = u8(y[i].scales[j] >> 4);
            refine_affine(affine_k{16, 16, 3, 15}, x, y[i].d, y[i].dmin, sc, m, L);
            for (int j = 0; j < 16; ++j) y[i].scales[j] = u8(sc[j] | (m[j] << 4));
        }
        pack_2bit_k(L, y[i].qs);
    }
}

void quantize_q3_k(const float* x, void* vy, int64_t n, bool refine) noexcept {
    auto* y = static_cast<block_q3_k*>(vy);
    uint8_t L[qk_k];
    for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
        ref_q3_k(x, y[i], L);
        if (refine) {
            int sc[16];
            unpack_scales_q3_k(y[i].scales, sc);
            refine_symmetric(symmetric_k{16, 16, -32, 31, q3_levels, 8, true}, x, y[i].d, sc, L);
            pack_scales_q3_k(sc, y[i].scales);
        }
        pack_q3_k(L, y[i]);
    }
}

void dequantize_q2_k(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q2_k*>(vx);
    for (int64_t i = 0; i < n / qk_k; ++i) {
        const float d = fp16_to_f32(x[i].d), min = fp16_to_f32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        int is = 0;
        for (int nn = 0; nn < qk_k; nn += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * fl(sc & 0xf), ml = min * fl(sc >> 4);
                    for (int l = 0; l < 16; ++l) *y++ = dl * fl((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void dequantize_q3_k(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q3_k*>(vx);
    for (int64_t i = 0; i < n / qk_k; ++i) {
        const float d_all = fp16_to_f32(x[i].d);
        const uint8_t* q = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        int sc[16];
        unpack_scales_q3_k(x[i].scales, sc);
        int is = 0, m = 1;
        for (int nn = 0; nn < qk_k; nn += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int half = 0; half < 2; ++half) {
                    const float dl = d_all * fl(sc[is++]);
                    for (int l = 16 * half; l < 16 * half + 16; ++l) {
                        *y++ = dl * fl(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                    }
                }
            }
        }
    }
}

}  // namespace quant_detail
MOE_END_NAMESPACE
