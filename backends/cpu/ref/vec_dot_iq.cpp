// vec_dot_iq.cpp — iq4_nl/mxfp4 (q8_0 activations) and iq4_xs (q8_k) dot products in llama.cpp's AVX2 order.
// Before: blocks from src/quant, activations from vec_dot*.cpp. After: vec_dot.cpp dispatch, matmul.cpp.
#include "backends/cpu/ref/vec_dot_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace dot_detail {

namespace {

int nib(const uint8_t* qs, int e) noexcept { return e < 16 ? (qs[e] & 0x0f) : (qs[e - 16] >> 4); }

// Table values of one 32-element block of nibbles (low nibbles first, then high nibbles).
void table_values(const int8_t* table, const uint8_t* qs, int8_t* v) noexcept {
    for (int j = 0; j < 16; ++j) {
        v[j] = table[qs[j] & 0x0f];
        v[j + 16] = table[qs[j] >> 4];
    }
}

// Lane sums of one 32-element block of table values against q8_0 quants.
void block_lanes(const int8_t* table, const uint8_t* qs, const int8_t* q8, int32_t* s) noexcept {
    int8_t v[32];
    table_values(table, qs, v);
    for (int m = 0; m < 8; ++m) s[m] = 0;
    chunk_lanes(s, v, q8, 1, 1);
}

// iq4_nl and mxfp4 share llama.cpp's loop: block pairs go to two accumulators (even blocks, odd blocks) that are
// added before the horizontal sum; an odd last block is added in scalar code (a fused multiply-add).
template <class B, class Scale>
float dot_pairs(const B* x, const block_q8_0* y, int64_t nb, const int8_t* table, Scale scale) noexcept {
    lanes8 acc1, acc2;
    int64_t ib = 0;
    int32_t s[8];
    for (; ib + 1 < nb; ib += 2) {
        block_lanes(table, x[ib].qs, y[ib].qs, s);
        acc1.fma(scale(x[ib], y[ib]), s);
        block_lanes(table, x[ib + 1].qs, y[ib + 1].qs, s);
        acc2.fma(scale(x[ib + 1], y[ib + 1]), s);
    }
    acc1.add(acc2);
    float sumf = acc1.hsum();
    for (; ib < nb; ++ib) {
        int sumi = 0;
        for (int e = 0; e < 32; ++e) sumi += y[ib].qs[e] * table[nib(x[ib].qs, e)];
        sumf = std::fma(scale(x[ib], y[ib]), static_cast<float>(sumi), sumf);
    }
    return sumf;
}

float e8m0_half(uint8_t e) noexcept {
    const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

}  // namespace

float dot_iq4_nl(const block_iq4_nl* x, const block_q8_0* y, int64_t nb, dot_path path) noexcept {
    if (path != dot_path::vec_dot) {
        return dot_b32_repacked(
            x, y, nb, [](const block_iq4_nl& b, int8_t* v) { table_values(iq4nl_values, b.qs, v); },
            [](const block_iq4_nl& b) { return fp16_to_f32(b.d); });
    }
    return dot_pairs(x, y, nb, iq4nl_values,
                     [](const block_iq4_nl& a, const block_q8_0& b) { return fp16_to_f32(b.d) * fp16_to_f32(a.d); });
}

float dot_mxfp4(const block_mxfp4* x, const block_q8_0* y, int64_t nb, dot_path path) noexcept {
    if (path != dot_path::vec_dot) {
        return dot_b32_repacked(
            x, y, nb, [](const block_mxfp4& b, int8_t* v) { table_values(mxfp4_values, b.qs, v); },
            [](const block_mxfp4& b) { return e8m0_half(b.e); });
    }
    return dot_pairs(x, y, nb, mxfp4_values,
                     [](const block_mxfp4& a, const block_q8_0& b) { return fp16_to_f32(b.d) * e8m0_half(a.e); });
}

float dot_iq4_xs(const block_iq4_xs* x, const block_q8_k* y, int64_t nb) noexcept {
    lanes8 acc;
    for (int64_t i = 0; i < nb; ++i) {
        int32_t sumi[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int8_t v[32];
        for (int ib = 0; ib < qk_k / 32; ++ib) {
            const int lo = (x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf;
            const int ls = (lo | (((x[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
            table_values(iq4nl_values, x[i].qs + 16 * ib, v);
            chunk_lanes(sumi, v, y[i].qs + 32 * ib, ls, ls);
        }
        acc.fma(fp16_to_f32(x[i].d) * y[i].d, sumi);
    }
    return acc.hsum();
}

}  // namespace dot_detail
}  // namespace cpu
MOE_END_NAMESPACE
