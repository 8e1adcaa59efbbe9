// test_quant.cpp — checks src/quant: q8_0/q4_0 bit-exact known vectors, error bounds and edge blocks; f16/bf16 rows.
// Quantization feeds the test-model writer; dequantization backs the loader and the reference kernels.
#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace moe;

namespace {

// Golden data: quantized by llama.cpp's gguf-py port of quantize_row_q8_0_ref / quantize_row_q4_0_ref.
// x: block 0 a sine wave, block 1 small mixed values, block 2 a parabola with max |x| negative (-7.5).
static const float golden_x[96] = {
    0.886560619f, 2.52441287f, 2.97499442f, 2.0263896f, 0.124741986f, -1.83557367f,
    -2.93259025f, -2.65036392f, -1.12162995f, 0.934624076f, 2.55130982f, 2.9680748f,
    1.98890769f, 0.0743262768f, -1.87521195f, -2.94280863f, -2.6263566f, -1.07468784f,
    0.982423306f, 2.57748556f, 2.96031594f, 1.95086348f, 0.0238895509f, -1.91431999f,
    -2.95219493f, -2.60160661f, -1.02744186f, 1.02994478f, 2.60293221f, 2.95172f,
    1.9122678f, -0.026553927f, -0.518999994f, -0.344999999f, -0.171000004f, 0.00300000003f,
    0.177000001f, 0.351000011f, 0.524999976f, -0.512000024f, -0.338f, -0.164000005f,
    0.00999999978f, 0.184f, 0.35800001f, 0.532000005f, -0.504999995f, -0.331f,
    -0.157000005f, 0.0170000009f, 0.191f, 0.36500001f, 0.538999975f, -0.497999996f,
    -0.324000001f, -0.150000006f, 0.0240000002f, 0.197999999f, 0.372000009f, 0.546000004f,
    -0.490999997f, -0.317000002f, -0.143000007f, 0.0309999995f, -7.5f, -6.71999979f,
    -5.98000002f, -5.28000021f, -4.61999989f, -4.0f, -3.42000008f, -2.88000011f,
    -2.38000011f, -1.91999996f, -1.5f, -1.12f, -0.779999971f, -0.479999989f,
    -0.219999999f, 0.0f, 0.180000007f, 0.319999993f, 0.419999987f, 0.479999989f,
    0.5f, 0.479999989f, 0.419999987f, 0.319999993f, 0.180000007f, 0.0f,
    -0.219999999f, -0.479999989f, -0.779999971f, -1.12f, -1.5f, -1.91999996f
};
static const uint8_t golden_q8_0[102] = {
    0xff, 0x25, 0x26, 0x6c, 0x7f, 0x57, 0x05, 0xb2, 0x83, 0x8f, 0xd0, 0x28, 0x6d, 0x7f, 0x55, 0x03,
    0xb0, 0x82, 0x90, 0xd2, 0x2a, 0x6e, 0x7e, 0x53, 0x01, 0xae, 0x82, 0x91, 0xd4, 0x2c, 0x6f, 0x7e,
    0x52, 0xff, 0x67, 0x1c, 0x87, 0xb0, 0xd8, 0x01, 0x29, 0x52, 0x7a, 0x89, 0xb1, 0xda, 0x02, 0x2b,
    0x53, 0x7c, 0x8b, 0xb3, 0xdb, 0x04, 0x2c, 0x55, 0x7d, 0x8c, 0xb5, 0xdd, 0x06, 0x2e, 0x57, 0x7f,
    0x8e, 0xb6, 0xdf, 0x07, 0x8f, 0x2b, 0x81, 0x8e, 0x9b, 0xa7, 0xb2, 0xbc, 0xc6, 0xcf, 0xd8, 0xdf,
    0xe7, 0xed, 0xf3, 0xf8, 0xfc, 0x00, 0x03, 0x05, 0x07, 0x08, 0x08, 0x08, 0x07, 0x05, 0x03, 0x00,
    0xfc, 0xf8, 0xf3, 0xed, 0xe7, 0xdf
};
static const uint8_t golden_q4_0[54] = {
    0xf3, 0xb5, 0xf6, 0xb1, 0x50, 0x13, 0x08, 0x3d, 0x8f, 0xdf, 0xfb, 0xf5, 0xb1, 0x50, 0x13, 0x08,
    0x3d, 0x8f, 0x5e, 0xac, 0xaf, 0x8d, 0x5b, 0x38, 0x05, 0xf3, 0xd0, 0xaf, 0x8d, 0x5a, 0x38, 0x05,
    0xf3, 0xd0, 0xaf, 0x8d, 0x80, 0x3b, 0x80, 0x81, 0x82, 0x92, 0x93, 0x94, 0x84, 0x85, 0x85, 0x86,
    0x86, 0x77, 0x77, 0x77, 0x68, 0x68
};

struct lcg {
    uint64_t s;
    double uniform() {  // [0, 1)
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
    }
    float normal() {
        const double u1 = 1.0 - uniform(), u2 = uniform();
        return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
};

std::vector<block_q8_0> q8(const std::vector<float>& x) {
    std::vector<block_q8_0> b(x.size() / qk8_0);
    REQUIRE(quantize_row(dtype::q8_0, x.data(), b.data(), static_cast<int64_t>(x.size())).ok());
    return b;
}

std::vector<block_q4_0> q4(const std::vector<float>& x) {
    std::vector<block_q4_0> b(x.size() / qk4_0);
    REQUIRE(quantize_row(dtype::q4_0, x.data(), b.data(), static_cast<int64_t>(x.size())).ok());
    return b;
}

template <class B>
std::vector<float> deq(dtype t, const std::vector<B>& b, size_t n) {
    std::vector<float> y(n);
    REQUIRE(dequantize_row(t, b.data(), y.data(), static_cast<int64_t>(n)).ok());
    return y;
}

}  // namespace

TEST_CASE("quant: q8_0 known vectors") {
    SUBCASE("d = 1: q = roundf(x), halves away from zero") {
        std::vector<float> x(32, 0.0f);
        const float in[10] = {127.0f, -127.0f, 0.5f, -0.5f, 2.5f, -2.5f, 1.49f, 3.7f, -100.4f, 64.5f};
        const int8_t want[10] = {127, -127, 1, -1, 3, -3, 1, 4, -100, 65};
        std::memcpy(x.data(), in, sizeof in);
        const auto b = q8(x);
        CHECK(b[0].d == 0x3c00);  // fp16(1.0)
        for (int j = 0; j < 10; ++j) CHECK(b[0].qs[j] == want[j]);
        for (int j = 10; j < 32; ++j) CHECK(b[0].qs[j] == 0);
        const auto y = deq(dtype::q8_0, b, 32);
        for (int j = 0; j < 10; ++j) CHECK(y[j] == static_cast<float>(want[j]));
    }
    SUBCASE("d = 0.5") {
        std::vector<float> x(32, 0.0f);
        x[0] = 63.5f;   // amax: d = 0.5, 1/d = 2
        x[1] = 1.25f;   // 2.5 -> 3
        x[2] = -0.25f;  // -0.5 -> -1
        x[3] = 0.3f;    // 0.6 -> 1
        x[31] = -10.1f; // -20.2 -> -20
        const auto b = q8(x);
        CHECK(b[0].d == 0x3800);  // fp16(0.5)
        CHECK(b[0].qs[0] == 127);
        CHECK(b[0].qs[1] == 3);
        CHECK(b[0].qs[2] == -1);
        CHECK(b[0].qs[3] == 1);
        CHECK(b[0].qs[31] == -20);
    }
    SUBCASE("bit-exact with llama.cpp on golden data") {
        std::vector<float> x(golden_x, golden_x + 96);
        const auto b = q8(x);
        REQUIRE(sizeof(block_q8_0) * b.size() == sizeof golden_q8_0);
        CHECK(std::memcmp(b.data(), golden_q8_0, sizeof golden_q8_0) == 0);
    }
}

TEST_CASE("quant: q4_0 known vectors") {
    SUBCASE("negative max: d = max / -8 = 1, q = min(15, trunc(x + 8.5))") {
        std::vector<float> x(32, 0.0f);
        x[0] = 7.0f;    // 15
        x[1] = 7.6f;    // trunc(16.1) = 16 -> clamped to 15
        x[2] = 0.4f;    // trunc(8.9) = 8
        x[3] = 0.5f;    // 9
        x[4] = -0.5f;   // 8
        x[5] = -8.0f;   // the max magnitude, negative: 0
        x[6] = -0.51f;  // trunc(7.99) = 7
        x[7] = -7.6f;   // trunc(0.9) = 0
        x[8] = 3.0f;    // 11
        x[16] = -3.0f;  // 5
        x[17] = 1.0f;   // 9
        x[31] = 6.2f;   // trunc(14.7) = 14
        const auto b = q4(x);
        CHECK(b[0].d == 0x3c00);  // fp16(+1): a negative max gives a positive scale
        const uint8_t lo[16] = {15, 15, 8, 9, 8, 0, 7, 0, 11, 8, 8, 8, 8, 8, 8, 8};
        const uint8_t hi[16] = {5, 9, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 14};
        for (int j = 0; j < 16; ++j) CHECK(b[0].qs[j] == (lo[j] | (hi[j] << 4)));
        const auto y = deq(dtype::q4_0, b, 32);
        CHECK(y[0] == 7.0f);
        CHECK(y[1] == 7.0f);
        CHECK(y[5] == -8.0f);
        CHECK(y[16] == -3.0f);
        CHECK(y[31] == 6.0f);
    }
    SUBCASE("positive max: negative scale, and the first of equal magnitudes wins") {
        std::vector<float> x(32, 0.0f);
        x[0] = 8.0f;   // max (first with |x| = 8): d = -1, 1/d = -1 -> trunc(0.5) = 0
        x[1] = -8.0f;  // same magnitude, later: trunc(16.5) = 16 -> 15
        x[2] = 2.0f;   // trunc(6.5) = 6
        const auto b = q4(x);
        CHECK(b[0].d == 0xbc00);  // fp16(-1)
        CHECK((b[0].qs[0] & 0x0f) == 0);
        CHECK((b[0].qs[1] & 0x0f) == 15);
        CHECK((b[0].qs[2] & 0x0f) == 6);
        const auto y = deq(dtype::q4_0, b, 32);
        CHECK(y[0] == 8.0f);
        CHECK(y[1] == -7.0f);  // -8 is not representable with this sign of d: off by exactly |d|
        CHECK(y[2] == 2.0f);
        x[0] = -8.0f;
        x[1] = 8.0f;
        CHECK(q4(x)[0].d == 0x3c00);  // now the negative one comes first
    }
    SUBCASE("bit-exact with llama.cpp on golden data") {
        std::vector<float> x(golden_x, golden_x + 96);
        const auto b = q4(x);
        REQUIRE(sizeof(block_q4_0) * b.size() == sizeof golden_q4_0);
        CHECK(std::memcmp(b.data(), golden_q4_0, sizeof golden_q4_0) == 0);
    }
}

TEST_CASE("quant: edge blocks") {
    SUBCASE("zeros") {
        std::vector<float> x(64, 0.0f);
        const auto b8 = q8(x);
        for (const auto& b : b8) {
            CHECK(b.d == 0);
            for (int8_t q : b.qs) CHECK(q == 0);
        }
        const auto b4 = q4(x);
        for (const auto& b : b4) {
            CHECK(b.d == 0x8000);  // d = 0.0f / -8 = -0.0f, as in llama.cpp
            for (uint8_t q : b.qs) CHECK(q == 0x88);  // 0 * id + 8.5 -> 8 in both nibbles
        }
        for (float v : deq(dtype::q8_0, b8, 64)) CHECK(v == 0.0f);
        for (float v : deq(dtype::q4_0, b4, 64)) CHECK(v == 0.0f);
    }
    SUBCASE("all equal") {
        std::vector<float> x(32, 3.0f);
        const auto b8 = q8(x);
        for (int8_t q : b8[0].qs) CHECK(q == 127);
        CHECK(b8[0].d == f32_to_fp16(3.0f / 127.0f));
        for (float v : deq(dtype::q8_0, b8, 32)) CHECK(v == doctest::Approx(3.0).epsilon(1e-3));
        const auto b4 = q4(x);
        CHECK(b4[0].d == f32_to_fp16(-0.375f));  // 3 / -8, exact in fp16
        for (uint8_t q : b4[0].qs) CHECK(q == 0x00);
        for (float v : deq(dtype::q4_0, b4, 32)) CHECK(v == 3.0f);
        std::vector<float> neg(32, -3.0f);
        const auto n4 = q4(neg);
        CHECK(n4[0].d == f32_to_fp16(0.375f));
        for (float v : deq(dtype::q4_0, n4, 32)) CHECK(v == -3.0f);
    }
}

TEST_CASE("quant: round-trip error bounds on random data") {
    lcg rng{2024};
    const int64_t n = 32 * 256;
    std::vector<float> x(static_cast<size_t>(n));
    for (size_t i = 0; i < x.size(); ++i) {
        const float scale = std::ldexp(1.0f, static_cast<int>(i / 32 % 18) - 6);  // blocks from 2^-6 to 2^11
        x[i] = rng.normal() * scale;
    }
    // Block scales stay >= 2^-6 so that d is a normal fp16 number (a subnormal fp16 scale loses precision and
    // breaks these bounds in llama.cpp too).
    // Bounds: q8_0 rounds to the nearest step (d/2), q4_0 can be one full step off at the clamped end (d).
    // The scale is stored as fp16, so allow the fp16 rounding of d times the largest |q| on top.
    const float fp16_rel = 1.0f / 2048.0f;
    SUBCASE("q8_0: |x - x'| <= d/2 per block") {
        const auto b = q8(x);
        const auto y = deq(dtype::q8_0, b, x.size());
        int bad = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const float d = std::fabs(fp16_to_f32(b[i / 32].d));
            if (std::fabs(x[i] - y[i]) > d * 0.5f + 127.0f * d * fp16_rel + 1e-30f) ++bad;
        }
        CHECK(bad == 0);
    }
    SUBCASE("q4_0: |x - x'| <= d per block") {
        const auto b = q4(x);
        const auto y = deq(dtype::q4_0, b, x.size());
        int bad = 0, beyond_half = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const float d = std::fabs(fp16_to_f32(b[i / 32].d));
            const float err = std::fabs(x[i] - y[i]);
            if (err > d + 8.0f * d * fp16_rel + 1e-30f) ++bad;
            if (err > d * 0.5f + 8.0f * d * fp16_rel) ++beyond_half;
        }
        CHECK(bad == 0);
        CHECK(beyond_half < n / 20);  // only the clamped side of a block exceeds half a step
    }
}

TEST_CASE("quant: f32, f16 and bf16 rows") {
    lcg rng{99};
    std::vector<float> x(100);
    for (float& v : x) v = rng.normal() * 10.0f;
    x[0] = 1e6f;  // overflows fp16
    x[1] = 1e-6f; // fp16 subnormal
    SUBCASE("f16") {
        std::vector<uint16_t> h(x.size());
        REQUIRE(quantize_row(dtype::f16, x.data(), h.data(), 100).ok());
        for (size_t i = 0; i < x.size(); ++i) CHECK(h[i] == f32_to_fp16(x[i]));
        std::vector<float> y(x.size());
        REQUIRE(dequantize_row(dtype::f16, h.data(), y.data(), 100).ok());
        for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == fp16_to_f32(h[i]));
        CHECK(std::isinf(y[0]));
    }
    SUBCASE("bf16") {
        std::vector<uint16_t> h(x.size());
        REQUIRE(quantize_row(dtype::bf16, x.data(), h.data(), 100).ok());
        for (size_t i = 0; i < x.size(); ++i) CHECK(h[i] == f32_to_bf16(x[i]));
        std::vector<float> y(x.size());
        REQUIRE(dequantize_row(dtype::bf16, h.data(), y.data(), 100).ok());
        for (size_t i = 0; i < x.size(); ++i) {
            CHECK(y[i] == bf16_to_f32(h[i]));
            CHECK(std::fabs(y[i] - x[i]) <= std::fabs(x[i]) / 256.0f);
        }
    }
    SUBCASE("f32 is a copy") {
        std::vector<float> y(x.size());
        REQUIRE(quantize_row(dtype::f32, x.data(), y.data(), 100).ok());
        CHECK(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
        std::vector<float> z(x.size());
        REQUIRE(dequantize_row(dtype::f32, y.data(), z.data(), 100).ok());
        CHECK(z == x);
    }
}

TEST_CASE("quant: argument errors") {
    std::vector<float> x(64, 1.0f);
    std::vector<uint8_t> out(1024);
    CHECK(can_convert(dtype::f32));
    CHECK(can_convert(dtype::f16));
    CHECK(can_convert(dtype::bf16));
    CHECK(can_convert(dtype::q8_0));
    CHECK(can_convert(dtype::q4_0));
    const auto iq2_xxs = static_cast<dtype>(16);  // a GGUF type moe does not read (issue 4 added q4_1..mxfp4)
    CHECK_FALSE(can_convert(iq2_xxs));
    CHECK_FALSE(can_convert(dtype::q8_k));
    CHECK(quantize_row(iq2_xxs, x.data(), out.data(), 256).code() == errc::unsupported);
    CHECK(dequantize_row(dtype::q8_k, out.data(), x.data(), 256).code() == errc::unsupported);
    const status s = quantize_row(dtype::q8_0, x.data(), out.data(), 33);
    CHECK(s.code() == errc::invalid_argument);
    CHECK(s.message().find("33") != std::string::npos);
    CHECK(dequantize_row(dtype::q4_0, out.data(), x.data(), 40).code() == errc::invalid_argument);
    CHECK(quantize_row(dtype::f32, x.data(), out.data(), -1).code() == errc::invalid_argument);
    CHECK(quantize_row(dtype::q8_0, nullptr, out.data(), 32).code() == errc::invalid_argument);
    CHECK(quantize_row(dtype::q8_0, x.data(), out.data(), 0).ok());
}
