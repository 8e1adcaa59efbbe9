// test_quant_types_dot.cpp — issue-4 dot products (backends/cpu/ref): activation formats, vec_dot, mul_mat, NaN.
// Before: src/quant blocks, quant_types_decode.hpp. After: exactness vs llama.cpp's kernels in quant_conformance.
#include "backends/cpu/ref/vec_dot.hpp"

#include "quant_types_decode.hpp"
#include "test_support.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace moe;

namespace {

const dtype new_types[] = {dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q2_k, dtype::q3_k, dtype::q4_k,
                           dtype::q5_k, dtype::q6_k, dtype::iq4_nl, dtype::iq4_xs, dtype::mxfp4};

// Element i of a row of weights or converted activations (any type this test meets), in double.
double dec(dtype t, const void* row, int64_t i) {
    if (t == dtype::q8_0) return moe_test::decode_q8_0(row, i);
    return moe_test::decode_type(t, row, i);
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> x(n);
    for (float& v : x) v = nd(g);
    return x;
}

std::vector<uint8_t> convert(dtype wtype, const std::vector<float>& x) {
    std::vector<uint8_t> a(row_bytes(cpu::dot_type(wtype), static_cast<int64_t>(x.size())));
    cpu::convert_activation(wtype, x.data(), a.data(), static_cast<int64_t>(x.size()));
    return a;
}

}  // namespace

TEST_CASE("quant types: dot paths follow llama.cpp's x86 CPU backend") {
    // repacked (CPU_REPACK) on every AVX2 host; q2_k only where AVX-512 is available, so it is not pinned here
    for (dtype t : {dtype::q4_0, dtype::q4_k, dtype::iq4_nl, dtype::mxfp4}) {
        CHECK(cpu::llama_dot_path(t) == cpu::dot_path::repacked);
    }
    for (dtype t : {dtype::q8_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q3_k, dtype::q5_k, dtype::q6_k,
                    dtype::iq4_xs, dtype::f32, dtype::f16}) {
        CHECK(cpu::llama_dot_path(t) == cpu::dot_path::vec_dot);
    }
}

TEST_CASE("quant types: each weight type meets the activation format llama.cpp's x86 build gives it") {
    CHECK(cpu::dot_type(dtype::q4_1) == dtype::q8_1);
    CHECK(cpu::dot_type(dtype::q5_1) == dtype::q8_1);
    CHECK(cpu::dot_type(dtype::q5_0) == dtype::q8_0);
    CHECK(cpu::dot_type(dtype::iq4_nl) == dtype::q8_0);
    CHECK(cpu::dot_type(dtype::mxfp4) == dtype::q8_0);
    for (dtype t : {dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k, dtype::iq4_xs}) {
        CHECK(cpu::dot_type(t) == dtype::q8_k);
    }
}

TEST_CASE("quant types: q8_1 activations") {
    std::vector<float> x(32, 0.0f);
    const float in[6] = {127.0f, -63.5f, 0.5f, 1.5f, 2.5f, -0.5f};
    std::memcpy(x.data(), in, sizeof in);
    block_q8_1 b;
    cpu::convert_activation(dtype::q4_1, x.data(), &b, 32);
    CHECK(b.d == 0x3c00);  // amax / 127 = 1
    const int8_t want[6] = {127, -64, 0, 2, 2, 0};  // round half to even
    for (int j = 0; j < 6; ++j) CHECK(b.qs[j] == want[j]);
    CHECK(fp16_to_f32(b.s) == 67.0f);  // d * sum(q)

    const std::vector<float> g = gaussian(256, 4);
    std::vector<block_q8_1> blocks(8);
    cpu::convert_activation(dtype::q5_1, g.data(), blocks.data(), 256);
    for (int k = 0; k < 8; ++k) {
        float amax = 0;
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            amax = std::max(amax, std::fabs(g[size_t(k * 32 + j)]));
            sum += blocks[size_t(k)].qs[j];
        }
        CHECK(blocks[size_t(k)].s == f32_to_fp16(amax / 127.0f * float(sum)));
        for (int j = 0; j < 32; ++j) {
            CHECK(std::fabs(blocks[size_t(k)].qs[j] * (amax / 127.0) - g[size_t(k * 32 + j)]) <= amax / 254.0 * 1.0001);
        }
    }
}

TEST_CASE("quant types: q8_k activations") {
    std::vector<float> x(256, 0.0f);
    SUBCASE("negative max: d = max / -127 > 0") {
        x[0] = -254.0f, x[1] = 3.0f, x[2] = 5.0f, x[3] = 1.0f, x[16] = 7.0f;
        block_q8_k b;
        cpu::convert_activation(dtype::q4_k, x.data(), &b, 256);
        CHECK(b.d == 2.0f);
        CHECK(b.qs[0] == -127);
        CHECK(b.qs[1] == 2);  // 1.5 -> 2 (half to even)
        CHECK(b.qs[2] == 2);  // 2.5 -> 2
        CHECK(b.qs[3] == 0);  // 0.5 -> 0
        CHECK(b.bsums[0] == -123);
        CHECK(b.bsums[1] == 4);  // 3.5 -> 4
    }
    SUBCASE("positive max: the scale is negative, the values keep their sign") {
        x[10] = 254.0f, x[11] = -2.0f;
        block_q8_k b;
        cpu::convert_activation(dtype::q6_k, x.data(), &b, 256);
        CHECK(b.d == -2.0f);
        CHECK(b.qs[10] == -127);
        CHECK(b.qs[11] == 1);
        CHECK(b.qs[10] * b.d == 254.0f);
    }
    SUBCASE("all zero") {
        block_q8_k b;
        std::memset(&b, 0x55, sizeof b);
        cpu::convert_activation(dtype::iq4_xs, x.data(), &b, 256);
        CHECK(b.d == 0.0f);
        for (int j = 0; j < 256; ++j) CHECK(b.qs[j] == 0);
        for (int j = 0; j < 16; ++j) CHECK(b.bsums[j] == 0);
    }
}

TEST_CASE("quant types: vec_dot equals the product of the decoded operands") {
    // Tolerance: 1e-5 of sum |w_i a_i| (float accumulation over at most 41 blocks in 8 lanes). For q4_1/q5_1 the min
    // term is m * s with s = fp16(d * sum q) stored in the activation block (as llama.cpp computes it), so the
    // reference uses that s too.
    for (dtype t : new_types) {
        CAPTURE(dtype_name(t));
        const int64_t bs = traits(t).block_size;
        for (int64_t k : {bs == 256 ? int64_t(256) : int64_t(96), bs == 256 ? int64_t(768) : int64_t(1312)}) {
            CAPTURE(k);
            for (uint32_t seed = 0; seed < 3; ++seed) {
                std::vector<float> wf = gaussian(size_t(k), 10 + seed), x = gaussian(size_t(k), 20 + seed);
                if (seed == 1) for (float& v : x) v = v * 0.01f + 0.7f;  // offset activations: min terms dominate
                if (seed == 2) for (size_t i = 0; i < wf.size(); i += 37) wf[i] *= 30.0f;  // outliers
                std::vector<uint8_t> w(row_bytes(t, k));
                REQUIRE(quantize_row(t, wf.data(), w.data(), k).ok());
                const std::vector<uint8_t> a = convert(t, x);
                const dtype at = cpu::dot_type(t);
                double want = 0, mag = 0;
                const bool has_min = t == dtype::q4_1 || t == dtype::q5_1;
                for (int64_t i = 0; i < k; ++i) {
                    double wi = moe_test::decode_type(t, w.data(), i);
                    if (has_min) wi -= moe_test::h16(w.data() + (i / 32) * traits(t).block_bytes + 2);  // q * d only
                    const double p = wi * dec(at, a.data(), i);
                    want += p, mag += std::fabs(p);
                }
                if (has_min) {
                    for (int64_t b = 0; b < k / 32; ++b) {
                        const double m = moe_test::h16(w.data() + b * traits(t).block_bytes + 2);
                        const double s = moe_test::h16(a.data() + b * 36 + 2);
                        want += m * s, mag += std::fabs(m * s);
                    }
                }
                for (cpu::dot_path path : {cpu::dot_path::vec_dot, cpu::dot_path::repacked}) {
                    const float got = cpu::vec_dot(t, w.data(), a.data(), k, path);
                    CHECK_MESSAGE(std::fabs(got - want) <= 1e-5 * mag + 1e-30,
                                  got << " vs " << want << " (scale " << mag << ", path " << int(path) << ")");
                }
                CHECK(cpu::vec_dot(t, w.data(), a.data(), k) ==
                      cpu::vec_dot(t, w.data(), a.data(), k, cpu::llama_dot_path(t)));  // (q4_0 is not in this list)
            }
        }
    }
}

TEST_CASE("quant types: mul_mat and get_rows through the executor") {
    for (int nt : {1, 2}) {
        for (dtype t : new_types) {
            CAPTURE(nt);
            CAPTURE(dtype_name(t));
            const int64_t R = 3, k = traits(t).block_size == 256 ? 512 : 96, n = 9;
            const std::vector<float> x = gaussian(size_t(R * k), 31), wf = gaussian(size_t(n * k), 32);
            const std::vector<uint8_t> w = moe_test::encode_rows(t, wf, n, k);
            {
                graph_builder gb;
                value_id xi = gb.input("x", dtype::f32, {R, k});
                value_id wi = gb.weight("w", t, {n, k}, w.data());
                value_id out = gb.mul_mat(xi, wi);
                gb.mark_output(out);
                moe_test::bound b = moe_test::bind(gb, nt);
                b.set(xi, x);
                REQUIRE(b.run().ok());
                const std::vector<float> got = b.get<float>(out);
                for (int64_t i = 0; i < R; ++i) {
                    const std::vector<float> xr(x.begin() + i * k, x.begin() + (i + 1) * k);
                    const std::vector<uint8_t> a = convert(t, xr);
                    for (int64_t r = 0; r < n; ++r) {
                        const float want = cpu::vec_dot(t, w.data() + size_t(r) * row_bytes(t, k), a.data(), k);
                        CHECK(got[size_t(i * n + r)] == want);  // the kernel is vec_dot on converted rows
                    }
                }
            }
            {
                graph_builder gb;
                value_id ti = gb.weight("table", t, {n, k}, w.data());
                value_id ii = gb.input("ids", dtype::i32, {2});
                value_id out = gb.get_rows(ti, ii);
                gb.mark_output(out);
                moe_test::bound b = moe_test::bind(gb, nt);
                b.set(ii, std::vector<int32_t>{7, 2});
                REQUIRE(b.run().ok());
                const std::vector<float> got = b.get<float>(out);
                const uint8_t* row7 = w.data() + 7 * row_bytes(t, k);
                const uint8_t* row2 = w.data() + 2 * row_bytes(t, k);
                for (int64_t j = 0; j < k; ++j) {
                    CHECK(got[size_t(j)] == doctest::Approx(moe_test::decode_type(t, row7, j)).epsilon(1e-6));
                    CHECK(got[size_t(k + j)] == doctest::Approx(moe_test::decode_type(t, row2, j)).epsilon(1e-6));
                }
            }
        }
    }
}

TEST_CASE("quant types: dot products survive NaN, Inf and extreme values") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    for (dtype t : new_types) {
        CAPTURE(dtype_name(t));
        const int64_t k = 512;
        std::vector<float> x = gaussian(size_t(k), 5), wf = gaussian(size_t(k), 6);
        std::vector<uint8_t> w(row_bytes(t, k));
        REQUIRE(quantize_row(t, wf.data(), w.data(), k).ok());
        for (const float bad : {nan, inf, -inf, 3e38f, 1e-44f}) {
            x[100] = bad;
            const std::vector<uint8_t> a = convert(t, x);  // no crash, no undefined conversions
            const float r = cpu::vec_dot(t, w.data(), a.data(), k);
            if (std::fabs(bad) < 1.0f) CHECK(std::isfinite(r));
        }
        std::vector<uint8_t> junk(w.size());
        for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 197 + 3);
        (void)cpu::vec_dot(t, junk.data(), convert(t, gaussian(size_t(k), 8)).data(), k);
    }
}
