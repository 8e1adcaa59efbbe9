// test_model_meta.cpp — model::meta_count / meta_key / meta_value / meta_value_at: every GGUF value type rendered
// as text, arrays summarised, unknown keys and indexes refused. Before: a random model with extra keys; after: nothing.
#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <moe/model.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

moe::gguf::value scalar(moe::gguf::value_type t) {
    moe::gguf::value v;
    v.type = t;
    return v;
}

// A small random llama model with one key of every type appended to its metadata.
std::vector<uint8_t> model_with_extra_keys() {
    moe::testgen::model_spec s;
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 1, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 96;
    s.n_expert = 4, s.n_expert_used = 2, s.seed = 3;
    moe::result<std::vector<uint8_t>> src = moe::testgen::make_random_model(s);
    REQUIRE(src.ok());
    moe::result<moe::gguf::file> g = moe::gguf::file::parse(src->data(), src->size());
    REQUIRE(g.ok());
    moe::gguf::writer w;
    for (const auto& kv : g->kvs()) w.set_value(kv.first, kv.second);
    using moe::gguf::value_type;
    moe::gguf::value v = scalar(value_type::i8);
    v.num.i = -5;
    w.set_value("test.i8", v);
    v = scalar(value_type::u64);
    v.num.u = UINT64_MAX;
    w.set_value("test.u64", v);
    v = scalar(value_type::i64);
    v.num.i = INT64_MIN;
    w.set_value("test.i64", v);
    v = scalar(value_type::f64);
    v.num.f = 0.1;
    w.set_value("test.f64", v);
    w.set_f32("test.f32", 0.1f);
    w.set_bool("test.bool", false);
    w.set_string("test.empty", "");
    w.set_i32_array("test.ints", {1, 2, 3});
    moe::gguf::value nested = scalar(value_type::array);
    nested.array_type = value_type::array;
    nested.elems.resize(2, v);
    for (moe::gguf::value& e : nested.elems) e.type = value_type::array, e.array_type = value_type::u8;
    w.set_value("test.nested", nested);
    for (const auto& t : g->tensors())
        REQUIRE(w.add_tensor(t.name, t.type, {t.ne, t.ne + t.n_dims}, t.data, t.nbytes).ok());
    return w.finish();
}

}  // namespace

TEST_CASE("model metadata: every key in file order, values as text") {
    const std::vector<uint8_t> bytes = model_with_extra_keys();
    moe::result<moe::model> m = moe::model::load_from_memory(bytes.data(), bytes.size());
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    moe::result<moe::gguf::file> g = moe::gguf::file::parse(bytes.data(), bytes.size());
    REQUIRE(g.ok());

    REQUIRE(m->meta_count() == g->kvs().size());
    for (size_t i = 0; i < m->meta_count(); ++i) {
        CHECK(m->meta_key(i) == g->kvs()[i].first);
        moe::result<std::string> by_index = m->meta_value_at(i);
        moe::result<std::string> by_key = m->meta_value(m->meta_key(i));
        REQUIRE(by_index.ok());
        REQUIRE(by_key.ok());
        CHECK(*by_index == *by_key);
    }
    CHECK(m->meta_key(0) == "general.architecture");
    CHECK(*m->meta_value("general.architecture") == "llama");
    CHECK(*m->meta_value("llama.block_count") == "1");
    CHECK(*m->meta_value("test.i8") == "-5");
    CHECK(*m->meta_value("test.u64") == "18446744073709551615");
    CHECK(*m->meta_value("test.i64") == "-9223372036854775808");
    CHECK(*m->meta_value("test.f64") == "0.1");
    CHECK(*m->meta_value("test.f32") == "0.1");  // shortest text of the f32, not 0.100000001490116...
    CHECK(*m->meta_value("test.bool") == "false");
    CHECK(*m->meta_value("test.empty") == "");
    CHECK(*m->meta_value("test.ints") == "[array of 3 i32]");
    CHECK(*m->meta_value("test.nested") == "[array of 2 array]");
    CHECK(*m->meta_value("tokenizer.ggml.tokens") == "[array of 300 string]");
}

TEST_CASE("model metadata: unknown keys and indexes are invalid_argument") {
    const std::vector<uint8_t> bytes = model_with_extra_keys();
    moe::result<moe::model> m = moe::model::load_from_memory(bytes.data(), bytes.size());
    REQUIRE(m.ok());
    moe::result<std::string> v = m->meta_value("no.such.key");
    REQUIRE(!v.ok());
    CHECK(v.error().code() == moe::errc::invalid_argument);
    CHECK(v.error().message().find("no.such.key") != std::string::npos);
    CHECK(!m->meta_value("").ok());
    v = m->meta_value_at(m->meta_count());
    REQUIRE(!v.ok());
    CHECK(v.error().code() == moe::errc::invalid_argument);
    CHECK(m->meta_key(m->meta_count()).empty());
    CHECK(m->meta_key(static_cast<size_t>(-1)).empty());
}
