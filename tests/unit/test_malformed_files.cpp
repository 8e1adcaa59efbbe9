// test_malformed_files.cpp — generates broken GGUF models from a valid random model (src/testgen) by byte surgery and
// by re-writing; each must fail with a specific errc and message. Writes the case table to tmp/malformed_files.md.
#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <moe/model.hpp>
#include <moe/session.hpp>
#include <moe/tokenizer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

using namespace moe;

namespace {

using bytes = std::vector<uint8_t>;

// ---- the table of cases, written once every case has run ----------------------------------------------------------

struct row {
    std::string name;
    std::string code;
    std::string message;
};
std::vector<row>& table() {
    static std::vector<row> t;
    return t;
}

std::string one_line(std::string s) {
    for (char& c : s) {
        if (c == '\n' || c == '|') c = ' ';
    }
    return s;
}

// Loads `b` as a model and checks the error: code and a part of the message. Records the row.
void expect_load(const std::string& name, const bytes& b, errc code, const std::string& part) {
    result<model> m = model::load_from_memory(b.data(), b.size());
    const std::string msg = m ? std::string("(loaded)") : m.error().message();
    table().push_back({name, m ? "ok" : errc_name(m.error().code()), one_line(msg)});
    INFO(name << ": " << msg);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code() == code);
    CHECK(msg.find(part) != std::string::npos);
}

// ---- a valid model and a map of where its fields lie -------------------------------------------------------------

testgen::model_spec tiny_spec() {
    testgen::model_spec s;
    s.n_vocab = 260;
    s.n_embd = 32;
    s.n_layer = 1;
    s.n_head = 2;
    s.n_head_kv = 1;
    s.n_ff = 32;
    s.n_expert = 4;
    s.n_expert_used = 2;
    s.n_ctx_train = 64;
    return s;
}

const bytes& valid_model() {
    static const bytes b = [] {
        result<bytes> r = testgen::make_random_model(tiny_spec());
        REQUIRE(r.ok());
        return std::move(*r);
    }();
    return b;
}

// Byte offsets of the structural fields, found by walking the file as the format describes it.
struct layout {
    struct kv_at {
        size_t start = 0, type = 0, value = 0;
    };
    struct tensor_at {
        size_t start = 0, n_dims = 0, ne = 0, type = 0, offset = 0;
    };
    std::vector<std::pair<size_t, std::string>> boundaries;  // every field start, labelled
    std::map<std::string, kv_at> kvs;
    std::map<std::string, tensor_at> tensors;
    size_t end_of_infos = 0;
    size_t data_offset = 0;
};

template <class T>
T get(const bytes& b, size_t at) {
    T v{};
    std::memcpy(&v, b.data() + at, sizeof(T));
    return v;
}
template <class T>
void set(bytes& b, size_t at, T v) {
    std::memcpy(b.data() + at, &v, sizeof(T));
}

size_t skip_value(const bytes& b, size_t p, uint32_t type) {
    switch (type) {
    case 0: case 1: case 7: return p + 1;
    case 2: case 3: return p + 2;
    case 4: case 5: case 6: return p + 4;
    case 10: case 11: case 12: return p + 8;
    case 8: return p + 8 + static_cast<size_t>(get<uint64_t>(b, p));
    case 9: {
        const uint32_t et = get<uint32_t>(b, p);
        const uint64_t n = get<uint64_t>(b, p + 4);
        p += 12;
        for (uint64_t k = 0; k < n; ++k) p = skip_value(b, p, et);
        return p;
    }
    default: FAIL("unknown value type in a valid file"); return p;
    }
}

layout walk(const bytes& b) {
    layout L;
    auto mark = [&](size_t p, const std::string& what) { L.boundaries.emplace_back(p, what); };
    mark(0, "magic");
    mark(4, "version");
    mark(8, "n_tensors");
    mark(16, "n_kv");
    const uint64_t n_tensors = get<uint64_t>(b, 8), n_kv = get<uint64_t>(b, 16);
    size_t p = 24;
    for (uint64_t k = 0; k < n_kv; ++k) {
        layout::kv_at at;
        at.start = p;
        const auto len = static_cast<size_t>(get<uint64_t>(b, p));
        const std::string key(reinterpret_cast<const char*>(b.data() + p + 8), len);
        mark(p, "key length of '" + key + "'");
        mark(p + 8, "key '" + key + "'");
        at.type = p + 8 + len;
        mark(at.type, "type of '" + key + "'");
        at.value = at.type + 4;
        mark(at.value, "value of '" + key + "'");
        p = skip_value(b, at.value, get<uint32_t>(b, at.type));
        L.kvs[key] = at;
    }
    for (uint64_t k = 0; k < n_tensors; ++k) {
        layout::tensor_at at;
        at.start = p;
        const auto len = static_cast<size_t>(get<uint64_t>(b, p));
        const std::string name(reinterpret_cast<const char*>(b.data() + p + 8), len);
        mark(p, "tensor info '" + name + "'");
        at.n_dims = p + 8 + len;
        mark(at.n_dims, "n_dims of '" + name + "'");
        at.ne = at.n_dims + 4;
        const uint32_t nd = get<uint32_t>(b, at.n_dims);
        mark(at.ne, "ne of '" + name + "'");
        at.type = at.ne + 8 * nd;
        mark(at.type, "type of '" + name + "'");
        at.offset = at.type + 4;
        mark(at.offset, "offset of '" + name + "'");
        p = at.offset + 8;
        L.tensors[name] = at;
    }
    L.end_of_infos = p;
    mark(p, "end of tensor infos");
    L.data_offset = (p + 31) / 32 * 32;
    for (const auto& t : L.tensors) mark(L.data_offset + get<uint64_t>(b, t.second.offset), "data of '" + t.first + "'");
    return L;
}

const layout& valid_layout() {
    static const layout L = walk(valid_model());
    return L;
}

// ---- re-writing through the GGUF writer ----------------------------------------------------------------------------

// The valid model re-written: `edit` may change the writer's metadata; `keep` decides per tensor; `replace` may swap in
// different tensor data (return true after adding it yourself).
bytes rewrite(const std::function<void(gguf::writer&)>& edit,
              const std::function<bool(const gguf::tensor_info&)>& keep = nullptr,
              const std::function<bool(gguf::writer&, const gguf::tensor_info&)>& replace = nullptr) {
    const bytes& src = valid_model();
    result<gguf::file> f = gguf::file::parse(src.data(), src.size());
    REQUIRE(f.ok());
    gguf::writer w(f->alignment());
    for (const auto& kv : f->kvs()) {
        if (kv.first != "general.alignment") w.set_value(kv.first, kv.second);
    }
    if (edit) edit(w);
    for (const gguf::tensor_info& t : f->tensors()) {
        if (keep && !keep(t)) continue;
        if (replace && replace(w, t)) continue;
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        REQUIRE(w.add_tensor(t.name, t.type, ne, t.data, t.nbytes).ok());
    }
    return w.finish();
}

gguf::value string_value(const std::string& s) {
    gguf::value v;
    v.type = gguf::value_type::string;
    v.str = s;
    return v;
}

}  // namespace

TEST_CASE("malformed files: the generated model is valid to begin with") {
    result<model> m = model::load_from_memory(valid_model().data(), valid_model().size());
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    CHECK(m->info().n_vocab == 260);
    CHECK(valid_layout().boundaries.size() > 50);
}

TEST_CASE("malformed files: truncation at every structural boundary") {
    const bytes& full = valid_model();
    int n = 0;
    for (const auto& bnd : valid_layout().boundaries) {
        for (size_t cut : {bnd.first, bnd.first + 1}) {
            if (cut >= full.size()) continue;
            bytes b(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
            result<model> m = model::load_from_memory(b.data(), b.size());
            INFO("cut at " << cut << " (" << bnd.second << ")");
            REQUIRE_FALSE(m.ok());
            CHECK(m.error().code() == (cut == 0 ? errc::invalid_argument : errc::bad_format));
            const std::string& msg = m.error().message();
            const bool named = cut == 0 || msg.find("truncated") != std::string::npos ||
                               msg.find("past the end") != std::string::npos ||
                               msg.find("can hold") != std::string::npos ||
                               msg.find("bytes left in the file") != std::string::npos;
            CHECK_MESSAGE(named, msg);
            if (n < 6 || bnd.second.rfind("data of", 0) == 0 || bnd.second == "end of tensor infos") {
                if (cut == bnd.first)
                    table().push_back({"truncated at " + bnd.second + " (byte " + std::to_string(cut) + ")",
                                       errc_name(m.error().code()), one_line(msg)});
            }
            ++n;
        }
    }
    MESSAGE("truncations checked: " << n);
    CHECK(n > 100);
}

TEST_CASE("malformed files: header") {
    const bytes& v = valid_model();
    bytes b = v;
    b[0] = 'X';
    expect_load("bad magic", b, errc::bad_format, "not a GGUF file");
    b = v;
    set<uint32_t>(b, 4, 1);
    expect_load("version 1", b, errc::unsupported, "version 1");
    b = v;
    set<uint32_t>(b, 4, 7);
    expect_load("version 7", b, errc::unsupported, "GGUF version 7");
    b = v;
    set<uint32_t>(b, 4, 0x03000000u);
    expect_load("big-endian version", b, errc::unsupported, "byte-swapped");
    b = v;
    set<uint64_t>(b, 8, ~uint64_t{0});
    expect_load("n_tensors = 2^64-1", b, errc::bad_format, "n_tensors");
    b = v;
    set<uint64_t>(b, 16, ~uint64_t{0});
    expect_load("n_kv = 2^64-1", b, errc::bad_format, "exceeds the limit");
    b = v;
    set<uint64_t>(b, 16, 1000000);
    expect_load("n_kv = 1e6 (under the cap, more than the file holds)", b, errc::bad_format, "can hold");
    b = v;
    set<uint64_t>(b, 8, get<uint64_t>(b, 8) + 1);
    expect_load("n_tensors one too many", b, errc::bad_format, "");
}

TEST_CASE("malformed files: huge counts and string lengths") {
    const layout& L = valid_layout();
    const bytes& v = valid_model();
    bytes b = v;
    set<uint64_t>(b, L.kvs.at("general.architecture").start, uint64_t{1} << 62);
    expect_load("key length 2^62", b, errc::bad_format, "exceeds the limit");
    b = v;
    set<uint64_t>(b, L.kvs.at("general.architecture").value, uint64_t{1} << 62);
    expect_load("string value length 2^62", b, errc::bad_format, "string length");
    b = v;
    set<uint64_t>(b, L.kvs.at("general.architecture").value, (uint64_t{1} << 24) - 1);
    expect_load("string value length 16 MiB - 1 (under the cap)", b, errc::bad_format, "truncated");
    b = v;
    set<uint64_t>(b, L.kvs.at("tokenizer.ggml.tokens").value + 4, ~uint64_t{0});
    expect_load("array length 2^64-1", b, errc::bad_format, "exceeds the limit");
    b = v;
    set<uint64_t>(b, L.kvs.at("tokenizer.ggml.tokens").value + 4, uint64_t{1} << 25);
    expect_load("array length 2^25 (under the cap, past the file)", b, errc::bad_format, "bytes left in the file");
    b = v;
    set<uint32_t>(b, L.kvs.at("tokenizer.ggml.tokens").value, 42);
    expect_load("array element type 42", b, errc::bad_format, "unknown array element type 42");
    b = v;
    set<uint32_t>(b, L.kvs.at("general.architecture").type, 13);
    expect_load("value type 13", b, errc::bad_format, "unknown value type 13");
    b = v;
    const auto& tok_add = L.kvs.at("tokenizer.ggml.add_bos_token");
    REQUIRE(get<uint32_t>(b, tok_add.type) == 7);
    b[tok_add.value] = 2;
    expect_load("bool value 2", b, errc::bad_format, "neither 0 nor 1");
}

TEST_CASE("malformed files: the metadata memory cap") {
    const bytes& v = valid_model();
    gguf::parse_limits lim;
    lim.max_metadata_bytes = 20000;  // the 260 tokens alone take ~21 KB as values
    result<gguf::file> f = gguf::file::parse(v.data(), v.size(), lim);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code() == errc::bad_format);
    CHECK(f.error().message().find("bytes of memory") != std::string::npos);
    table().push_back({"metadata over parse_limits::max_metadata_bytes (20000)", errc_name(f.error().code()),
                       one_line(f.error().message())});
}

TEST_CASE("malformed files: the caps a caller sets in model_params::limits") {
    const bytes& v = valid_model();
    struct cap_case {
        const char* what;
        uint64_t load_limits::*field;
        uint64_t value;
        const char* part;
    };
    const cap_case cases[] = {
        {"vocabulary over limits.max_array_elements (100)", &load_limits::max_array_elements, 100, "exceeds the limit of 100"},
        {"metadata over limits.max_metadata_bytes (20000)", &load_limits::max_metadata_bytes, 20000, "bytes of memory"},
        {"key/values over limits.max_kv (5)", &load_limits::max_kv, 5, "5"},
        {"tensors over limits.max_tensors (3)", &load_limits::max_tensors, 3, "3"},
        {"a string over limits.max_string_bytes (8)", &load_limits::max_string_bytes, 8, "8"},
    };
    for (const cap_case& c : cases) {
        model_params mp;
        mp.limits.*c.field = c.value;
        result<model> m = model::load_from_memory(v.data(), v.size(), mp);
        const std::string msg = m ? std::string("(loaded)") : m.error().message();
        table().push_back({c.what, m ? "ok" : errc_name(m.error().code()), one_line(msg)});
        INFO(c.what << ": " << msg);
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().code() == errc::bad_format);
        CHECK(msg.find(c.part) != std::string::npos);
    }
    // The defaults load it.
    CHECK(model::load_from_memory(v.data(), v.size(), model_params{}).ok());
}

TEST_CASE("malformed files: tensor dimensions, types and offsets") {
    const layout& L = valid_layout();
    const bytes& v = valid_model();
    const layout::tensor_at& te = L.tensors.at("token_embd.weight");
    bytes b = v;
    set<uint64_t>(b, te.ne, uint64_t{1} << 32);
    set<uint64_t>(b, te.ne + 8, uint64_t{1} << 32);
    expect_load("dims 2^32 x 2^32 (product overflows)", b, errc::bad_format, "element count overflows");
    b = v;
    set<uint64_t>(b, te.ne, uint64_t{1} << 31);
    set<uint64_t>(b, te.ne + 8, uint64_t{1} << 31);
    expect_load("dims 2^31 x 2^31 f32 (bytes overflow)", b, errc::bad_format, "byte size overflows");
    b = v;
    set<uint64_t>(b, te.ne, 0);
    expect_load("dimension 0", b, errc::bad_format, "dimensions must be positive");
    b = v;
    set<uint64_t>(b, te.ne, ~uint64_t{0});
    expect_load("dimension -1", b, errc::bad_format, "dimensions must be positive");
    b = v;
    set<uint32_t>(b, te.n_dims, 5);
    expect_load("n_dims 5", b, errc::bad_format, "must be 1..4");
    b = v;
    set<uint32_t>(b, te.type, 99);
    expect_load("unknown tensor type 99", b, errc::unsupported, "unknown type id 99");
    b = v;
    set<uint32_t>(b, te.type, 2);  // q4_0: same element count, 32-wide blocks, fewer bytes
    set<uint64_t>(b, te.ne, 20);
    expect_load("q4_0 row of 20 (not a block multiple)", b, errc::bad_format, "block size");
    b = v;
    set<uint64_t>(b, te.offset, uint64_t{1} << 40);
    expect_load("offset 2^40 (past the end)", b, errc::bad_format, "extends past the end");
    b = v;
    set<uint64_t>(b, te.offset, ~uint64_t{0} - 31);
    expect_load("offset 2^64-32 (wraps)", b, errc::bad_format, "extends past the end");
    b = v;
    set<uint64_t>(b, te.offset, get<uint64_t>(b, te.offset) + 4);
    expect_load("offset misaligned by 4", b, errc::bad_format, "not a multiple of the alignment");
}

TEST_CASE("malformed files: names") {
    const layout& L = valid_layout();
    const bytes& v = valid_model();
    // Rename blk.0.ffn_gate_exps.weight to blk.0.ffn_down_exps.weight in place (same length): a duplicate.
    bytes b = v;
    const layout::tensor_at& g = L.tensors.at("blk.0.ffn_gate_exps.weight");
    std::memcpy(b.data() + g.start + 8 + 10, "down", 4);
    expect_load("duplicate tensor name", b, errc::bad_format, "duplicate tensor name 'blk.0.ffn_down_exps.weight'");
    // Rename a key to the one before it.
    b = v;
    const layout::kv_at& eos = L.kvs.at("tokenizer.ggml.eos_token_id");
    std::memcpy(b.data() + eos.start + 8 + 15, "bos", 3);
    expect_load("duplicate key", b, errc::bad_format, "duplicate key 'tokenizer.ggml.bos_token_id'");
    // Rename a tensor the architecture needs.
    b = v;
    std::memcpy(b.data() + g.start + 8 + 10, "gaTe", 4);
    expect_load("missing tensor (renamed)", b, errc::shape_mismatch, "'blk.0.ffn_gate_exps.weight' is missing");
}

TEST_CASE("malformed files: alignment") {
    // The writer writes general.alignment itself (64 here); patch its value and type in the bytes.
    const bytes& src = valid_model();
    result<gguf::file> f = gguf::file::parse(src.data(), src.size());
    REQUIRE(f.ok());
    gguf::writer w(64);
    for (const auto& kv : f->kvs()) w.set_value(kv.first, kv.second);
    for (const gguf::tensor_info& t : f->tensors()) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        REQUIRE(w.add_tensor(t.name, t.type, ne, t.data, t.nbytes).ok());
    }
    const bytes v = w.finish();
    const layout L = walk(v);
    REQUIRE(L.kvs.count("general.alignment") == 1);
    const layout::kv_at& al = L.kvs.at("general.alignment");
    bytes b = v;
    set<uint32_t>(b, al.value, 48);
    expect_load("general.alignment = 48", b, errc::bad_format, "not a non-zero power of two");
    b = v;
    set<uint32_t>(b, al.value, 0);
    expect_load("general.alignment = 0", b, errc::bad_format, "not a non-zero power of two");
    b = v;
    set<uint32_t>(b, al.type, 5);  // i32
    expect_load("general.alignment is i32", b, errc::bad_format, "must be u32");
}

TEST_CASE("malformed files: missing tensors and wrong shapes or types") {
    bytes b = rewrite(nullptr, [](const gguf::tensor_info& t) { return t.name != "blk.0.attn_q.weight"; });
    expect_load("missing tensor blk.0.attn_q.weight", b, errc::shape_mismatch, "'blk.0.attn_q.weight' is missing");
    b = rewrite(nullptr, [](const gguf::tensor_info& t) { return t.name != "token_embd.weight"; });
    expect_load("missing token_embd.weight", b, errc::shape_mismatch, "'token_embd.weight' is missing");
    b = rewrite(nullptr, nullptr, [](gguf::writer& w, const gguf::tensor_info& t) {
        if (t.name != "blk.0.attn_k.weight") return false;
        std::vector<float> z(32 * 32, 0.0f);
        CHECK(w.add_tensor(t.name, dtype::f32, {32, 32}, z.data(), z.size() * 4).ok());
        return true;
    });
    expect_load("wrong shape blk.0.attn_k.weight", b, errc::shape_mismatch, "'blk.0.attn_k.weight' has shape [32, 32]");
    b = rewrite(nullptr, nullptr, [](gguf::writer& w, const gguf::tensor_info& t) {
        if (t.name != "blk.0.attn_norm.weight") return false;
        std::vector<uint16_t> z(32, 0);
        CHECK(w.add_tensor(t.name, dtype::f16, {32}, z.data(), z.size() * 2).ok());
        return true;
    });
    expect_load("f16 norm (must be f32)", b, errc::unsupported, "must be f32, found f16");
    b = rewrite(nullptr, nullptr, [](gguf::writer& w, const gguf::tensor_info& t) {
        if (t.name != "blk.0.ffn_up_exps.weight") return false;
        std::vector<uint8_t> z(static_cast<size_t>(t.n_elements()) / 256 * 84, 0);  // q2_K blocks: 256 weights in 84 bytes
        CHECK(w.add_tensor(t.name, dtype::q2_k, {t.ne[0] * 8, t.ne[1] / 8, t.ne[2]}, z.data(), z.size()).ok());
        return true;
    });
    expect_load("expert tensor reshaped", b, errc::shape_mismatch, "'blk.0.ffn_up_exps.weight' has shape");
}

TEST_CASE("malformed files: wrong types for metadata keys") {
    bytes b = rewrite([](gguf::writer& w) { w.set_string("llama.embedding_length", "32"); });
    expect_load("llama.embedding_length is a string", b, errc::bad_format,
                "key 'llama.embedding_length': expected an unsigned integer, found string");
    b = rewrite([](gguf::writer& w) { w.set_i32("llama.block_count", -1); });
    expect_load("llama.block_count = -1", b, errc::bad_format, "negative value -1");
    b = rewrite([](gguf::writer& w) { w.set_u64("llama.block_count", uint64_t{1} << 40); });
    expect_load("llama.block_count = 2^40", b, errc::bad_format, "'llama.block_count' = 1099511627776 is out of range");
    b = rewrite([](gguf::writer& w) { w.set_f32("llama.attention.head_count", 2.0f); });
    expect_load("head_count is f32", b, errc::bad_format, "expected an unsigned integer, found f32");
    b = rewrite([](gguf::writer& w) { w.set_u32("llama.attention.layer_norm_rms_epsilon", 1); });
    expect_load("rms epsilon is u32", b, errc::bad_format, "expected f32 or f64, found u32");
    b = rewrite([](gguf::writer& w) { w.set_u32("general.architecture", 1); });
    expect_load("general.architecture is u32", b, errc::bad_format, "general.architecture");
    b = rewrite([](gguf::writer& w) { w.set_string("general.architecture", "mamba"); });
    expect_load("unknown architecture", b, errc::unsupported, "architecture 'mamba' is not supported");
    b = rewrite([](gguf::writer& w) { w.set_u32("llama.expert_used_count", 5); });
    expect_load("expert_used_count > expert_count", b, errc::bad_format, "expert_used_count (5) must be in 1..4");
    b = rewrite([](gguf::writer& w) { w.set_u32("llama.attention.head_count_kv", 3); });
    expect_load("head_count not a multiple of head_count_kv", b, errc::bad_format, "a multiple of head_count_kv");
    b = rewrite([](gguf::writer& w) { w.set_u32("tokenizer.chat_template", 7); });
    expect_load("tokenizer.chat_template is u32", b, errc::bad_format, "tokenizer.chat_template");
    b = rewrite([](gguf::writer& w) { w.set_u32("tokenizer.ggml.model", 7); });
    expect_load("tokenizer.ggml.model is u32", b, errc::bad_format, "tokenizer.ggml.model must be a string");
    b = rewrite([](gguf::writer& w) { w.set_i32_array("tokenizer.ggml.tokens", {1, 2, 3}); });
    expect_load("tokenizer.ggml.tokens is an i32 array", b, errc::bad_format, "must be an array of strings");
    b = rewrite([](gguf::writer& w) { w.set_string("tokenizer.ggml.scores", "x"); });
    expect_load("tokenizer.ggml.scores is a string", b, errc::bad_format, "tokenizer.ggml.scores must be an array");
    b = rewrite([](gguf::writer& w) {
        gguf::value nested;
        nested.type = gguf::value_type::array;
        nested.array_type = gguf::value_type::array;
        gguf::value* cur = &nested;
        for (int d = 0; d < 6; ++d) {
            cur->elems.resize(1);
            cur->elems[0].type = gguf::value_type::array;
            cur->elems[0].array_type = d == 5 ? gguf::value_type::u8 : gguf::value_type::array;
            cur = &cur->elems[0];
        }
        w.set_value("general.nested", nested);
    });
    expect_load("arrays nested 7 deep", b, errc::bad_format, "nested deeper than 4");
    b = rewrite([](gguf::writer& w) { w.set_value("", string_value("x")); });
    expect_load("empty key", b, errc::bad_format, "is empty");
}

TEST_CASE("malformed files: vocabulary arrays that disagree") {
    bytes b = rewrite([](gguf::writer& w) { w.set_f32_array("tokenizer.ggml.scores", std::vector<float>(259, 0.0f)); });
    expect_load("259 scores for 260 tokens", b, errc::bad_format, "tokenizer.ggml.scores has 259 entries for 260 tokens");
    b = rewrite([](gguf::writer& w) { w.set_i32_array("tokenizer.ggml.token_type", std::vector<int32_t>(300, 1)); });
    expect_load("300 token types for 260 tokens", b, errc::bad_format, "tokenizer.ggml.token_type");
    b = rewrite([](gguf::writer& w) { w.set_string_array("tokenizer.ggml.tokens", {}); });
    expect_load("no tokens", b, errc::bad_format, "tokenizer.ggml.tokens is empty");
    b = rewrite([](gguf::writer& w) {
        std::vector<std::string> t;
        for (int k = 0; k < 250; ++k) t.push_back("t" + std::to_string(k));
        w.set_string_array("tokenizer.ggml.tokens", t);
        w.set_f32_array("tokenizer.ggml.scores", std::vector<float>(250, 0.0f));
        w.set_i32_array("tokenizer.ggml.token_type", std::vector<int32_t>(250, 1));
    });
    expect_load("250 tokens for a 260-row token_embd", b, errc::shape_mismatch, "260");
    b = rewrite([](gguf::writer& w) { w.set_u32("tokenizer.ggml.bos_token_id", 260); });
    expect_load("bos id 260 of 260", b, errc::bad_format, "260");
    b = rewrite([](gguf::writer& w) {
        std::vector<float> s(260, 0.0f);
        s[7] = std::numeric_limits<float>::quiet_NaN();
        w.set_f32_array("tokenizer.ggml.scores", s);
    });
    expect_load("NaN token score", b, errc::bad_format, "tokenizer.ggml.scores[7] is NaN");
    b = rewrite([](gguf::writer& w) {
        std::vector<std::string> t;
        for (int k = 0; k < 260; ++k) t.push_back(k == 9 ? "t3" : "t" + std::to_string(k));
        w.set_string_array("tokenizer.ggml.tokens", t);
    });
    expect_load("two tokens with the same text", b, errc::bad_format, "token 9 repeats the text of token 3");
}

TEST_CASE("malformed files: NaN and Inf weights are handled, not crashes") {
    const layout& L = valid_layout();
    bytes b = valid_model();
    const bytes& v = valid_model();
    const size_t te = L.data_offset + get<uint64_t>(v, L.tensors.at("token_embd.weight").offset);
    const size_t on = L.data_offset + get<uint64_t>(v, L.tensors.at("output_norm.weight").offset);
    for (size_t k = 0; k < 32; ++k) set<float>(b, te + 4 * k, std::numeric_limits<float>::quiet_NaN());  // token 0
    for (size_t k = 0; k < 32; ++k) set<float>(b, on + 4 * k, std::numeric_limits<float>::infinity());
    result<model> m = model::load_from_memory(b.data(), b.size());
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());  // weights are not scanned at load: that would read every page
    session_params sp;
    sp.n_ctx = 8;
    sp.n_threads = 1;
    result<session> s = session::create(*m, sp);
    REQUIRE(s.ok());
    const int32_t toks[2] = {0, 5};
    status st = s->eval(toks, 2);
    REQUIRE(st.ok());
    const float* lg = s->logits();
    REQUIRE(lg != nullptr);
    const int32_t next = s->argmax();
    CHECK(next >= 0);
    CHECK(next < 260);
    table().push_back({"NaN token_embd row 0, Inf output_norm (load + eval)", "ok",
                       std::string("loads and evaluates; logits[0] = ") + std::to_string(lg[0]) +
                           ", argmax " + std::to_string(next) + " (in range)"});
}

// Runs after the cases above (doctest orders by file and line): writes the table and prints it.
TEST_CASE("malformed files: write the case table") {
    std::string md = "| case | errc | message |\n|---|---|---|\n";
    for (const row& r : table()) md += "| " + r.name + " | " + r.code + " | " + r.message + " |\n";
#ifdef MOE_TEST_TMPDIR
    const std::string path = std::string(MOE_TEST_TMPDIR) + "/malformed_files.md";
    if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(md.data(), 1, md.size(), f);
        std::fclose(f);
    }
#endif
    MESSAGE("malformed-file cases: " << table().size());
    CHECK(table().size() > 40);
}
