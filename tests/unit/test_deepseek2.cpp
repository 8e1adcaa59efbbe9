// test_deepseek2.cpp — the deepseek2 builder (src/arch/deepseek2.cpp, mla.cpp) on files from the test-model writer:
// both variants load with a latent-only KV cache, the older attn_kv_b layout computes the same function, batches and
// token-by-token decoding agree, and unsupported or inconsistent files fail with clear messages.
#include "arch/arch.hpp"
#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

// V2-Lite-like (no q LoRA, softmax, 2 shared experts) or V3-like (q LoRA, sigmoid + bias, groups, norm, scale, YaRN).
moe::testgen::model_spec ds_spec(bool v3, moe::dtype t = moe::dtype::f32) {
    moe::testgen::model_spec s;
    s.arch = "deepseek2", s.n_vocab = 300, s.n_embd = 64, s.n_layer = 3, s.n_head = 4, s.n_head_kv = 1;
    s.head_dim = 48, s.n_ff = 32, s.n_expert = 8, s.n_expert_used = 2, s.seed = v3 ? 8 : 7, s.weight_type = t;
    moe::testgen::model_spec::deepseek2_spec& d = s.deepseek2;
    d.kv_lora_rank = 32, d.rope_dim = 16, d.n_dense_lead = 1, d.n_ff_dense = 64;
    if (v3) {
        d.q_lora_rank = 32, d.n_expert_shared = 1, d.n_group = 4, d.n_group_used = 2, d.sigmoid = true;
        d.weights_norm = true, d.weights_scale = 2.5f, d.yarn_factor = 4.0f, d.yarn_orig_ctx = 256;
        d.yarn_mscale_all_dim = 1.0f;
    } else {
        d.n_expert_shared = 2, d.yarn_factor = 40.0f, d.yarn_orig_ctx = 4096, d.yarn_mscale_all_dim = 0.707f;
    }
    return s;
}

std::vector<uint8_t> bytes_of(const moe::testgen::model_spec& s) {
    moe::result<std::vector<uint8_t>> b = moe::testgen::make_random_model(s);
    REQUIRE_MESSAGE(b.ok(), b.error().to_string());
    return std::move(*b);
}

// The file re-written with `edit` applied to its keys and tensors (copying everything else).
std::vector<uint8_t> edited(const std::vector<uint8_t>& src,
                            const std::function<bool(const std::string& key, moe::gguf::writer& w)>& skip_key,
                            const std::function<bool(const std::string& tensor)>& skip_tensor) {
    moe::result<moe::gguf::file> g = moe::gguf::file::parse(src.data(), src.size());
    REQUIRE(g.ok());
    moe::gguf::writer w;
    for (const auto& kv : g->kvs())
        if (!skip_key(kv.first, w)) w.set_value(kv.first, kv.second);
    for (const auto& t : g->tensors())
        if (!skip_tensor(t.name)) REQUIRE(w.add_tensor(t.name, t.type, {t.ne, t.ne + t.n_dims}, t.data, t.nbytes).ok());
    return w.finish();
}

std::vector<int32_t> prompt(size_t n) {
    std::vector<int32_t> p{1};
    for (size_t i = 1; i < n; ++i) p.push_back(static_cast<int32_t>(3 + (i * 53) % 290));
    return p;
}

// Logits of every prompt position: in one batch, or one token at a time.
std::vector<float> logits(const std::vector<uint8_t>& file, const std::vector<int32_t>& p, bool single) {
    moe::result<moe::model> m = moe::model::load_from_memory(file.data(), file.size());
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    moe::session_params sp;
    sp.n_threads = 2, sp.n_ctx = 128;
    moe::result<moe::session> s = moe::session::create(*m, sp);
    REQUIRE(s.ok());
    std::vector<float> out;
    if (single) {
        for (int32_t t : p) {
            REQUIRE(s->eval(&t, 1).ok());
            out.insert(out.end(), s->logits(0), s->logits(0) + s->n_vocab());
        }
    } else {
        REQUIRE(s->eval(p.data(), p.size(), moe::logits_mode::all).ok());
        for (size_t i = 0; i < p.size(); ++i)
            out.insert(out.end(), s->logits(static_cast<int64_t>(i)), s->logits(static_cast<int64_t>(i)) + s->n_vocab());
    }
    return out;
}

double max_rel_l2(const std::vector<float>& a, const std::vector<float>& b, size_t n_vocab) {
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (size_t p = 0; p < a.size() / n_vocab; ++p) {
        double num = 0, den = 0;
        for (size_t v = p * n_vocab; v < (p + 1) * n_vocab; ++v)
            num += (double(a[v]) - b[v]) * (double(a[v]) - b[v]), den += double(b[v]) * b[v];
        worst = std::max(worst, std::sqrt(num / den));
    }
    return worst;
}

moe::status load_status(const std::vector<uint8_t>& file) {
    moe::result<moe::model> m = moe::model::load_from_memory(file.data(), file.size());
    return m.ok() ? moe::ok_status() : m.error();
}

}  // namespace

TEST_CASE("deepseek2: both writer variants load, and the KV cache holds one latent head per token") {
    for (bool v3 : {false, true}) {
        CAPTURE(v3);
        for (moe::dtype t : {moe::dtype::f32, moe::dtype::q8_0}) {
            const std::vector<uint8_t> file = bytes_of(ds_spec(v3, t));
            moe::result<moe::gguf::file> g = moe::gguf::file::parse(file.data(), file.size());
            REQUIRE(g.ok());
            moe::result<std::unique_ptr<moe::architecture>> a = moe::create_architecture(*g);
            REQUIRE_MESSAGE(a.ok(), a.error().to_string());
            const moe::model_info& in = (*a)->info();
            CHECK(in.architecture == "deepseek2");
            CHECK(in.n_layer == 3);
            CHECK(in.head_dim == 48);
            const std::vector<moe::kv_layer_shape> kv = (*a)->kv_shape();
            REQUIRE(kv.size() == 3);
            for (const moe::kv_layer_shape& l : kv) {
                CHECK(l.n_head_kv == 1);
                CHECK(l.key_dim == 32 + 16);  // kv_lora_rank + rope dims
                CHECK(l.value_dim == 0);      // values are read from the latent
            }
            // a graph builds for a prompt and for one decoded token
            std::vector<float> k(128 * 48), v(1);
            moe::build_request req;
            req.n_ctx = 128, req.n_tokens = 5, req.all_logits = true;
            for (int i = 0; i < 3; ++i) req.k_cache.push_back(k.data()), req.v_cache.push_back(v.data());
            CHECK((*a)->build(req).ok());
            req.n_tokens = 1;
            CHECK((*a)->build(req).ok());
        }
    }
}

TEST_CASE("deepseek2: the older attn_kv_b layout (full K/V cache) computes what the absorbed MLA layout computes") {
    for (bool v3 : {false, true}) {
        CAPTURE(v3);
        moe::testgen::model_spec s = ds_spec(v3);
        const std::vector<uint8_t> mla = bytes_of(s);
        s.deepseek2.legacy_kv_b = true;
        const std::vector<uint8_t> legacy = bytes_of(s);
        moe::result<moe::gguf::file> g = moe::gguf::file::parse(legacy.data(), legacy.size());
        REQUIRE(g.ok());
        CHECK(g->find_tensor("blk.0.attn_kv_b.weight") != nullptr);
        CHECK(g->find_tensor("blk.0.attn_k_b.weight") == nullptr);
        moe::result<std::unique_ptr<moe::architecture>> a = moe::create_architecture(*g);
        REQUIRE(a.ok());
        CHECK((*a)->kv_shape()[0].n_head_kv == 4);
        CHECK((*a)->kv_shape()[0].value_dim == 32);
        const std::vector<int32_t> p = prompt(24);
        CHECK(max_rel_l2(logits(mla, p, false), logits(legacy, p, false), 300) < 1e-5);
    }
}

TEST_CASE("deepseek2: one batch and token-by-token decoding give the same logits") {
    for (bool v3 : {false, true}) {
        CAPTURE(v3);
        const std::vector<uint8_t> file = bytes_of(ds_spec(v3));
        const std::vector<int32_t> p = prompt(40);
        CHECK(max_rel_l2(logits(file, p, true), logits(file, p, false), 300) < 1e-5);
    }
}

TEST_CASE("deepseek2: unsupported and inconsistent files fail with clear messages") {
    const std::vector<uint8_t> good = bytes_of(ds_spec(true));
    auto keep = [](const std::string&) { return false; };
    SUBCASE("a gating function other than softmax or sigmoid") {
        moe::status st = load_status(edited(good, [](const std::string& k, moe::gguf::writer& w) {
            if (k != "deepseek2.expert_gating_func") return false;
            w.set_u32(k, 4);
            return true;
        }, keep));
        CHECK(st.code() == moe::errc::unsupported);
        CHECK(st.message().find("expert_gating_func") != std::string::npos);
    }
    SUBCASE("attention temperature scaling") {
        moe::status st = load_status(edited(good, [](const std::string& k, moe::gguf::writer& w) {
            if (k == "deepseek2.expert_count") w.set_f32("deepseek2.attention.temperature_scale", 0.1f);
            return false;
        }, keep));
        CHECK(st.code() == moe::errc::unsupported);
        CHECK(st.message().find("temperature_scale") != std::string::npos);
    }
    SUBCASE("a missing MLA tensor is named") {
        moe::status st = load_status(edited(good, [](const std::string&, moe::gguf::writer&) { return false; },
                                            [](const std::string& t) { return t == "blk.2.attn_v_b.weight"; }));
        CHECK(st.code() == moe::errc::shape_mismatch);
        CHECK(st.message().find("blk.2.attn_v_b.weight") != std::string::npos);
    }
    SUBCASE("a key length that does not match kv_lora_rank + rope dims") {
        moe::status st = load_status(edited(good, [](const std::string& k, moe::gguf::writer& w) {
            if (k != "deepseek2.attention.key_length") return false;
            w.set_u32(k, 64);
            return true;
        }, keep));
        CHECK(st.code() == moe::errc::bad_format);
        CHECK(st.message().find("key_length") != std::string::npos);
    }
    SUBCASE("expert groups that do not split the experts") {
        moe::status st = load_status(edited(good, [](const std::string& k, moe::gguf::writer& w) {
            if (k != "deepseek2.expert_group_count") return false;
            w.set_u32(k, 3);
            return true;
        }, keep));
        CHECK(st.code() == moe::errc::bad_format);
        CHECK(st.message().find("expert_group_count") != std::string::npos);
    }
}
