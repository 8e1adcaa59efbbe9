// test_quantize_model.cpp — moe-quantize's library side: file-type names, llama-quantize's mix rules, and
// quantize_model's output and errors. The byte/type match with llama.cpp itself is model_quant_conformance.
#include "quant/quant_mix.hpp"
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>
#include <moe/quant.hpp>
#include <moe/quantize.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

namespace {

using moe::dtype;
using moe::file_type;
namespace qm = moe::quant_mix;

qm::tensor_desc td(const std::string& name, int64_t ne0, int64_t ne1, int64_t ne2 = 1) {
    qm::tensor_desc t;
    t.name = name, t.ne[0] = ne0, t.ne[1] = ne1, t.ne[2] = ne2;
    return t;
}

std::map<std::string, dtype> choose(const qm::model_facts& m, const std::vector<qm::tensor_desc>& ts, file_type ft,
                                    bool pure = false) {
    moe::quantize_params p;
    p.type = ft, p.pure = pure;
    moe::result<std::vector<dtype>> r = qm::choose_types(m, ts, p);
    REQUIRE(r.ok());
    std::map<std::string, dtype> out;
    for (size_t i = 0; i < ts.size(); ++i) out[ts[i].name] = (*r)[i];
    return out;
}

}  // namespace

TEST_CASE("file type names parse like llama-quantize's") {
    CHECK(*moe::parse_file_type("Q4_K_M") == file_type::q4_k_m);
    CHECK(*moe::parse_file_type("q4_k") == file_type::q4_k_m);
    CHECK(*moe::parse_file_type("15") == file_type::q4_k_m);
    CHECK(*moe::parse_file_type("mxfp4_moe") == file_type::mxfp4_moe);
    moe::result<file_type> bad = moe::parse_file_type("IQ2_XXS");
    REQUIRE(!bad.ok());
    CHECK(bad.error().message().find("Q4_K_M") != std::string::npos);  // lists what moe writes
    for (file_type t : moe::supported_file_types()) CHECK(*moe::parse_file_type(moe::file_type_name(t)) == t);
}

TEST_CASE("Q4_K_M mix: attn_v and ffn_down get Q6_K on llama.cpp's 'more bits' layers, output Q6_K") {
    qm::model_facts m{"qwen3moe", 16, 4, 8, 2};
    std::vector<qm::tensor_desc> ts = {td("token_embd.weight", 256, 1000), td("output.weight", 256, 1000),
                                       td("output_norm.weight", 256, 1)};
    for (int l = 0; l < 16; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        ts.push_back(td(b + "attn_v.weight", 256, 64));
        ts.push_back(td(b + "attn_q.weight", 256, 256));
        ts.push_back(td(b + "ffn_down_exps.weight", 512, 256, 4));
        ts.push_back(td(b + "ffn_gate_inp.weight", 256, 4));
        ts.push_back(td(b + "attn_norm.weight", 256, 1));
    }
    std::map<std::string, dtype> t = choose(m, ts, file_type::q4_k_m);
    CHECK(t["output.weight"] == dtype::q6_k);
    CHECK(t["token_embd.weight"] == dtype::q4_k);  // untied: the base type
    CHECK(t["output_norm.weight"] == dtype::f32);  // vectors stay
    CHECK(t["blk.0.ffn_gate_inp.weight"] == dtype::f32);  // routers stay
    // use_more_bits(i, 16): i < 2, i >= 14, or (i - 2) % 3 == 2
    const std::vector<int> more = {0, 1, 4, 7, 10, 13, 14, 15};
    for (int l = 0; l < 16; ++l) {
        const bool m6 = std::find(more.begin(), more.end(), l) != more.end();
        const std::string b = "blk." + std::to_string(l) + ".";
        CHECK_MESSAGE(t[b + "attn_v.weight"] == (m6 ? dtype::q6_k : dtype::q4_k), b);
        CHECK_MESSAGE(t[b + "ffn_down_exps.weight"] == (m6 ? dtype::q6_k : dtype::q4_k), b);
        CHECK(t[b + "attn_q.weight"] == dtype::q4_k);
    }
    // --pure: every matrix the base type (output and embeddings too)
    std::map<std::string, dtype> pure = choose(m, ts, file_type::q4_k_m, true);
    CHECK(pure["output.weight"] == dtype::q4_k);
    CHECK(pure["blk.0.attn_v.weight"] == dtype::q4_k);
}

TEST_CASE("mix fallbacks: rows a K-quant block does not divide, tied embeddings, 8 experts, MXFP4_MOE") {
    qm::model_facts m{"llama", 4, 8, 8, 2};
    std::vector<qm::tensor_desc> ts = {td("token_embd.weight", 192, 500)};  // tied: takes output's rule
    for (int l = 0; l < 4; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        ts.push_back(td(b + "attn_k.weight", 192, 64));
        ts.push_back(td(b + "attn_v.weight", 256, 64));
        ts.push_back(td(b + "attn_output.weight", 256, 256));
        ts.push_back(td(b + "ffn_up_exps.weight", 192, 128, 8));  // 192 % 256 != 0
        ts.push_back(td(b + "ffn_down_exps.weight", 100, 192, 8));  // not even a multiple of 32
    }
    std::map<std::string, dtype> t = choose(m, ts, file_type::q4_k_m);
    CHECK(t["token_embd.weight"] == dtype::q8_0);  // 192 columns do not fit Q4_K's block -> Q8_0
    CHECK(t["blk.0.attn_k.weight"] == dtype::q8_0);  // 8 experts: Mixtral's rule
    CHECK(t["blk.0.attn_v.weight"] == dtype::q8_0);
    CHECK(t["blk.1.attn_output.weight"] == dtype::q5_k);
    CHECK(t["blk.1.ffn_up_exps.weight"] == dtype::q5_0);  // Q4_K -> Q5_0
    CHECK(t["blk.1.ffn_down_exps.weight"] == dtype::f16);  // no block fits
    std::map<std::string, dtype> x = choose(m, ts, file_type::mxfp4_moe);
    CHECK(x["blk.1.ffn_up_exps.weight"] == dtype::mxfp4);  // 3-D: experts
    CHECK(x["blk.1.attn_output.weight"] == dtype::q8_0);
    CHECK(x["token_embd.weight"] == dtype::q8_0);
}

TEST_CASE("quantize_model writes a loadable Q4_K_M file and refuses what it cannot do") {
    const std::string dir = MOE_TEST_TMPDIR;
    moe::testgen::model_spec spec;
    spec.arch = "qwen3moe", spec.n_vocab = 300, spec.n_embd = 256, spec.n_layer = 2, spec.n_head = 4;
    spec.n_head_kv = 2, spec.head_dim = 64, spec.n_ff = 256, spec.n_expert = 4, spec.n_expert_used = 2;
    spec.weight_type = dtype::f32;
    const std::string in = dir + "/quantize_in.gguf", out = dir + "/quantize_out.gguf";
    REQUIRE(moe::testgen::write_random_model(in, spec).ok());

    moe::quantize_params p;
    p.type = file_type::q4_k_m;
    p.n_threads = 2;
    size_t calls = 0;
    p.progress = [&](size_t, size_t) { return ++calls > 0; };
    REQUIRE(moe::quantize_model(in, out, p).ok());
    moe::result<std::vector<moe::tensor_plan_entry>> plan = moe::plan_quantization(in, p);
    REQUIRE(plan.ok());
    CHECK(calls == plan->size());
    moe::result<moe::model> m = moe::model::load(out);
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    moe::result<moe::session> s = moe::session::create(*m);
    REQUIRE(s.ok());
    const int32_t toks[] = {1, 5, 9};
    CHECK(s->eval(toks, 3).ok());

    // the progress callback can stop it; the partial file is removed
    p.progress = [](size_t done, size_t) { return done < 3; };
    const std::string stopped = dir + "/quantize_stopped.gguf";
    moe::status st = moe::quantize_model(in, stopped, p);
    CHECK(st.code() == moe::errc::aborted);
    CHECK(std::fopen(stopped.c_str(), "rb") == nullptr);
    p.progress = nullptr;

    // requantizing (to another type: unchanged tensors are only copied) needs consent; a missing input names the path
    p.type = file_type::q8_0;
    const moe::status again = moe::quantize_model(out, dir + "/quantize_twice.gguf", p);
    CHECK(again.code() == moe::errc::invalid_argument);
    CHECK(again.message().find("already") != std::string::npos);
    p.allow_requantize = true;
    CHECK(moe::quantize_model(out, dir + "/quantize_twice.gguf", p).ok());
    const moe::status missing = moe::quantize_model(dir + "/no-such.gguf", out, p);
    CHECK(missing.code() == moe::errc::io_error);
    CHECK(missing.message().find("no-such.gguf") != std::string::npos);
    CHECK(moe::quantize_model(in, in, p).code() == moe::errc::invalid_argument);
}
