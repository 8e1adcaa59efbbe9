// vec_dot_k.cpp — q2_k..q6_k x q8_k dot products and the q8_k activation quantizer, in llama.cpp's AVX2 order.
// Before: blocks from src/quant. After: vec_dot.cpp dispatch, the reference matmul kernels (matmul.cpp).
#include "backends/cpu/ref/vec_dot_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace dot_detail {

namespace {

// q4_k/q5_k: 6-bit scale sc[j] and min m[j] of the 8 sub-blocks.
void scales_k4(const uint8_t* q, int* sc, int* m) noexcept {
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            sc[j] = q[j] & 63;
            m[j] = q[j + 4] & 63;
        } else {
            sc[j] = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
            m[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }
}

// q3_k: the 16 signed sub-block scales.
void scales_q3_k(const uint8_t* p, int* sc) noexcept {
    for (int j = 0; j < 16; ++j) {
        const int v = (j < 8 ? (p[j] & 0xf) : (p[j - 8] >> 4)) | (((p[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
        sc[j] = v - 32;
    }
}

// The 2-bit fields of q2_k/q3_k's qs in element order: byte 32g + l holds elements 128g + 32k + l in bits 2k.
void unpack_2bit(const uint8_t* qs, int8_t* v) noexcept {
    for (int g = 0; g < 2; ++g) {
        for (int k = 0; k < 4; ++k) {
            for (int l = 0; l < 32; ++l) v[128 * g + 32 * k + l] = static_cast<int8_t>((qs[32 * g + l] >> (2 * k)) & 3);
        }
    }
}

// q4_k/q5_k's 4-bit fields in element order: each 32 bytes hold two sub-blocks (low nibbles, then high nibbles).
void unpack_4bit_k(const uint8_t* qs, int8_t* v) noexcept {
    for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 32; ++l) {
            v[64 * j + l] = static_cast<int8_t>(qs[32 * j + l] & 0x0f);
            v[64 * j + 32 + l] = static_cast<int8_t>(qs[32 * j + l] >> 4);
        }
    }
}

// Minimum terms of q4_k/q5_k, as _mm_madd_epi16(mins, hadd(bsums)): four int32 sums over pairs of sub-blocks.
void min_products(const int* m, const int16_t* bsums, int32_t* prod) noexcept {
    for (int t = 0; t < 4; ++t) {
        const int s0 = static_cast<int16_t>(bsums[4 * t] + bsums[4 * t + 1]);
        const int s1 = static_cast<int16_t>(bsums[4 * t + 2] + bsums[4 * t + 3]);
        prod[t] = m[2 * t] * s0 + m[2 * t + 1] * s1;
    }
}

}  // namespace

// d = max / -127 (the signed value of largest magnitude), q = min(127, nearest_int(-127 * x / max)), sums of 16.
void quantize_act_q8_k(const float* x, block_q8_k* y, int64_t nb) noexcept {
    for (int64_t i = 0; i < nb; ++i, x += qk_k) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < qk_k; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            y[i].d = 0.0f;
            std::memset(y[i].qs, 0, sizeof y[i].qs);
            std::memset(y[i].bsums, 0, sizeof y[i].bsums);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < qk_k; ++j) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
        }
        for (int j = 0; j < qk_k / 16; ++j) {
            int sum = 0;
            for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = static_cast<int16_t>(sum);
        }
        y[i].d = 1.0f / iscale;
    }
}

// llama.cpp's repacked q2_k/q4_k GEMV and GEMM, per output: the super-block's scaled integer sum and its min term
// each enter their own float accumulator (fma with x's d or dmin times y's d); the result is their difference.
float dot_q2_k_repacked(const block_q2_k* x, const block_q8_k* y, int64_t nb) noexcept {
    float acc = 0.0f, acc_m = 0.0f;
    int8_t v[qk_k];
    for (int64_t i = 0; i < nb; ++i) {
        unpack_2bit(x[i].qs, v);
        int32_t sumi = 0, summ = 0;
        for (int j = 0; j < 16; ++j) {
            int32_t s = 0;
            for (int l = 0; l < 16; ++l) s += int32_t(v[16 * j + l]) * y[i].qs[16 * j + l];
            sumi += (x[i].scales[j] & 0xf) * s;
            summ += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        acc = std::fma(static_cast<float>(sumi), fp16_to_f32(x[i].d) * y[i].d, acc);
        acc_m = std::fma(static_cast<float>(summ), fp16_to_f32(x[i].dmin) * y[i].d, acc_m);
    }
    return acc - acc_m;
}

// q4_k's repacked kernels: the scaled sum and the min term of each group of `group` 32-element sub-blocks enter
// their accumulators on their own: the GEMV per super-block (group 8), the GEMM per 64 values (group 2).
float dot_q4_k_grouped(const block_q4_k* x, const block_q8_k* y, int64_t nb, int group) noexcept {
    float acc = 0.0f, acc_m = 0.0f;
    int8_t v[qk_k];
    for (int64_t i = 0; i < nb; ++i) {
        int sc[8], m[8];
        scales_k4(x[i].scales, sc, m);
        unpack_4bit_k(x[i].qs, v);
        const float d = fp16_to_f32(x[i].d) * y[i].d, dmin = fp16_to_f32(x[i].dmin) * y[i].d;
        for (int g = 0; g < 8; g += group) {
            int32_t sumi = 0, summ = 0;
            for (int j = g; j < g + group; ++j) {
                int32_t s = 0;
                for (int l = 0; l < 32; ++l) s += int32_t(v[32 * j + l]) * y[i].qs[32 * j + l];
                sumi += sc[j] * s;
                summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
            }
            acc = std::fma(static_cast<float>(sumi), d, acc);
            acc_m = std::fma(static_cast<float>(summ), dmin, acc_m);
        }
    }
    return acc - acc_m;
}

float dot_q2_k(const block_q2_k* x, const block_q8_k* y, int64_t nb, dot_path path) noexcept {
    if (path != dot_path::vec_dot) return dot_q2_k_repacked(x, y, nb);
    lanes8 acc;
    int8_t v[qk_k];
    for (int64_t i = 0; i < nb; ++i) {
        const float d = y[i].d * fp16_to_f32(x[i].d);
        const float dmin = -y[i].d * fp16_to_f32(x[i].dmin);
        int32_t prod[8], sumi[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int m = 0; m < 8; ++m) {
            const int m0 = x[i].scales[2 * m] >> 4, m1 = x[i].scales[2 * m + 1] >> 4;
            prod[m] = m0 * y[i].bsums[2 * m] + m1 * y[i].bsums[2 * m + 1];
        }
        acc.fma(dmin, prod);
        unpack_2bit(x[i].qs, v);
        for (int c = 0; c < 8; ++c) {
            chunk_lanes(sumi, v + 32 * c, y[i].qs + 32 * c, x[i].scales[2 * c] & 0xf, x[i].scales[2 * c + 1] & 0xf);
        }
        acc.fma(d, sumi);
    }
    return acc.hsum();
}

float dot_q3_k(const block_q3_k* x, const block_q8_k* y, int64_t nb) noexcept {
    lanes8 acc;
    int8_t v[qk_k];
    for (int64_t i = 0; i < nb; ++i) {
        const float d = y[i].d * fp16_to_f32(x[i].d);
        int sc[16];
        scales_q3_k(x[i].scales, sc);
        unpack_2bit(x[i].qs, v);
        for (int e = 0; e < qk_k; ++e) {
            v[e] = static_cast<int8_t>(v[e] - (((x[i].hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4));  // clear bit: -4
        }
        int32_t sumi[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int c = 0; c < 8; ++c) chunk_lanes(sumi, v + 32 * c, y[i].qs + 32 * c, sc[2 * c], sc[2 * c + 1]);
        acc.fma(d, sumi);
    }
    return acc.hsum();
}

float dot_q4_k(const block_q4_k* x, const block_q8_k* y, int64_t nb, dot_path path) noexcept {
    if (path == dot_path::repacked_gemm) return dot_q4_k_grouped(x, y, nb, 2);
    if (path == dot_path::repacked) return dot_q4_k_grouped(x, y, nb, 8);
    lanes8 acc;
    float acc_m[4] = {0, 0, 0, 0};
    int8_t v[qk_k];
    for (int64_t i = 0; i < nb; ++i) {
        const float d = y[i].d * fp16_to_f32(x[i].d);
        const float dmin = -y[i].d * fp16_to_f32(x[i].dmin);
        int sc[8], m[8];
        scales_k4(x[i].scales, sc, m);
        int32_t prod[4];
        min_products(m, y[i].bsums, prod);
        for (int t = 0; t < 4; ++t) acc_m[t] = std::fma(dmin, static_cast<float>(prod[t]), acc_m[t]);
        unpack_4bit_k(x[i].qs, v);
        int32_t sumi[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int c = 0; c < 8; ++c) chunk_lanes(sumi, v + 32 * c, y[i].qs + 32 * c, sc[c], sc[c]);
        acc.fma(d, sumi);
    }
    return acc.hsum() + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
}

float dot_q5_k(const block_q5_k* x, const block_q8_k* y, int64_t nb) noexcept {
    lanes8 acc;
    float summs = 0.0f;
    int8_t v[qk_k];
    for (int64_t i = 0; i < nb; ++i) {
        const float d = y[i].d * fp16_to_f32(x[i].d);
        const float dmin = -y[i].d * fp16_to_f32(x[i].dmin);
        int sc[8], m[8];
        scales_k4(x[i].scales, sc, m);
        int32_t prod[4];
        min_products(m, y[i].bsums, prod);
        summs = std::fma(dmin, static_cast<float>((prod[0] + prod[1]) + (prod[2] + prod[3])), summs);
        unpack_4bit_k(x[i].qs, v);
        for (int e = 0; e < qk_k; ++e) v[e] = static_cast<int8_t>(v[e] + (((x[i].qh[e % 32] >> (e / 32)) & 1) << 4));
        int32_t sumi[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int c = 0; c < 8; ++c) chunk_lanes(sumi, v + 32 * c, y[i].qs + 32 * c, sc[c], sc[c]);
        acc.fma(d, sumi);
    }
    return acc.hsum() + summs;
}

// The 6-bit values enter unsigned (0..63); the -32 offset is removed per lane afterwards as 32 * (bsums . scales) over
// the lane's two sub-blocks, exactly as the AVX2 kernel does (the lane totals, not just the sum, must match).
float dot_q6_k(const block_q6_k* x, const block_q8_k* y, int64_t nb) noexcept {
    lanes8 acc;
    int8_t v[qk_k];
    for (int64_t i = 0; i < nb; ++i) {
        const float d = y[i].d * fp16_to_f32(x[i].d);
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = x[i].ql + 64 * h;
            const uint8_t* qh = x[i].qh + 32 * h;
            int8_t* o = v + 128 * h;
            for (int l = 0; l < 32; ++l) {
                o[l] = static_cast<int8_t>((ql[l] & 0x0f) | ((qh[l] & 3) << 4));
                o[l + 32] = static_cast<int8_t>((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4));
                o[l + 64] = static_cast<int8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
                o[l + 96] = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
            }
        }
        int32_t sumi[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int c = 0; c < 8; ++c) {
            chunk_lanes(sumi, v + 32 * c, y[i].qs + 32 * c, x[i].scales[2 * c], x[i].scales[2 * c + 1]);
        }
        for (int m = 0; m < 8; ++m) {
            const int32_t sub = y[i].bsums[2 * m] * x[i].scales[2 * m] + y[i].bsums[2 * m + 1] * x[i].scales[2 * m + 1];
            sumi[m] -= static_cast<int32_t>(static_cast<uint32_t>(sub) << 5);
        }
        acc.fma(d, sumi);
    }
    return acc.hsum();
}

}  // namespace dot_detail
}  // namespace cpu
MOE_END_NAMESPACE
