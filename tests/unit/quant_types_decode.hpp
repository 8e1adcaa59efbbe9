// quant_types_decode.hpp — test-local decoders of the issue-4 types and q8_1/q8_k blocks, from GGUF byte offsets.
// Before: nothing of src/quant (independent on purpose). After: test_quant_types*.cpp compare the library with it.
#pragma once

#include <moe/dtype.hpp>
#include <moe/half.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace moe_test {

// The 16 IQ4_NL levels and the doubled E2M1 values of MXFP4, typed from the format descriptions.
constexpr int iq4_table[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
constexpr int fp4_table[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

inline double h16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return moe::fp16_to_f32(v);
}
inline uint32_t u32le(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
// 4-bit value j (0..31) of a 16-byte nibble array: low nibbles hold 0..15, high nibbles 16..31.
inline int nib32(const uint8_t* qs, int64_t j) { return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4); }
// 2-bit value e (0..255) of q2_k/q3_k's 64-byte array: byte 32g + l, bits 2k, for e = 128g + 32k + l.
inline int two_bit(const uint8_t* qs, int64_t e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }
// 6-bit scale and min of sub-block j of q4_k/q5_k's 12 scale bytes.
inline void scale_min_k4(const uint8_t* s, int64_t j, int& sc, int& m) {
    if (j < 4) {
        sc = s[j] & 63, m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Element i of a row of type t, in double. Block sizes in bytes: q4_1 20, q5_0 22, q5_1 24, q8_1 36, q2_k 84,
// q3_k 110, q4_k 144, q5_k 176, q6_k 210, q8_k 292, iq4_nl 18, iq4_xs 136, mxfp4 17.
inline double decode_type(moe::dtype t, const void* row, int64_t i) {
    const auto* p = static_cast<const uint8_t*>(row);
    const int64_t j = i % 32, e = i % 256;
    switch (t) {
    case moe::dtype::q4_1: {
        const uint8_t* b = p + (i / 32) * 20;
        return nib32(b + 4, j) * h16(b) + h16(b + 2);
    }
    case moe::dtype::q5_0: {
        const uint8_t* b = p + (i / 32) * 22;
        const int q = nib32(b + 6, j) | int((u32le(b + 2) >> j) & 1) << 4;
        return (q - 16) * h16(b);
    }
    case moe::dtype::q5_1: {
        const uint8_t* b = p + (i / 32) * 24;
        const int q = nib32(b + 8, j) | int((u32le(b + 4) >> j) & 1) << 4;
        return q * h16(b) + h16(b + 2);
    }
    case moe::dtype::q8_1: {
        const uint8_t* b = p + (i / 32) * 36;
        return static_cast<int8_t>(b[4 + j]) * h16(b);
    }
    case moe::dtype::q2_k: {
        const uint8_t* b = p + (i / 256) * 84;  // scales[16], qs[64], d, dmin
        const int sc = b[e / 16];
        return h16(b + 80) * (sc & 15) * two_bit(b + 16, e) - h16(b + 82) * (sc >> 4);
    }
    case moe::dtype::q3_k: {
        const uint8_t* b = p + (i / 256) * 110;  // hmask[32], qs[64], scales[12], d
        const uint8_t* s = b + 96;
        const int64_t sb = e / 16;
        const int lo = sb < 8 ? (s[sb] & 15) : (s[sb - 8] >> 4);
        const int sc = (lo | ((s[8 + sb % 4] >> (2 * (sb / 4))) & 3) << 4) - 32;
        const int h = (b[e % 32] >> (e / 32)) & 1;
        return h16(b + 108) * sc * (two_bit(b + 32, e) - (h ? 0 : 4));
    }
    case moe::dtype::q4_k:
    case moe::dtype::q5_k: {
        const bool five = t == moe::dtype::q5_k;
        const uint8_t* b = p + (i / 256) * (five ? 176 : 144);  // d, dmin, scales[12], [qh[32]], qs[128]
        int sc, m;
        scale_min_k4(b + 4, e / 32, sc, m);
        const uint8_t* qs = b + (five ? 48 : 16);
        const uint8_t byte = qs[32 * (e / 64) + e % 32];
        int q = (e % 64) < 32 ? (byte & 15) : (byte >> 4);
        if (five) q += ((b[16 + e % 32] >> (e / 32)) & 1) << 4;
        return h16(b) * sc * q - h16(b + 2) * m;
    }
    case moe::dtype::q6_k: {
        const uint8_t* b = p + (i / 256) * 210;  // ql[128], qh[64], scales[16] (int8), d
        const int64_t h = e / 128, k = (e % 128) / 32, l = e % 32;
        const int lo = (b[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 15;
        const int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
        return h16(b + 208) * static_cast<int8_t>(b[192 + e / 16]) * ((lo | hi << 4) - 32);
    }
    case moe::dtype::q8_k: {
        const uint8_t* b = p + (i / 256) * 292;  // float d, qs[256], bsums[16]
        float d;
        std::memcpy(&d, b, 4);
        return static_cast<int8_t>(b[4 + e]) * static_cast<double>(d);
    }
    case moe::dtype::iq4_nl: {
        const uint8_t* b = p + (i / 32) * 18;
        return h16(b) * iq4_table[nib32(b + 2, j)];
    }
    case moe::dtype::iq4_xs: {
        const uint8_t* b = p + (i / 256) * 136;  // d, scales_h (u16), scales_l[4], qs[128]
        const int64_t ib = e / 32;
        const int sh = b[2] | b[3] << 8;
        const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
        return h16(b) * (ls - 32) * iq4_table[nib32(b + 8 + 16 * ib, j)];
    }
    case moe::dtype::mxfp4: {
        const uint8_t* b = p + (i / 32) * 17;
        return std::ldexp(1.0, int(b[0]) - 128) * fp4_table[nib32(b + 1, j)];
    }
    default: return NAN;
    }
}

}  // namespace moe_test
