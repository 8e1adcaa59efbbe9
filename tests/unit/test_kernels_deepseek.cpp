// test_kernels_deepseek.cpp — the ops DeepSeek-V2/V3 (MLA, group-limited sigmoid routing) added to the IR, each run
// through executor on a single-op graph (1 and 2 threads) against a double-precision reference written here.
#include "backends/cpu/ref/vec_dot.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

using namespace moe;
using moe_test::near;

#define MOE_DS_THREAD_SUBCASES(n)      \
    int n = 1;                         \
    SUBCASE("1 thread") { n = 1; }     \
    SUBCASE("2 threads") { n = 2; }    \
    CAPTURE(n)

namespace {

// The activation row as the weight type's kernel sees it (converted with cpu::convert_activation), in double.
std::vector<double> converted(dtype wtype, const float* x, int64_t k) {
    std::vector<double> out(static_cast<size_t>(k));
    if (wtype == dtype::f32) {
        for (int64_t i = 0; i < k; ++i) out[static_cast<size_t>(i)] = x[i];
        return out;
    }
    const dtype at = cpu::dot_type(wtype);
    std::vector<uint8_t> buf(row_bytes(at, k));
    cpu::convert_activation(wtype, x, buf.data(), k);
    for (int64_t i = 0; i < k; ++i) out[static_cast<size_t>(i)] = moe_test::decode(at, buf.data(), i);
    return out;
}

}  // namespace

// ---- sigmoid -----------------------------------------------------------------------------------------------------

TEST_CASE("kernels: sigmoid") {
    MOE_DS_THREAD_SUBCASES(nt);
    const int64_t R = 6, d = 37;
    moe_test::rng rnd(31);
    std::vector<float> x = rnd.floats(static_cast<size_t>(R * d), -12, 12);
    x[0] = 0.0f, x[1] = -100.0f, x[2] = 100.0f;  // the middle and both saturated ends
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {R, d});
    value_id out = gb.sigmoid(xi);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (size_t i = 0; i < x.size(); ++i) CHECK(near(got[i], 1.0 / (1.0 + std::exp(-double(x[i]))), 1e-6, 1.0));
    CHECK(got[0] == 0.5f);
    CHECK(got[1] >= 0.0f);
    CHECK(got[2] == 1.0f);
}

// ---- expert_group_mask -------------------------------------------------------------------------------------------

TEST_CASE("kernels: expert_group_mask keeps the best groups by the sum of their two largest scores") {
    MOE_DS_THREAD_SUBCASES(nt);
    const int64_t R = 9, G = 4, per = 4, n = G * per, K = 2;
    moe_test::rng rnd(32);
    std::vector<float> x = rnd.floats(static_cast<size_t>(R * n), -1, 1);
    // row 0: group 3 has the single largest value but a small second one; groups 0 and 2 win on their top-2 sums
    const float row0[n] = {0.5f, 0.4f, -1, -1, 0.3f, 0.1f, -1, -1, 0.45f, 0.44f, -1, -1, 0.9f, -0.8f, -1, -1};
    std::copy(row0, row0 + n, x.begin());
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {R, n});
    value_id out = gb.expert_group_mask(xi, G, K);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t r = 0; r < R; ++r) {
        std::vector<double> score(static_cast<size_t>(G));
        for (int64_t g = 0; g < G; ++g) {
            std::vector<double> v(x.begin() + r * n + g * per, x.begin() + r * n + (g + 1) * per);
            std::sort(v.rbegin(), v.rend());
            score[static_cast<size_t>(g)] = v[0] + v[1];
        }
        std::vector<int64_t> order(static_cast<size_t>(G));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
            return score[static_cast<size_t>(a)] > score[static_cast<size_t>(c)];
        });
        for (int64_t g = 0; g < G; ++g) {
            const bool kept = std::find(order.begin(), order.begin() + K, g) != order.begin() + K;
            for (int64_t i = g * per; i < (g + 1) * per; ++i) {
                const float gv = got[static_cast<size_t>(r * n + i)];
                if (kept) CHECK(gv == x[static_cast<size_t>(r * n + i)]);
                else CHECK(gv == -std::numeric_limits<float>::infinity());
            }
        }
    }
    for (int64_t i = 0; i < n; ++i) {  // row 0 by hand: groups 0 and 2 stay
        const bool kept = i < per || (i >= 2 * per && i < 3 * per);
        CHECK((got[static_cast<size_t>(i)] == row0[i]) == kept);
    }
}

TEST_CASE("kernels: expert_group_mask rejects groups that do not split the experts") {
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {2, 10});
    CHECK(gb.expert_group_mask(xi, 4, 2) == no_value);  // 10 experts in 4 groups
    CHECK(!gb.ok());
    graph_builder gb2;
    value_id x2 = gb2.input("x", dtype::f32, {2, 8});
    CHECK(gb2.expert_group_mask(x2, 8, 2) == no_value);  // groups of one expert: no second-largest value
}

// ---- cols / concat -----------------------------------------------------------------------------------------------

TEST_CASE("kernels: cols copies a column range of the last dim") {
    MOE_DS_THREAD_SUBCASES(nt);
    const int64_t T = 3, H = 4, D = 24, first = 16, count = 8;
    moe_test::rng rnd(33);
    const std::vector<float> x = rnd.floats(static_cast<size_t>(T * H * D));
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {T, H, D});
    value_id out = gb.cols(xi, first, count);
    gb.mark_output(out);
    CHECK(gb.val(out).sh == shape{T, H, count});
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t r = 0; r < T * H; ++r)
        for (int64_t i = 0; i < count; ++i) CHECK(got[static_cast<size_t>(r * count + i)] == x[static_cast<size_t>(r * D + first + i)]);
    graph_builder bad;
    CHECK(bad.cols(bad.input("x", dtype::f32, {T, D}), 20, 8) == no_value);
}

TEST_CASE("kernels: concat joins the last dims, repeating a single head") {
    MOE_DS_THREAD_SUBCASES(nt);
    const int64_t T = 5, H = 3, A = 8, B = 4;
    moe_test::rng rnd(34);
    const std::vector<float> a = rnd.floats(static_cast<size_t>(T * H * A));
    const std::vector<float> same = rnd.floats(static_cast<size_t>(T * H * B));
    const std::vector<float> one = rnd.floats(static_cast<size_t>(T * B));
    for (bool repeat : {false, true}) {
        CAPTURE(repeat);
        graph_builder gb;
        value_id ai = gb.input("a", dtype::f32, {T, H, A});
        value_id bi = gb.input("b", dtype::f32, {T, repeat ? 1 : H, B});
        value_id out = gb.concat(ai, bi);
        gb.mark_output(out);
        CHECK(gb.val(out).sh == shape{T, H, A + B});
        moe_test::bound b = moe_test::bind(gb, nt);
        b.set(ai, a);
        b.set(bi, repeat ? one : same);
        REQUIRE(b.run().ok());
        const std::vector<float> got = b.get<float>(out);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t h = 0; h < H; ++h) {
                const float* o = got.data() + (t * H + h) * (A + B);
                for (int64_t i = 0; i < A; ++i) CHECK(o[i] == a[static_cast<size_t>((t * H + h) * A + i)]);
                for (int64_t i = 0; i < B; ++i)
                    CHECK(o[A + i] == (repeat ? one[static_cast<size_t>(t * B + i)] : same[static_cast<size_t>((t * H + h) * B + i)]));
            }
    }
    graph_builder bad;
    CHECK(bad.concat(bad.input("a", dtype::f32, {T, H, A}), bad.input("b", dtype::f32, {T, 2, B})) == no_value);
}

// ---- mul_mat_heads -----------------------------------------------------------------------------------------------

TEST_CASE("kernels: mul_mat_heads multiplies head h by its own weight slice, every weight type") {
    MOE_DS_THREAD_SUBCASES(nt);
    for (dtype t : {dtype::f32, dtype::f16, dtype::bf16, dtype::q8_0, dtype::q4_0}) {
        CAPTURE(dtype_name(t));
        const int64_t T = 3, H = 4, k = 64, n = 7;
        moe_test::rng rnd(static_cast<uint64_t>(t) + 40);
        const std::vector<float> x = rnd.floats(static_cast<size_t>(T * H * k), -2, 2);
        const std::vector<uint8_t> w = moe_test::encode_rows(t, rnd.floats(static_cast<size_t>(H * n * k)), H * n, k);
        graph_builder gb;
        value_id xi = gb.input("x", dtype::f32, {T, H, k});
        value_id wi = gb.weight("w", t, {H, n, k}, w.data());
        value_id out = gb.mul_mat_heads(xi, wi);
        gb.mark_output(out);
        CHECK(gb.val(out).sh == shape{T, H, n});
        moe_test::bound b = moe_test::bind(gb, nt);
        b.set(xi, x);
        REQUIRE(b.run().ok());
        const std::vector<float> got = b.get<float>(out);
        const double tol = t == dtype::f32 ? 1e-5 : 1e-4;
        const size_t wrb = row_bytes(t, k);
        for (int64_t tt = 0; tt < T; ++tt)
            for (int64_t h = 0; h < H; ++h) {
                const std::vector<double> xa = converted(t, x.data() + (tt * H + h) * k, k);
                for (int64_t r = 0; r < n; ++r) {
                    const uint8_t* row = w.data() + static_cast<size_t>(h * n + r) * wrb;
                    double want = 0, mag = 0;
                    for (int64_t i = 0; i < k; ++i) {
                        const double p = moe_test::decode(t, row, i) * xa[static_cast<size_t>(i)];
                        want += p, mag += std::fabs(p);
                    }
                    CHECK(near(got[static_cast<size_t>((tt * H + h) * n + r)], want, tol, mag));
                }
            }
    }
    graph_builder bad;
    value_id x = bad.input("x", dtype::f32, {2, 3, 32});
    std::vector<float> w(4 * 5 * 32);
    CHECK(bad.mul_mat_heads(x, bad.weight("w", dtype::f32, {4, 5, 32}, w.data())) == no_value);  // 3 heads vs 4
}

// ---- attention_mla -----------------------------------------------------------------------------------------------

namespace {
// Causal MQA over [latent | rope] cache rows; values are each row's first Dv columns (the latent).
std::vector<double> mla_reference(const std::vector<float>& q, const std::vector<float>& cache, int64_t T, int64_t H,
                                  int64_t D, int64_t Dv, int64_t n_past, double scale) {
    std::vector<double> out(static_cast<size_t>(T * H * Dv), 0.0);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
            const int64_t len = n_past + t + 1;
            std::vector<double> s(static_cast<size_t>(len));
            double mx = -1e300, sum = 0;
            for (int64_t j = 0; j < len; ++j) {
                double d = 0;
                for (int64_t i = 0; i < D; ++i) d += double(q[static_cast<size_t>((t * H + h) * D + i)]) * cache[static_cast<size_t>(j * D + i)];
                s[static_cast<size_t>(j)] = d * scale;
                mx = std::max(mx, s[static_cast<size_t>(j)]);
            }
            for (double& v : s) sum += (v = std::exp(v - mx));
            for (int64_t j = 0; j < len; ++j)
                for (int64_t i = 0; i < Dv; ++i)
                    out[static_cast<size_t>((t * H + h) * Dv + i)] += s[static_cast<size_t>(j)] / sum * cache[static_cast<size_t>(j * D + i)];
        }
    return out;
}
}  // namespace

TEST_CASE("kernels: attention_mla attends over the latent cache and reads values from its rows") {
    MOE_DS_THREAD_SUBCASES(nt);
    const int64_t C = 16, H = 3, L = 24, R = 8, D = L + R;
    const float scale = 0.3f;
    moe_test::rng rnd(35);
    std::vector<float> cache(static_cast<size_t>(C * D), 0.0f);
    graph_builder gb;
    value_id qi = gb.input("q", dtype::f32, {5, H, D});
    value_id ki = gb.input("kv", dtype::f32, {5, 1, D});
    value_id ci = gb.state("cache", dtype::f32, {C, 1, D}, cache.data());
    value_id out = gb.attention_mla(qi, ki, ci, L, scale);
    gb.mark_output(out);
    CHECK(gb.val(out).sh == shape{5, H, L});
    moe_test::bound b = moe_test::bind(gb, nt);
    std::vector<float> mirror(cache.size(), 0.0f);  // what the cache must hold
    for (int64_t n_past : {int64_t(0), int64_t(5), int64_t(10)}) {  // a prompt, then two more batches on top of it
        CAPTURE(n_past);
        const std::vector<float> q = rnd.floats(static_cast<size_t>(5 * H * D), -1.5f, 1.5f);
        const std::vector<float> kv = rnd.floats(static_cast<size_t>(5 * D), -1.5f, 1.5f);
        std::copy(kv.begin(), kv.end(), mirror.begin() + n_past * D);
        b.set(qi, q);
        b.set(ki, kv);
        REQUIRE(b.run(n_past).ok());
        CHECK(cache == mirror);
        const std::vector<float> got = b.get<float>(out);
        const std::vector<double> want = mla_reference(q, mirror, 5, H, D, L, n_past, scale);
        for (size_t i = 0; i < got.size(); ++i) CHECK(near(got[i], want[i], 1e-5, 1.5));
    }
    CHECK(b.run(12).code() == errc::context_full);  // 12 + 5 rows > 16
}

TEST_CASE("kernels: attention_mla checks its shapes") {
    std::vector<float> cache(8 * 40);
    graph_builder gb;
    value_id q = gb.input("q", dtype::f32, {2, 4, 40});
    value_id kv = gb.input("kv", dtype::f32, {2, 2, 40});  // two heads: MLA shares one
    value_id c = gb.state("c", dtype::f32, {8, 1, 40}, cache.data());
    CHECK(gb.attention_mla(q, kv, c, 32, 1.0f) == no_value);
    graph_builder gb2;
    value_id q2 = gb2.input("q", dtype::f32, {2, 4, 40});
    value_id kv2 = gb2.input("kv", dtype::f32, {2, 1, 40});
    value_id c2 = gb2.state("c", dtype::f32, {8, 1, 40}, cache.data());
    CHECK(gb2.attention_mla(q2, kv2, c2, 41, 1.0f) == no_value);  // values wider than the row
}
