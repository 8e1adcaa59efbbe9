// test_cuda_math.cpp — backends/cuda/cuda_math.hpp compiled for the host and checked against the CPU reference.
// Before: src/quant dequantizers, backends/cpu/ref quantizers/kernels. After: nothing; the GPU math testable here.
#include "backends/cuda/cuda_math.hpp"

#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/vec_dot.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

using namespace moe;
namespace mc = moe_cuda;

namespace {

const dtype weight_types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::q4_0, dtype::q8_0, dtype::q4_k, dtype::q6_k};

// A row of n elements of `type`: random floats quantized by the library (varied magnitudes per block), then, for
// the quantized types, some blocks with random bytes (every bit pattern of the values and scales is a valid block).
std::vector<uint8_t> make_row(dtype type, int64_t n, uint64_t seed) {
    moe_test::rng r(seed);
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        x[static_cast<size_t>(i)] = r.uniform(-1, 1) * (1.0f + static_cast<float>(i / 32 % 7));
    std::vector<uint8_t> row(row_bytes(type, n));
    REQUIRE(quantize_row(type, x.data(), row.data(), n).ok());
    if (type == dtype::q4_0 || type == dtype::q8_0 || type == dtype::q4_k || type == dtype::q6_k) {
        const int bb = mc::block_bytes(static_cast<uint32_t>(type));
        const size_t nb = row.size() / static_cast<size_t>(bb);
        for (size_t b = 1; b < nb; b += 3) {
            uint8_t* p = row.data() + b * static_cast<size_t>(bb);
            for (int i = 0; i < bb; ++i) p[i] = static_cast<uint8_t>(r.next());
            // keep the fp16 scales finite and moderate (exponent bits 0x3c00 mask), so sums stay comparable
            auto tame = [&](uint8_t* h) { h[1] = static_cast<uint8_t>((h[1] & 0x83) | 0x18); };
            if (type == dtype::q6_k) tame(p + 208);
            else tame(p);
            if (type == dtype::q4_k) tame(p + 2);
        }
    }
    return row;
}

}  // namespace

TEST_CASE("cuda math: block layouts match include/moe/quant.hpp") {
    CHECK(sizeof(mc::blk_q4_0) == sizeof(block_q4_0));
    CHECK(sizeof(mc::blk_q8_0) == sizeof(block_q8_0));
    CHECK(sizeof(mc::blk_q4_k) == sizeof(block_q4_k));
    CHECK(sizeof(mc::blk_q6_k) == sizeof(block_q6_k));
    CHECK(sizeof(mc::blk_q8_k) == sizeof(block_q8_k));
    CHECK(offsetof(mc::blk_q4_k, qs) == offsetof(block_q4_k, qs));
    CHECK(offsetof(mc::blk_q6_k, d) == offsetof(block_q6_k, d));
    CHECK(offsetof(mc::blk_q8_k, bsums) == offsetof(block_q8_k, bsums));
    for (dtype t : weight_types) {
        CAPTURE(dtype_name(t));
        CHECK(static_cast<size_t>(mc::row_bytes(static_cast<uint32_t>(t), 512)) == row_bytes(t, 512));
    }
    CHECK(static_cast<size_t>(mc::act_row_bytes(static_cast<uint32_t>(dtype::q4_0), 512)) ==
          row_bytes(cpu::dot_type(dtype::q4_0), 512));
    CHECK(static_cast<size_t>(mc::act_row_bytes(static_cast<uint32_t>(dtype::q6_k), 512)) ==
          row_bytes(cpu::dot_type(dtype::q6_k), 512));
}

TEST_CASE("cuda math: fp16 and bf16 conversions are bit-exact with moe/half.hpp") {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float a = mc::f16_to_f32(static_cast<uint16_t>(h)), b = fp16_to_f32(static_cast<uint16_t>(h));
        if (mc::float_bits(a) != mc::float_bits(b)) FAIL_CHECK("fp16 " << h);
        const float c = mc::bf16_to_f32(static_cast<uint16_t>(h)), d = bf16_to_f32(static_cast<uint16_t>(h));
        if (mc::float_bits(c) != mc::float_bits(d)) FAIL_CHECK("bf16 " << h);
    }
    moe_test::rng r(5);
    for (int i = 0; i < 200000; ++i) {
        const float x = mc::bits_float(r.next() ^ (r.next() << 16));
        if (mc::f32_to_f16(x) != f32_to_fp16(x)) FAIL_CHECK("f32->f16 " << x);
        if (mc::f32_to_bf16(x) != f32_to_bf16(x)) FAIL_CHECK("f32->bf16 " << x);
    }
}

TEST_CASE("cuda math: dequantization of every supported weight type is bit-exact with dequantize_row") {
    const int64_t n = 1024;
    for (dtype t : weight_types) {
        CAPTURE(dtype_name(t));
        for (uint64_t seed = 1; seed <= 4; ++seed) {
            const std::vector<uint8_t> row = make_row(t, n, seed);
            std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
            REQUIRE(dequantize_row(t, row.data(), want.data(), n).ok());
            for (int64_t i = 0; i < n; ++i)
                got[static_cast<size_t>(i)] = mc::dequant_row_elem(static_cast<uint32_t>(t), row.data(), i);
            CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
        }
    }
}

TEST_CASE("cuda math: activation quantization to q8_0 and q8_k is bit-exact with the CPU reference") {
    const int64_t n = 1024;
    moe_test::rng r(11);
    for (int variant = 0; variant < 4; ++variant) {
        std::vector<float> x = r.floats(static_cast<size_t>(n), -3, 3);
        if (variant == 1)
            for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = 0.0f;  // an all-zero block of each kind
        if (variant == 2)
            for (size_t i = 0; i < x.size(); ++i)
                x[i] = static_cast<float>(static_cast<int>(i % 17) - 8) * 0.5f;  // ties
        if (variant == 3)
            for (float& v : x) v *= 1e4f;
        CAPTURE(variant);
        {
            std::vector<uint8_t> want(row_bytes(dtype::q8_0, n)), got(want.size());
            cpu::convert_activation(dtype::q4_0, x.data(), want.data(), n);
            auto* b = reinterpret_cast<mc::blk_q8_0*>(got.data());
            for (int64_t i = 0; i < n / 32; ++i) mc::quantize_q8_0_block(x.data() + 32 * i, b[i]);
            CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
        }
        {
            std::vector<uint8_t> want(row_bytes(dtype::q8_k, n)), got(want.size());
            cpu::convert_activation(dtype::q4_k, x.data(), want.data(), n);
            auto* b = reinterpret_cast<mc::blk_q8_k*>(got.data());
            for (int64_t i = 0; i < n / 256; ++i) mc::quantize_q8_k_block(x.data() + 256 * i, b[i]);
            CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
        }
    }
}

// The GPU adds block terms in another order than the CPU's 8-lane sums; integer parts are exact, so the results
// differ by float rounding only: within 1e-5 of the sum of |terms|.
TEST_CASE("cuda math: block dot products agree with the CPU reference vec_dot") {
    const int64_t n = 2048;
    moe_test::rng r(3);
    for (dtype t : weight_types) {
        CAPTURE(dtype_name(t));
        const uint32_t wt = static_cast<uint32_t>(t);
        for (uint64_t seed = 1; seed <= 3; ++seed) {
            const std::vector<uint8_t> w = make_row(t, n, seed + 10);
            const std::vector<float> x = r.floats(static_cast<size_t>(n), -2, 2);
            std::vector<uint8_t> act(row_bytes(cpu::dot_type(t), n));
            cpu::convert_activation(t, x.data(), act.data(), n);
            const float want = cpu::vec_dot(t, w.data(), act.data(), n);
            // the GPU's activation row (its own quantizer, checked bit-exact above) and its block terms
            std::vector<uint8_t> ga(static_cast<size_t>(mc::act_row_bytes(wt, n)));
            std::vector<float> gf(static_cast<size_t>(n));
            if (mc::act_type(wt) == mc::t_q8_0)
                for (int64_t i = 0; i < n / 32; ++i)
                    mc::quantize_q8_0_block(x.data() + 32 * i, reinterpret_cast<mc::blk_q8_0*>(ga.data())[i]);
            else if (mc::act_type(wt) == mc::t_q8_k)
                for (int64_t i = 0; i < n / 256; ++i)
                    mc::quantize_q8_k_block(x.data() + 256 * i, reinterpret_cast<mc::blk_q8_k*>(ga.data())[i]);
            else
                for (int64_t i = 0; i < n; ++i)
                    gf[static_cast<size_t>(i)] = mc::act_round(wt, x[static_cast<size_t>(i)]);
            double got = 0.0, mag = 0.0;
            const int be = mc::block_elems(wt), bb = mc::block_bytes(wt);
            for (int64_t b = 0; b < n / be; ++b) {
                const uint8_t* wb = w.data() + b * bb;
                float term = 0.0f;
                switch (wt) {
                    case mc::t_q4_0:
                        term = mc::block_dot_q4_0(wb, reinterpret_cast<const mc::blk_q8_0*>(ga.data())[b]);
                        break;
                    case mc::t_q8_0:
                        term = mc::block_dot_q8_0(wb, reinterpret_cast<const mc::blk_q8_0*>(ga.data())[b]);
                        break;
                    case mc::t_q4_k:
                        term = mc::block_dot_q4_k(wb, reinterpret_cast<const mc::blk_q8_k*>(ga.data())[b]);
                        break;
                    case mc::t_q6_k:
                        term = mc::block_dot_q6_k(wb, reinterpret_cast<const mc::blk_q8_k*>(ga.data())[b]);
                        break;
                    default:
                        term = mc::mul_rn(mc::dequant(wt, wb, 0), gf[static_cast<size_t>(b)]);
                }
                got += term;
                mag += std::fabs(term);
            }
            CHECK(moe_test::near(got, want, 1e-5, mag));
        }
    }
}

namespace {

// The CUDA rope kernel's arithmetic for one row (k_rope in cuda_elementwise.cu), on the host.
void rope_like_kernel(const float* x, float* o, int64_t D, int64_t n_rot, bool neox, bool yarn, int32_t pos, float base,
                      float freq_scale, float ext, float attn, float lo, float hi) {
    const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
    const float mscale = yarn ? mc::yarn_mscale(freq_scale, ext, attn) : 1.0f;
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; ++i) {
        const float extrap = mc::rope_theta_extrap(static_cast<float>(pos), i, theta_scale);
        const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        const float x0 = x[i0], x1 = x[i1];
        if (!yarn) {
            const float th = mc::mul_rn(freq_scale, extrap), c = cosf(th), s = sinf(th);
            o[i0] = fmaf(x0, c, -mc::mul_rn(x1, s));
            o[i1] = fmaf(x0, s, mc::mul_rn(x1, c));
        } else {
            const float th = mc::yarn_theta(extrap, freq_scale, ext, lo, hi, i);
            const float c = mc::mul_rn(cosf(th), mscale), s = mc::mul_rn(sinf(th), mscale);
            o[i0] = mc::sub_rn(mc::mul_rn(x0, c), mc::mul_rn(x1, s));
            o[i1] = mc::add_rn(mc::mul_rn(x0, s), mc::mul_rn(x1, c));
        }
    }
    for (int64_t i = n_rot; i < D; ++i) o[i] = x[i];
}

}  // namespace

// Within 1e-6 of the row's magnitude: the host's cosf/sinf here equal the reference's; on the GPU CUDA's cosf/sinf
// (2 ulp) replace them, which the op tests cover.
TEST_CASE("cuda math: rope and rope_yarn angles and rotations match the CPU reference") {
    const int64_t T = 6, H = 3, D = 64;
    moe_test::rng r(17);
    const std::vector<float> x = r.floats(static_cast<size_t>(T * H * D), -2, 2);
    const std::vector<int32_t> pos = {0, 1, 7, 100, 2047, 4095};
    for (int variant = 0; variant < 4; ++variant) {
        const bool neox = variant & 1, yarn = variant >= 2;
        const int64_t n_rot = yarn ? 64 : 48;
        CAPTURE(variant);
        graph_builder gb;
        value_id xi = gb.input("x", dtype::f32, {T, H, D});
        value_id pi = gb.input("pos", dtype::i32, {T});
        rope_yarn_params yp;
        yp.ext_factor = 1.0f, yp.attn_factor = 0.9f, yp.corr_low = 3, yp.corr_high = 20;
        const float base = 10000.0f, fs = yarn ? 0.25f : 1.0f;
        value_id out = yarn ? gb.rope_yarn(xi, pi, n_rot, neox ? rope_mode::neox : rope_mode::norm, base, fs, yp)
                            : gb.rope(xi, pi, n_rot, neox ? rope_mode::neox : rope_mode::norm, base, fs);
        gb.mark_output(out);
        moe_test::bound b = moe_test::bind(gb, 1);
        b.set(xi, x);
        b.set(pi, pos);
        REQUIRE(b.run().ok());
        const std::vector<float> want = b.get<float>(out);
        std::vector<float> got(want.size());
        for (int64_t t = 0; t < T; ++t)
            for (int64_t h = 0; h < H; ++h)
                rope_like_kernel(x.data() + (t * H + h) * D, got.data() + (t * H + h) * D, D, n_rot, neox, yarn,
                                 pos[static_cast<size_t>(t)], base, fs, yp.ext_factor, yp.attn_factor,
                                 static_cast<float>(yp.corr_low), static_cast<float>(yp.corr_high));
        for (size_t i = 0; i < want.size(); ++i)
            if (!moe_test::near(got[i], want[i], 1e-6, 2.0)) FAIL_CHECK(i << ": " << got[i] << " vs " << want[i]);
    }
}

// silu and swiglu: the CUDA module computes llama.cpp's CUDA form, x / (1 + expf(-x)) per element, which is the
// scalar form of the CPU reference (ggml_f32::swiglu with W = 0); the CPU kernels themselves follow llama.cpp's CPU
// backend, ggml_v_expf in W-lane chunks on x86 hosts. sigmoid and swiglu_oai are one form on both.
TEST_CASE("cuda math: silu, sigmoid, swiglu and swiglu_oai match the CPU reference kernels") {
    const int64_t R = 4, N = 300;
    moe_test::rng r(23);
    const std::vector<float> g = r.floats(static_cast<size_t>(R * N), -12, 12),
                             u = r.floats(static_cast<size_t>(R * N), -12, 12);
    graph_builder gb;
    value_id gi = gb.input("g", dtype::f32, {R, N});
    value_id ui = gb.input("u", dtype::f32, {R, N});
    value_id o_silu = gb.silu(gi), o_sig = gb.sigmoid(gi), o_sw = gb.swiglu(gi, ui),
             o_oai = gb.swiglu_oai(gi, ui, 1.702f, 7.0f);
    for (value_id v : {o_silu, o_sig, o_sw, o_oai}) gb.mark_output(v);
    moe_test::bound b = moe_test::bind(gb, 1);
    b.set(gi, g);
    b.set(ui, u);
    REQUIRE(b.run().ok());
    const std::vector<float> silu = b.get<float>(o_silu), sig = b.get<float>(o_sig), sw = b.get<float>(o_sw),
                             oai = b.get<float>(o_oai);
    std::vector<float> silu_scalar(g.size()), sw_scalar(g.size());
    moe::cpu::ggml_f32::swiglu(0, g.data(), nullptr, silu_scalar.data(), 0, R * N);
    moe::cpu::ggml_f32::swiglu(0, g.data(), u.data(), sw_scalar.data(), 0, R * N);
    const int W = moe::cpu::ggml_f32::lanes();
    std::vector<float> silu_host(g.size()), sw_host(g.size());
    for (int64_t row = 0; row < R; ++row) {
        const int64_t o = row * N, n_vec = W ? N / W * W : 0;
        moe::cpu::ggml_f32::swiglu(W, g.data() + o, nullptr, silu_host.data() + o, n_vec, N);
        moe::cpu::ggml_f32::swiglu(W, g.data() + o, u.data() + o, sw_host.data() + o, n_vec, N);
    }
    CHECK(silu == silu_host);  // the CPU kernels give the host's form
    CHECK(sw == sw_host);
    for (size_t i = 0; i < g.size(); ++i) {
        CHECK(mc::silu(g[i]) == silu_scalar[i]);
        CHECK(mc::sigmoid(g[i]) == sig[i]);
        CHECK(mc::swiglu(g[i], u[i]) == sw_scalar[i]);
        CHECK(mc::swiglu_oai(g[i], u[i], 1.702f, 7.0f) == oai[i]);
    }
}

TEST_CASE("cuda math: the YaRN ramp is ggml's") {
    CHECK(mc::yarn_ramp(3, 20, 0) == 1.0f);
    CHECK(mc::yarn_ramp(3, 20, 3) == 1.0f);
    CHECK(mc::yarn_ramp(3, 20, 20) == 0.0f);
    CHECK(mc::yarn_ramp(3, 20, 40) == 0.0f);
    CHECK(std::fabs(mc::yarn_ramp(3, 20, 11) - (1.0f - 8.0f / 17.0f)) < 1e-7f);
    CHECK(mc::yarn_ramp(5, 5, 5) == 1.0f);  // an empty ramp (high == low) divides by 0.001, as ggml
}

namespace {

// k_mm's float order on the host: lane l adds the terms of units l, l + 32, ... in order, then the warp's butterfly
// (__shfl_xor_sync with 16, 8, 4, 2, 1) sums the lanes; lane 0's value is written.
float warp_order_dot(uint32_t wt, const uint8_t* w, const uint8_t* act, const float* actf, int64_t k) {
    const int be = mc::block_elems(wt), bb = mc::block_bytes(wt);
    const int64_t nb = k / be;
    const int upb = mc::units_per_block(wt);
    float lane[32] = {};
    for (int l = 0; l < 32; ++l) {
        for (int64_t u = l; u < nb * upb; u += 32) {
            const int64_t b = u / upb;
            const int j = static_cast<int>(u % upb);
            const uint8_t* wb = w + b * bb;
            float term;
            switch (wt) {
            case mc::t_q4_0: term = mc::block_dot_q4_0(wb, reinterpret_cast<const mc::blk_q8_0*>(act)[b]); break;
            case mc::t_q8_0: term = mc::block_dot_q8_0(wb, reinterpret_cast<const mc::blk_q8_0*>(act)[b]); break;
            case mc::t_q4_k: term = mc::unit_dot_q4_k(wb, reinterpret_cast<const mc::blk_q8_k*>(act)[b], j); break;
            case mc::t_q6_k: term = mc::unit_dot_q6_k(wb, reinterpret_cast<const mc::blk_q8_k*>(act)[b], j); break;
            default: term = mc::mul_rn(mc::dequant(wt, wb, 0), actf[b]);
            }
            lane[l] += term;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float next[32];
        for (int l = 0; l < 32; ++l) next[l] = lane[l] + lane[l ^ o];
        for (int l = 0; l < 32; ++l) lane[l] = next[l];
    }
    return lane[0];
}

}  // namespace

// moe_cuda_op_tests allows MUL_MAT* a max |gpu - cpu| of 2e-5 times max |cpu|. This checks that bound on the host
// with the kernel's exact summation order (warp_order_dot) against the CPU reference, at model widths.
TEST_CASE("cuda math: the matmul kernel's summation order stays within the op tests' tolerance") {
    moe_test::rng r(41);
    for (dtype t : weight_types) {
        const uint32_t wt = static_cast<uint32_t>(t);
        for (int64_t k : {1024, 2048, 4096}) {
            CAPTURE(dtype_name(t));
            CAPTURE(k);
            const int64_t n = 48;
            const std::vector<float> x = r.floats(static_cast<size_t>(k), -2, 2);
            std::vector<uint8_t> act(row_bytes(cpu::dot_type(t), k));
            cpu::convert_activation(t, x.data(), act.data(), k);
            std::vector<float> xf(static_cast<size_t>(k));
            for (int64_t i = 0; i < k; ++i) xf[static_cast<size_t>(i)] = mc::act_round(wt, x[static_cast<size_t>(i)]);
            double diff = 0, mag = 0;
            for (int64_t row = 0; row < n; ++row) {
                const std::vector<uint8_t> w = make_row(t, k, static_cast<uint64_t>(100 + row));
                const float want = cpu::vec_dot(t, w.data(), act.data(), k);
                const float got = warp_order_dot(wt, w.data(), act.data(), xf.data(), k);
                diff = std::max(diff, std::fabs(static_cast<double>(got) - want));
                mag = std::max(mag, std::fabs(static_cast<double>(want)));
            }
            CHECK(diff <= 2e-5 * mag);
            MESSAGE(std::string(dtype_name(t)) << " k=" << k << ": max rel err " << diff / mag);
        }
    }
}
