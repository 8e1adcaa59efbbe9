// test_kernels.cpp — checks every CPU kernel (backends/cpu/ref) against a plain double-precision reference written
// here, through executor on single-op graphs with 1 and 2 threads. The graphs come from graph_builder (src/graph).
#include "backends/cpu/ref/vec_dot.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

using namespace moe;
using moe_test::near;

// Each kernel test runs once per thread count.
#define MOE_THREAD_SUBCASES(n)         \
    int n = 1;                         \
    SUBCASE("1 thread") { n = 1; }     \
    SUBCASE("2 threads") { n = 2; }    \
    CAPTURE(n)

namespace {

// The activation row as the weight type's kernel sees it: converted with cpu::convert_activation, decoded back.
std::vector<double> converted_activation(dtype wtype, const float* x, int64_t k) {
    const dtype at = cpu::dot_type(wtype);
    std::vector<uint8_t> buf(row_bytes(at, k));
    cpu::convert_activation(wtype, x, buf.data(), k);
    std::vector<double> out(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) out[static_cast<size_t>(i)] = moe_test::decode(at, buf.data(), i);
    return out;
}

// Weight row r of `rows` rows of length k, decoded in double.
std::vector<double> weight_row(dtype t, const std::vector<uint8_t>& w, int64_t r, int64_t k) {
    const uint8_t* row = w.data() + static_cast<size_t>(r) * row_bytes(t, k);
    std::vector<double> out(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) out[static_cast<size_t>(i)] = moe_test::decode(t, row, i);
    return out;
}

struct dot_ref {
    double value = 0, magnitude = 0;  // sum of products, and sum of their absolute values (the error scale)
};
dot_ref dot(const std::vector<double>& a, const std::vector<double>& b) {
    dot_ref r;
    for (size_t i = 0; i < a.size(); ++i) r.value += a[i] * b[i], r.magnitude += std::fabs(a[i] * b[i]);
    return r;
}

const dtype weight_types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::q8_0, dtype::q4_0};

}  // namespace

// ---- get_rows ----------------------------------------------------------------------------------------------------

TEST_CASE("kernels: get_rows decodes table rows of every type") {
    MOE_THREAD_SUBCASES(nt);
    for (dtype t : {dtype::f32, dtype::f16, dtype::bf16, dtype::q8_0, dtype::q4_0}) {
        CAPTURE(dtype_name(t));
        const int64_t V = 9, d = 64, T = 7;
        moe_test::rng rnd(11);
        const std::vector<uint8_t> table = moe_test::encode_rows(t, rnd.floats(static_cast<size_t>(V * d), -3, 3), V, d);
        const std::vector<int32_t> ids = {3, 0, 8, 3, 5, 1, 8};
        graph_builder gb;
        value_id tab = gb.weight("emb", t, {V, d}, table.data());
        value_id id = gb.input("ids", dtype::i32, {T});
        value_id out = gb.get_rows(tab, id);
        gb.mark_output(out);
        moe_test::bound b = moe_test::bind(gb, nt);
        b.set(id, ids);
        REQUIRE(b.run().ok());
        const std::vector<float> got = b.get<float>(out);
        for (int64_t r = 0; r < T; ++r) {
            const std::vector<double> want = weight_row(t, table, ids[static_cast<size_t>(r)], d);
            for (int64_t i = 0; i < d; ++i)
                REQUIRE(got[static_cast<size_t>(r * d + i)] == static_cast<float>(want[static_cast<size_t>(i)]));
        }
    }
}

TEST_CASE("kernels: get_rows rejects out-of-range ids") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t V = 4, d = 8;
    std::vector<float> table(static_cast<size_t>(V * d), 1.0f);
    graph_builder gb;
    value_id tab = gb.weight("emb", dtype::f32, {V, d}, table.data());
    value_id id = gb.input("ids", dtype::i32, {2});
    value_id out = gb.get_rows(tab, id);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    for (int32_t bad : {4, -1, 1000}) {
        b.set(id, std::vector<int32_t>{0, bad});
        status s = b.run();
        CHECK(s.code() == errc::invalid_argument);
        CHECK(s.message().find(std::to_string(bad)) != std::string::npos);
    }
    b.set(id, std::vector<int32_t>{0, 3});
    CHECK(b.run().ok());
}

// ---- rms_norm ----------------------------------------------------------------------------------------------------

TEST_CASE("kernels: rms_norm") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t R = 6, d = 48;
    const float eps = 1e-5f;
    moe_test::rng rnd(3);
    std::vector<float> x = rnd.floats(static_cast<size_t>(R * d), -4, 4);
    for (int64_t i = 0; i < d; ++i) x[static_cast<size_t>(d + i)] *= 1e-3f;  // a small row: eps matters
    std::vector<float> w = rnd.floats(static_cast<size_t>(d), 0.5f, 1.5f);
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {2, 3, d});
    value_id wi = gb.weight("w", dtype::f32, {d}, w.data());
    value_id out = gb.rms_norm(xi, wi, eps);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t r = 0; r < R; ++r) {
        double ss = 0;
        for (int64_t i = 0; i < d; ++i) ss += double(x[static_cast<size_t>(r * d + i)]) * x[static_cast<size_t>(r * d + i)];
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + static_cast<double>(eps));
        for (int64_t i = 0; i < d; ++i) {
            const size_t j = static_cast<size_t>(r * d + i);
            const double want = x[j] * inv * w[static_cast<size_t>(i)];
            CHECK(near(got[j], want, 1e-5, std::fabs(want) + 1e-3));
        }
    }
}

// ---- mul_mat -----------------------------------------------------------------------------------------------------

TEST_CASE("kernels: mul_mat for every weight type") {
    MOE_THREAD_SUBCASES(nt);
    for (dtype t : weight_types) {
        CAPTURE(dtype_name(t));
        const int64_t R = 5, k = 96, n = 11;
        moe_test::rng rnd(static_cast<uint64_t>(t) + 100);
        const std::vector<float> x = rnd.floats(static_cast<size_t>(R * k), -2, 2);
        const std::vector<uint8_t> w = moe_test::encode_rows(t, rnd.floats(static_cast<size_t>(n * k)), n, k);
        graph_builder gb;
        value_id xi = gb.input("x", dtype::f32, {R, k});
        value_id wi = gb.weight("w", t, {n, k}, w.data());
        value_id out = gb.mul_mat(xi, wi);
        gb.mark_output(out);
        moe_test::bound b = moe_test::bind(gb, nt);
        b.set(xi, x);
        REQUIRE(b.run().ok());
        const std::vector<float> got = b.get<float>(out);
        // f32: the plain product; others: the product of the SAME converted operands the kernel multiplies.
        const double tol = t == dtype::f32 ? 1e-5 : 1e-4;
        for (int64_t i = 0; i < R; ++i) {
            const std::vector<double> xa =
                t == dtype::f32 ? std::vector<double>(x.begin() + i * k, x.begin() + (i + 1) * k)
                                : converted_activation(t, x.data() + i * k, k);
            for (int64_t r = 0; r < n; ++r) {
                const dot_ref want = dot(weight_row(t, w, r, k), xa);
                const float g = got[static_cast<size_t>(i * n + r)];
                CHECK_MESSAGE(near(g, want.value, tol, want.magnitude), "row " << i << " col " << r << ": " << g
                                                                               << " vs " << want.value);
            }
        }
    }
}

TEST_CASE("kernels: mul_mat on a 3-D input multiplies every row") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t k = 32, n = 3;
    moe_test::rng rnd(5);
    const std::vector<float> x = rnd.floats(2 * 3 * k), w = rnd.floats(n * k);
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {2, 3, k});
    value_id wi = gb.weight("w", dtype::f32, {n, k}, w.data());
    value_id out = gb.mul_mat(xi, wi);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    REQUIRE(got.size() == 6 * n);
    for (int64_t i = 0; i < 6; ++i)
        for (int64_t r = 0; r < n; ++r) {
            double s = 0, m = 0;
            for (int64_t j = 0; j < k; ++j) {
                const double p = double(x[static_cast<size_t>(i * k + j)]) * w[static_cast<size_t>(r * k + j)];
                s += p, m += std::fabs(p);
            }
            CHECK(near(got[static_cast<size_t>(i * n + r)], s, 1e-5, m));
        }
}

TEST_CASE("kernels: q8_0 activation quantizer rounds half to even with scale fp16(amax/127)") {
    // amax = 127 makes the multiplier 127/amax exactly 1, so every .5 below is an exact tie.
    std::vector<float> x(64, 0.0f);
    const float ties[] = {0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, -3.5f, 126.5f, -126.5f, 4.5f, 5.5f};
    const int expect_ties[] = {0, 2, 2, 4, 0, -2, -2, -4, 126, -126, 4, 6};
    x[0] = 127.0f;
    for (int i = 0; i < 12; ++i) x[static_cast<size_t>(1 + i)] = ties[i];
    for (int i = 13; i < 32; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i) - 20.25f;  // not ties
    // block 1: an arbitrary scale
    moe_test::rng rnd(9);
    for (int i = 32; i < 64; ++i) x[static_cast<size_t>(i)] = rnd.uniform(-0.3f, 0.2f);
    x[40] = -0.7f;  // the amax, negative

    std::vector<block_q8_0> q(2);
    cpu::convert_activation(dtype::q4_0, x.data(), q.data(), 64);  // q4_0 weights also take q8_0 activations
    std::vector<block_q8_0> q2(2);
    cpu::convert_activation(dtype::q8_0, x.data(), q2.data(), 64);
    CHECK(std::memcmp(q.data(), q2.data(), sizeof(block_q8_0) * 2) == 0);

    CHECK(q[0].d == f32_to_fp16(127.0f / 127.0f));
    CHECK(q[0].qs[0] == 127);
    for (int i = 0; i < 12; ++i) CHECK_MESSAGE(q[0].qs[1 + i] == expect_ties[i], "tie " << ties[i]);
    for (int i = 13; i < 32; ++i) CHECK(q[0].qs[i] == static_cast<int>(std::lround(x[static_cast<size_t>(i)])));

    const float amax = 0.7f;
    CHECK(q[1].d == f32_to_fp16(amax / 127.0f));
    const float id = 127.0f / amax;
    for (int i = 0; i < 32; ++i) {
        const double v = static_cast<double>(x[static_cast<size_t>(32 + i)] * id);
        // round half to even, written out
        double r = std::floor(v + 0.5);
        if (r - v == 0.5 && std::fmod(r, 2.0) != 0.0) r -= 1.0;
        CHECK(q[1].qs[i] == static_cast<int>(r));
    }
    CHECK(q[1].qs[8] == -127);

    SUBCASE("an all-zero block quantizes to zeros") {
        std::vector<float> z(32, 0.0f);
        block_q8_0 bz{};
        bz.d = 0x1234;
        cpu::convert_activation(dtype::q8_0, z.data(), &bz, 32);
        CHECK(bz.d == 0);
        for (int i = 0; i < 32; ++i) CHECK(bz.qs[i] == 0);
    }
}

// ---- mul_mat_id --------------------------------------------------------------------------------------------------

TEST_CASE("kernels: mul_mat_id with uneven expert use") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t E = 5, n = 7, k = 64, T = 6, U = 2;
    // expert 2 takes most slots, experts 1 and 4 are never used
    const std::vector<int32_t> ids = {2, 0, 2, 3, 0, 2, 2, 3, 2, 0, 3, 2};
    for (dtype t : weight_types) {
        for (int64_t S : {int64_t(1), U}) {
            CAPTURE(dtype_name(t));
            CAPTURE(S);
            moe_test::rng rnd(static_cast<uint64_t>(t) * 7 + static_cast<uint64_t>(S));
            std::vector<float> wf = rnd.floats(static_cast<size_t>(E * n * k));
            std::vector<uint8_t> w = moe_test::encode_rows(t, wf, E * n, k);
            if (t == dtype::f32) {  // unused experts hold NaN: touching them would poison the output
                float* wp = reinterpret_cast<float*>(w.data());
                for (int64_t e : {1, 4})
                    for (int64_t i = 0; i < n * k; ++i) wp[e * n * k + i] = NAN;
            }
            const std::vector<float> x = rnd.floats(static_cast<size_t>(T * S * k), -2, 2);
            graph_builder gb;
            value_id xi = gb.input("x", dtype::f32, {T, S, k});
            value_id wi = gb.weight("experts", t, {E, n, k}, w.data());
            value_id ii = gb.input("ids", dtype::i32, {T, U});
            value_id out = gb.mul_mat_id(xi, wi, ii);
            gb.mark_output(out);
            moe_test::bound b = moe_test::bind(gb, nt);
            b.set(xi, x);
            b.set(ii, ids);
            REQUIRE(b.run().ok());
            const std::vector<float> got = b.get<float>(out);
            const double tol = t == dtype::f32 ? 1e-5 : 1e-4;
            for (int64_t tk = 0; tk < T; ++tk)
                for (int64_t j = 0; j < U; ++j) {
                    const int32_t e = ids[static_cast<size_t>(tk * U + j)];
                    const float* xr = x.data() + (tk * S + (S == 1 ? 0 : j)) * k;
                    const std::vector<double> xa =
                        t == dtype::f32 ? std::vector<double>(xr, xr + k) : converted_activation(t, xr, k);
                    for (int64_t r = 0; r < n; ++r) {
                        const dot_ref want = dot(weight_row(t, w, e * n + r, k), xa);
                        const float g = got[static_cast<size_t>((tk * U + j) * n + r)];
                        CHECK_MESSAGE(near(g, want.value, tol, want.magnitude),
                                      "token " << tk << " slot " << j << " row " << r << ": " << g << " vs "
                                               << want.value);
                    }
                }
        }
    }
}

TEST_CASE("kernels: mul_mat_id rejects expert ids out of range") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t E = 3, n = 2, k = 32;
    std::vector<float> w(static_cast<size_t>(E * n * k), 0.5f);
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {2, 1, k});
    value_id wi = gb.weight("experts", dtype::f32, {E, n, k}, w.data());
    value_id ii = gb.input("ids", dtype::i32, {2, 2});
    value_id out = gb.mul_mat_id(xi, wi, ii);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, std::vector<float>(2 * k, 1.0f));
    b.set(ii, std::vector<int32_t>{0, 1, 3, 2});
    CHECK(b.run().code() == errc::invalid_argument);
    b.set(ii, std::vector<int32_t>{0, -1, 1, 2});
    CHECK(b.run().code() == errc::invalid_argument);
    b.set(ii, std::vector<int32_t>{0, 1, 1, 2});
    CHECK(b.run().ok());
}

// ---- element-wise ------------------------------------------------------------------------------------------------

TEST_CASE("kernels: add and mul, same shape and broadcast") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t R = 5, d = 13;
    moe_test::rng rnd(21);
    const std::vector<float> a = rnd.floats(R * d, -5, 5), full = rnd.floats(R * d, -5, 5), row = rnd.floats(d, -5, 5);
    for (bool is_add : {true, false})
        for (bool bcast : {false, true}) {
            CAPTURE(is_add);
            CAPTURE(bcast);
            graph_builder gb;
            value_id ai = gb.input("a", dtype::f32, {R, d});
            value_id bi = bcast ? gb.input("b", dtype::f32, {d}) : gb.input("b", dtype::f32, {R, d});
            value_id out = is_add ? gb.add(ai, bi) : gb.mul(ai, bi);
            gb.mark_output(out);
            moe_test::bound b = moe_test::bind(gb, nt);
            b.set(ai, a);
            b.set(bi, bcast ? row : full);
            REQUIRE(b.run().ok());
            const std::vector<float> got = b.get<float>(out);
            for (int64_t r = 0; r < R; ++r)
                for (int64_t i = 0; i < d; ++i) {
                    const double x = a[static_cast<size_t>(r * d + i)];
                    const double y = bcast ? row[static_cast<size_t>(i)] : full[static_cast<size_t>(r * d + i)];
                    const double want = is_add ? x + y : x * y;
                    CHECK(near(got[static_cast<size_t>(r * d + i)], want, 1e-6, std::fabs(x) + std::fabs(y) + std::fabs(want)));
                }
        }
}

TEST_CASE("kernels: scale and swiglu") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t R = 4, d = 17;
    moe_test::rng rnd(4);
    const std::vector<float> g = rnd.floats(R * d, -8, 8), u = rnd.floats(R * d, -3, 3);
    graph_builder gb;
    value_id gi = gb.input("g", dtype::f32, {R, d});
    value_id ui = gb.input("u", dtype::f32, {R, d});
    value_id sc = gb.scale(gi, -0.375f);
    value_id sw = gb.swiglu(gi, ui);
    gb.mark_output(sc);
    gb.mark_output(sw);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(gi, g);
    b.set(ui, u);
    REQUIRE(b.run().ok());
    const std::vector<float> gs = b.get<float>(sc), gw = b.get<float>(sw);
    for (size_t i = 0; i < g.size(); ++i) {
        CHECK(gs[i] == g[i] * -0.375f);  // one exact-ish multiply
        const double want = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
        CHECK(near(gw[i], want, 1e-5, std::fabs(want) + 1e-6));
    }
}

TEST_CASE("kernels: softmax rows sum to one and are shift-stable") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t R = 6, d = 10;
    moe_test::rng rnd(8);
    std::vector<float> x = rnd.floats(R * d, -6, 6);
    for (int64_t i = 0; i < d; ++i) x[static_cast<size_t>(d + i)] += 1000.0f;  // exp would overflow without the max
    for (int64_t i = 0; i < d; ++i) x[static_cast<size_t>(2 * d + i)] = -3.0f;   // uniform row
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {2, 3, d});
    value_id out = gb.softmax(xi);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t r = 0; r < R; ++r) {
        double mx = -INFINITY, sum = 0, gsum = 0;
        for (int64_t i = 0; i < d; ++i) mx = std::max(mx, double(x[static_cast<size_t>(r * d + i)]));
        for (int64_t i = 0; i < d; ++i) sum += std::exp(double(x[static_cast<size_t>(r * d + i)]) - mx);
        for (int64_t i = 0; i < d; ++i) {
            const size_t j = static_cast<size_t>(r * d + i);
            const double want = std::exp(double(x[j]) - mx) / sum;
            CHECK(near(got[j], want, 1e-5, want + 1e-7));
            gsum += got[j];
        }
        CHECK(std::fabs(gsum - 1.0) < 1e-5);
    }
    for (int64_t i = 0; i < d; ++i) CHECK(near(got[static_cast<size_t>(2 * d + i)], 0.1, 1e-6, 0.1));
}

TEST_CASE("kernels: normalize_sum") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t R = 3, d = 8;
    moe_test::rng rnd(12);
    const std::vector<float> x = rnd.floats(R * d, 0.01f, 1.0f);
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {R, d});
    value_id out = gb.normalize_sum(xi);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t r = 0; r < R; ++r) {
        double s = 0;
        for (int64_t i = 0; i < d; ++i) s += x[static_cast<size_t>(r * d + i)];
        for (int64_t i = 0; i < d; ++i) {
            const size_t j = static_cast<size_t>(r * d + i);
            CHECK(near(got[j], x[j] / s, 1e-5, x[j] / s));
        }
    }
}

// ---- routing -----------------------------------------------------------------------------------------------------

TEST_CASE("kernels: top_k is descending with ties to the lower index") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t n = 8;
    moe_test::rng rnd(13);
    std::vector<float> x = rnd.floats(6 * n, -1, 1);
    const float tie_row[] = {1, 3, 3, 2, 3, -1, 2, 3};
    std::copy(tie_row, tie_row + n, x.begin());
    std::fill(x.begin() + n, x.begin() + 2 * n, 0.25f);                             // all equal
    for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(2 * n + i)] = float(i);  // ascending
    x[3 * n + 7] = -INFINITY;
    for (int64_t k : {int64_t(1), int64_t(3), n}) {
        CAPTURE(k);
        graph_builder gb;
        value_id xi = gb.input("x", dtype::f32, {6, n});
        value_id out = gb.top_k(xi, k);
        gb.mark_output(out);
        moe_test::bound b = moe_test::bind(gb, nt);
        b.set(xi, x);
        REQUIRE(b.run().ok());
        const std::vector<int32_t> got = b.get<int32_t>(out);
        for (int64_t r = 0; r < 6; ++r) {
            std::vector<int32_t> order(static_cast<size_t>(n));
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t c) {
                return x[static_cast<size_t>(r * n + a)] > x[static_cast<size_t>(r * n + c)];
            });
            for (int64_t j = 0; j < k; ++j)
                CHECK_MESSAGE(got[static_cast<size_t>(r * k + j)] == order[static_cast<size_t>(j)], "row " << r << " rank " << j);
        }
        if (k == 3) {
            CHECK(got[0] == 1);
            CHECK(got[1] == 2);
            CHECK(got[2] == 4);
            CHECK(got[3] == 0);
            CHECK(got[4] == 1);
            CHECK(got[5] == 2);
            CHECK(got[6] == 7);
        }
    }
}

TEST_CASE("kernels: gather_cols") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t R = 4, n = 9, k = 3;
    moe_test::rng rnd(14);
    const std::vector<float> x = rnd.floats(R * n);
    const std::vector<int32_t> ids = {8, 0, 4, 1, 1, 2, 7, 3, 0, 5, 6, 8};
    graph_builder gb;
    value_id xi = gb.input("x", dtype::f32, {R, n});
    value_id ii = gb.input("ids", dtype::i32, {R, k});
    value_id out = gb.gather_cols(xi, ii);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(xi, x);
    b.set(ii, ids);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < k; ++j)
            CHECK(got[static_cast<size_t>(r * k + j)] == x[static_cast<size_t>(r * n + ids[static_cast<size_t>(r * k + j)])]);
    std::vector<int32_t> bad = ids;
    bad[5] = 9;
    b.set(ii, bad);
    CHECK(b.run().code() == errc::invalid_argument);
}

TEST_CASE("kernels: weighted_sum") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t T = 3, U = 4, d = 10;
    moe_test::rng rnd(15);
    const std::vector<float> y = rnd.floats(T * U * d, -3, 3), w = rnd.floats(T * U, 0, 1);
    graph_builder gb;
    value_id yi = gb.input("y", dtype::f32, {T, U, d});
    value_id wi = gb.input("w", dtype::f32, {T, U});
    value_id out = gb.weighted_sum(yi, wi);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(yi, y);
    b.set(wi, w);
    REQUIRE(b.run().ok());
    const std::vector<float> got = b.get<float>(out);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < d; ++i) {
            double s = 0, m = 0;
            for (int64_t j = 0; j < U; ++j) {
                const double p = double(w[static_cast<size_t>(t * U + j)]) * y[static_cast<size_t>((t * U + j) * d + i)];
                s += p, m += std::fabs(p);
            }
            CHECK(near(got[static_cast<size_t>(t * d + i)], s, 1e-5, m));
        }
}

// ---- rope --------------------------------------------------------------------------------------------------------

TEST_CASE("kernels: rope, norm and neox layouts, partial rotation") {
    MOE_THREAD_SUBCASES(nt);
    const int64_t T = 5, H = 3, D = 16;
    const std::vector<int32_t> pos = {0, 1, 7, 19, 31};
    moe_test::rng rnd(16);
    const std::vector<float> x = rnd.floats(T * H * D, -2, 2);
    for (rope_mode mode : {rope_mode::norm, rope_mode::neox})
        for (int64_t n_rot : {D, int64_t(8)})
            for (float fs : {1.0f, 0.5f}) {
                CAPTURE(static_cast<int>(mode));
                CAPTURE(n_rot);
                CAPTURE(fs);
                const float base = 10000.0f;
                graph_builder gb;
                value_id xi = gb.input("x", dtype::f32, {T, H, D});
                value_id pi = gb.input("pos", dtype::i32, {T});
                value_id out = gb.rope(xi, pi, n_rot, mode, base, fs);
                gb.mark_output(out);
                moe_test::bound b = moe_test::bind(gb, nt);
                b.set(xi, x);
                b.set(pi, pos);
                REQUIRE(b.run().ok());
                const std::vector<float> got = b.get<float>(out);
                for (int64_t t = 0; t < T; ++t)
                    for (int64_t h = 0; h < H; ++h) {
                        const size_t o = static_cast<size_t>((t * H + h) * D);
                        for (int64_t i = 0; i < n_rot / 2; ++i) {
                            const double theta = double(fs) * pos[static_cast<size_t>(t)] *
                                                 std::pow(double(base), -2.0 * double(i) / double(n_rot));
                            const size_t i0 = o + static_cast<size_t>(mode == rope_mode::neox ? i : 2 * i);
                            const size_t i1 = o + static_cast<size_t>(mode == rope_mode::neox ? i + n_rot / 2 : 2 * i + 1);
                            const double x0 = x[i0], x1 = x[i1];
                            const double mag = std::fabs(x0) + std::fabs(x1);
                            CHECK(near(got[i0], x0 * std::cos(theta) - x1 * std::sin(theta), 1e-5, mag));
                            CHECK(near(got[i1], x0 * std::sin(theta) + x1 * std::cos(theta), 1e-5, mag));
                        }
                        for (int64_t i = n_rot; i < D; ++i)
                            CHECK(got[o + static_cast<size_t>(i)] == x[o + static_cast<size_t>(i)]);  // untouched tail
                    }
            }
}

// ---- attention ---------------------------------------------------------------------------------------------------

namespace {

struct attn_case {
    int64_t T = 3, Hq = 4, Hkv = 2, Dk = 8, Dv = 6, C = 8, n_past = 3;
    std::vector<float> q, k, v, kc0, vc0;  // inputs and the pre-filled caches
    explicit attn_case(uint64_t seed) {
        moe_test::rng rnd(seed);
        q = rnd.floats(static_cast<size_t>(T * Hq * Dk), -1.5f, 1.5f);
        k = rnd.floats(static_cast<size_t>(T * Hkv * Dk), -1.5f, 1.5f);
        v = rnd.floats(static_cast<size_t>(T * Hkv * Dv), -2, 2);
        kc0 = rnd.floats(static_cast<size_t>(C * Hkv * Dk), -1.5f, 1.5f);
        vc0 = rnd.floats(static_cast<size_t>(C * Hkv * Dv), -2, 2);
    }
    // out [T, Hq * Dv] in double, from the pre-filled cache rows < n_past and this batch's k/v after them.
    std::vector<double> reference(double scale) const {
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
                const int64_t hk = h / group, len = n_past + t + 1;
                std::vector<double> s(static_cast<size_t>(len));
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < len; ++j) {
                    double d = 0;
                    for (int64_t i = 0; i < Dk; ++i) d += double(q[static_cast<size_t>((t * Hq + h) * Dk + i)]) * key(j, hk, i);
                    s[static_cast<size_t>(j)] = d * scale;
                    mx = std::max(mx, s[static_cast<size_t>(j)]);
                }
                for (double& e : s) sum += (e = std::exp(e - mx));
                for (int64_t j = 0; j < len; ++j)
                    for (int64_t i = 0; i < Dv; ++i)
                        out[static_cast<size_t>(t * Hq * Dv + h * Dv + i)] += s[static_cast<size_t>(j)] / sum * val(j, hk, i);
            }
        return out;
    }
};

struct attn_graph {
    value_id q, k, v, out;
    std::vector<float> kc, vc;  // the session-owned caches
    moe_test::bound b;
    attn_graph(const attn_case& c, int nt, float scale) : kc(c.kc0), vc(c.vc0) {
        graph_builder gb;
        q = gb.input("q", dtype::f32, {c.T, c.Hq, c.Dk});
        k = gb.input("k", dtype::f32, {c.T, c.Hkv, c.Dk});
        v = gb.input("v", dtype::f32, {c.T, c.Hkv, c.Dv});
        value_id kci = gb.state("kcache", dtype::f32, {c.C, c.Hkv, c.Dk}, kc.data());
        value_id vci = gb.state("vcache", dtype::f32, {c.C, c.Hkv, c.Dv}, vc.data());
        out = gb.attention(q, k, v, kci, vci, scale);
        gb.mark_output(out);
        b = moe_test::bind(gb, nt);
    }
    status run(const attn_case& c) {
        std::copy(c.kc0.begin(), c.kc0.end(), kc.begin());
        std::copy(c.vc0.begin(), c.vc0.end(), vc.begin());
        b.set(q, c.q);
        b.set(k, c.k);
        b.set(v, c.v);
        return b.run(c.n_past);
    }
};

}  // namespace

TEST_CASE("kernels: attention with grouped KV heads over a pre-filled cache") {
    MOE_THREAD_SUBCASES(nt);
    attn_case c(17);
    const float scale = 1.0f / std::sqrt(float(c.Dk));
    attn_graph a(c, nt, scale);
    REQUIRE(a.run(c).ok());
    const std::vector<float> got = a.b.get<float>(a.out);
    const std::vector<double> want = c.reference(scale);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(near(got[i], want[i], 1e-5, 2.0));  // |v| <= 2
    // the cache now holds this batch's k/v at rows n_past..; other rows keep their contents
    for (int64_t row = 0; row < c.C; ++row)
        for (int64_t i = 0; i < c.Hkv * c.Dk; ++i) {
            const size_t j = static_cast<size_t>(row * c.Hkv * c.Dk + i);
            const bool fresh = row >= c.n_past && row < c.n_past + c.T;
            CHECK(a.kc[j] == (fresh ? c.k[static_cast<size_t>((row - c.n_past) * c.Hkv * c.Dk + i)] : c.kc0[j]));
        }
    for (int64_t row = 0; row < c.C; ++row)
        for (int64_t i = 0; i < c.Hkv * c.Dv; ++i) {
            const size_t j = static_cast<size_t>(row * c.Hkv * c.Dv + i);
            const bool fresh = row >= c.n_past && row < c.n_past + c.T;
            CHECK(a.vc[j] == (fresh ? c.v[static_cast<size_t>((row - c.n_past) * c.Hkv * c.Dv + i)] : c.vc0[j]));
        }

    {  // n_past = 0 on an empty cache
        attn_case c0(18);
        c0.n_past = 0;
        attn_graph a0(c0, nt, scale);
        REQUIRE(a0.run(c0).ok());
        const std::vector<float> g0 = a0.b.get<float>(a0.out);
        const std::vector<double> w0 = c0.reference(scale);
        for (size_t i = 0; i < g0.size(); ++i) CHECK(near(g0[i], w0[i], 1e-5, 2.0));
        // the first query sees only its own key: the output is its own value row
        for (int64_t h = 0; h < c0.Hq; ++h)
            for (int64_t i = 0; i < c0.Dv; ++i)
                CHECK(near(g0[static_cast<size_t>(h * c0.Dv + i)],
                           c0.v[static_cast<size_t>((h / (c0.Hq / c0.Hkv)) * c0.Dv + i)], 1e-6, 2.0));
    }
}

TEST_CASE("kernels: attention is causal") {
    MOE_THREAD_SUBCASES(nt);
    attn_case c(19);
    attn_graph a(c, nt, 0.5f);
    REQUIRE(a.run(c).ok());
    const std::vector<float> before = a.b.get<float>(a.out);
    // change the last token's key and value: earlier queries must not see it
    attn_case c2 = c;
    for (int64_t i = 0; i < c.Hkv * c.Dk; ++i) c2.k[static_cast<size_t>((c.T - 1) * c.Hkv * c.Dk + i)] += 3.0f;
    for (int64_t i = 0; i < c.Hkv * c.Dv; ++i) c2.v[static_cast<size_t>((c.T - 1) * c.Hkv * c.Dv + i)] -= 5.0f;
    REQUIRE(a.run(c2).ok());
    const std::vector<float> after = a.b.get<float>(a.out);
    const size_t row = static_cast<size_t>(c.Hq * c.Dv);
    for (size_t i = 0; i < row * static_cast<size_t>(c.T - 1); ++i) CHECK(after[i] == before[i]);
    bool last_changed = false;
    for (size_t i = row * static_cast<size_t>(c.T - 1); i < after.size(); ++i) last_changed |= after[i] != before[i];
    CHECK(last_changed);
}

TEST_CASE("kernels: attention reports a full context") {
    MOE_THREAD_SUBCASES(nt);
    attn_case c(20);
    attn_graph a(c, nt, 0.5f);
    c.n_past = c.C - c.T + 1;  // one row short
    status s = a.run(c);
    CHECK(s.code() == errc::context_full);
    CHECK(s.message().find(std::to_string(c.C)) != std::string::npos);
    c.n_past = c.C - c.T;  // exactly fits
    CHECK(a.run(c).ok());
}
