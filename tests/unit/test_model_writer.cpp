// test_model_writer.cpp — checks src/testgen: generated models parse, have llama.cpp's names/shapes/types and keys,
// are deterministic per seed, and store the same float weights whatever the weight type. Tests downstream load them.
#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"
#include "testgen/model_writer.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace moe;

namespace {

testgen::model_spec small_spec(dtype t) {
    testgen::model_spec s;
    s.n_vocab = 300;
    s.n_embd = 64;
    s.n_layer = 2;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ff = 96;
    s.n_expert = 4;
    s.n_expert_used = 2;
    s.seed = 11;
    s.weight_type = t;
    return s;
}

std::vector<uint8_t> make(const testgen::model_spec& s) {
    auto r = testgen::make_random_model(s);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    return std::move(r).value();
}

gguf::file parse_ok(const std::vector<uint8_t>& bytes) {
    auto r = gguf::file::parse(bytes.data(), bytes.size());
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    return std::move(r).value();
}

std::vector<float> floats_of(const gguf::tensor_info& t) {
    std::vector<float> out(static_cast<size_t>(t.n_elements()));
    REQUIRE(dequantize_row(t.type, t.data, out.data(), t.n_elements()).ok());
    return out;
}

// name -> (shape, type) that llama.cpp's llama loader expects for this spec.
std::map<std::string, std::pair<std::vector<int64_t>, dtype>> expected_tensors(const testgen::model_spec& s) {
    const int64_t hd = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head;
    const int64_t E = s.n_embd, V = s.n_vocab, F = s.n_ff, X = s.n_expert;
    const dtype w = s.weight_type, f32 = dtype::f32;
    std::map<std::string, std::pair<std::vector<int64_t>, dtype>> m;
    m["token_embd.weight"] = {{E, V}, w};
    m["output_norm.weight"] = {{E}, f32};
    if (!s.tie_output) m["output.weight"] = {{E, V}, w};
    for (int64_t il = 0; il < s.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        m[p + "attn_norm.weight"] = {{E}, f32};
        m[p + "attn_q.weight"] = {{E, s.n_head * hd}, w};
        m[p + "attn_k.weight"] = {{E, s.n_head_kv * hd}, w};
        m[p + "attn_v.weight"] = {{E, s.n_head_kv * hd}, w};
        m[p + "attn_output.weight"] = {{s.n_head * hd, E}, w};
        m[p + "ffn_norm.weight"] = {{E}, f32};
        if (X > 0) {
            m[p + "ffn_gate_inp.weight"] = {{E, X}, f32};
            m[p + "ffn_gate_exps.weight"] = {{E, F, X}, w};
            m[p + "ffn_up_exps.weight"] = {{E, F, X}, w};
            m[p + "ffn_down_exps.weight"] = {{F, E, X}, w};
        } else {
            m[p + "ffn_gate.weight"] = {{E, F}, w};
            m[p + "ffn_up.weight"] = {{E, F}, w};
            m[p + "ffn_down.weight"] = {{F, E}, w};
        }
    }
    return m;
}

void check_layout(const gguf::file& f, const testgen::model_spec& s) {
    const auto want = expected_tensors(s);
    CHECK(f.tensors().size() == want.size());
    for (const auto& kv : want) {
        INFO("tensor " << kv.first);
        const gguf::tensor_info* t = f.find_tensor(kv.first);
        REQUIRE(t != nullptr);
        CHECK(t->type == kv.second.second);
        REQUIRE(t->n_dims == kv.second.first.size());
        for (size_t d = 0; d < kv.second.first.size(); ++d) CHECK(t->ne[d] == kv.second.first[d]);
    }
}

double stddev_of(const std::vector<float>& v, double mean) {
    double s = 0;
    for (float x : v) s += (x - mean) * (x - mean);
    return std::sqrt(s / static_cast<double>(v.size()));
}

double mean_of(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += x;
    return s / static_cast<double>(v.size());
}

}  // namespace

TEST_CASE("model writer: MoE llama files for every weight type") {
    const dtype types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::q8_0, dtype::q4_0};
    const uint32_t file_types[] = {0, 1, 32, 7, 2};
    for (size_t k = 0; k < 5; ++k) {
        CAPTURE(dtype_name(types[k]));
        const auto spec = small_spec(types[k]);
        const auto bytes = make(spec);
        const gguf::file f = parse_ok(bytes);
        check_layout(f, spec);

        CHECK(f.get_string("general.architecture").value() == "llama");
        CHECK(f.get_uint("general.file_type").value() == file_types[k]);
        CHECK(f.get_uint("llama.vocab_size").value() == 300);
        CHECK(f.get_uint("llama.context_length").value() == 2048);
        CHECK(f.get_uint("llama.embedding_length").value() == 64);
        CHECK(f.get_uint("llama.block_count").value() == 2);
        CHECK(f.get_uint("llama.feed_forward_length").value() == 96);
        CHECK(f.get_uint("llama.attention.head_count").value() == 4);
        CHECK(f.get_uint("llama.attention.head_count_kv").value() == 2);
        CHECK(f.get_uint("llama.rope.dimension_count").value() == 16);
        CHECK(f.get_uint("llama.expert_count").value() == 4);
        CHECK(f.get_uint("llama.expert_used_count").value() == 2);
        CHECK(f.get_float("llama.attention.layer_norm_rms_epsilon").value() == doctest::Approx(1e-5));
        CHECK(f.get_float("llama.rope.freq_base").value() == 10000.0);
        CHECK(f.find("llama.attention.key_length") == nullptr);  // only written when head_dim is given
        // llama.cpp reads these with fixed types: u32 counts, f32 floats
        CHECK(f.find("llama.block_count")->type == gguf::value_type::u32);
        CHECK(f.find("llama.rope.freq_base")->type == gguf::value_type::f32);
        CHECK(f.find("tokenizer.ggml.bos_token_id")->type == gguf::value_type::u32);

        // tokenizer
        CHECK(f.get_string("tokenizer.ggml.model").value() == "llama");
        const auto tokens = f.get_string_array("tokenizer.ggml.tokens").value();
        REQUIRE(tokens.size() == 300);
        CHECK(std::set<std::string>(tokens.begin(), tokens.end()).size() == tokens.size());
        CHECK(tokens[0] == "<unk>");
        CHECK(tokens[1] == "<s>");
        CHECK(tokens[2] == "</s>");
        CHECK(tokens[3] == "<0x00>");
        CHECK(tokens[3 + 0x0A] == "<0x0A>");
        CHECK(tokens[258] == "<0xFF>");
        CHECK(tokens[259] == "\xe2\x96\x81");
        CHECK(tokens[260] == "\xe2\x96\x81" "a");
        CHECK(tokens[261] == "a");
        const auto types_arr = f.get_int_array("tokenizer.ggml.token_type").value();
        REQUIRE(types_arr.size() == 300);
        CHECK(types_arr[0] == 2);
        CHECK(types_arr[1] == 3);
        CHECK(types_arr[2] == 3);
        for (size_t t = 3; t < 259; ++t) CHECK(types_arr[t] == 6);
        for (size_t t = 259; t < 300; ++t) CHECK(types_arr[t] == 1);
        const auto scores = f.get_float_array("tokenizer.ggml.scores").value();
        REQUIRE(scores.size() == 300);
        for (size_t t = 260; t < 300; ++t) CHECK(scores[t] < scores[t - 1]);  // earlier pieces merge first
        CHECK(f.get_uint("tokenizer.ggml.bos_token_id").value() == 1);
        CHECK(f.get_uint("tokenizer.ggml.eos_token_id").value() == 2);
        CHECK(f.get_uint("tokenizer.ggml.unknown_token_id").value() == 0);
        CHECK(f.get_bool("tokenizer.ggml.add_bos_token").value());
    }
}

TEST_CASE("model writer: dense model, explicit head_dim, tied output") {
    auto spec = small_spec(dtype::q8_0);
    spec.n_expert = 0;
    spec.head_dim = 32;  // n_head * head_dim = 128 != n_embd
    spec.tie_output = true;
    const auto bytes = make(spec);  // the parsed file points into these bytes
    const gguf::file f = parse_ok(bytes);
    check_layout(f, spec);
    CHECK(f.find_tensor("output.weight") == nullptr);
    CHECK(f.find("llama.expert_count") == nullptr);
    CHECK(f.find("llama.expert_used_count") == nullptr);
    CHECK(f.get_uint("llama.attention.key_length").value() == 32);
    CHECK(f.get_uint("llama.attention.value_length").value() == 32);
    CHECK(f.get_uint("llama.rope.dimension_count").value() == 32);
    CHECK(f.find_tensor("blk.1.attn_q.weight")->ne[1] == 128);
    CHECK(f.find_tensor("blk.1.attn_output.weight")->ne[0] == 128);
}

TEST_CASE("model writer: deterministic per seed") {
    const auto spec = small_spec(dtype::q4_0);
    const auto a = make(spec);
    const auto b = make(spec);
    CHECK(a == b);
    auto other = spec;
    other.seed = 12;
    const auto c = make(other);
    REQUIRE(c.size() == a.size());  // same layout ...
    CHECK(c != a);                  // ... different weights
    const gguf::file fa = parse_ok(a), fc = parse_ok(c);
    for (const auto& t : fa.tensors()) {
        INFO("tensor " << t.name);
        CHECK(std::memcmp(t.data, fc.find_tensor(t.name)->data, t.nbytes) != 0);  // every tensor changes
    }
}

TEST_CASE("model writer: the same float weights whatever the weight type") {
    const auto b32 = make(small_spec(dtype::f32));
    const auto b16 = make(small_spec(dtype::f16));
    const auto bbf = make(small_spec(dtype::bf16));
    const auto b8 = make(small_spec(dtype::q8_0));
    const auto b4 = make(small_spec(dtype::q4_0));
    const gguf::file f32 = parse_ok(b32), f16 = parse_ok(b16), fbf = parse_ok(bbf), q8 = parse_ok(b8), q4 = parse_ok(b4);
    int checked = 0;
    for (const auto& t : f32.tensors()) {
        INFO("tensor " << t.name);
        REQUIRE(t.type == dtype::f32);
        const std::vector<float> w = floats_of(t);
        const gguf::tensor_info& h = *f16.find_tensor(t.name);
        if (h.type == dtype::f32) {  // norms and the router stay f32 everywhere
            CHECK(std::memcmp(h.data, t.data, t.nbytes) == 0);
            CHECK(std::memcmp(q4.find_tensor(t.name)->data, t.data, t.nbytes) == 0);
            continue;
        }
        ++checked;
        REQUIRE(h.type == dtype::f16);
        std::vector<uint16_t> want16(w.size());
        for (size_t i = 0; i < w.size(); ++i) want16[i] = f32_to_fp16(w[i]);
        CHECK(std::memcmp(h.data, want16.data(), h.nbytes) == 0);
        std::vector<uint16_t> wantbf(w.size());
        for (size_t i = 0; i < w.size(); ++i) wantbf[i] = f32_to_bf16(w[i]);
        CHECK(std::memcmp(fbf.find_tensor(t.name)->data, wantbf.data(), h.nbytes) == 0);
        for (dtype qt : {dtype::q8_0, dtype::q4_0}) {
            const gguf::tensor_info& q = *(qt == dtype::q8_0 ? q8 : q4).find_tensor(t.name);
            REQUIRE(q.type == qt);
            std::vector<uint8_t> want(q.nbytes);
            REQUIRE(quantize_row(qt, w.data(), want.data(), t.n_elements()).ok());
            CHECK(std::memcmp(q.data, want.data(), q.nbytes) == 0);
        }
    }
    CHECK(checked == 1 + 1 + 2 * 7);  // token_embd, output, and 7 matrices per layer
}

TEST_CASE("model writer: weight statistics follow the documented scales") {
    auto spec = small_spec(dtype::f32);
    spec.n_embd = 128;
    spec.n_vocab = 512;
    const auto bytes = make(spec);  // the parsed file points into these bytes
    const gguf::file f = parse_ok(bytes);
    auto stats = [&](const std::string& name, double want_mean, double want_std) {
        INFO("tensor " << name);
        const std::vector<float> w = floats_of(*f.find_tensor(name));
        const double m = mean_of(w);
        CHECK(std::fabs(m - want_mean) < 4.0 * want_std / std::sqrt(static_cast<double>(w.size())) + 1e-3);
        // sample std has relative spread ~1/sqrt(2n): allow 4 of those
        const double tol = 4.0 / std::sqrt(2.0 * static_cast<double>(w.size())) + 0.02;
        CHECK(stddev_of(w, m) == doctest::Approx(want_std).epsilon(tol));
    };
    stats("blk.0.attn_norm.weight", 1.0, 0.1);
    stats("blk.1.attn_q.weight", 0.0, 1.0 / std::sqrt(128.0));
    stats("blk.1.attn_output.weight", 0.0, 1.0 / std::sqrt(128.0));
    stats("blk.0.ffn_gate_inp.weight", 0.0, 1.0 / std::sqrt(128.0));
    stats("blk.0.ffn_down_exps.weight", 0.0, 1.0 / std::sqrt(96.0));
    stats("token_embd.weight", 0.0, 1.0);
    stats("output.weight", 0.0, 2.2 * std::sqrt(std::log(512.0)) / std::sqrt(128.0));
}

TEST_CASE("model writer: invalid specs are rejected") {
    auto s = small_spec(dtype::f32);
    s.n_vocab = 100;  // fewer than 3 special + 256 byte tokens
    CHECK(testgen::make_random_model(s).error().code() == errc::invalid_argument);
    s = small_spec(dtype::q4_0);
    s.n_embd = 48;  // not a multiple of the q4_0 block
    s.n_head = 4;
    CHECK(testgen::make_random_model(s).error().code() == errc::invalid_argument);
    s = small_spec(dtype::f32);
    s.n_head_kv = 3;
    CHECK(testgen::make_random_model(s).error().code() == errc::invalid_argument);
    s = small_spec(dtype::f32);
    s.n_expert_used = 5;
    CHECK(testgen::make_random_model(s).error().code() == errc::invalid_argument);
    s = small_spec(dtype::f32);
    s.arch = "mamba";  // not a family the writer knows
    CHECK(testgen::make_random_model(s).error().code() == errc::unsupported);
    s = small_spec(static_cast<dtype>(16));  // iq2_xxs: a GGUF type moe cannot write
    CHECK(testgen::make_random_model(s).error().code() == errc::unsupported);
}

TEST_CASE("model writer: write_random_model writes a file that maps and parses") {
    const std::string path = std::string(MOE_TEST_TMPDIR) + "/test_model_writer.gguf";
    const auto spec = small_spec(dtype::q8_0);
    REQUIRE(testgen::write_random_model(path, spec).ok());
    auto m = mapped_file::open(path);
    REQUIRE(m.ok());
    const auto bytes = make(spec);
    REQUIRE(m->size() == bytes.size());
    CHECK(std::memcmp(m->data(), bytes.data(), bytes.size()) == 0);
    CHECK(testgen::write_random_model(std::string(MOE_TEST_TMPDIR) + "/no-such-dir/x.gguf", spec).code() ==
          errc::io_error);
    std::remove(path.c_str());
}
