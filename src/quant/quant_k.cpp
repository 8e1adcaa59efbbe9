// quant_k.cpp — q4_k/q5_k/q6_k: llama.cpp's reference quantizers bit-exact, optional refinement, dequantizers.
// Before: quant.cpp dispatch, quant_k_search.cpp, quant_refine.cpp. After: CPU dot products read the same blocks.
#include "quant/quant_k_common.hpp"
#include "quant/quant_refine.hpp"

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

namespace {

// ---- q4_k / q5_k: 8 sub-blocks of 32, 6-bit scales and mins --------------------------------------------------------

// llama.cpp's reference: per sub-block make_qkx2_quants weighted by av_x + |x|, scales/mins to 6 bits against the
// largest, then levels recomputed with the stored codes. Writes d, dmin, scales and L (nmax 15 or 31).
void ref_q45_k(const float* x, int nmax, float rmin, float rdelta, int nstep, uint16_t& d16, uint16_t& dmin16,
               uint8_t* scales, uint8_t* L) noexcept {
    uint8_t Laux[32];
    float weights[32], mins[8], sc[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32.0f);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        sc[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
        if (sc[j] > max_scale) max_scale = sc[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
        ls[j] = u8(imin(63, u8(nearest_int(inv_scale * sc[j]))));
        lm[j] = u8(imin(63, u8(nearest_int(inv_min * mins[j]))));
    }
    std::memset(scales, 0, k_scale_size);
    pack_scale_min_k4(ls, lm, scales);
    d16 = f32_to_fp16(max_scale / 63.0f);
    dmin16 = f32_to_fp16(max_min / 63.0f);
    for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        get_scale_min_k4(j, scales, &s, &m);
        const float d = fp16_to_f32(d16) * fl(s);
        if (d == 0.0f) continue;  // keeps the search's levels, as llama.cpp does
        const float dm = fp16_to_f32(dmin16) * fl(m);
        for (int ii = 0; ii < 32; ++ii) L[32 * j + ii] = u8(clampi(nearest_int((x[32 * j + ii] + dm) / d), 0, nmax));
    }
}

void refine_q45_k(const float* x, int nmax, uint16_t& d16, uint16_t& dmin16, uint8_t* scales, uint8_t* L) noexcept {
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; ++j) get_scale_min_k4(j, scales, &sc[j], &m[j]);
    refine_affine(affine_k{32, 8, nmax, 63}, x, d16, dmin16, sc, m, L);
    std::memset(scales, 0, k_scale_size);
    pack_scale_min_k4(sc, m, scales);
}

// ---- q6_k: 16 sub-blocks of 16, int8 scales, levels -32..31 -----------------------------------------------------

constexpr int8_t q6_levels[64] = {-32, -31, -30, -29, -28, -27, -26, -25, -24, -23, -22, -21, -20, -19, -18, -17,
                                  -16, -15, -14, -13, -12, -11, -10, -9,  -8,  -7,  -6,  -5,  -4,  -3,  -2,  -1,
                                  0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,
                                  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31};

// llama.cpp's reference; returns false for an all-zero block (written as zeros).
bool ref_q6_k(const float* x, uint16_t& d16, int8_t* scales, uint8_t* L) noexcept {
    int8_t Ls[qk_k];
    float sc[16];
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int ib = 0; ib < 16; ++ib) {
        sc[ib] = make_qx_quants(16, 32, x + 16 * ib, Ls + 16 * ib, nullptr);
        const float abs_scale = std::fabs(sc[ib]);
        if (abs_scale > max_abs_scale) {
            max_abs_scale = abs_scale;
            max_scale = sc[ib];
        }
    }
    if (max_abs_scale < group_max_eps) return false;
    const float iscale = -128.0f / max_scale;
    d16 = f32_to_fp16(1.0f / iscale);
    for (int ib = 0; ib < 16; ++ib) scales[ib] = static_cast<int8_t>(imin(127, nearest_int(iscale * sc[ib])));
    for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_f32(d16) * fl(scales[j]);
        if (d == 0.0f) continue;
        for (int ii = 0; ii < 16; ++ii) {
            Ls[16 * j + ii] = static_cast<int8_t>(clampi(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
        }
    }
    for (int i = 0; i < qk_k; ++i) L[i] = static_cast<uint8_t>(Ls[i]);
    return true;
}

void pack_q6_k(const uint8_t* L, block_q6_k& y) noexcept {
    uint8_t* ql = y.ql;
    uint8_t* qh = y.qh;
    for (int j = 0; j < qk_k; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const int q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf, q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
            ql[l] = u8(q1 | (q3 << 4));
            ql[l + 32] = u8(q2 | (q4 << 4));
            qh[l] = u8((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                       ((L[j + l + 96] >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

void quantize_q45_k_block(const float* x, int nmax, bool refine, uint16_t& d16, uint16_t& dmin16, uint8_t* scales,
                          uint8_t* L) noexcept {
    ref_q45_k(x, nmax, nmax == 15 ? -1.0f : -0.5f, 0.1f, nmax == 15 ? 20 : 15, d16, dmin16, scales, L);
    if (refine) refine_q45_k(x, nmax, d16, dmin16, scales, L);
}

}  // namespace

void quantize_q4_k(const float* x, void* vy, int64_t n, bool refine) noexcept {
    auto* y = static_cast<block_q4_k*>(vy);
    uint8_t L[qk_k];
    for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
        quantize_q45_k_block(x, 15, refine, y[i].d, y[i].dmin, y[i].scales, L);
        uint8_t* q = y[i].qs;
        for (int j = 0; j < qk_k; j += 64, q += 32) {
            for (int l = 0; l < 32; ++l) q[l] = u8(L[j + l] | (L[j + l + 32] << 4));
        }
    }
}

void quantize_q5_k(const float* x, void* vy, int64_t n, bool refine) noexcept {
    auto* y = static_cast<block_q5_k*>(vy);
    uint8_t L[qk_k];
    for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
        quantize_q45_k_block(x, 31, refine, y[i].d, y[i].dmin, y[i].scales, L);
        uint8_t* qh = y[i].qh;
        uint8_t* ql = y[i].qs;
        std::memset(qh, 0, qk_k / 8);
        int m1 = 1, m2 = 2;
        for (int nn = 0; nn < qk_k; nn += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[nn + j], l2 = L[nn + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] = u8(qh[j] | m1);
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] = u8(qh[j] | m2);
                }
                ql[j] = u8(l1 | (l2 << 4));
            }
        }
    }
}

void quantize_q6_k(const float* x, void* vy, int64_t n, bool refine) noexcept {
    auto* y = static_cast<block_q6_k*>(vy);
    uint8_t L[qk_k];
    for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
        if (!ref_q6_k(x, y[i].d, y[i].scales, L)) {
            std::memset(&y[i], 0, sizeof(block_q6_k));
            continue;
        }
        if (refine) {
            int sc[16];
            for (int j = 0; j < 16; ++j) sc[j] = y[i].scales[j];
            refine_symmetric(symmetric_k{16, 16, -128, 127, q6_levels, 64, true}, x, y[i].d, sc, L);
            for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<int8_t>(sc[j]);
        }
        pack_q6_k(L, y[i]);
    }
}

void dequantize_q4_k(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q4_k*>(vx);
    for (int64_t i = 0; i < n / qk_k; ++i) {
        const uint8_t* q = x[i].qs;
        const float d = fp16_to_f32(x[i].d), min = fp16_to_f32(x[i].dmin);
        for (int j = 0, is = 0; j < qk_k; j += 64, q += 32, is += 2) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * fl(sc), m1 = min * fl(m);
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * fl(sc), m2 = min * fl(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * fl(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * fl(q[l] >> 4) - m2;
        }
    }
}

void dequantize_q5_k(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q5_k*>(vx);
    for (int64_t i = 0; i < n / qk_k; ++i) {
        const uint8_t* ql = x[i].qs;
        const uint8_t* qh = x[i].qh;
        const float d = fp16_to_f32(x[i].d), min = fp16_to_f32(x[i].dmin);
        int u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < qk_k; j += 64, ql += 32, is += 2, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * fl(sc), m1 = min * fl(m);
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * fl(sc), m2 = min * fl(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * fl((ql[l] & 0xf) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * fl((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

void dequantize_q6_k(const void* vx, float* y, int64_t n) noexcept {
    const auto* x = static_cast<const block_q6_k*>(vx);
    for (int64_t i = 0; i < n / qk_k; ++i) {
        const float d = fp16_to_f32(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int nn = 0; nn < qk_k; nn += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * fl(sc[is]) * fl(q1);
                y[l + 32] = d * fl(sc[is + 2]) * fl(q2);
                y[l + 64] = d * fl(sc[is + 4]) * fl(q3);
                y[l + 96] = d * fl(sc[is + 6]) * fl(q4);
            }
        }
    }
}

}  // namespace quant_detail
MOE_END_NAMESPACE
