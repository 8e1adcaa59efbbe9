// test_kernels_gpt_oss.cpp — the ops gpt-oss added (add_id, swiglu_oai, rope_yarn, attention_ext with a sliding
// window and sinks) against double-precision references written here, through single-op graphs on 1 and 2 threads.
#include "arch/blocks.hpp"
#include "arch/decoder.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace moe;
using moe_test::near;

#define MOE_THREAD_SUBCASES(n)         \
    int n = 1;                         \
    SUBCASE("1 thread") { n = 1; }     \
    SUBCASE("2 threads") { n = 2; }    \
    CAPTURE(n)

// ---- add_id ------------------------------------------------------------------------------------------------------

TEST_CASE("kernels: add_id adds each slot's expert bias row") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t T = 5, U = 3, N = 40, E = 6;
    moe_test::rng rnd(31);
    const std::vector<float> x = rnd.floats(static_cast<size_t>(T * U * N), -4, 4);
    const std::vector<float> bias = rnd.floats(static_cast<size_t>(E * N), -1, 1);
    std::vector<int32_t> ids(static_cast<size_t>(T * U));
    for (int32_t& i : ids) i = rnd.below(static_cast<int32_t>(E));
    ids[0] = 0, ids[1] = static_cast<int32_t>(E - 1);  // both ends of the table
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {T, U, N});
    value_id bi = gb.input("b", dtype::f32, {E, N});
    value_id ii = gb.input("ids", dtype::i32, {T, U});
    value_id out = gb.add_id(xi, bi, ii);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    b.set(bi, bias);
    b.set(ii, ids);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t s = 0; s < T * U; ++s)
        for (int64_t i = 0; i < N; ++i) {
            const double want = double(x[static_cast<size_t>(s * N + i)]) +
                                double(bias[static_cast<size_t>(ids[static_cast<size_t>(s)] * N + i)]);
            CHECK(near(got[static_cast<size_t>(s * N + i)], want, 1e-6, std::fabs(want) + 1e-6));
        }

    ids[4] = static_cast<int32_t>(E);  // out of range: an error, not a crash
    b.set(ii, ids);
    CHECK(b.run().code() == errc::invalid_argument);
}

TEST_CASE("kernels: add_id rejects shapes that do not fit") {
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {2, 3, 8});
    value_id bi = gb.input("b", dtype::f32, {4, 7});  // rows of 7, x rows of 8
    value_id ii = gb.input("ids", dtype::i32, {2, 3});
    CHECK(gb.add_id(xi, bi, ii) == no_value);
    CHECK(gb.finish().error().code() == errc::shape_mismatch);
}

// ---- swiglu_oai --------------------------------------------------------------------------------------------------

TEST_CASE("kernels: swiglu_oai clamps gate and up, sigmoid(alpha g), up + 1") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t R = 7, N = 48;
    const float alpha = 1.702f, limit = 7.0f;
    moe_test::rng rnd(32);
    std::vector<float> g = rnd.floats(static_cast<size_t>(R * N), -12, 12);  // well past the limit both ways
    std::vector<float> u = rnd.floats(static_cast<size_t>(R * N), -12, 12);
    g[0] = limit, u[0] = -limit, g[1] = -30.0f, u[1] = 30.0f;
    graph_builder gb;
    value_id gi = gb.input("gate", dtype::f32, {R, N});
    value_id ui = gb.input("up", dtype::f32, {R, N});
    value_id out = gb.swiglu_oai(gi, ui, alpha, limit);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(gi, g);
    b.set(ui, u);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (size_t i = 0; i < got.size(); ++i) {
        const double x = std::min(double(g[i]), double(limit));
        const double y = std::max(-double(limit), std::min(double(u[i]), double(limit)));
        const double want = x / (1.0 + std::exp(-double(alpha) * x)) * (y + 1.0);
        CHECK(near(got[i], want, 1e-6, std::fabs(want) + 1.0));
    }
    // x = 7 exactly, up = -7: 7 * sigmoid(11.914) * (-6)
    CHECK(near(got[0], 7.0 / (1.0 + std::exp(-1.702 * 7.0)) * -6.0, 1e-6, 42.0));
}

// ---- rope_yarn ---------------------------------------------------------------------------------------------------

namespace {
// ggml's rope_yarn in double: theta mixes freq_scale * theta_extrap and theta_extrap by the ramp.
double yarn_theta(double pos, int64_t pair, int64_t n_rot, double base, double fs, const rope_yarn_params& y) {
    const double theta_extrap = pos * std::pow(base, -2.0 * double(pair) / double(n_rot));
    const double theta_interp = fs * theta_extrap;
    if (y.ext_factor == 0.0f) return theta_interp;
    const double r = (double(pair) - double(y.corr_low)) / std::max(0.001, double(y.corr_high - y.corr_low));
    const double mix = (1.0 - std::min(1.0, std::max(0.0, r))) * y.ext_factor;
    return theta_interp * (1 - mix) + theta_extrap * mix;
}
double yarn_mscale(double fs, const rope_yarn_params& y) {
    return y.ext_factor != 0.0f ? y.attn_factor * (1.0 + 0.1 * std::log(1.0 / fs)) : y.attn_factor;
}
}  // namespace

TEST_CASE("kernels: rope_yarn, both layouts, ramp between extrapolation and interpolation") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t T = 5, H = 3, D = 24;
    const std::vector<int32_t> pos = {0, 1, 7, 19, 37};
    moe_test::rng rnd(33);
    const std::vector<float> x = rnd.floats(static_cast<size_t>(T * H * D), -2, 2);
    rope_yarn_params yarn;
    yarn.ext_factor = 1.0f, yarn.attn_factor = 0.9f, yarn.corr_low = 2, yarn.corr_high = 6;
    rope_yarn_params plain;  // ext_factor 0: interpolation only, magnitude attn_factor
    plain.attn_factor = 1.25f;
    for (rope_mode mode : {rope_mode::norm, rope_mode::neox})
        for (int64_t n_rot : {D, int64_t(16)})
            for (const rope_yarn_params& y : {yarn, plain}) {
                CAPTURE(static_cast<int>(mode));
                CAPTURE(n_rot);
                CAPTURE(y.ext_factor);
                const float base = 10000.0f, fs = 0.25f;
                graph_builder gb;
                value_id xi = gb.input("x", dtype::f32, {T, H, D});
                value_id pi = gb.input("pos", dtype::i32, {T});
                value_id out = gb.rope_yarn(xi, pi, n_rot, mode, base, fs, y);
                gb.mark_output(out);
                moe_test::bound b = moe_test::bind(gb, nt);
                b.set(xi, x);
                b.set(pi, pos);
                REQUIRE(b.run().ok());
                const std::vector<float> got = b.get<float>(out);
                const double m = yarn_mscale(fs, y);
                for (int64_t t = 0; t < T; ++t)
                    for (int64_t h = 0; h < H; ++h) {
                        const size_t o = static_cast<size_t>((t * H + h) * D);
                        for (int64_t i = 0; i < n_rot / 2; ++i) {
                            const double th = yarn_theta(pos[static_cast<size_t>(t)], i, n_rot, base, fs, y);
                            const size_t i0 = o + static_cast<size_t>(mode == rope_mode::neox ? i : 2 * i);
                            const size_t i1 =
                                o + static_cast<size_t>(mode == rope_mode::neox ? i + n_rot / 2 : 2 * i + 1);
                            const double x0 = x[i0], x1 = x[i1], mag = (std::fabs(x0) + std::fabs(x1)) * m;
                            CHECK(near(got[i0], (x0 * std::cos(th) - x1 * std::sin(th)) * m, 2e-5, mag));
                            CHECK(near(got[i1], (x0 * std::sin(th) + x1 * std::cos(th)) * m, 2e-5, mag));
                        }
                        for (int64_t i = n_rot; i < D; ++i)
                            CHECK(got[o + static_cast<size_t>(i)] == x[o + static_cast<size_t>(i)]);  // untouched tail
                    }
            }
}

TEST_CASE("yarn: correction dims and attention factor as llama.cpp derives them") {
    yarn_params y;  // gpt-oss: factor 32 over a 4096-token training context, base 150000, 64 rotated dims
    y.ext_factor = 1.0f, y.n_ctx_orig = 4096;
    y.attn_factor = yarn_attn_factor(1.0f / 32.0f, 1.0f, 0.0f);
    const rope_yarn_params r = yarn_rope_params(y, 64, 150000.0f);
    // 64 ln(4096 / (32 * 2 pi)) / (2 ln 150000) = 8.09 -> floor 8; with beta 1: 17.4 -> ceil 18
    CHECK(r.corr_low == 8);
    CHECK(r.corr_high == 18);
    // get_mscale(32) / (1 + 0.1 ln 32): the two cancel, rope_yarn multiplies the second back in
    CHECK(std::fabs(r.attn_factor - 1.0f) < 1e-6f);
    CHECK(r.ext_factor == 1.0f);
    // DeepSeek-style yarn_log_multiplier: get_mscale(f, 1) / get_mscale(f, 0.707) / (1 + 0.1 ln f)
    const double f = 40.0, lf = std::log(f);
    const double want = (0.1 * lf + 1.0) / (0.1 * 0.707 * lf + 1.0) / (1.0 + 0.1 * lf);
    CHECK(std::fabs(yarn_attn_factor(1.0f / 40.0f, 1.0f, 0.707f) - want) < 1e-6);
    // a short training context: both dims clamp into [0, n_rot - 1]
    y.n_ctx_orig = 16;
    const rope_yarn_params s = yarn_rope_params(y, 32, 10000.0f);
    CHECK(s.corr_low == 0);
    CHECK(s.corr_high <= 31);
}

// ---- attention_ext -----------------------------------------------------------------------------------------------

namespace {

struct swa_case {
    int64_t T = 4, Hq = 4, Hkv = 2, Dk = 8, Dv = 6, C = 12, n_past = 5;
    std::vector<float> q, k, v, kc0, vc0, sinks;
    explicit swa_case(uint64_t seed) {
        moe_test::rng rnd(seed);
        q = rnd.floats(static_cast<size_t>(T * Hq * Dk), -1.5f, 1.5f);
        k = rnd.floats(static_cast<size_t>(T * Hkv * Dk), -1.5f, 1.5f);
        v = rnd.floats(static_cast<size_t>(T * Hkv * Dv), -2, 2);
        kc0 = rnd.floats(static_cast<size_t>(C * Hkv * Dk), -1.5f, 1.5f);
        vc0 = rnd.floats(static_cast<size_t>(C * Hkv * Dv), -2, 2);
        sinks = rnd.floats(static_cast<size_t>(Hq), -1, 2);
    }
    // out [T, Hq * Dv] in double: keys at positions p with query - p < window (all when 0), optional sinks
    std::vector<double> reference(double scale, int64_t window, bool use_sinks) const {
        std::vector<double> out(static_cast<size_t>(T * Hq * Dv), 0.0);
        const int64_t group = Hq / Hkv;
        auto key = [&](int64_t row, int64_t hk, int64_t i) {
            return row < n_past ? double(kc0[static_cast<size_t>((row * Hkv + hk) * Dk + i)])
                                : double(k[static_cast<size_t>(((row - n_past) * Hkv + hk) * Dk + i)]);
        };
        auto val = [&](int64_t row, int64_t hk, int64_t i) {
            return row < n_past ? double(vc0[static_cast<size_t>((row * Hkv + hk) * Dv + i)])
                                : double(v[static_cast<size_t>(((row - n_past) * Hkv + hk) * Dv + i)]);
        };
        for (int64_t t = 0; t < T; ++t)
            for (int64_t h = 0; h < Hq; ++h) {
                const int64_t hk = h / group, p1 = n_past + t;
                std::vector<double> s;
                std::vector<int64_t> rows;
                for (int64_t j = 0; j <= p1; ++j) {
                    if (window > 0 && p1 - j >= window) continue;  // llama.cpp's LLAMA_SWA_TYPE_STANDARD mask
                    double d = 0;
                    for (int64_t i = 0; i < Dk; ++i)
                        d += double(q[static_cast<size_t>((t * Hq + h) * Dk + i)]) * key(j, hk, i);
                    s.push_back(d * scale);
                    rows.push_back(j);
                }
                double mx = *std::max_element(s.begin(), s.end());
                if (use_sinks) mx = std::max(mx, double(sinks[static_cast<size_t>(h)]));
                double sum = use_sinks ? std::exp(double(sinks[static_cast<size_t>(h)]) - mx) : 0.0;
                for (double& e : s) sum += (e = std::exp(e - mx));
                for (size_t r = 0; r < rows.size(); ++r)
                    for (int64_t i = 0; i < Dv; ++i)
                        out[static_cast<size_t>(t * Hq * Dv + h * Dv + i)] += s[r] / sum * val(rows[r], hk, i);
            }
        return out;
    }
};

struct swa_graph {
    value_id q, k, v, sinks = no_value, out;
    std::vector<float> kc, vc;
    moe_test::bound b;
    swa_graph(const swa_case& c, int nt, float scale, int64_t window, bool use_sinks) : kc(c.kc0), vc(c.vc0) {
        graph_builder gb;
        q = gb.input("q", dtype::f32, {c.T, c.Hq, c.Dk});
        k = gb.input("k", dtype::f32, {c.T, c.Hkv, c.Dk});
        v = gb.input("v", dtype::f32, {c.T, c.Hkv, c.Dv});
        value_id kci = gb.state("kcache", dtype::f32, {c.C, c.Hkv, c.Dk}, kc.data());
        value_id vci = gb.state("vcache", dtype::f32, {c.C, c.Hkv, c.Dv}, vc.data());
        if (use_sinks) sinks = gb.input("sinks", dtype::f32, {c.Hq});
        out = gb.attention_ext(q, k, v, kci, vci, sinks, scale, window);
        gb.mark_output(out);
        b = moe_test::bind(gb, nt);
    }
    status run(const swa_case& c) {
        std::copy(c.kc0.begin(), c.kc0.end(), kc.begin());
        std::copy(c.vc0.begin(), c.vc0.end(), vc.begin());
        b.set(q, c.q);
        b.set(k, c.k);
        b.set(v, c.v);
        if (sinks != no_value) b.set(sinks, c.sinks);
        return b.run(c.n_past);
    }
};

}  // namespace

TEST_CASE("kernels: attention_ext, sliding windows and sinks over a pre-filled cache") {
    MOE_THREAD_SUBCASES(nt);
    swa_case c(34);
    const float scale = 1.0f / std::sqrt(float(c.Dk));
    for (int64_t window : {int64_t(0), int64_t(1), int64_t(3), int64_t(6), int64_t(100)})
        for (bool use_sinks : {false, true}) {
            CAPTURE(window);
            CAPTURE(use_sinks);
            swa_graph a(c, nt, scale, window, use_sinks);
            REQUIRE(a.run(c).ok());
            const std::vector<float> got = a.b.get<float>(a.out);
            const std::vector<double> want = c.reference(scale, window, use_sinks);
            REQUIRE(got.size() == want.size());
            for (size_t i = 0; i < got.size(); ++i) CHECK(near(got[i], want[i], 1e-5, 2.0));  // |v| <= 2
            // the batch's k/v land at rows n_past.. as with attention
            for (int64_t i = 0; i < c.T * c.Hkv * c.Dk; ++i)
                CHECK(a.kc[static_cast<size_t>(c.n_past * c.Hkv * c.Dk + i)] == c.k[static_cast<size_t>(i)]);
            for (int64_t i = 0; i < c.T * c.Hkv * c.Dv; ++i)
                CHECK(a.vc[static_cast<size_t>(c.n_past * c.Hkv * c.Dv + i)] == c.v[static_cast<size_t>(i)]);
        }
}

TEST_CASE("kernels: attention_ext window 1 without sinks returns each query's own value row") {
    MOE_THREAD_SUBCASES(nt);
    swa_case c(35);
    swa_graph a(c, nt, 0.5f, 1, false);
    REQUIRE(a.run(c).ok());
    const std::vector<float> got = a.b.get<float>(a.out);
    const int64_t group = c.Hq / c.Hkv;
    for (int64_t t = 0; t < c.T; ++t)
        for (int64_t h = 0; h < c.Hq; ++h)
            for (int64_t i = 0; i < c.Dv; ++i)
                CHECK(near(got[static_cast<size_t>(t * c.Hq * c.Dv + h * c.Dv + i)],
                           c.v[static_cast<size_t>((t * c.Hkv + h / group) * c.Dv + i)], 1e-6, 2.0));
}

TEST_CASE("kernels: attention_ext ignores keys that slid out of the window") {
    MOE_THREAD_SUBCASES(nt);
    swa_case c(36);
    const int64_t window = 4;
    swa_graph a(c, nt, 0.5f, window, true);
    REQUIRE(a.run(c).ok());
    const std::vector<float> before = a.b.get<float>(a.out);
    // rows older than n_past - window + 1 are outside every query's window: changing them changes nothing
    swa_case c2 = c;
    for (int64_t row = 0; row + window <= c.n_past; ++row)
        for (int64_t i = 0; i < c.Hkv * c.Dk; ++i) c2.kc0[static_cast<size_t>(row * c.Hkv * c.Dk + i)] += 5.0f;
    REQUIRE(a.run(c2).ok());
    CHECK(a.b.get<float>(a.out) == before);
}

TEST_CASE("kernels: attention_ext checks its sinks and reports a full context") {
    MOE_THREAD_SUBCASES(nt);
    {
        graph_builder gb;
        std::vector<float> kc(4 * 2 * 8), vc(4 * 2 * 8);
        value_id q = gb.input("q", dtype::f32, {1, 4, 8});
        value_id k = gb.input("k", dtype::f32, {1, 2, 8});
        value_id v = gb.input("v", dtype::f32, {1, 2, 8});
        value_id kci = gb.state("kcache", dtype::f32, {4, 2, 8}, kc.data());
        value_id vci = gb.state("vcache", dtype::f32, {4, 2, 8}, vc.data());
        value_id s = gb.input("sinks", dtype::f32, {2});  // one per KV head instead of one per query head
        CHECK(gb.attention_ext(q, k, v, kci, vci, s, 0.5f, 0) == no_value);
        CHECK(gb.finish().error().code() == errc::shape_mismatch);
    }
    swa_case c(37);
    swa_graph a(c, nt, 0.5f, 3, true);
    c.n_past = c.C - c.T + 1;
    CHECK(a.run(c).code() == errc::context_full);
}
