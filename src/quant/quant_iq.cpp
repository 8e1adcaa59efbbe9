// quant_iq.cpp — iq4_nl/iq4_xs: llama.cpp's quantizer bit-exact (no imatrix), iq4_xs refinement, dequantizers.
// Before: quant.cpp dispatch, quant_refine.cpp. After: CPU dot products (backends/cpu/ref) read the same blocks.
#include "quant/quant_refine.hpp"

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

namespace {

constexpr float group_max_eps_iq = 1e-15f;  // ggml's GROUP_MAX_EPS
constexpr int iq4_ntry = 7;                 // what quantize_iq4_nl / quantize_iq4_xs pass

// ggml's best_index_int8: the index of the table value nearest x (ties to the upper one), by bisection.
int best_index_int8(const int8_t* val, float x) noexcept {
    if (x <= fl(val[0])) return 0;
    if (x >= fl(val[15])) return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        const int mav = (ml + mu) / 2;
        if (x < fl(val[mav])) mu = mav; else ml = mav;
    }
    return x - fl(val[mu - 1]) < fl(val[mu]) - x ? mu - 1 : mu;
}

// ggml's quantize_row_iq4_nl_impl without quant weights (weights x^2) and ntry = 7, for one super-block of `super`
// elements in sub-blocks of 32. iq4_nl: super = 32 (scale stored directly). iq4_xs: super = 256 (6-bit sub-scales).
void iq4_block(int super, const float* x, uint16_t& dh, uint8_t* q4, uint16_t* scales_h, uint8_t* scales_l,
               uint8_t* L) noexcept {
    const int8_t* values = iq4nl_values;
    float scales[qk_k / 32];
    float weight[32];
    std::memset(q4, 0, static_cast<size_t>(super / 2));
    dh = f32_to_fp16(0.0f);
    float max_scale = 0.0f, amax_scale = 0.0f;
    const int nblocks = super / 32;
    for (int ib = 0; ib < nblocks; ++ib) {
        const float* xb = x + ib * 32;
        uint8_t* Lb = L + ib * 32;
        for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; ++j) {
            const float ax = std::fabs(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax < group_max_eps_iq) {
            scales[ib] = 0.0f;
            continue;
        }
        float d = -max / fl(values[0]);
        float id = 1.0f / d;
        float sumqx = 0.0f, sumq2 = 0.0f;
        for (int j = 0; j < 32; ++j) {
            const int l = best_index_int8(values, id * xb[j]);
            Lb[j] = u8(l);
            const float q = fl(values[l]), w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
        float best = d * sumqx;
        for (int itry = -iq4_ntry; itry <= iq4_ntry; ++itry) {
            id = fl(itry + values[0]) / max;
            sumqx = sumq2 = 0.0f;
            for (int j = 0; j < 32; ++j) {
                const float q = fl(values[best_index_int8(values, id * xb[j])]), w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if (std::fabs(d) > amax_scale) {
            amax_scale = std::fabs(d);
            max_scale = d;
        }
    }
    if (nblocks > 1) {
        *scales_h = 0;
        const float d = -max_scale / 32.0f;
        dh = f32_to_fp16(d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int ib = 0; ib < nblocks; ++ib) {
            int l = clampi(nearest_int(id * scales[ib]), -32, 31);
            const float dl = d * fl(l);
            const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
            for (int j = 0; j < 32; ++j) L[ib * 32 + j] = u8(best_index_int8(values, idl * x[ib * 32 + j]));
            l += 32;
            const int l_l = l & 0xf, l_h = l >> 4;
            scales_l[ib / 2] = ib % 2 == 0 ? u8(l_l) : u8(scales_l[ib / 2] | (l_l << 4));
            *scales_h = static_cast<uint16_t>(*scales_h | (l_h << (2 * (ib % 8))));
        }
    } else {
        dh = f32_to_fp16(scales[0]);
        const float id = scales[0] != 0.0f ? 1.0f / scales[0] : 0.0f;
        for (int j = 0; j < super; ++j) L[j] = u8(best_index_int8(values, id * x[j]));
    }
}

void pack_nibbles(const uint8_t* L, int n, uint8_t* q4) noexcept {
    for (int i = 0; i < n / 32; ++i) {
        for (int j = 0; j < 16; ++j) q4[16 * i + j] = u8(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }
}

}  // namespace

void quantize_iq4_nl(const float* x, void* vy, int64_t n) noexcept {
    auto* y = static_cast<block_iq4_nl*>(vy);
    uint8_t L[32];
    for (int64_t i = 0; i < n / qk4_nl; ++i, x += qk4_nl) {
        std::memset(L, 0, sizeof L);
        iq4_block(32, x, y[i].d, y[i].qs, nullptr, nullptr, L);
        pack_nibbles(L, 32, y[i].qs);
    }
}

void quantize_iq4_xs(const float* x, void* vy, int64_t n, bool refine) noexcept {
    auto* y = static_cast<block_iq4_xs*>(vy);
    uint8_t L[qk_k];
    for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
        std::memset(L, 0, sizeof L);
        iq4_block(qk_k, x, y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l, L);
        if (refine) {
            int sc[8];
            for (int ib = 0; ib < 8; ++ib) {
                const int lo = (y[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf;
                sc[ib] = (lo | (((y[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
            }
            refine_symmetric(symmetric_k{32, 8, -32, 31, iq4nl_values, 16, false}, x, y[i].d, sc, L);
            y[i].scales_h = 0;
            for (int ib = 0; ib < 8; ++ib) {
                const int l = sc[ib] + 32;
                y[i].scales_l[ib / 2] = ib % 2 == 0 ? u8(l & 0xf) : u8(y[i].scales_l[ib / 2] | ((l & 0xf) << 4));
                y[i].scales_h = static_cast<uint16_t>(y[i].scales_h | ((l >> 4) << (2 * ib)));
            }
        }
        pack_nibbles(L, qk_k, y[i].qs);
    }
}

void dequantize_iq4_nl(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_iq4_nl*>(vx);
    for (int64_t i = 0; i < n / qk4_nl; ++i, y += qk4_nl) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < qk4_nl / 2; ++j) {
            y[j] = d * fl(iq4nl_values[x[i].qs[j] & 0xf]);
            y[j + qk4_nl / 2] = d * fl(iq4nl_values[x[i].qs[j] >> 4]);
        }
    }
}

void dequantize_iq4_xs(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_iq4_xs*>(vx);
    for (int64_t i = 0; i < n / qk_k; ++i) {
        const uint8_t* qs = x[i].qs;
        const float d = fp16_to_f32(x[i].d);
        for (int ib = 0; ib < qk_k / 32; ++ib, y += 32, qs += 16) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x[i].scales_h >> (2 * ib)) & 3) << 4);
            const float dl = d * fl(ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * fl(iq4nl_values[qs[j] & 0xf]);
                y[j + 16] = dl * fl(iq4nl_values[qs[j] >> 4]);
            }
        }
    }
}

}  // namespace quant_detail
MOE_END_NAMESPACE
