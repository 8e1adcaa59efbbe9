// test_kv_f16.cpp — the f16 KV cache (session_params::kv_type): the row conversions on every ISA against half.hpp;
// the attention ops over an f16 cache against the same ops over an f32 cache holding the same, f16-exact, values,
// bit for bit; and sessions with an f16 cache: near f32, half the state, save/restore, refusals.
#include "backends/cpu/simd/simd.hpp"
#include "graph/kv_layout.hpp"
#include "testgen/model_writer.hpp"

#include "test_support.hpp"

#include <moe/half.hpp>
#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace moe;
namespace simd = moe::cpu::simd;

namespace {

// Each float as f32_to_fp16 rounds it, widened back.
std::vector<float> rounded(const std::vector<float>& x) {
    std::vector<float> r(x.size());
    for (size_t i = 0; i < x.size(); ++i) r[i] = fp16_to_f32(f32_to_fp16(x[i]));
    return r;
}

// fn(i, at) for every element of a cache: i its index in row-major [rows, heads, dim], at its place in layout l.
template <class Fn>
void each_element(const kv_layout& l, Fn fn) {
    for (int64_t r = 0; r < l.rows; ++r)
        for (int64_t hd = 0; hd < l.heads; ++hd)
            for (int64_t e = 0; e < l.dim; ++e)
                fn(static_cast<size_t>((r * l.heads + hd) * l.dim + e), static_cast<size_t>(l.offset(r, hd) + e));
}
// A row-major cache x as an f16 cache holds it (graph/kv_layout.hpp: head-major), and back.
std::vector<uint16_t> halves(const std::vector<float>& x, const kv_layout& l) {
    std::vector<uint16_t> h(x.size());
    each_element(l, [&](size_t i, size_t at) { h[at] = f32_to_fp16(x[i]); });
    return h;
}
std::vector<float> row_major(const std::vector<uint16_t>& h, const kv_layout& l) {
    std::vector<float> x(h.size());
    each_element(l, [&](size_t i, size_t at) { x[i] = fp16_to_f32(h[at]); });
    return x;
}

// One attention op (attention, attention_ext or attention_mla) with its inputs; run() evaluates it over an f32
// cache or an f16 one and returns the output and the cache as floats afterwards.
struct att_case {
    int64_t T = 1, Hq = 1, Hkv = 1, Dk = 8, Dv = 8, S = 0, C = 16, n_past = 0, window = 0;
    bool sinks = false, mla = false;
    std::vector<int32_t> pos, seq;
    std::vector<float> q, k, v, kc, vc, sk;

    void fill(uint64_t seed) {
        moe_test::rng rnd(seed);
        const int64_t rows = (S ? S : 1) * C;
        q = rnd.floats(static_cast<size_t>(T * Hq * Dk), -1, 1);
        k = rnd.floats(static_cast<size_t>(T * Hkv * Dk), -1, 1);
        v = rnd.floats(static_cast<size_t>(T * Hkv * Dv), -2, 2);
        kc = rnd.floats(static_cast<size_t>(rows * Hkv * Dk), -1, 1);
        vc = rnd.floats(static_cast<size_t>(rows * Hkv * Dv), -2, 2);
        sk = rnd.floats(static_cast<size_t>(Hq), -1, 3);
    }

    // f16: the caches hold kc / vc as binary16 and k / v are rounded by the op; f32: the caches hold kc / vc and k / v
    // already rounded (so both see the same values). caches_after: the K cache, then the V cache, as floats.
    std::vector<float> run(bool f16, int nt, std::vector<float>* caches_after = nullptr) const {
        std::vector<float> kf = rounded(kc), vf = rounded(vc);
        const int64_t rows = (S ? S : 1) * C;
        const kv_layout kl = kv_layout::of(dtype::f16, rows, Hkv, Dk), vl = kv_layout::of(dtype::f16, rows, Hkv, Dv);
        std::vector<uint16_t> kh = halves(kc, kl), vh = halves(vc, vl);
        void* kp = f16 ? static_cast<void*>(kh.data()) : static_cast<void*>(kf.data());
        void* vp = f16 ? static_cast<void*>(vh.data()) : static_cast<void*>(vf.data());
        const dtype ct = f16 ? dtype::f16 : dtype::f32;
        graph_builder gb;
        const value_id qi = gb.input("q", dtype::f32, {T, Hq, Dk});
        const value_id ki = gb.input("k", dtype::f32, {T, Hkv, Dk});
        const value_id vi = mla ? no_value : gb.input("v", dtype::f32, {T, Hkv, Dv});
        const auto cache_shape = [&](int64_t d) { return S ? shape{S, C, Hkv, d} : shape{C, Hkv, d}; };
        const value_id kci = gb.state("kcache", ct, cache_shape(Dk), kp);
        const value_id vci = mla ? no_value : gb.state("vcache", ct, cache_shape(Dv), vp);
        const value_id pi = S ? gb.input("pos", dtype::i32, {T}) : no_value;
        const value_id si = S ? gb.input("seq", dtype::i32, {T}) : no_value;
        const value_id ski = sinks ? gb.input("sinks", dtype::f32, {Hq}) : no_value;
        const float scale = 0.6f;
        const value_id out = mla ? gb.attention_mla(qi, ki, kci, Dv, scale, pi, si)
                             : window || sinks ? gb.attention_ext(qi, ki, vi, kci, vci, ski, scale, window, pi, si)
                                               : gb.attention(qi, ki, vi, kci, vci, scale, pi, si);
        gb.mark_output(out);
        moe_test::bound b = moe_test::bind(gb, nt);
        b.set(qi, q);
        b.set(ki, f16 ? k : rounded(k));
        if (!mla) b.set(vi, f16 ? v : rounded(v));
        if (S) b.set(pi, pos), b.set(si, seq);
        if (sinks) b.set(ski, sk);
        REQUIRE(b.run(n_past).ok());
        if (caches_after) {
            caches_after->clear();
            const std::vector<float> ka = f16 ? row_major(kh, kl) : kf, va = f16 ? row_major(vh, vl) : vf;
            caches_after->insert(caches_after->end(), ka.begin(), ka.end());
            if (!mla) caches_after->insert(caches_after->end(), va.begin(), va.end());
        }
        return b.get<float>(out);
    }
};

// The f16 run equals the f32 run bit for bit, and leaves the same cache (the batch's rows rounded as stored).
void check_same(const att_case& c) {
    for (int nt : {1, 2}) {
        CAPTURE(nt);
        std::vector<float> c16, c32;
        const std::vector<float> o16 = c.run(true, nt, &c16), o32 = c.run(false, nt, &c32);
        CHECK(moe_test::differing_bits(o16, o32) == 0);
        CHECK(moe_test::differing_bits(c16, c32) == 0);
    }
}

att_case several(att_case c, int64_t S, int64_t step) {
    c.S = S;
    for (int32_t t = 0; t < c.T; ++t)
        c.seq.push_back(t % static_cast<int32_t>(S)), c.pos.push_back(static_cast<int32_t>(t / S * step + t % S));
    return c;
}

struct isa_guard {
    simd::isa saved = simd::active().level;
    ~isa_guard() { simd::set_isa(saved); }
};

}  // namespace

TEST_CASE("f16 rows: f16_to_f32, f16_rows_to_f32 and f32_to_f16 equal half.hpp bit for bit on every ISA") {
    moe_test::rng rnd(77);
    std::vector<float> x = rnd.floats(1000, -70000.0f, 70000.0f);  // past f16's range: infinities
    const std::vector<float> small = rnd.floats(1000, -1e-4f, 1e-4f);  // subnormal halves
    x.insert(x.end(), small.begin(), small.end());
    for (int i = 0; i < 200; ++i) x.push_back(static_cast<float>(i - 100) * (1.0f / 2048.0f + 1.0f / 4096.0f));  // ties
    x.push_back(0.0f), x.push_back(-0.0f), x.push_back(INFINITY), x.push_back(-INFINITY), x.push_back(65519.0f);
    std::vector<uint16_t> h(x.size());
    for (int i = 0; i < 65536; ++i)
        if (((i >> 10) & 0x1f) != 0x1f) h.push_back(static_cast<uint16_t>(i));  // every finite half (NaNs aside)
    isa_guard g;
    for (simd::isa l : {simd::isa::ref, simd::isa::avx2, simd::isa::avx512, simd::isa::neon}) {
        if (!simd::table_for(l)) continue;
        CAPTURE(simd::isa_name(l));
        REQUIRE(simd::set_isa(l));
        for (int64_t n : {int64_t(1), int64_t(7), int64_t(8), int64_t(37), static_cast<int64_t>(x.size())}) {
            std::vector<uint16_t> got(static_cast<size_t>(n));
            simd::f32_to_f16(x.data(), got.data(), n);
            size_t bad = 0;
            for (int64_t i = 0; i < n; ++i) bad += got[static_cast<size_t>(i)] != f32_to_fp16(x[static_cast<size_t>(i)]);
            CHECK(bad == 0);
        }
        // strided rows (a KV head's rows inside the cache): rows of 20 out of every 37 halves
        std::vector<float> rows_out(5 * 20);
        simd::f16_rows_to_f32(h.data() + 3, 37, 5, 20, rows_out.data());
        size_t bad_rows = 0;
        for (int j = 0; j < 5; ++j)
            for (int e = 0; e < 20; ++e) {
                const float want = fp16_to_f32(h[static_cast<size_t>(3 + 37 * j + e)]);
                bad_rows += std::memcmp(&rows_out[static_cast<size_t>(20 * j + e)], &want, sizeof(float)) != 0;
            }
        CHECK(bad_rows == 0);
        std::vector<float> back(h.size());
        simd::f16_to_f32(h.data(), back.data(), static_cast<int64_t>(h.size()));
        size_t bad = 0;
        for (size_t i = 0; i < h.size(); ++i) {
            const float want = fp16_to_f32(h[i]);
            bad += std::memcmp(&back[i], &want, sizeof(float)) != 0;
        }
        CHECK(bad == 0);
    }
}

TEST_CASE("attention over an f16 cache equals attention over an f32 cache of the same values") {
    SUBCASE("grouped heads, a prompt over two key blocks") {
        att_case c;
        c.T = 70, c.Hq = 10, c.Hkv = 2, c.Dk = 24, c.Dv = 20, c.C = 160, c.n_past = 50;
        c.fill(1);
        check_same(c);
    }
    SUBCASE("decode: one token, one query head per KV head, 130 rows") {
        att_case c;
        c.T = 1, c.Hq = 4, c.Hkv = 4, c.Dk = 32, c.Dv = 32, c.C = 200, c.n_past = 129;
        c.fill(2);
        check_same(c);
    }
    SUBCASE("window and sinks") {
        att_case c;
        c.T = 45, c.Hq = 4, c.Hkv = 4, c.Dk = 32, c.Dv = 32, c.C = 256, c.n_past = 150, c.window = 77, c.sinks = true;
        c.fill(3);
        check_same(c);
    }
    SUBCASE("several sequences in one batch (rows of other slots in one work item)") {
        att_case c;
        c.T = 40, c.Hq = 6, c.Hkv = 3, c.Dk = 16, c.Dv = 8, c.C = 140;
        c = several(c, 3, 9);
        c.fill(4);
        check_same(c);
    }
}

TEST_CASE("attention_mla over an f16 cache equals attention_mla over an f32 cache of the same values") {
    att_case c;
    c.mla = true;
    SUBCASE("a prompt: 5 heads, two key blocks, value columns not a multiple of 16") {
        c.T = 70, c.Hq = 5, c.Dk = 72, c.Dv = 40, c.C = 160, c.n_past = 50;
        c.fill(5);
        check_same(c);
    }
    SUBCASE("decode: 16 heads over 300 rows") {
        c.T = 1, c.Hq = 16, c.Dk = 64, c.Dv = 48, c.C = 320, c.n_past = 299;
        c.fill(6);
        check_same(c);
    }
    SUBCASE("decode: 16 heads over 1100 rows (three value blocks), value columns not a multiple of 16") {
        c.T = 1, c.Hq = 16, c.Dk = 72, c.Dv = 40, c.C = 1200, c.n_past = 1099;
        c.fill(8);
        check_same(c);
    }
    SUBCASE("several sequences") {
        c.T = 20, c.Hq = 3, c.Dk = 48, c.Dv = 16, c.C = 40;
        c = several(c, 3, 3);
        c.fill(7);
        check_same(c);
    }
}

namespace {

// The model's bytes stay alive in `keep` (load_from_memory reads the caller's memory).
moe::model random_model(const std::string& arch, std::vector<uint8_t>& keep) {
    moe::testgen::model_spec s;
    s.arch = arch;
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 96;
    s.n_expert = 4, s.n_expert_used = 2, s.seed = 21;
    if (arch == "deepseek2") s.n_head_kv = 1, s.head_dim = 32, s.deepseek2.kv_lora_rank = 32, s.deepseek2.rope_dim = 16;
    if (arch == "gpt-oss") s.gpt_oss.sliding_window = 4;
    moe::result<std::vector<uint8_t>> bytes = moe::testgen::make_random_model(s);
    REQUIRE(bytes.ok());
    keep = std::move(*bytes);
    moe::result<moe::model> m = moe::model::load_from_memory(keep.data(), keep.size());
    REQUIRE(m.ok());
    return std::move(*m);
}

moe::session open_session(const moe::model& m, dtype kv) {
    moe::session_params sp;
    sp.n_ctx = 40, sp.n_threads = 2, sp.kv_type = kv;
    moe::result<moe::session> s = moe::session::create(m, sp);
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    return std::move(*s);
}

std::vector<float> logits_of(const moe::session& s) {
    REQUIRE(s.logits() != nullptr);
    return std::vector<float>(s.logits(), s.logits() + s.n_vocab());
}

}  // namespace

// Tolerance: keys and values rounded to binary16 carry a relative error of at most 2^-11 each; on these 2-layer
// random models that moves the logits by 4e-5 .. 2e-4 relative L2 (measured, every step). 2e-3 fails on any real
// mistake (a wrong row, an unconverted half read as a float: errors of order 1) while leaving room for the rounding.
TEST_CASE("sessions with an f16 KV cache: near the f32 cache, half the state, save and restore, refusals") {
    for (const std::string arch : {"llama", "qwen3moe", "deepseek2", "gpt-oss"}) {
        CAPTURE(arch);
        std::vector<uint8_t> bytes;
        moe::model m = random_model(arch, bytes);
        moe::session a = open_session(m, dtype::f32), h = open_session(m, dtype::f16);
        std::vector<int32_t> p;
        for (int i = 0; i < 30; ++i) p.push_back(static_cast<int32_t>(1 + (i * 37) % 290));
        REQUIRE(a.eval(p.data(), 20).ok());
        REQUIRE(h.eval(p.data(), 20).ok());
        double worst = 0;
        for (int i = 20; i < 30; ++i) {  // decode against the cache
            REQUIRE(a.eval(&p[static_cast<size_t>(i)], 1).ok());
            REQUIRE(h.eval(&p[static_cast<size_t>(i)], 1).ok());
            const std::vector<float> la = logits_of(a), lh = logits_of(h);
            double num = 0, den = 0;
            for (size_t j = 0; j < la.size(); ++j) {
                num += (double(lh[j]) - la[j]) * (double(lh[j]) - la[j]);
                den += double(la[j]) * la[j];
            }
            CHECK(std::sqrt(num / den) < 2e-3);
            CHECK(std::sqrt(num / den) > 0.0);  // the rounding shows: the cache really is f16
            worst = std::max(worst, std::sqrt(num / den));
        }
        MESSAGE(arch << ": f16 vs f32 cache, worst decode step rel-L2 " << worst);
        // the state holds half the bytes per cached row (plus the same header and logits)
        const size_t logits_bytes = static_cast<size_t>(a.n_vocab()) * sizeof(float);
        const size_t sa = a.state_size(), sh = h.state_size();
        CHECK(sh - logits_bytes < (sa - logits_bytes) / 2 + 512);
        CHECK(sh - logits_bytes > (sa - logits_bytes) / 2 - 512);
        std::vector<uint8_t> state(sh), state32(sa);
        REQUIRE(h.save_state(state.data(), state.size()).ok());
        REQUIRE(a.save_state(state32.data(), state32.size()).ok());
        {  // the blob is row-major whatever the cache's layout: layer 0's keys (projections of the embeddings, the
           // same with either cache) are the f32 state's, rounded to binary16
            const size_t shapes = 8 + 4 + 4 + 4 + 8 + 8, rows_at = shapes + 2 * 3 * 8;  // two layers
            int64_t hk = 0, dk = 0;
            std::memcpy(&hk, state.data() + shapes, 8);
            std::memcpy(&dk, state.data() + shapes + 8, 8);
            int bad = 0;
            for (size_t i = 0; i < static_cast<size_t>(30 * hk * dk); ++i) {
                uint16_t x16 = 0;
                float x32 = 0;
                std::memcpy(&x16, state.data() + rows_at + 2 * i, 2);
                std::memcpy(&x32, state32.data() + rows_at + 4 * i, 4);
                bad += x16 == f32_to_fp16(x32) ? 0 : 1;
            }
            CHECK(bad == 0);
        }
        const std::vector<float> at30 = logits_of(h);
        moe::session r = open_session(m, dtype::f16);
        REQUIRE(r.load_state(state.data(), state.size()).ok());
        CHECK(r.n_past() == 30);
        CHECK(moe_test::differing_bits(logits_of(r), at30) == 0);
        REQUIRE(h.eval(p.data(), 3).ok());
        REQUIRE(r.eval(p.data(), 3).ok());
        CHECK(moe_test::differing_bits(logits_of(r), logits_of(h)) == 0);  // the restored cache is the saved one, bit for bit
        // another cache type is refused, and leaves an empty cache
        CHECK(r.load_state(state32.data(), state32.size()).code() == moe::errc::shape_mismatch);
        CHECK(r.n_past() == 0);
        const std::vector<float> a_at30 = logits_of(a);
        CHECK(a.load_state(state.data(), state.size()).code() == moe::errc::shape_mismatch);
        // an f32 state in the earlier format ("MOEKV001", no cache type after has_logits) still loads
        std::vector<uint8_t> v1(state32.begin(), state32.end());
        v1[7] = '1';
        v1.erase(v1.begin() + 16, v1.begin() + 20);
        moe::session a1 = open_session(m, dtype::f32);
        REQUIRE(a1.load_state(v1.data(), v1.size()).ok());
        CHECK(a1.n_past() == 30);
        CHECK(moe_test::differing_bits(logits_of(a1), a_at30) == 0);
    }
    std::vector<uint8_t> bytes;
    moe::model m = random_model("llama", bytes);
    moe::session_params sp;
    sp.kv_type = dtype::q8_0;
    moe::result<moe::session> bad = moe::session::create(m, sp);
    REQUIRE(!bad.ok());
    CHECK(bad.error().code() == moe::errc::invalid_argument);
}
