// test_batched_decode.cpp — several sequences in one forward pass (session::eval_batch): every architecture gives
// the logits of separate single-sequence sessions, sequences join and leave, errors, no allocation per step.
// Before: the model writer (src/testgen) and the session (src/model/session.cpp). After: nothing.
#include "alloc_hooks.hpp"
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

moe::testgen::model_spec base_spec(const std::string& arch, moe::dtype t) {
    moe::testgen::model_spec s;
    s.arch = arch, s.weight_type = t;
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 64;
    s.n_expert = 4, s.n_expert_used = 2, s.seed = 11;
    if (arch == "qwen2moe") s.n_ff_shexp = 32;
    if (arch == "olmoe") s.n_head_kv = 4;
    if (arch == "granitemoe") s.n_ff_shexp = 32;
    if (arch == "gpt-oss") s.head_dim = 32, s.gpt_oss.sliding_window = 5;  // the window matters past 5 tokens
    if (arch == "deepseek2" || arch == "deepseek2-legacy") {
        s.arch = "deepseek2", s.n_layer = 3, s.n_head_kv = 1, s.head_dim = 48, s.n_ff = 32, s.n_expert = 8;
        moe::testgen::model_spec::deepseek2_spec& d = s.deepseek2;
        d.q_lora_rank = 32, d.kv_lora_rank = 32, d.rope_dim = 16, d.n_ff_dense = 64, d.n_group = 4;
        d.n_group_used = 2, d.sigmoid = true, d.weights_norm = true, d.yarn_factor = 4.0f, d.yarn_orig_ctx = 256;
        d.legacy_kv_b = arch == "deepseek2-legacy";  // plain attention over full K/V instead of MLA's latent cache
    }
    return s;
}

moe::model load(const std::string& arch, moe::dtype t) {
    const std::string path = std::string(MOE_TEST_TMPDIR) + "/batched_" + arch + "_" + moe::dtype_name(t) + ".gguf";
    const moe::status w = moe::testgen::write_random_model(path, base_spec(arch, t));
    INFO(w.message());
    REQUIRE(w.ok());
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    return std::move(*m);
}

moe::session open(const moe::model& m, int n_seq, int64_t max_batch = 512, int64_t n_ctx = 64,
                  moe::dtype kv_type = moe::dtype::f32) {
    moe::session_params sp;
    sp.n_threads = 2, sp.max_batch = max_batch, sp.n_ctx = n_ctx, sp.n_seq = n_seq, sp.kv_type = kv_type;
    moe::result<moe::session> s = moe::session::create(m, sp);
    REQUIRE(s.ok());
    return std::move(*s);
}

// Token j of logical stream k (deterministic, inside the 300-token vocabulary).
int32_t stream_token(int k, int j) { return static_cast<int32_t>(j == 0 ? 1 : 3 + (k * 101 + j * 37) % 290); }

// One logical sequence of the schedule: its slot and its logits by position (from the batched session).
struct stream {
    explicit stream(int s) : slot(s) {}
    int slot;
    int64_t n = 0;  // tokens fed so far
    std::map<int64_t, std::vector<float>> logits;
    std::vector<int64_t> chunks;  // tokens per eval_batch step, for the reference session's same split
};

// A step: (stream, token count) in batch order, then the streams that leave.
struct step {
    std::vector<std::pair<int, int>> parts;
    std::vector<int> leave;
    moe::logits_mode mode = moe::logits_mode::last;
};

struct comparison {
    double max_rel_l2 = 0, max_abs = 0;
    int compared = 0, argmax_differs = 0;
};

double rel_l2(const float* a, const float* b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

int64_t argmax_of(const float* l, int64_t n) { return std::max_element(l, l + n) - l; }

// Streams A (slot 0), B (slot 1, leaves early), C (slot 2, leaves later), D (slot 3, joins late), E (slot 1 after
// B: the slot is reused with stale rows in it); prompts of 7, 3, 12, 5 and 4 tokens, mixed with other streams'
// decode tokens.
std::vector<step> schedule() {
    using moe::logits_mode;
    std::vector<step> s;
    s.push_back({{{0, 7}, {1, 3}}, {}, logits_mode::all});
    s.push_back({{{0, 1}, {2, 12}, {1, 1}}, {}, logits_mode::last});
    s.push_back({{{2, 1}, {1, 1}, {0, 1}}, {}, logits_mode::last});
    s.push_back({{{0, 1}, {3, 5}, {1, 1}, {2, 1}}, {1}, logits_mode::last});
    s.push_back({{{4, 4}, {0, 1}, {2, 1}, {3, 1}}, {}, logits_mode::all});
    for (int i = 0; i < 3; ++i) s.push_back({{{0, 1}, {2, 1}, {3, 1}, {4, 1}}, {}, logits_mode::last});
    s.back().leave = {2};  // C leaves too
    for (int i = 0; i < 3; ++i) s.push_back({{{3, 1}, {0, 1}, {4, 1}}, {}, logits_mode::last});
    return s;
}

// Runs the schedule on one session of 4 sequences, then each stream alone on a 1-sequence session split the same
// way (prompt in one eval, then token by token), and compares every logits row the batched run produced.
comparison batched_vs_separate(const moe::model& m, int64_t max_batch, moe::dtype kv_type = moe::dtype::f32) {
    std::vector<stream> st = {stream(0), stream(1), stream(2), stream(3), stream(1)};
    moe::session b = open(m, 4, max_batch, 64, kv_type);
    const int64_t V = b.n_vocab();
    for (const step& sp : schedule()) {
        std::vector<int32_t> tok, seq;
        std::vector<std::pair<int, int64_t>> who;  // per batch index: stream, position
        for (const auto& p : sp.parts) {
            for (int j = 0; j < p.second; ++j) {
                stream& x = st[static_cast<size_t>(p.first)];
                who.push_back({p.first, x.n});
                tok.push_back(stream_token(p.first, static_cast<int>(x.n++)));
                seq.push_back(x.slot);
            }
            st[static_cast<size_t>(p.first)].chunks.push_back(p.second);
        }
        REQUIRE(b.eval_batch(tok.data(), seq.data(), tok.size(), sp.mode).ok());
        for (size_t i = 0; i < tok.size(); ++i) {
            const bool last_of_stream = i + 1 == tok.size() || who[i + 1].first != who[i].first;
            const float* l = b.logits(static_cast<int64_t>(i));
            CHECK((l != nullptr) == (sp.mode == moe::logits_mode::all || last_of_stream));
            if (l) st[static_cast<size_t>(who[i].first)].logits[who[i].second].assign(l, l + V);
        }
        for (const auto& p : sp.parts)
            CHECK(b.n_past(st[static_cast<size_t>(p.first)].slot) == st[static_cast<size_t>(p.first)].n);
        for (int k : sp.leave) REQUIRE(b.clear_seq(st[static_cast<size_t>(k)].slot).ok());
    }
    comparison c;
    for (size_t k = 0; k < st.size(); ++k) {
        moe::session r = open(m, 1, max_batch, 64, kv_type);
        int64_t pos = 0;
        for (int64_t n : st[k].chunks) {
            std::vector<int32_t> tok;
            for (int64_t j = 0; j < n; ++j) tok.push_back(stream_token(static_cast<int>(k), static_cast<int>(pos + j)));
            REQUIRE(r.eval(tok.data(), tok.size(), moe::logits_mode::all).ok());
            for (int64_t j = 0; j < n; ++j) {
                auto it = st[k].logits.find(pos + j);
                if (it == st[k].logits.end()) continue;
                const float* ref = r.logits(j);
                REQUIRE(ref);
                c.max_rel_l2 = std::max(c.max_rel_l2, rel_l2(it->second.data(), ref, V));
                for (int64_t v = 0; v < V; ++v)
                    c.max_abs = std::max(c.max_abs, std::fabs(double(it->second[static_cast<size_t>(v)]) - ref[v]));
                c.argmax_differs += argmax_of(it->second.data(), V) != argmax_of(ref, V);
                ++c.compared;
            }
            pos += n;
        }
    }
    return c;
}

const char* const all_archs[] = {"llama", "qwen3moe", "qwen2moe", "olmoe", "deepseek2", "deepseek2-legacy",
                                 "gpt-oss", "granitemoe"};

}  // namespace

// Tolerance: a sequence's rows meet the same weights in a batch of several sequences as alone, and with f32 and
// q8_0 weights every per-row kernel rounds the same whatever the batch, so the logits are bit-identical, except
// for the absorbed MLA attention (deepseek2), which picks its float order by the batch's token count (tiled score
// and value sums for batches, as llama.cpp's CPU graph does): there rel-L2 <= 1e-5 per logits row and the same
// argmax. (Weight types whose multi-row matmul tiles use another float order, q4_K and friends for 4+ rows, would
// differ in the last bits the same way.)
TEST_CASE("eval_batch: 4 sequences joining and leaving match separate sessions, every architecture") {
    for (const char* arch : all_archs)
        for (moe::dtype t : {moe::dtype::f32, moe::dtype::q8_0}) {
            const std::string what = std::string(arch) + " " + moe::dtype_name(t);
            CAPTURE(what);
            moe::model m = load(arch, t);
            for (int64_t max_batch : {int64_t(512), int64_t(3)}) {  // 3: steps split into chunks
                CAPTURE(max_batch);
                const comparison c = batched_vs_separate(m, max_batch);
                MESSAGE(what << " max_batch " << max_batch << ": " << c.compared
                             << " rows, max rel-L2 " << c.max_rel_l2 << ", max |diff| " << c.max_abs);
                CHECK(c.compared > 40);
                CHECK(c.argmax_differs == 0);
                if (std::string(arch) == "deepseek2") CHECK(c.max_rel_l2 <= 1e-5);
                else CHECK(c.max_abs == 0.0);
            }
        }
}

// The same with an f16 KV cache (each slot's rows stored rounded, widened for the arithmetic): the batched rows still
// meet what separate f16 sessions compute, so the same tolerance holds.
TEST_CASE("eval_batch: an f16 KV cache matches separate f16 sessions") {
    for (const char* arch : {"llama", "deepseek2", "deepseek2-legacy", "gpt-oss"}) {
        CAPTURE(std::string(arch));
        moe::model m = load(arch, moe::dtype::q8_0);
        const comparison c = batched_vs_separate(m, 512, moe::dtype::f16);
        CHECK(c.compared > 40);
        CHECK(c.argmax_differs == 0);
        if (std::string(arch) == "deepseek2") CHECK(c.max_rel_l2 <= 1e-5);
        else CHECK(c.max_abs == 0.0);
    }
}

TEST_CASE("eval_batch: the single-sequence calls are sequence 0, bit-identical to a 1-sequence session") {
    moe::model m = load("llama", moe::dtype::q8_0);
    moe::session one = open(m, 1), four = open(m, 4);
    std::vector<int32_t> p;
    for (int j = 0; j < 9; ++j) p.push_back(stream_token(0, j));
    REQUIRE(one.eval(p.data(), p.size()).ok());
    REQUIRE(four.eval(p.data(), p.size()).ok());
    CHECK(four.n_past() == 9);
    CHECK(four.n_past(0) == 9);
    CHECK(four.n_past(1) == 0);
    CHECK(std::equal(one.logits(), one.logits() + one.n_vocab(), four.logits()));
    for (int i = 0; i < 4; ++i) {
        const int32_t t = one.argmax();
        REQUIRE(one.eval(&t, 1).ok());
        REQUIRE(four.eval(&t, 1).ok());
        CHECK(std::equal(one.logits(), one.logits() + one.n_vocab(), four.logits()));
    }
    // eval_batch on a 1-sequence session is eval
    const int32_t t = one.argmax(), zero = 0;
    REQUIRE(one.eval_batch(&t, &zero, 1).ok());
    CHECK(one.n_past() == 14);
    CHECK(one.n_seq() == 1);
    CHECK(four.n_seq() == 4);
    REQUIRE(four.truncate(5).ok());
    CHECK(four.n_past(0) == 5);
}

TEST_CASE("eval_batch: errors leave every sequence as it was") {
    moe::model m = load("llama", moe::dtype::f32);
    moe::session s = open(m, 3, 512, 8);
    const int32_t tok[3] = {1, 5, 7};
    const int32_t seq[3] = {0, 1, 2};
    REQUIRE(s.eval_batch(tok, seq, 3).ok());
    const int32_t bad_seq[2] = {0, 3}, neg_seq[1] = {-1};
    moe::status st = s.eval_batch(tok, bad_seq, 2);
    CHECK(st.code() == moe::errc::invalid_argument);
    CHECK(st.message().find("sequence id 3") != std::string::npos);
    CHECK(s.eval_batch(tok, neg_seq, 1).code() == moe::errc::invalid_argument);
    const int32_t bad_tok[2] = {1, 300};
    CHECK(s.eval_batch(bad_tok, seq, 2).code() == moe::errc::invalid_argument);
    CHECK(s.eval_batch(tok, nullptr, 1).code() == moe::errc::invalid_argument);
    CHECK(s.eval_batch(tok, seq, 0).code() == moe::errc::invalid_argument);
    // sequence 1 holds 1 token of 8: 7 more fit, 8 do not, even with other sequences' tokens in the batch
    std::vector<int32_t> t8(9, 5), s8(9, 1);
    s8[0] = 0;
    st = s.eval_batch(t8.data(), s8.data(), 9);
    CHECK(st.code() == moe::errc::context_full);
    CHECK(st.message().find("sequence 1") != std::string::npos);
    CHECK(s.n_past(0) == 1);
    CHECK(s.n_past(1) == 1);
    CHECK(s.n_past(2) == 1);
    REQUIRE(s.eval_batch(t8.data() + 1, s8.data() + 1, 7).ok());
    CHECK(s.n_past(1) == 8);
    CHECK(s.logits(6) != nullptr);
    CHECK(s.logits(5) == nullptr);
    // clear_seq / truncate(seq, n) bounds
    CHECK(s.clear_seq(3).code() == moe::errc::invalid_argument);
    CHECK(s.truncate(1, 9).code() == moe::errc::invalid_argument);
    CHECK(s.truncate(4, 0).code() == moe::errc::invalid_argument);
    REQUIRE(s.truncate(1, 2).ok());
    CHECK(s.n_past(1) == 2);
    CHECK(s.logits(6) == nullptr);  // sequence 1's logits are forgotten
    REQUIRE(s.clear_seq(1).ok());
    CHECK(s.n_past(1) == 0);
    CHECK(s.n_past(-1) == 0);
    moe::session_params sp;
    sp.n_seq = 0;
    CHECK(moe::session::create(m, sp).error().code() == moe::errc::invalid_argument);
}

TEST_CASE("eval_batch: batched decoding allocates nothing after warm-up (sequences joining and leaving)") {
    for (const char* arch : {"qwen3moe", "deepseek2", "gpt-oss"}) {
        const std::string name = arch;
        CAPTURE(name);
        moe::model m = load(arch, moe::dtype::q4_0);
        moe::session s = open(m, 4, 512, 128);
        std::vector<int32_t> tok, seq;
        for (int q = 0; q < 4; ++q)
            for (int j = 0; j < 4 + q; ++j) tok.push_back(stream_token(q, j)), seq.push_back(q);
        REQUIRE(s.eval_batch(tok.data(), seq.data(), tok.size()).ok());
        // decode steps: 4, 3 and 2 sequences at once (one leaves, then joins again with its next token)
        auto run = [&](int steps) {
            bool ok = true;
            for (int i = 0; i < steps; ++i) {
                const int active = 4 - i % 3;
                int32_t t[4], q[4];
                for (int k = 0; k < active; ++k) q[k] = k, t[k] = 3 + (i * 7 + k) % 290;
                ok = ok && s.eval_batch(t, q, static_cast<size_t>(active)).ok();
                for (int k = 0; k < active; ++k) ok = ok && s.argmax(k) >= 0;
            }
            return ok;
        };
        REQUIRE(run(6));  // warm-up: the executors of each batch shape
        alloc_hooks::start_counting();
        const bool ok = run(12);
        const long allocs = alloc_hooks::stop_counting();
        CHECK(ok);
        CHECK(allocs == 0);
    }
}
