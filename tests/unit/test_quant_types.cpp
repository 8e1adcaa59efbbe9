// test_quant_types.cpp — issue-4 types in src/quant: layouts, hand-made blocks, layout decoder, error bounds, NaN.
// Before: src/quant. After: dot products in test_quant_types_dot.cpp; exactness vs llama.cpp in quant_conformance.
#include "quant_types_decode.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace moe;

namespace {

const dtype new_types[] = {dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q2_k, dtype::q3_k, dtype::q4_k,
                           dtype::q5_k, dtype::q6_k, dtype::iq4_nl, dtype::iq4_xs, dtype::mxfp4};

std::vector<uint8_t> quant(dtype t, const std::vector<float>& x, bool reference = false) {
    std::vector<uint8_t> b(row_bytes(t, static_cast<int64_t>(x.size())));
    const int64_t n = static_cast<int64_t>(x.size());
    const status s =
        reference ? quantize_row_reference(t, x.data(), b.data(), n) : quantize_row(t, x.data(), b.data(), n);
    REQUIRE_MESSAGE(s.ok(), s.message());
    return b;
}

std::vector<float> dequant(dtype t, const std::vector<uint8_t>& b, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    REQUIRE(dequantize_row(t, b.data(), y.data(), n).ok());
    return y;
}

double sq_err(const std::vector<float>& x, const std::vector<float>& y) {
    double s = 0;
    for (size_t i = 0; i < x.size(); ++i) s += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    return s;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> x(n);
    for (float& v : x) v = nd(g);
    return x;
}

uint16_t h(float f) { return f32_to_fp16(f); }
void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

}  // namespace

TEST_CASE("quant types: block layouts, traits and support") {
    CHECK(sizeof(block_q4_1) == 20);
    CHECK(sizeof(block_q5_0) == 22);
    CHECK(sizeof(block_q5_1) == 24);
    CHECK(sizeof(block_q8_1) == 36);
    CHECK(sizeof(block_q2_k) == 84);
    CHECK(sizeof(block_q3_k) == 110);
    CHECK(sizeof(block_q4_k) == 144);
    CHECK(sizeof(block_q5_k) == 176);
    CHECK(sizeof(block_q6_k) == 210);
    CHECK(sizeof(block_q8_k) == 292);
    CHECK(sizeof(block_iq4_nl) == 18);
    CHECK(sizeof(block_iq4_xs) == 136);
    CHECK(sizeof(block_mxfp4) == 17);
    for (dtype t : new_types) {
        CAPTURE(dtype_name(t));
        CHECK(can_convert(t));
        CHECK(traits(t).supported);
    }
    // field offsets the decoders rely on
    CHECK(offsetof(block_q5_0, qs) == 6);
    CHECK(offsetof(block_q5_1, qh) == 4);
    CHECK(offsetof(block_q2_k, d) == 80);
    CHECK(offsetof(block_q3_k, scales) == 96);
    CHECK(offsetof(block_q4_k, qs) == 16);
    CHECK(offsetof(block_q5_k, qs) == 48);
    CHECK(offsetof(block_q6_k, scales) == 192);
    CHECK(offsetof(block_q8_k, bsums) == 260);
    CHECK(offsetof(block_iq4_xs, qs) == 8);
    CHECK_FALSE(can_convert(dtype::q8_k));  // activation-only
    CHECK_FALSE(can_convert(static_cast<dtype>(16)));  // iq2_xxs
}

TEST_CASE("quant types: quantizers on hand-computed blocks") {
    std::vector<float> x(32);
    SUBCASE("q4_1: min -4, max 11 -> d = 1, m = -4, q = x + 4") {
        for (int j = 0; j < 32; ++j) x[j] = float(j % 16) - 4.0f;
        const auto b = quant(dtype::q4_1, x);
        block_q4_1 q;
        std::memcpy(&q, b.data(), sizeof q);
        CHECK(q.d == 0x3c00);
        CHECK(q.m == 0xc400);  // fp16(-4)
        for (int j = 0; j < 16; ++j) CHECK(q.qs[j] == (j | j << 4));
        CHECK(dequant(dtype::q4_1, b, 32) == x);
    }
    SUBCASE("q5_0: max |x| = 16 at x = -16 -> d = 1, q = x + 16 with bit 4 in qh") {
        for (int j = 0; j < 32; ++j) x[j] = float(j - 16);
        const auto b = quant(dtype::q5_0, x);
        block_q5_0 q;
        std::memcpy(&q, b.data(), sizeof q);
        CHECK(q.d == 0x3c00);
        const uint8_t qh[4] = {0x00, 0x00, 0xff, 0xff};  // values 16..31 have bit 4 set
        CHECK(std::memcmp(q.qh, qh, 4) == 0);
        for (int j = 0; j < 16; ++j) CHECK(q.qs[j] == (j | j << 4));
        CHECK(dequant(dtype::q5_0, b, 32) == x);
    }
    SUBCASE("q5_1: 0..31 -> d = 1, m = 0") {
        for (int j = 0; j < 32; ++j) x[j] = float(j) * 0.25f + 1.0f;  // d = 0.25, m = 1
        const auto b = quant(dtype::q5_1, x);
        block_q5_1 q;
        std::memcpy(&q, b.data(), sizeof q);
        CHECK(q.d == 0x3400);
        CHECK(q.m == 0x3c00);
        CHECK(dequant(dtype::q5_1, b, 32) == x);
    }
    SUBCASE("iq4_nl: x = 0.5 * table -> d = 0.5, indices = positions") {
        for (int j = 0; j < 32; ++j) x[j] = 0.5f * float(moe_test::iq4_table[j % 16]);
        const auto b = quant(dtype::iq4_nl, x);
        block_iq4_nl q;
        std::memcpy(&q, b.data(), sizeof q);
        CHECK(q.d == 0x3800);
        for (int j = 0; j < 16; ++j) CHECK(q.qs[j] == (j | j << 4));
        CHECK(dequant(dtype::iq4_nl, b, 32) == x);
    }
    SUBCASE("mxfp4: x = 0.25 * E2M1 values -> e = 126 (amax 3: floor(log2 3) - 2 + 127)") {
        for (int j = 0; j < 32; ++j) x[j] = 0.25f * float(moe_test::fp4_table[j % 16]);
        const auto b = quant(dtype::mxfp4, x);
        CHECK(b[0] == 126);
        for (int j = 0; j < 16; ++j) {
            const int want = j == 8 ? 0 : j;  // -0 and +0 tie: the first index (0) wins
            CHECK(b[1 + j] == (want | want << 4));
        }
        CHECK(dequant(dtype::mxfp4, b, 32) == x);
    }
}

TEST_CASE("quant types: hand-built super-blocks dequantize to hand-computed values") {
    SUBCASE("q2_k: d 1, dmin 0.5, sc = sub%4 + 1, m = 2, q = (e%128)/32") {
        std::vector<uint8_t> b(84);
        for (int j = 0; j < 16; ++j) b[j] = static_cast<uint8_t>((j % 4 + 1) | 2 << 4);
        std::memset(b.data() + 16, 0xe4, 64);
        put16(&b[80], h(1.0f));
        put16(&b[82], h(0.5f));
        const auto y = dequant(dtype::q2_k, b, 256);
        CHECK(y[0] == -1.0f);    // 1 * 0 - 1
        CHECK(y[40] == 2.0f);    // sub 2: 3 * 1 - 1
        CHECK(y[255] == 11.0f);  // sub 15: 4 * 3 - 1
    }
    SUBCASE("q3_k: d 0.5, sc = sub - 8, q = (e%128)/32, element 0 without its high bit") {
        std::vector<uint8_t> b(110, 0);
        std::memset(b.data(), 0xff, 32);
        b[0] = 0xfe;
        std::memset(b.data() + 32, 0xe4, 64);
        for (int j = 0; j < 16; ++j) {
            const int l = j - 8 + 32;
            if (j < 8) b[96 + j] = static_cast<uint8_t>(b[96 + j] | (l & 15));
            else b[96 + j - 8] = static_cast<uint8_t>(b[96 + j - 8] | (l & 15) << 4);
            b[96 + 8 + j % 4] = static_cast<uint8_t>(b[96 + 8 + j % 4] | (l >> 4) << (2 * (j / 4)));
        }
        put16(&b[108], h(0.5f));
        const auto y = dequant(dtype::q3_k, b, 256);
        CHECK(y[0] == 16.0f);    // 0.5 * -8 * (0 - 4)
        CHECK(y[1] == 0.0f);     // 0.5 * -8 * 0
        CHECK(y[40] == -3.0f);   // sub 2: 0.5 * -6 * 1
        CHECK(y[255] == 10.5f);  // sub 15: 0.5 * 7 * 3
    }
    SUBCASE("q4_k / q5_k: d 1, dmin 0.25, sc = sub + 1 (sub 5: 40), m = 2 sub, nibbles 3 / 7") {
        for (dtype t : {dtype::q4_k, dtype::q5_k}) {
            const bool five = t == dtype::q5_k;
            std::vector<uint8_t> b(five ? 176 : 144, 0);
            put16(&b[0], h(1.0f));
            put16(&b[2], h(0.25f));
            // scales 1..8 (sub 5: 40 = 8 | 2 << 4, high bits in byte 1), mins 0, 2, .., 14
            const uint8_t sc[12] = {1, 0x82, 3, 4, 0, 2, 4, 6, 0x85, 0xa8, 0xc7, 0xe8};
            std::memcpy(&b[4], sc, 12);
            if (five) std::memset(&b[16], 0x01, 32);  // bit 4 of every value of sub-block 0
            std::memset(&b[five ? 48 : 16], 0x73, 128);
            const auto y = dequant(t, b, 256);
            CHECK(y[0] == (five ? 19.0f : 3.0f));  // sub 0: 1 * q - 0
            CHECK(y[33] == 13.5f);                  // sub 1: 2 * 7 - 0.25 * 2
            CHECK(y[130] == 13.0f);                 // sub 4: 5 * 3 - 0.25 * 8
            CHECK(y[170] == 277.5f);                // sub 5: 40 * 7 - 0.25 * 10
            CHECK(y[255] == 52.5f);                 // sub 7: 8 * 7 - 0.25 * 14
        }
    }
    SUBCASE("q6_k: d 0.5, sc = sub - 8, ql 0x21, qh 0xe4") {
        std::vector<uint8_t> b(210, 0);
        std::memset(b.data(), 0x21, 128);
        std::memset(b.data() + 128, 0xe4, 64);
        for (int j = 0; j < 16; ++j) b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 8));
        put16(&b[208], h(0.5f));
        const auto y = dequant(dtype::q6_k, b, 256);
        CHECK(y[0] == 124.0f);   // q = 1 | 0 << 4 = 1 -> -31; 0.5 * -8 * -31
        CHECK(y[40] == 45.0f);   // q = 1 | 1 << 4 = 17 -> -15; sub 2: 0.5 * -6 * -15
        CHECK(y[200] == 4.0f);   // q = 2 | 2 << 4 = 34 -> 2; sub 12: 0.5 * 4 * 2
        CHECK(y[255] == 63.0f);  // q = 2 | 3 << 4 = 50 -> 18; sub 15: 0.5 * 7 * 18
    }
    SUBCASE("iq4_xs: d 0.5, sc = sub - 4, nibbles 0 / 15") {
        std::vector<uint8_t> b(136, 0);
        put16(&b[0], h(0.5f));
        uint16_t sh = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = ib - 4 + 32;
            b[4 + ib / 2] = static_cast<uint8_t>(b[4 + ib / 2] | (ls & 15) << (4 * (ib % 2)));
            sh = static_cast<uint16_t>(sh | (ls >> 4) << (2 * ib));
        }
        put16(&b[2], sh);
        std::memset(&b[8], 0xf0, 128);
        const auto y = dequant(dtype::iq4_xs, b, 256);
        CHECK(y[0] == 254.0f);    // 0.5 * -4 * -127
        CHECK(y[20] == -226.0f);  // 0.5 * -4 * 113
        CHECK(y[255] == 169.5f);  // 0.5 * 3 * 113
    }
    SUBCASE("mxfp4: e 130 (scale 4)") {
        std::vector<uint8_t> b(17);
        b[0] = 130;
        for (int j = 0; j < 16; ++j) b[1 + j] = static_cast<uint8_t>(j | (15 - j) << 4);
        const auto y = dequant(dtype::mxfp4, b, 32);
        CHECK(y[7] == 48.0f);
        CHECK(y[9] == -4.0f);
        CHECK(y[16] == -48.0f);
        CHECK(y[31] == 0.0f);
    }
}

TEST_CASE("quant types: dequantize agrees with a decoder written from the layout") {
    std::mt19937 g(99);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
    for (dtype t : new_types) {
        CAPTURE(dtype_name(t));
        const int64_t n = 512;
        std::vector<uint8_t> b(row_bytes(t, n));
        for (uint8_t& v : b) v = static_cast<uint8_t>(byte(g));
        // finite fp16 scales where the format has them
        const size_t bb = traits(t).block_bytes;
        for (size_t off = 0; off < b.size(); off += bb) {
            auto set = [&](size_t at) { put16(&b[off + at], h(scale(g))); };
            switch (t) {
            case dtype::q4_1: case dtype::q5_1: case dtype::q4_k: case dtype::q5_k: set(0), set(2); break;
            case dtype::q5_0: case dtype::iq4_nl: case dtype::iq4_xs: set(0); break;
            case dtype::q2_k: set(80), set(82); break;
            case dtype::q3_k: set(108); break;
            case dtype::q6_k: set(208); break;
            default: break;
            }
        }
        const auto y = dequant(t, b, n);
        for (int64_t i = 0; i < n; ++i) {
            const double want = moe_test::decode_type(t, b.data(), i);
            // the library rounds (d * sc) and each product to float; the decoder does not
            CHECK_MESSAGE(std::fabs(y[static_cast<size_t>(i)] - want) <= 1e-6 * std::fabs(want) + 1e-30,
                          "element " << i << ": " << y[static_cast<size_t>(i)] << " vs " << want);
        }
    }
}

TEST_CASE("quant types: round-trip error bounds") {
    const std::vector<float> x = gaussian(8192, 7);
    double energy = 0;
    for (float v : x) energy += double(v) * v;
    struct bound {
        dtype t;
        double rel_rmse;  // measured on this data: q4_1 0.078, q5_0 0.043, q5_1 0.038, q2_k 0.26, q3_k 0.144,
    };                    // q4_k 0.070, q5_k 0.034, q6_k 0.017, iq4_nl 0.076, iq4_xs 0.075, mxfp4 0.111
    const bound bounds[] = {{dtype::q4_1, 0.09},  {dtype::q5_0, 0.05},  {dtype::q5_1, 0.045}, {dtype::q2_k, 0.30},
                            {dtype::q3_k, 0.17},  {dtype::q4_k, 0.08},  {dtype::q5_k, 0.04},  {dtype::q6_k, 0.02},
                            {dtype::iq4_nl, 0.09}, {dtype::iq4_xs, 0.09}, {dtype::mxfp4, 0.13}};
    for (const bound& bd : bounds) {
        CAPTURE(dtype_name(bd.t));
        const auto b = quant(bd.t, x), r = quant(bd.t, x, true);
        const double e = sq_err(x, dequant(bd.t, b, 8192)), er = sq_err(x, dequant(bd.t, r, 8192));
        CHECK(std::sqrt(e / energy) <= bd.rel_rmse);
        CHECK(e <= er);  // the refined quantizer never loses to llama.cpp's algorithm
        const bool exact = bd.t == dtype::q4_1 || bd.t == dtype::q5_0 || bd.t == dtype::q5_1 || bd.t == dtype::iq4_nl;
        if (exact) CHECK(b == r);
    }
    SUBCASE("q4_1 / q5_1: every value within half a step (plus fp16 rounding of d and m)") {
        for (dtype t : {dtype::q4_1, dtype::q5_1}) {
            const double levels = t == dtype::q4_1 ? 15 : 31;
            const auto y = dequant(t, quant(t, x), 8192);
            for (size_t blk = 0; blk < 8192 / 32; ++blk) {
                double mn = x[blk * 32], mx = x[blk * 32];
                for (size_t j = 0; j < 32; ++j) {
                    mn = std::min<double>(mn, x[blk * 32 + j]);
                    mx = std::max<double>(mx, x[blk * 32 + j]);
                }
                const double d = (mx - mn) / levels, tol = 0.5 * d + (levels + 1) * d / 1024 + std::fabs(mn) / 1024;
                for (size_t j = 0; j < 32; ++j) CHECK(std::fabs(double(y[blk * 32 + j]) - x[blk * 32 + j]) <= tol);
            }
        }
    }
    SUBCASE("all-zero blocks stay zero") {
        const std::vector<float> z(512, 0.0f);
        for (dtype t : new_types) {
            CAPTURE(dtype_name(t));
            for (float v : dequant(t, quant(t, z), 512)) CHECK(v == 0.0f);
        }
    }
    SUBCASE("scaled data: the error scales with it (no hidden absolute thresholds)") {
        for (dtype t : new_types) {
            CAPTURE(dtype_name(t));
            std::vector<float> big = x;
            for (float& v : big) v *= 1024.0f;  // a power of two that keeps every fp16 scale normal and finite
            const double e1 = sq_err(x, dequant(t, quant(t, x, true), 8192));
            const double e2 = sq_err(big, dequant(t, quant(t, big, true), 8192)) / (1024.0 * 1024.0);
            CHECK(e2 == doctest::Approx(e1).epsilon(0.01));
        }
    }
}

TEST_CASE("quant types: hostile inputs do not crash and stay contained") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> x = gaussian(1024, 3);
    x[5] = nan;
    x[300] = inf;
    x[301] = -inf;
    x[600] = 3e38f;
    x[601] = -3e38f;
    x[900] = 1e-42f;
    for (dtype t : new_types) {
        CAPTURE(dtype_name(t));
        for (bool ref : {false, true}) {
            const auto b = quant(t, x, ref);  // status ok, no crash
            const auto y = dequant(t, b, 1024);
            // blocks that saw no non-finite or huge input come back finite
            const int64_t bs = traits(t).block_size;
            for (int64_t blk = 0; blk < 1024 / bs; ++blk) {
                bool clean = true;
                for (int64_t j = 0; j < bs; ++j) clean = clean && std::fabs(x[size_t(blk * bs + j)]) < 1e30f;
                if (!clean) continue;
                for (int64_t j = 0; j < bs; ++j) CHECK(std::isfinite(y[static_cast<size_t>(blk * bs + j)]));
            }
        }
        // arbitrary bytes (NaN/Inf scales included) dequantize without trouble
        std::vector<uint8_t> junk(row_bytes(t, 1024));
        for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 131 + 7);
        std::memset(junk.data(), 0xff, 4);
        (void)dequant(t, junk, 1024);
        CHECK(quantize_row(t, x.data(), junk.data(), 100).code() == errc::invalid_argument);  // not whole blocks
        CHECK(dequantize_row(t, nullptr, x.data(), 256).code() == errc::invalid_argument);
    }
}
