// test_attention_blocks.cpp — the attention ops' blocked evaluation (ref/attend_cached.cpp: work items of several
// query rows, keys and values in 64-row blocks) against one query row at a time, bit for bit, on shapes that span
// several token blocks, key blocks and head chunks, with windows, sinks and several sequences.
#include "backends/cpu/simd/simd.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace moe;

namespace {

struct blocked_case {
    blocked_case(int64_t t, int64_t hq, int64_t hkv, int64_t dk, int64_t dv, int64_t s, int64_t c, int64_t past = 0)
        : T(t), Hq(hq), Hkv(hkv), Dk(dk), Dv(dv), S(s), C(c), n_past(past) {}
    int64_t T, Hq, Hkv, Dk, Dv, S, C;  // S sequence slots of C rows; S = 0: one sequence without pos/seq inputs
    int64_t n_past, window = 0;
    bool sinks = false;
    std::vector<int32_t> pos, seq;  // several sequences: each token's position and slot
};

// One query row, the reference order written out: scores through dot_f32_rows, scaled, their maximum (and the
// sink's), exp(s - max) summed in double in order, scaled by 1 / sum, then value rows added in order.
void one_row(const float* q, const float* k, int64_t ks, const float* v, int64_t vs, int64_t dk, int64_t dv,
             int64_t first, int64_t len, float scale, const float* sink, float* out) {
    std::vector<float> s(static_cast<size_t>(len - first));
    cpu::simd::dot_f32_rows(q, k + first * ks, ks, len - first, dk, s.data());
    float mx = -INFINITY;
    for (float& e : s) mx = std::max(mx, e = e * scale);
    if (sink) mx = std::max(mx, *sink);
    double sum = 0.0;
    for (float& e : s) sum += (e = std::exp(e - mx));
    if (sink) sum += static_cast<double>(std::exp(*sink - mx));  // the sink's term comes last
    for (float& e : s) e = e * static_cast<float>(1.0 / sum);
    std::fill(out, out + dv, 0.0f);
    cpu::simd::axpy_f32_rows(s.data(), v + first * vs, vs, len - first, dv, out);
}

void check_blocked(const blocked_case& bc, int nt) {
    moe_test::rng rnd(static_cast<uint64_t>(bc.T * 131 + bc.Hq * 7 + bc.C));
    const int64_t rows = (bc.S ? bc.S : 1) * bc.C;
    const std::vector<float> q = rnd.floats(static_cast<size_t>(bc.T * bc.Hq * bc.Dk), -1, 1);
    const std::vector<float> k = rnd.floats(static_cast<size_t>(bc.T * bc.Hkv * bc.Dk), -1, 1);
    const std::vector<float> v = rnd.floats(static_cast<size_t>(bc.T * bc.Hkv * bc.Dv), -2, 2);
    const std::vector<float> kc0 = rnd.floats(static_cast<size_t>(rows * bc.Hkv * bc.Dk), -1, 1);
    const std::vector<float> vc0 = rnd.floats(static_cast<size_t>(rows * bc.Hkv * bc.Dv), -2, 2);
    const std::vector<float> sk = rnd.floats(static_cast<size_t>(bc.Hq), -1, 3);
    const float scale = 0.7f;

    std::vector<float> kc = kc0, vc = vc0;
    graph_builder gb;
    const value_id qi = gb.input("q", dtype::f32, {bc.T, bc.Hq, bc.Dk});
    const value_id ki = gb.input("k", dtype::f32, {bc.T, bc.Hkv, bc.Dk});
    const value_id vi = gb.input("v", dtype::f32, {bc.T, bc.Hkv, bc.Dv});
    const shape ksh = bc.S ? shape{bc.S, bc.C, bc.Hkv, bc.Dk} : shape{bc.C, bc.Hkv, bc.Dk};
    const shape vsh = bc.S ? shape{bc.S, bc.C, bc.Hkv, bc.Dv} : shape{bc.C, bc.Hkv, bc.Dv};
    const value_id kci = gb.state("kcache", dtype::f32, ksh, kc.data());
    const value_id vci = gb.state("vcache", dtype::f32, vsh, vc.data());
    const value_id pi = bc.S ? gb.input("pos", dtype::i32, {bc.T}) : no_value;
    const value_id si = bc.S ? gb.input("seq", dtype::i32, {bc.T}) : no_value;
    const value_id sinks = bc.sinks ? gb.input("sinks", dtype::f32, {bc.Hq}) : no_value;
    const value_id out = bc.window || bc.sinks ? gb.attention_ext(qi, ki, vi, kci, vci, sinks, scale, bc.window, pi, si)
                                               : gb.attention(qi, ki, vi, kci, vci, scale, pi, si);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(qi, q);
    b.set(ki, k);
    b.set(vi, v);
    if (bc.S) b.set(pi, bc.pos), b.set(si, bc.seq);
    if (bc.sinks) b.set(sinks, sk);
    REQUIRE(b.run(bc.n_past).ok());
    const std::vector<float> got = b.get<float>(out);

    // the same rows one at a time, over the cache as the op left it (this batch's k/v written)
    const int64_t ks = bc.Hkv * bc.Dk, vs = bc.Hkv * bc.Dv, group = bc.Hq / bc.Hkv;
    std::vector<float> want(got.size());
    for (int64_t t = 0; t < bc.T; ++t) {
        const int64_t p = bc.S ? bc.pos[static_cast<size_t>(t)] : bc.n_past + t;
        const int64_t base = bc.S ? bc.seq[static_cast<size_t>(t)] * bc.C : 0;
        const int64_t first = bc.window ? std::max<int64_t>(0, p + 1 - bc.window) : 0;
        for (int64_t h = 0; h < bc.Hq; ++h)
            one_row(q.data() + (t * bc.Hq + h) * bc.Dk, kc.data() + base * ks + h / group * bc.Dk, ks,
                    vc.data() + base * vs + h / group * bc.Dv, vs, bc.Dk, bc.Dv, first, p + 1, scale,
                    bc.sinks ? sk.data() + h : nullptr, want.data() + (t * bc.Hq + h) * bc.Dv);
    }
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
    CHECK(differ == 0);
}

}  // namespace

TEST_CASE("attention: blocked rows equal one row at a time") {
    int nt = 1;
    SUBCASE("1 thread") { nt = 1; }
    SUBCASE("2 threads") { nt = 2; }
    CAPTURE(nt);
    SUBCASE("grouped heads, token blocks of 6, two key blocks, axpy tail") {
        check_blocked(blocked_case(70, 10, 2, 24, 20, 0, 160, 50), nt);
    }
    SUBCASE("one KV head for 40 query heads: two head chunks") {
        check_blocked(blocked_case(3, 40, 1, 16, 16, 0, 90, 80), nt);
    }
    SUBCASE("window across key blocks, sinks") {
        blocked_case bc(45, 4, 4, 32, 32, 0, 256, 150);
        bc.window = 77, bc.sinks = true;
        check_blocked(bc, nt);
    }
    SUBCASE("several sequences in one batch") {
        blocked_case bc(40, 6, 3, 16, 8, 3, 140);
        for (int32_t t = 0; t < 40; ++t) bc.seq.push_back(t % 3), bc.pos.push_back(t / 3 * 9 + t % 3);
        check_blocked(bc, nt);
        bc.window = 20, bc.sinks = true;
        check_blocked(bc, nt);
    }
}
