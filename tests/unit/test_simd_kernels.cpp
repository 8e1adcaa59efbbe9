// test_simd_kernels.cpp — the SIMD kernels (backends/cpu/simd) against the reference (backends/cpu/ref), bit for bit:
// for every ISA this CPU runs x every type with a kernel x several lengths, activation bytes and dot products.
#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/ref/vec_dot.hpp"
#include "backends/cpu/ref/expf_ref.hpp"
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/softmax_ref.hpp"
#include "backends/cpu/simd/simd.hpp"

#include "test_support.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace moe;
namespace simd = moe::cpu::simd;

namespace {

std::vector<simd::isa> simd_levels() {
    std::vector<simd::isa> out;
    for (simd::isa l : {simd::isa::avx2, simd::isa::avx512, simd::isa::neon})
        if (simd::table_for(l) != nullptr) out.push_back(l);
    return out;
}

const dtype k_types[] = {dtype::f32,  dtype::f16,  dtype::q4_0, dtype::q4_1, dtype::q5_0,   dtype::q5_1,
                         dtype::q8_0, dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k,   dtype::q6_k,
                         dtype::iq4_nl, dtype::iq4_xs, dtype::mxfp4};

// Same float, or both NaN.
bool same(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    uint32_t ua, ub;
    std::memcpy(&ua, &a, 4);
    std::memcpy(&ub, &b, 4);
    return ua == ub;
}

enum class fill { normal, zeros, large, spiky };

std::vector<float> floats(moe_test::rng& g, int64_t n, fill f) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        float v = static_cast<float>(g.uniform() * 2.0 - 1.0);
        if (f == fill::zeros) v = (i % 7 == 0) ? v : 0.0f;           // mostly zero, whole zero blocks too
        if (f == fill::large) v *= 3.0e4f;                         // large magnitudes (f16 still finite)
        if (f == fill::spiky && g.next() % 16 == 0) v *= 1000.0f;  // outliers dominate a block's scale
        x[static_cast<size_t>(i)] = v;
    }
    if (f == fill::zeros)
        for (int64_t i = 0; i < n && i < 300; ++i) x[static_cast<size_t>(i)] = 0.0f;
    return x;
}

// Raw random blocks with sane scales: every byte pattern of the quants (q8_0 values of -128 included).
std::vector<uint8_t> raw_weights(moe_test::rng& g, dtype t, int64_t rows, int64_t k) {
    const size_t rb = row_bytes(t, k);
    std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
    for (uint8_t& b : w) b = static_cast<uint8_t>(g.next());
    const size_t bb = traits(t).block_bytes;
    auto scale = [&](size_t off) {  // an fp16 scale in [2^-10, 2)
        const uint16_t h = f32_to_fp16(static_cast<float>(g.uniform() * 2.0 + 1.0 / 1024));
        std::memcpy(w.data() + off, &h, 2);
    };
    for (size_t o = 0; o < w.size(); o += bb) {
        switch (t) {
        case dtype::q4_0: case dtype::q5_0: case dtype::q8_0: case dtype::iq4_nl: case dtype::iq4_xs: scale(o); break;
        case dtype::q4_1: case dtype::q5_1: case dtype::q4_k: case dtype::q5_k: scale(o); scale(o + 2); break;
        case dtype::q2_k: scale(o + 80); scale(o + 82); break;
        case dtype::q3_k: scale(o + 108); break;
        case dtype::q6_k: scale(o + 208); break;
        case dtype::mxfp4: w[o] = static_cast<uint8_t>(100 + g.next() % 56); break;
        default: break;
        }
    }
    if (t == dtype::f16) {
        for (size_t o = 0; o < w.size(); o += 2) scale(o);
    } else if (t == dtype::f32) {
        for (size_t o = 0; o < w.size(); o += 4) {
            const float v = static_cast<float>(g.uniform() * 2.0 - 1.0);
            std::memcpy(w.data() + o, &v, 4);
        }
    }
    return w;
}

std::vector<uint8_t> quantized_weights(moe_test::rng& g, dtype t, int64_t rows, int64_t k) {
    const size_t rb = row_bytes(t, k);
    std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> x = floats(g, k, r % 3 == 0 ? fill::spiky : fill::normal);
        REQUIRE(quantize_row_reference(t, x.data(), w.data() + static_cast<size_t>(r) * rb, k).ok());
    }
    return w;
}

std::vector<int64_t> lengths(dtype t) {
    const int64_t bs = traits(t).block_size;
    if (bs == 1) return {1, 3, 4, 5, 7, 8, 12, 13, 16, 17, 24, 100, 257, 4096};
    if (bs == 32) return {32, 64, 96, 256, 288, 480, 4096, 16480};  // 16480: past the q4_0 tiles' block chunks
    return {256, 512, 768, 4096};
}

// Compares the active table's tile with the reference tile for rows x na activation rows, and for the first 1, 2,
// 3 and 6 of them over rows [3, rows) (the kernels pick their register tiles by the activation count).
void check_tile(dtype t, const std::vector<uint8_t>& w, int64_t rows, int64_t k, const std::vector<uint8_t>& act,
                int na) {
    const size_t arb = row_bytes(cpu::dot_type(t), k), wrb = row_bytes(t, k);
    std::vector<const uint8_t*> a(static_cast<size_t>(na));
    for (int i = 0; i < na; ++i) a[static_cast<size_t>(i)] = act.data() + static_cast<size_t>(i) * arb;
    int bad = 0;
    for (int n : {na, 1, 2, 3, 6}) {
        if (n > na) continue;
        const int64_t r0 = n == na ? 0 : 3;
        std::vector<float> got(static_cast<size_t>(rows * n), -1.0f), want(got.size(), -1.0f);
        std::vector<float*> og(static_cast<size_t>(n)), ow(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            og[static_cast<size_t>(i)] = got.data() + i * rows;
            ow[static_cast<size_t>(i)] = want.data() + i * rows;
        }
        simd::tile(t, w.data(), wrb, r0, rows, a.data(), n, og.data(), k);
        simd::ref_tile(t, w.data(), wrb, r0, rows, a.data(), n, ow.data(), k);
        for (size_t i = 0; i < got.size(); ++i) {
            if (!same(got[i], want[i]) && bad++ < 3) {
                MESSAGE(n << " acts, row " << i % static_cast<size_t>(rows) << " act " << i / static_cast<size_t>(rows)
                          << ": simd " << got[i] << " ref " << want[i]);
            }
        }
    }
    CHECK(bad == 0);
}

struct isa_guard {
    simd::isa saved = simd::active().level;
    ~isa_guard() { simd::set_isa(saved); }
};

}  // namespace

TEST_CASE("simd: the ISA levels resolve and can be forced down") {
    isa_guard guard;
    CHECK(simd::table_for(simd::isa::ref) != nullptr);
    CHECK(cpu_backend::set_isa(simd::isa::ref));
    CHECK(cpu_backend::isa() == simd::isa::ref);
    CHECK(simd::set_isa(simd::best_isa()));
    CHECK(simd::active().level == simd::best_isa());
    simd::isa parsed;
    CHECK(simd::parse_isa("avx512", parsed));
    CHECK(parsed == simd::isa::avx512);
    CHECK_FALSE(simd::parse_isa("sse9", parsed));
    MESSAGE("best ISA on this CPU: " << std::string(simd::isa_name(simd::best_isa())));
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(simd::table_for(simd::isa::avx2));
#elif defined(__aarch64__)
    CHECK(simd::table_for(simd::isa::neon));  // every ARMv8-A core has NEON (the sdot build where it has dotprod)
#endif
}

TEST_CASE("simd: activation conversion is byte-identical to the reference") {
    isa_guard guard;
    for (simd::isa level : simd_levels()) {
        const std::string level_name = simd::isa_name(level);
        CAPTURE(level_name);
        REQUIRE(simd::set_isa(level));
        moe_test::rng g(11);
        for (dtype t : {dtype::q8_0, dtype::q4_1, dtype::q4_k}) {  // q8_0, q8_1, q8_k activations
            CAPTURE(dtype_name(t));
            for (fill f : {fill::normal, fill::zeros, fill::large, fill::spiky}) {
                for (int64_t k : {256, 512, 4096}) {
                    std::vector<float> x = floats(g, k, f);
                    if (f == fill::spiky) x[5] = -x[200] * 2.0f, x[6] = -x[5];  // equal magnitudes, both signs
                    const size_t rb = row_bytes(cpu::dot_type(t), k);
                    std::vector<uint8_t> got(rb, 1), want(rb, 2);
                    simd::convert_activation(t, x.data(), got.data(), k);
                    cpu::convert_activation(t, x.data(), want.data(), k);
                    CHECK(std::memcmp(got.data(), want.data(), rb) == 0);
                }
            }
            std::vector<float> x = floats(g, 256, fill::normal);  // non-finite values convert the same way too
            x[3] = NAN, x[40] = INFINITY, x[77] = -INFINITY;
            const size_t rb = row_bytes(cpu::dot_type(t), 256);
            std::vector<uint8_t> got(rb, 1), want(rb, 2);
            simd::convert_activation(t, x.data(), got.data(), 256);
            cpu::convert_activation(t, x.data(), want.data(), 256);
            CHECK(std::memcmp(got.data(), want.data(), rb) == 0);
        }
    }
}

TEST_CASE("simd: the attention helpers (f32 dot, axpy, and over rows) equal the reference bit for bit") {
    isa_guard guard;
    for (simd::isa level : simd_levels()) {
        const std::string level_name = simd::isa_name(level);
        CAPTURE(level_name);
        REQUIRE(simd::set_isa(level));
        moe_test::rng g(77);
        for (int64_t n : {1, 3, 4, 7, 8, 9, 16, 31, 64, 100, 128, 576, 4099}) {
            CAPTURE(n);
            const std::vector<float> x = floats(g, n, fill::normal), y = floats(g, n, fill::spiky);
            CHECK(same(simd::dot_f32(x.data(), y.data(), n), cpu::dot(x.data(), y.data(), n)));
            std::vector<float> got = y, want = y;
            simd::axpy_f32(-0.37f, x.data(), got.data(), n);
            for (int64_t i = 0; i < n; ++i) want[static_cast<size_t>(i)] += -0.37f * x[static_cast<size_t>(i)];
            int bad = 0;
            for (size_t i = 0; i < got.size(); ++i) bad += same(got[i], want[i]) ? 0 : 1;
            CHECK(bad == 0);
            // several rows `stride` apart (a KV head's keys and values): 0 .. 9 rows, four at a time plus a rest
            for (int64_t rows : {0, 1, 4, 9, 17}) {
                CAPTURE(rows);
                const int64_t stride = n + 5;
                const std::vector<float> m = floats(g, rows * stride + 1, fill::spiky), p = floats(g, rows + 1, fill::normal);
                std::vector<float> dots(static_cast<size_t>(rows) + 1, -1.0f);
                simd::dot_f32_rows(x.data(), m.data(), stride, rows, n, dots.data());
                std::vector<float> acc = y, acc_want = y;
                simd::axpy_f32_rows(p.data(), m.data(), stride, rows, n, acc.data());
                bad = 0;
                for (int64_t j = 0; j < rows; ++j) {
                    bad += same(dots[static_cast<size_t>(j)], cpu::dot(x.data(), m.data() + j * stride, n)) ? 0 : 1;
                    for (int64_t i = 0; i < n; ++i)
                        acc_want[static_cast<size_t>(i)] += p[static_cast<size_t>(j)] * m[static_cast<size_t>(j * stride + i)];
                }
                for (size_t i = 0; i < acc.size(); ++i) bad += same(acc[i], acc_want[i]) ? 0 : 1;
                CHECK(dots[static_cast<size_t>(rows)] == -1.0f);  // nothing written past the rows
                CHECK(bad == 0);
                // the same keys against 1 .. 6 queries at once (several per pass, and the rest one by one)
                for (int nx : {1, 5, 6}) {
                    CAPTURE(nx);
                    std::vector<std::vector<float>> qs, outs;
                    std::vector<const float*> qp;
                    std::vector<float*> op;
                    for (int i = 0; i < nx; ++i) {
                        qs.push_back(floats(g, n, fill::normal));
                        outs.emplace_back(static_cast<size_t>(rows) + 1, -1.0f);
                    }
                    for (int i = 0; i < nx; ++i) qp.push_back(qs[static_cast<size_t>(i)].data());
                    for (int i = 0; i < nx; ++i) op.push_back(outs[static_cast<size_t>(i)].data());
                    simd::dot_f32_rows_multi(qp.data(), nx, m.data(), stride, rows, n, op.data());
                    bad = 0;
                    for (int i = 0; i < nx; ++i) {
                        const float* o = op[static_cast<size_t>(i)];
                        for (int64_t j = 0; j < rows; ++j)
                            bad += same(o[j], cpu::dot(qp[static_cast<size_t>(i)], m.data() + j * stride, n)) ? 0 : 1;
                        bad += o[rows] == -1.0f ? 0 : 1;
                    }
                    CHECK(bad == 0);
                }
            }
        }
    }
}

TEST_CASE("simd: llama.cpp's f32 orders (MLA attention's dots and value sums) equal the scalar re-enactments") {
    isa_guard guard;
    for (simd::isa level : simd_levels()) {
        const std::string level_name = simd::isa_name(level);
        CAPTURE(level_name);
        REQUIRE(simd::set_isa(level));
        moe_test::rng g(91);
        for (int W : {8, 16}) {
            CAPTURE(W);
            for (int64_t n : {1, 7, 16, 31, 64, 100, 576, 1001}) {  // tails past the 4W steps and the W chunks
                CAPTURE(n);
                const std::vector<float> x = floats(g, n, fill::normal), y = floats(g, n, fill::spiky);
                CHECK(same(simd::ggml_dot(W, x.data(), y.data(), n), cpu::ggml_f32::dot(W, x.data(), y.data(), n)));
                CHECK(same(simd::ggml_dot_tile(W, x.data(), y.data(), n),
                           cpu::ggml_f32::dot_tile(W, x.data(), y.data(), n)));
                // 5 queries against 7 rows (pairs of queries, pairs of rows, and the rests)
                const int64_t stride = n + 3, rows = 7;
                const std::vector<float> m = floats(g, rows * stride, fill::spiky), qs = floats(g, 5 * n, fill::normal);
                std::vector<float> res(static_cast<size_t>(5 * rows));
                const float* qp[5];
                float* rp[5];
                for (int i = 0; i < 5; ++i) qp[i] = qs.data() + i * n, rp[i] = res.data() + i * rows;
                simd::ggml_dot_rows_multi(W, qp, 5, m.data(), stride, rows, n, rp);
                int bad = 0;
                for (int i = 0; i < 5; ++i)
                    for (int64_t j = 0; j < rows; ++j)
                        bad += same(rp[i][j], cpu::ggml_f32::dot(W, m.data() + j * stride, qp[i], n)) ? 0 : 1;
                CHECK(bad == 0);
            }
            // value sums over n rows of a cache (row stride past dv), dv with and without an eight-output tail
            for (int64_t n : {1, 5, 17, 64, 130, 600}) {  // 600: past a 256-row block
                for (int64_t dv : {4, 12, 64, 512}) {
                    CAPTURE(n);
                    CAPTURE(dv);
                    const int64_t stride = dv + 64;
                    const std::vector<float> v = floats(g, n * stride, fill::spiky), p = floats(g, n, fill::normal);
                    for (bool tile : {false, true}) {
                        CAPTURE(tile);
                        std::vector<float> acc(static_cast<size_t>(4 * W * dv)), got(static_cast<size_t>(dv)),
                            want(static_cast<size_t>(dv));
                        simd::ggml_weighted_rows(W, tile, p.data(), v.data(), stride, n, dv, got.data(), acc.data());
                        cpu::ggml_f32::weighted_rows(W, tile, p.data(), v.data(), stride, n, dv, want.data(), acc.data());
                        int bad = 0;
                        for (size_t d = 0; d < got.size(); ++d) bad += same(got[d], want[d]) ? 0 : 1;
                        CHECK(bad == 0);
                    }
                    // three queries over the same rows, n, n - 3 and 1 of them (tinyBLAS's order only)
                    const int64_t ns[3] = {n, n > 3 ? n - 3 : 1, 1};
                    const std::vector<float> ps = floats(g, 3 * n, fill::normal);
                    std::vector<float> acc(static_cast<size_t>((4 * W + 256) * 16 + 4 * W * dv));
                    std::vector<float> got(static_cast<size_t>(3 * dv)), want(got.size());
                    const float* pp[3] = {ps.data(), ps.data() + n, ps.data() + 2 * n};
                    float* op[3] = {got.data(), got.data() + dv, got.data() + 2 * dv};
                    simd::ggml_weighted_rows_multi(W, pp, ns, 3, v.data(), stride, dv, op, acc.data());
                    for (int i = 0; i < 3; ++i)
                        cpu::ggml_f32::weighted_rows(W, true, pp[i], v.data(), stride, ns[i], dv, want.data() + i * dv,
                                                     acc.data());
                    int bad = 0;
                    for (size_t d = 0; d < got.size(); ++d) bad += same(got[d], want[d]) ? 0 : 1;
                    CHECK(bad == 0);
                }
            }
            // decoding's MLA: every head of a token over the same rows in the one-query order, float and binary16
            // rows (past one and two 512-row blocks; outputs with a part-chunk; 8 + 2 + 1 queries)
            for (int64_t n : {1, 70, 600, 1100}) {
                for (int64_t dv : {12, 40, 512}) {
                    for (int nq : {1, 3, 11}) {
                        CAPTURE(n);
                        CAPTURE(dv);
                        CAPTURE(nq);
                        const int64_t stride = dv + 64;
                        std::vector<float> v = floats(g, n * stride, fill::spiky);
                        std::vector<uint16_t> h(v.size());
                        for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_fp16(v[i]), v[i] = fp16_to_f32(h[i]);
                        const std::vector<float> ps = floats(g, nq * n, fill::normal);
                        std::vector<float> acc(static_cast<size_t>(simd::ggml_weighted_vec_acc_floats(nq, dv)));
                        std::vector<float> got(static_cast<size_t>(nq * dv)), goth(got.size()), want(got.size());
                        std::vector<const float*> pp(static_cast<size_t>(nq));
                        std::vector<float*> op(pp.size()), oph(pp.size());
                        for (int i = 0; i < nq; ++i) {
                            pp[static_cast<size_t>(i)] = ps.data() + i * n;
                            op[static_cast<size_t>(i)] = got.data() + i * dv;
                            oph[static_cast<size_t>(i)] = goth.data() + i * dv;
                            cpu::ggml_f32::weighted_rows(W, false, pp[static_cast<size_t>(i)], v.data(), stride, n, dv,
                                                         want.data() + i * dv, acc.data());
                        }
                        simd::ggml_weighted_rows_vec_multi(W, pp.data(), nq, v.data(), stride, n, dv, op.data(),
                                                           acc.data());
                        simd::ggml_weighted_rows_vec_multi_f16(W, pp.data(), nq, h.data(), stride, n, dv, oph.data(),
                                                               acc.data());
                        int bad = 0, badh = 0;
                        for (size_t d = 0; d < got.size(); ++d) {
                            bad += same(got[d], want[d]) ? 0 : 1;
                            badh += same(goth[d], want[d]) ? 0 : 1;
                        }
                        CHECK(bad == 0);
                        CHECK(badh == 0);
                    }
                }
            }
        }
    }
}

TEST_CASE("simd: every kernel equals the reference vec_dot bit for bit") {
    isa_guard guard;
    for (simd::isa level : simd_levels()) {
        const std::string level_name = simd::isa_name(level);
        CAPTURE(level_name);
        REQUIRE(simd::set_isa(level));
        for (dtype t : k_types) {
            if (simd::active().tile[static_cast<int>(t)] == nullptr) continue;
            CAPTURE(dtype_name(t));
            moe_test::rng g(static_cast<uint64_t>(t) + 100);
            for (int64_t k : lengths(t)) {
                CAPTURE(k);
                const int64_t rows = 19;
                const int na = 11;  // a group of eight and a group of three (check_tile also runs 1, 2, 3, 6)
                for (int src = 0; src < 2; ++src) {
                    const bool quantized = src == 1 && traits(t).block_size > 1;
                    CAPTURE(quantized);
                    const std::vector<uint8_t> w =
                        quantized ? quantized_weights(g, t, rows, k) : raw_weights(g, t, rows, k);
                    const size_t arb = row_bytes(cpu::dot_type(t), k);
                    std::vector<uint8_t> act(arb * na);
                    for (int i = 0; i < na; ++i) {
                        const fill f =
                            i == 0 ? fill::zeros : i == 1 ? fill::large : i == 2 ? fill::spiky : fill::normal;
                        const std::vector<float> x = floats(g, k, f);
                        cpu::convert_activation(t, x.data(), act.data() + static_cast<size_t>(i) * arb, k);
                    }
                    check_tile(t, w, rows, k, act, na);
                    if (cpu::dot_type(t) == dtype::q8_0 || cpu::dot_type(t) == dtype::q8_k) {
                        // raw activation blocks: every int8 value, -128 included
                        std::vector<uint8_t> raw(arb * na);
                        for (uint8_t& byte : raw) byte = static_cast<uint8_t>(g.next());
                        const size_t bb = cpu::dot_type(t) == dtype::q8_0 ? 34 : 292;
                        for (size_t o = 0; o + bb <= raw.size(); o += bb) {  // sane scales
                            if (bb == 34) {
                                const uint16_t h = f32_to_fp16(0.01f);
                                std::memcpy(raw.data() + o, &h, 2);
                            } else {
                                const float d = 0.01f;
                                std::memcpy(raw.data() + o, &d, 4);
                            }
                        }
                        check_tile(t, w, rows, k, raw, na);
                    }
                }
            }
        }
    }
}

namespace {

// Runs mul_mat (R rows) and mul_mat_id (T tokens, U slots of E experts) on 2 threads under the active level.
std::vector<float> run_matmuls(dtype t, const std::vector<uint8_t>& w, const std::vector<uint8_t>& we,
                               const std::vector<float>& x, const std::vector<float>& xe,
                               const std::vector<int32_t>& ids, int64_t R, int64_t n, int64_t k, int64_t E, int64_t T,
                               int64_t U) {
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {R, k});
    value_id wi = gb.weight("w", t, {n, k}, w.data());
    value_id xe_i = gb.input("xe", dtype::f32, {T, 1, k});
    value_id we_i = gb.weight("experts", t, {E, n, k}, we.data());
    value_id ii = gb.input("ids", dtype::i32, {T, U});
    value_id o1 = gb.mul_mat(xi, wi);
    value_id o2 = gb.mul_mat_id(xe_i, we_i, ii);
    gb.mark_output(o1);
    gb.mark_output(o2);
    moe_test::bound b = moe_test::bind(gb, 2);
    b.set(xi, x);
    b.set(xe_i, xe);
    b.set(ii, ids);
    REQUIRE(b.run().ok());
    std::vector<float> out = b.get<float>(o1);
    const std::vector<float> out2 = b.get<float>(o2);
    out.insert(out.end(), out2.begin(), out2.end());
    return out;
}

}  // namespace

TEST_CASE("simd: mul_mat and mul_mat_id give the reference's bits on every ISA") {
    isa_guard guard;
    const int64_t R = 11, n = 40, k = 512, E = 6, T = 9, U = 2;
    for (dtype t : k_types) {
        CAPTURE(dtype_name(t));
        moe_test::rng g(static_cast<uint64_t>(t) + 7);
        const std::vector<uint8_t> w = quantized_weights(g, t, n, k), we = quantized_weights(g, t, E * n, k);
        const std::vector<float> x = floats(g, R * k, fill::spiky), xe = floats(g, T * k, fill::normal);
        std::vector<int32_t> ids(static_cast<size_t>(T * U));
        for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7 + i / 3) % 5);  // expert 5 unused
        REQUIRE(simd::set_isa(simd::isa::ref));
        const std::vector<float> want = run_matmuls(t, w, we, x, xe, ids, R, n, k, E, T, U);
        for (simd::isa level : simd_levels()) {
            const std::string level_name = simd::isa_name(level);
            CAPTURE(level_name);
            REQUIRE(simd::set_isa(level));
            const std::vector<float> got = run_matmuls(t, w, we, x, xe, ids, R, n, k, E, T, U);
            REQUIRE(got.size() == want.size());
            int bad = 0;
            for (size_t i = 0; i < got.size(); ++i) bad += same(got[i], want[i]) ? 0 : 1;
            CHECK(bad == 0);
        }
    }
}

TEST_CASE("simd: q4_k in llama.cpp's GEMM order equals the reference's repacked_gemm path bit for bit") {
    isa_guard guard;
    for (simd::isa level : simd_levels()) {
        const std::string level_name = simd::isa_name(level);
        CAPTURE(level_name);
        REQUIRE(simd::set_isa(level));
        moe_test::rng g(777);
        for (int64_t k : lengths(dtype::q4_k)) {
            for (int na : {5, 9, 70}) {  // four and eight activation rows at a time, a padded rest; 70: past the
                CAPTURE(k);                // AVX-512 tile's 64-activation chunks, with 16-row groups and a short one
                CAPTURE(na);
                const int64_t rows = na == 70 ? 37 : 11;
                const std::vector<uint8_t> w = quantized_weights(g, dtype::q4_k, rows, k);
                const size_t arb = row_bytes(dtype::q8_k, k), wrb = row_bytes(dtype::q4_k, k);
                std::vector<uint8_t> act(arb * na);
                std::vector<const uint8_t*> a(na);
                for (int i = 0; i < na; ++i) {
                    const std::vector<float> x = floats(g, k, i == 0 ? fill::spiky : fill::normal);
                    cpu::convert_activation(dtype::q4_k, x.data(), act.data() + static_cast<size_t>(i) * arb, k);
                    a[static_cast<size_t>(i)] = act.data() + static_cast<size_t>(i) * arb;
                }
                std::vector<float> got(static_cast<size_t>(rows * na));
                std::vector<float*> o(na);
                for (int i = 0; i < na; ++i) o[static_cast<size_t>(i)] = got.data() + i * rows;
                simd::tile_q4_k_gemm(w.data(), wrb, 0, rows, a.data(), na, o.data(), k);
                int bad = 0, differs_from_gemv = 0;
                for (int i = 0; i < na; ++i)
                    for (int64_t r = 0; r < rows; ++r) {
                        const uint8_t* wr = w.data() + static_cast<size_t>(r) * wrb;
                        const uint8_t* ai = a[static_cast<size_t>(i)];
                        const float want = cpu::vec_dot(dtype::q4_k, wr, ai, k, cpu::dot_path::repacked_gemm);
                        bad += !same(o[static_cast<size_t>(i)][r], want);
                        differs_from_gemv += !same(want, cpu::vec_dot(dtype::q4_k, wr, ai, k, cpu::dot_path::repacked));
                    }
                CHECK(bad == 0);
                if (k >= 512) CHECK(differs_from_gemv > 0);  // the order is really another one
                if (na == 70) check_tile(dtype::q4_k, w, rows, k, act, na);  // the GEMV order's tiles, as many rows
            }
        }
    }
}

TEST_CASE("simd: q4_0 and q8_0 repacked eight rows at a time give the GGUF rows' bits on every ISA") {
    isa_guard guard;
    std::vector<simd::isa> levels = simd_levels();
    levels.insert(levels.begin(), simd::isa::ref);  // the scalar fallback over the packed layout
    moe_test::rng g(4040);
    for (dtype t : {dtype::q4_0, dtype::q8_0})
    for (int64_t k : lengths(t)) {
        CAPTURE(dtype_name(t));
        CAPTURE(k);
        const int64_t rows = 80;  // a 64-row block and a short one
        const int na = 11;
        for (int src = 0; src < 2; ++src) {
            const std::vector<uint8_t> w = src == 1 ? quantized_weights(g, t, rows, k) : raw_weights(g, t, rows, k);
            const size_t wrb = row_bytes(t, k), arb = row_bytes(dtype::q8_0, k);
            std::vector<uint8_t> packed(w.size()), back(8 * wrb);
            if (t == dtype::q4_0) {
                simd::repack_q4_0x8(w.data(), packed.data(), rows, k);
                for (int64_t grp = 0; grp < rows / 8; ++grp) {  // a permutation: it unpacks to the rows
                    simd::unpack_q4_0x8(packed.data(), grp, back.data(), k);
                    CHECK(std::memcmp(back.data(), w.data() + static_cast<size_t>(8 * grp) * wrb, back.size()) == 0);
                }
            } else {
                simd::repack_q8_0x8(w.data(), packed.data(), rows, k);
            }
            CHECK(packed != w);
            std::vector<uint8_t> act(arb * na);
            std::vector<const uint8_t*> a(na);
            for (int i = 0; i < na; ++i) {
                const std::vector<float> x = floats(g, k, i == 0 ? fill::zeros : i == 1 ? fill::spiky : fill::normal);
                cpu::convert_activation(t, x.data(), act.data() + static_cast<size_t>(i) * arb, k);
                a[static_cast<size_t>(i)] = act.data() + static_cast<size_t>(i) * arb;
            }
            if (src == 0) {  // raw activation blocks too: every int8 value, -128 included, with a sane scale
                for (size_t o = 0; o + 34 <= act.size(); o += 34) {
                    for (size_t q = 2; q < 34; ++q) act[o + q] = static_cast<uint8_t>(g.next());
                    const uint16_t h = f32_to_fp16(0.01f);
                    std::memcpy(act.data() + o, &h, 2);
                }
            }
            for (simd::isa level : levels) {
                const std::string level_name = simd::isa_name(level);
                CAPTURE(level_name);
                REQUIRE(simd::set_isa(level));
                int bad = 0;
                for (int n : {na, 1, 2, 3, 4, 6, 8}) {
                    const int64_t r0 = n == na ? 0 : 8;  // a range that starts at the second group
                    std::vector<float> got(static_cast<size_t>(rows * n), -1.0f), want(got.size(), -1.0f);
                    std::vector<float*> og(static_cast<size_t>(n)), ow(static_cast<size_t>(n));
                    for (int i = 0; i < n; ++i) {
                        og[static_cast<size_t>(i)] = got.data() + i * rows;
                        ow[static_cast<size_t>(i)] = want.data() + i * rows;
                    }
                    if (t == dtype::q4_0) simd::tile_q4_0x8(packed.data(), wrb, r0, rows, a.data(), n, og.data(), k);
                    else simd::tile_q8_0x8(packed.data(), wrb, r0, rows, a.data(), n, og.data(), k);
                    simd::ref_tile(t, w.data(), wrb, r0, rows, a.data(), n, ow.data(), k);
                    for (size_t i = 0; i < got.size(); ++i) bad += same(got[i], want[i]) ? 0 : 1;
                }
                CHECK(bad == 0);
            }
        }
    }
}

TEST_CASE("simd: f16 and bf16 repacked eight rows at a time give the GGUF rows' bits on every ISA") {
    isa_guard guard;
    std::vector<simd::isa> levels = simd_levels();
    levels.insert(levels.begin(), simd::isa::ref);  // the scalar fallback over the packed layout
    moe_test::rng g(5050);
    for (dtype t : {dtype::f16, dtype::bf16}) {
        CAPTURE(dtype_name(t));
        for (int64_t k : {1, 7, 64, 100, 4099}) {
            CAPTURE(k);
            const int64_t rows = 80;  // a 64-row block and a short one
            const int na = 11;
            const std::vector<uint8_t> w = raw_weights(g, t, rows, k);
            const size_t wrb = row_bytes(t, k), arb = row_bytes(cpu::dot_type(t), k);
            std::vector<uint8_t> packed(w.size());
            simd::repack_h16x8(w.data(), packed.data(), rows, k);
            std::vector<uint8_t> act(arb * na);
            std::vector<const uint8_t*> a(na);
            for (int i = 0; i < na; ++i) {
                const std::vector<float> x = floats(g, k, i == 0 ? fill::zeros : i == 1 ? fill::large : fill::normal);
                cpu::convert_activation(t, x.data(), act.data() + static_cast<size_t>(i) * arb, k);
                a[static_cast<size_t>(i)] = act.data() + static_cast<size_t>(i) * arb;
            }
            for (simd::isa level : levels) {
                const std::string level_name = simd::isa_name(level);
                CAPTURE(level_name);
                REQUIRE(simd::set_isa(level));
                int bad = 0;
                for (int n : {na, 1, 2, 3, 4, 8}) {
                    const int64_t r0 = n == na ? 0 : 8;
                    std::vector<float> got(static_cast<size_t>(rows * n), -1.0f), want(got.size(), -1.0f);
                    std::vector<float*> og(static_cast<size_t>(n)), ow(static_cast<size_t>(n));
                    for (int i = 0; i < n; ++i) {
                        og[static_cast<size_t>(i)] = got.data() + i * rows;
                        ow[static_cast<size_t>(i)] = want.data() + i * rows;
                    }
                    simd::tile_h16x8(t, packed.data(), wrb, r0, rows, a.data(), n, og.data(), k);
                    simd::ref_tile(t, w.data(), wrb, r0, rows, a.data(), n, ow.data(), k);
                    for (size_t i = 0; i < got.size(); ++i) bad += same(got[i], want[i]) ? 0 : 1;
                }
                CHECK(bad == 0);
            }
        }
    }
}

namespace {
// Every step-th float bit pattern (NaNs, infinities and subnormals among them).
std::vector<float> float_sweep(uint64_t step) {
    std::vector<float> x;
    for (uint64_t b = 0; b < (uint64_t(1) << 32); b += step) {
        float f;
        const auto bits = static_cast<uint32_t>(b);
        std::memcpy(&f, &bits, sizeof f);
        x.push_back(f);
    }
    return x;
}
}  // namespace

// The softmax's e^x (ref/expf_ref.hpp): every ISA's exp_f32 equals expf_ref bit for bit over a sweep of all float
// bit patterns (every 251st, plus the special values and the edges of its special ranges), in place and not; and
// expf_ref is an exp: within one unit in the last place of e^x computed in double.
TEST_CASE("simd: exp_f32 equals expf_ref bit for bit; expf_ref is within 1 ulp") {
    std::vector<float> x = float_sweep(251);
    for (float f : {0.0f, -0.0f, 1.0f, -1.0f, 88.0f, -88.0f, 0x1.62e42ep6f, 0x1.62e430p6f, -0x1.9fe368p6f,
                    -0x1.9fe36ap6f, -0x1.9d1d9ep6f, -0x1.9d1da0p6f, -0x1.9d1d9cp6f, -103.5f, -104.0f,
                    std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min()})
        x.push_back(f);
    std::vector<float> want(x.size());
    int far = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        want[i] = cpu::expf_ref(x[i]);
        if (std::isnan(x[i])) {
            far += std::isnan(want[i]) ? 0 : 1;
            continue;
        }
        const double e = std::exp(static_cast<double>(x[i]));
        if (e > 3.4e38 || e < 1e-45) continue;  // overflow and deep underflow: checked below
        const float lo = std::nextafter(static_cast<float>(e), 0.0f);
        const float hi = std::nextafter(static_cast<float>(e), INFINITY);
        far += want[i] >= lo && want[i] <= hi ? 0 : 1;
    }
    CHECK(far == 0);
    CHECK(cpu::expf_ref(100.0f) == INFINITY);
    CHECK(cpu::expf_ref(-200.0f) == 0.0f);
    CHECK(cpu::expf_ref(-INFINITY) == 0.0f);
    isa_guard guard;
    for (simd::isa level : simd_levels()) {
        const std::string level_name = simd::isa_name(level);
        CAPTURE(level_name);
        REQUIRE(simd::set_isa(level));
        for (int64_t off : {0, 3}) {  // whole groups of eight, and a start and tail off them
            std::vector<float> got(x.size()), inplace(x.begin(), x.end());
            const int64_t n = static_cast<int64_t>(x.size()) - off;
            simd::exp_f32(x.data() + off, got.data() + off, n);
            simd::exp_f32(inplace.data() + off, inplace.data() + off, n);
            int bad = 0;
            for (size_t i = static_cast<size_t>(off); i < x.size(); ++i)
                bad += (same(got[i], want[i]) ? 0 : 1) + (same(inplace[i], want[i]) ? 0 : 1);
            CHECK(bad == 0);
        }
    }
#if defined(__GLIBC__) && defined(__x86_64__)
    int libm = 0;  // informative: glibc's FMA build of expf computes the same operations
    for (size_t i = 0; i < x.size(); ++i) libm += same(std::exp(x[i]), want[i]) ? 0 : 1;
    MESSAGE("expf_ref vs this host's libm expf: " << libm << " of " << x.size() << " differ");
#endif
}

// SwiGLU / SiLU in llama.cpp's x86 order (ggml_f32::swiglu): the vector kernels against the scalar re-enactment, for
// both ggml_v_expf forms on every ISA, with and without u, in place, a row with a scalar tail; and the re-enactment's
// e^x within 2.5 ulp of the true value, so that it is no wild function (ggml states 1.45 ulp + 0.5 for its AVX2 /
// ARM form; the AVX-512 form rounds once more, adding the 1 before scaling: 2.04 ulp seen).
TEST_CASE("simd: ggml_swiglu equals ggml_f32::swiglu bit for bit on every ISA; v_expf is near e^x") {
    std::vector<float> x = float_sweep(4099);
    for (float f : {0.0f, -0.0f, 1.0f, -1.0f, 87.3f, -87.3f, 87.5f, -87.5f, 88.0f, -88.0f, 88.8f, -88.8f, 104.0f,
                    -104.0f, 133.0f, -133.0f, 150.0f, -150.0f, std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::denorm_min()})
        x.push_back(f);
    moe_test::rng g(77);
    const std::vector<float> u = g.floats(x.size(), -4, 4);
    const int64_t n = static_cast<int64_t>(x.size());
    int far = 0;
    for (int W : {8, 16})
        for (float v : x) {
            if (!(std::fabs(v) < 87.0f)) continue;
            const double e = std::exp(static_cast<double>(v)), got = cpu::ggml_f32::v_expf(W, v);
            if (e < 1.2e-38) continue;  // subnormal results: absolute error, not ulps
            const double ulp = std::ldexp(1.0, std::ilogb(e) - 23);
            far += std::fabs(got - e) <= 2.5 * ulp ? 0 : 1;
        }
    CHECK(far == 0);
    isa_guard guard;
    for (int W : {8, 16}) {
        CAPTURE(W);
        const int64_t n_vec = (n - 5) / W * W;  // the last 5 + elements in the scalar tail
        std::vector<float> want(x.size()), want_silu(x.size());
        cpu::ggml_f32::swiglu(W, x.data(), u.data(), want.data(), n_vec, n);
        cpu::ggml_f32::swiglu(W, x.data(), nullptr, want_silu.data(), n_vec, n);
        for (simd::isa level : simd_levels()) {
            const std::string level_name = simd::isa_name(level);
            CAPTURE(level_name);
            REQUIRE(simd::set_isa(level));
            std::vector<float> got(x.size()), silu(x.size()), inplace(x.begin(), x.end());
            simd::ggml_swiglu(W, x.data(), u.data(), got.data(), n_vec, n);
            simd::ggml_swiglu(W, x.data(), nullptr, silu.data(), n_vec, n);
            simd::ggml_swiglu(W, inplace.data(), u.data(), inplace.data(), n_vec, n);
            int bad = 0;
            for (size_t i = 0; i < x.size(); ++i)
                bad += (same(got[i], want[i]) ? 0 : 1) + (same(inplace[i], want[i]) ? 0 : 1) +
                       (same(silu[i], want_silu[i]) ? 0 : 1);
            CHECK(bad == 0);
        }
    }
}

// Attention's softmax (ref/softmax_ref.hpp) on every ISA: rows of every length up to 40 and a long one, scores that
// span e^x's range (underflow to 0, the sink the largest), -inf (masked) and NaN scores.
TEST_CASE("simd: softmax_f32 equals softmax_ref bit for bit on every ISA") {
    moe_test::rng g(91);
    std::vector<std::vector<float>> rows;
    for (int n = 1; n <= 40; ++n) rows.push_back(g.floats(static_cast<size_t>(n), -30, 30));
    rows.push_back(g.floats(4099, -200, 20));
    rows.push_back(g.floats(203, -900, 10));  // s - max below -88 (expf_ref's special cases): subnormal e^x and 0
    rows.push_back(g.floats(37, -5, 5));
    rows.back()[3] = -INFINITY, rows.back()[20] = std::numeric_limits<float>::quiet_NaN();
    // e^x near 1 and near 2^-40 side by side, so that the double sums round (a changed lane order still rarely
    // shows after 1 / sum is rounded to float: the order is written once, in softmax_ref, and shared)
    for (int n : {45, 47, 203}) {
        std::vector<float> r(static_cast<size_t>(n));
        for (int j = 0; j < n; ++j) {
            const auto f = static_cast<float>(j);
            r[static_cast<size_t>(j)] = j % 3 == 0 ? 0.1f * f : -8.0f * (27.7f + 0.013f * f);
        }
        rows.push_back(r);
    }
    const float sink = 25.0f;
    isa_guard guard;
    for (simd::isa level : simd_levels()) {
        const std::string level_name = simd::isa_name(level);
        CAPTURE(level_name);
        REQUIRE(simd::set_isa(level));
        int bad = 0;
        for (const std::vector<float>& r : rows)
            for (const float* sk : {static_cast<const float*>(nullptr), &sink}) {
                std::vector<float> got = r, want = r;
                const int64_t n = static_cast<int64_t>(r.size());
                simd::softmax_f32(got.data(), n, 0.125f, sk);
                cpu::softmax_ref(want.data(), n, 0.125f, sk);
                for (size_t j = 0; j < got.size(); ++j) bad += same(got[j], want[j]) ? 0 : 1;
            }
        CHECK(bad == 0);
    }
}
