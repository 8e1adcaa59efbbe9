// test_attention_blocks.cpp — the attention ops' blocked evaluation (ref/attend_cached.cpp: work items of several
// query rows, keys and values in 64-row blocks) against one query row at a time, bit for bit, on shapes that span
// several token blocks, key blocks and head chunks, with windows, sinks and several sequences; and the same for
// attention_mla (ref/attention_mla.cpp: llama.cpp's f32 orders, the value sums of a slot's rows at once).
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/simd/simd.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace moe;

namespace {

#define MOE_THREAD_SUBCASES(n)         \
    int n = 1;                         \
    SUBCASE("1 thread") { n = 1; }     \
    SUBCASE("2 threads") { n = 2; }    \
    CAPTURE(n)

struct blocked_case {
    blocked_case(int64_t t, int64_t hq, int64_t hkv, int64_t dk, int64_t dv, int64_t s, int64_t c, int64_t past = 0)
        : T(t), Hq(hq), Hkv(hkv), Dk(dk), Dv(dv), S(s), C(c), n_past(past) {}
    int64_t T, Hq, Hkv, Dk, Dv, S, C;  // S sequence slots of C rows; S = 0: one sequence without pos/seq inputs
    int64_t n_past, window = 0;
    bool sinks = false;
    std::vector<int32_t> pos, seq;  // several sequences: each token's position and slot
};

// One query row, the reference order written out: scores through dot_f32_rows, scaled, their maximum (and the
// sink's), exp(s - max) summed in double in eight lanes (j % 8, then ((0+4)+(2+6))+((1+5)+(3+7))), scaled by
// 1 / sum, then value rows added in order.
void one_row(const float* q, const float* k, int64_t ks, const float* v, int64_t vs, int64_t dk, int64_t dv,
             int64_t first, int64_t len, float scale, const float* sink, float* out) {
    std::vector<float> s(static_cast<size_t>(len - first));
    cpu::simd::dot_f32_rows(q, k + first * ks, ks, len - first, dk, s.data());
    float mx = -INFINITY;
    for (float& e : s) mx = std::max(mx, e = e * scale);
    if (sink) mx = std::max(mx, *sink);
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t j = 0; j < s.size(); ++j) lane[j % 8] += (s[j] = std::exp(s[j] - mx));
    double sum = ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
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
    CHECK(moe_test::differing_bits(got, want) == 0);
}

}  // namespace

TEST_CASE("attention: blocked rows equal one row at a time") {
    MOE_THREAD_SUBCASES(nt);
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

namespace {

// One MLA query row as attention_mla computed it before it was blocked: scores in llama.cpp's orders, scaled,
// ggml's softmax over chunks of 4W (padding -inf), then the value sums over all Dv columns at once.
void mla_one_row(const float* q, const float* slot, int64_t D, int64_t Dv, int64_t len, float scale, bool tile_scores,
                 bool tile_values, float* out) {
    const int W = cpu::ggml_f32::lanes();
    const int64_t pad = W > 0 ? 4 * W : 1, padded = (len + pad - 1) / pad * pad;
    std::vector<float> s(static_cast<size_t>(padded)), acc(static_cast<size_t>(4 * 16 * Dv));
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; ++j) {
        const float* kr = slot + j * D;
        const float d = tile_scores ? cpu::simd::ggml_dot_tile(W, kr, q, D) : cpu::simd::ggml_dot(W, kr, q, D);
        s[static_cast<size_t>(j)] = d * scale;
        mx = std::max(mx, s[static_cast<size_t>(j)]);
    }
    for (int64_t j = len; j < padded; ++j) s[static_cast<size_t>(j)] = -INFINITY;
    const float inv = static_cast<float>(1.0 / cpu::ggml_f32::exp_sum(W, s.data(), mx, s.data(), padded));
    for (int64_t j = 0; j < len; ++j) s[static_cast<size_t>(j)] *= inv;
    cpu::simd::ggml_weighted_rows(W, tile_values, s.data(), slot, D, len, Dv, out, acc.data());
}

// T tokens of H heads over a cache of S slots (0: one sequence) of C rows, D wide, values Dv wide.
void check_mla(int64_t T, int64_t H, int64_t D, int64_t Dv, int64_t S, int64_t C, int64_t n_past, int nt) {
    moe_test::rng rnd(static_cast<uint64_t>(T * 17 + H * 5 + D));
    const int64_t rows = (S ? S : 1) * C;
    const std::vector<float> q = rnd.floats(static_cast<size_t>(T * H * D), -1, 1);
    const std::vector<float> kv = rnd.floats(static_cast<size_t>(T * D), -1, 1);
    std::vector<float> cache = rnd.floats(static_cast<size_t>(rows * D), -1, 1);
    std::vector<int32_t> pos, seq;
    for (int32_t t = 0; t < T; ++t)
        seq.push_back(S ? t % static_cast<int32_t>(S) : 0), pos.push_back(t / 2 * 3 + t % 2);
    const float scale = 0.3f;
    graph_builder gb;
    const value_id qi = gb.input("q", dtype::f32, {T, H, D});
    const value_id ki = gb.input("kv", dtype::f32, {T, 1, D});
    const value_id ci = gb.state("cache", dtype::f32, S ? shape{S, C, 1, D} : shape{C, 1, D}, cache.data());
    const value_id pi = S ? gb.input("pos", dtype::i32, {T}) : no_value;
    const value_id si = S ? gb.input("seq", dtype::i32, {T}) : no_value;
    const value_id out = gb.attention_mla(qi, ki, ci, Dv, scale, pi, si);
    gb.mark_output(out);
    moe_test::bound b = moe_test::bind(gb, nt);
    b.set(qi, q);
    b.set(ki, kv);
    if (S) b.set(pi, pos), b.set(si, seq);
    REQUIRE(b.run(n_past).ok());
    const std::vector<float> got = b.get<float>(out);
    const int W = cpu::ggml_f32::lanes();
    const bool tile_scores = W > 0 && H == 1 && T >= 2 && D % W == 0, tile_values = W > 0 && T >= 2 && Dv % 4 == 0;
    std::vector<float> want(got.size());
    for (int64_t t = 0; t < T; ++t) {
        const int64_t p = S ? pos[static_cast<size_t>(t)] : n_past + t;
        const float* slot = cache.data() + (S ? seq[static_cast<size_t>(t)] * C : 0) * D;
        for (int64_t h = 0; h < H; ++h)
            mla_one_row(q.data() + (t * H + h) * D, slot, D, Dv, p + 1, scale, tile_scores, tile_values,
                        want.data() + (t * H + h) * Dv);
    }
    CHECK(moe_test::differing_bits(got, want) == 0);
}

}  // namespace

TEST_CASE("attention_mla: blocked rows equal one row at a time") {
    MOE_THREAD_SUBCASES(nt);
    SUBCASE("token blocks of 6 x 5 heads, two key blocks, dot and value tails") {
        check_mla(70, 5, 72, 40, 0, 160, 50, nt);
    }
    SUBCASE("40 heads: two head chunks; one token") { check_mla(1, 40, 64, 32, 0, 90, 80, nt); }
    SUBCASE("one token over 1100 rows: three value blocks") { check_mla(1, 16, 72, 40, 0, 1200, 1099, nt); }
    SUBCASE("one head: tinyBLAS's score order") { check_mla(9, 1, 64, 48, 0, 100, 70, nt); }
    SUBCASE("several sequences") { check_mla(20, 3, 48, 16, 3, 40, 0, nt); }
}
