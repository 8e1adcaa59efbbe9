// test_arch_gpt_oss_granite.cpp — the gpt-oss and granitemoe builders on generated files: batch, split batches and
// token-by-token agree past the sliding window, the window and the multipliers act, bad metadata gets clear errors.
// Before: the model writer (src/testgen). After: nothing; conformance against llama.cpp is tests/conformance.
#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

moe::testgen::model_spec gpt_oss_spec() {
    moe::testgen::model_spec s;
    s.arch = "gpt-oss";
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.head_dim = 32, s.n_ff = 64;
    s.n_expert = 4, s.n_expert_used = 2, s.seed = 7;
    s.gpt_oss.sliding_window = 5;
    return s;
}

moe::testgen::model_spec granite_spec() {
    moe::testgen::model_spec s;
    s.arch = "granitemoe";
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 64;
    s.n_expert = 4, s.n_expert_used = 2, s.seed = 8, s.n_ff_shexp = 32;
    return s;
}

moe::model load(const moe::testgen::model_spec& spec) {
    moe::result<std::vector<uint8_t>> bytes = moe::testgen::make_random_model(spec);
    REQUIRE_MESSAGE(bytes.ok(), bytes.error().to_string());
    const std::string path = std::string(MOE_TEST_TMPDIR) + "/arch_" + spec.arch + "_" + std::to_string(spec.seed) +
                             ".gguf";
    REQUIRE(moe::testgen::write_random_model(path, spec).ok());
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    return std::move(*m);
}

std::vector<int32_t> prompt(size_t n) {
    std::vector<int32_t> p{1};
    for (size_t i = 1; i < n; ++i) p.push_back(static_cast<int32_t>(3 + (i * 37) % 290));
    return p;
}

double rel_l2(const float* a, const float* b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
    return std::sqrt(num / den);
}

moe::session make_session(const moe::model& m, int64_t max_batch = 512) {
    moe::session_params sp;
    sp.n_threads = 2, sp.max_batch = max_batch, sp.n_ctx = 64;
    moe::result<moe::session> s = moe::session::create(m, sp);
    REQUIRE(s.ok());
    return std::move(*s);
}

// All-position logits of one batch, of batches of 4, and token by token agree.
void check_batch_split_single(const moe::model& m, size_t n) {
    const std::vector<int32_t> p = prompt(n);
    const int64_t V = m.info().n_vocab;
    moe::session whole = make_session(m);
    REQUIRE(whole.eval(p.data(), p.size(), moe::logits_mode::all).ok());
    moe::session split = make_session(m, 4);
    REQUIRE(split.eval(p.data(), p.size(), moe::logits_mode::all).ok());
    moe::session single = make_session(m);
    for (size_t i = 0; i < p.size(); ++i) {
        REQUIRE(single.eval(&p[i], 1).ok());
        CHECK(rel_l2(single.logits(), whole.logits(static_cast<int64_t>(i)), V) < 1e-5);
        CHECK(rel_l2(split.logits(static_cast<int64_t>(i)), whole.logits(static_cast<int64_t>(i)), V) < 1e-5);
    }
}

// The generated file with its metadata passed through `edit(key, writer, value)`, which returns true when it has
// handled (dropped or rewritten) the key; tensors are copied unchanged.
template <class Edit>
std::vector<uint8_t> edit_keys(const moe::testgen::model_spec& spec, Edit edit) {
    moe::result<std::vector<uint8_t>> bytes = moe::testgen::make_random_model(spec);
    REQUIRE(bytes.ok());
    moe::result<moe::gguf::file> g = moe::gguf::file::parse(bytes->data(), bytes->size());
    REQUIRE(g.ok());
    moe::gguf::writer w;
    for (const auto& kv : g->kvs())
        if (!edit(kv.first, w, kv.second)) w.set_value(kv.first, kv.second);
    for (const moe::gguf::tensor_info& t : g->tensors())
        REQUIRE(w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data, t.nbytes).ok());
    return w.finish();
}

std::vector<float> last_logits(const moe::model& m, const std::vector<int32_t>& p) {
    moe::session s = make_session(m);
    REQUIRE(s.eval(p.data(), p.size()).ok());
    return std::vector<float>(s.logits(), s.logits() + s.n_vocab());
}

}  // namespace

TEST_CASE("gpt-oss: batch, split batches and token-by-token agree past the sliding window") {
    moe::model m = load(gpt_oss_spec());
    CHECK(m.info().architecture == "gpt-oss");
    check_batch_split_single(m, 20);  // four times the window of 5
}

TEST_CASE("gpt-oss: the window and the first tokens") {
    const std::vector<int32_t> p = prompt(12);
    moe::testgen::model_spec narrow = gpt_oss_spec(), wide = gpt_oss_spec();
    wide.gpt_oss.sliding_window = 1000;  // wider than the prompt: the sliding layers attend to everything
    const std::vector<float> a = last_logits(load(narrow), p), b = last_logits(load(wide), p);
    CHECK(rel_l2(a.data(), b.data(), 300) > 1e-3);  // the window changes the answer
    // within the window, nothing is cut: the logits of the first 5 tokens are the same either way
    const std::vector<int32_t> first(p.begin(), p.begin() + 5);
    const std::vector<float> c = last_logits(load(narrow), first), d = last_logits(load(wide), first);
    CHECK(rel_l2(c.data(), d.data(), 300) < 1e-6);
}

TEST_CASE("gpt-oss: MXFP4 experts load and run") {
    moe::testgen::model_spec s = gpt_oss_spec();
    s.weight_type = moe::dtype::q8_0, s.gpt_oss.mxfp4_experts = true;
    const std::vector<float> q = last_logits(load(s), prompt(8));
    const std::vector<float> f = last_logits(load(gpt_oss_spec()), prompt(8));
    CHECK(rel_l2(q.data(), f.data(), 300) < 0.5);  // same weights, quantized
}

TEST_CASE("granitemoe: batch, split batches and token-by-token agree; the multipliers act") {
    moe::model m = load(granite_spec());
    CHECK(m.info().architecture == "granitemoe");
    check_batch_split_single(m, 12);
    // the logit scale divides the logits: doubling it (same weights) halves them
    const std::vector<uint8_t> doubled = edit_keys(granite_spec(), [](const std::string& key, moe::gguf::writer& w,
                                                                       const moe::gguf::value& v) {
        if (key != "granitemoe.logit_scale") return false;
        w.set_f32(key, static_cast<float>(v.num.f * 2));
        return true;
    });
    moe::result<moe::model> m2 = moe::model::load_from_memory(doubled.data(), doubled.size());
    REQUIRE(m2.ok());
    const std::vector<int32_t> p = prompt(6);
    const std::vector<float> a = last_logits(m, p), b = last_logits(*m2, p);
    double worst = 0, mag = 0;
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(double(b[i]) * 2 - a[i])), mag = std::max(mag, std::fabs(double(a[i])));
    CHECK(worst <= 1e-6 * mag);
}

namespace {
// The generated file without one metadata key, loaded from memory: the error must name the key.
void check_missing_key(const moe::testgen::model_spec& spec, const std::string& key) {
    CAPTURE(key);
    const std::vector<uint8_t> out =
        edit_keys(spec, [&](const std::string& k, moe::gguf::writer&, const moe::gguf::value&) { return k == key; });
    moe::result<moe::model> m = moe::model::load_from_memory(out.data(), out.size());
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message().find(key) != std::string::npos);
}
}  // namespace

TEST_CASE("gpt-oss and granitemoe: missing metadata is named") {
    check_missing_key(gpt_oss_spec(), "gpt-oss.attention.sliding_window");
    check_missing_key(gpt_oss_spec(), "gpt-oss.expert_feed_forward_length");
    check_missing_key(granite_spec(), "granitemoe.logit_scale");
}
