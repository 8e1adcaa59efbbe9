// test_gguf.cpp — checks the GGUF writer/parser pair and mapped_file: round trips, versions, truncation, hostile input.
// The parser is the first thing untrusted bytes meet; everything after it (loader, builders) relies on its checks.
#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace moe;
using moe::gguf::value;
using moe::gguf::value_type;

namespace {

// ---- raw byte builder for hand-made (and hand-broken) files -------------------------------------------------------

struct raw {
    std::vector<uint8_t> b;
    template <class T>
    raw& put(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + sizeof(T));
        return *this;
    }
    raw& str(const std::string& s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    raw& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
        b.insert(b.end(), {'G', 'G', 'U', 'F'});
        return put(version).put(n_tensors).put(n_kv);
    }
    raw& kv_u32(const std::string& key, uint32_t v) { return str(key).put<uint32_t>(4).put(v); }
    raw& tensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type, uint64_t offset) {
        str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
        for (uint64_t d : ne) put(d);
        return put(type).put(offset);
    }
    raw& pad(size_t alignment) {
        while (b.size() % alignment != 0) b.push_back(0);
        return *this;
    }
    raw& zeros(size_t n) {
        b.insert(b.end(), n, uint8_t{0});
        return *this;
    }
};

result<gguf::file> parse(const std::vector<uint8_t>& bytes) { return gguf::file::parse(bytes.data(), bytes.size()); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Checks that parsing fails with `code` and that the message names every one of `parts`.
void expect_error(const std::vector<uint8_t>& bytes, errc code, const std::vector<std::string>& parts) {
    auto r = parse(bytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == code);
    for (const auto& p : parts) {
        INFO("message: " << r.error().message() << "  (expected to contain '" << p << "')");
        CHECK(contains(r.error().message(), p));
    }
}

// A valid file with one f32 tensor of `n` elements named "w" (for tensor-level corruption tests).
std::vector<uint8_t> one_tensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type,
                                uint64_t offset, size_t data_bytes) {
    raw r;
    r.header(3, 1, 0).tensor(name, ne, type, offset).pad(32).zeros(data_bytes);
    return r.b;
}

value scalar(value_type t) {
    value v;
    v.type = t;
    return v;
}

value array_of(value_type t, std::vector<value> elems) {
    value v;
    v.type = value_type::array;
    v.array_type = t;
    v.elems = std::move(elems);
    return v;
}

value str_value(const std::string& s) {
    value v = scalar(value_type::string);
    v.str = s;
    return v;
}

value u_value(value_type t, uint64_t x) {
    value v = scalar(t);
    v.num.u = x;
    return v;
}

value i_value(value_type t, int64_t x) {
    value v = scalar(t);
    v.num.i = x;
    return v;
}

// Deep equality of two values as the parser and writer understand them.
bool same(const value& a, const value& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
    case value_type::u8:
    case value_type::u16:
    case value_type::u32:
    case value_type::u64: return a.num.u == b.num.u;
    case value_type::i8:
    case value_type::i16:
    case value_type::i32:
    case value_type::i64: return a.num.i == b.num.i;
    case value_type::f32:
    case value_type::f64: return a.num.f == b.num.f;
    case value_type::boolean: return a.num.b == b.num.b;
    case value_type::string: return a.str == b.str;
    case value_type::array:
        if (a.array_type != b.array_type || a.elems.size() != b.elems.size()) return false;
        for (size_t k = 0; k < a.elems.size(); ++k) {
            if (!same(a.elems[k], b.elems[k])) return false;
        }
        return true;
    }
    return false;
}

// A small valid file whose last tensor ends exactly at the end of the file (no trailing padding).
std::vector<uint8_t> small_valid_file() {
    gguf::writer w;
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.block_count", 2);
    w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "a", ""});
    w.set_value("nested", array_of(value_type::array, {array_of(value_type::i16, {i_value(value_type::i16, -2)})}));
    w.set_bool("flag", true);
    std::vector<uint8_t> a(34 * 2, 7);
    REQUIRE(w.add_tensor("q", dtype::q8_0, {64}, a.data(), a.size()).ok());
    std::vector<float> f(8, 1.5f);
    REQUIRE(w.add_tensor("norm", dtype::f32, {8}, f.data(), f.size() * sizeof(float)).ok());
    return w.finish();
}

}  // namespace

TEST_CASE("gguf: value_type_name") {
    CHECK(std::string(gguf::value_type_name(value_type::u8)) == "u8");
    CHECK(std::string(gguf::value_type_name(value_type::boolean)) == "bool");
    CHECK(std::string(gguf::value_type_name(value_type::string)) == "string");
    CHECK(std::string(gguf::value_type_name(value_type::array)) == "array");
    CHECK(std::string(gguf::value_type_name(value_type::f64)) == "f64");
    CHECK(std::string(gguf::value_type_name(static_cast<value_type>(77))) == "unknown");
}

TEST_CASE("gguf: writer -> parser round trip of every value type") {
    std::vector<std::pair<std::string, value>> want;
    want.emplace_back("v.u8", u_value(value_type::u8, 200));
    want.emplace_back("v.i8", i_value(value_type::i8, -100));
    want.emplace_back("v.u16", u_value(value_type::u16, 60000));
    want.emplace_back("v.i16", i_value(value_type::i16, -30000));
    want.emplace_back("v.u32", u_value(value_type::u32, 4000000000u));
    want.emplace_back("v.i32", i_value(value_type::i32, -2000000000));
    want.emplace_back("v.u64", u_value(value_type::u64, (uint64_t{1} << 63) + 5));
    want.emplace_back("v.i64", i_value(value_type::i64, -(int64_t{1} << 50)));
    value f32 = scalar(value_type::f32);
    f32.num.f = 1.5;
    want.emplace_back("v.f32", f32);
    value f64 = scalar(value_type::f64);
    f64.num.f = 3.25e100;
    want.emplace_back("v.f64", f64);
    value bt = scalar(value_type::boolean), bf = scalar(value_type::boolean);
    bt.num.b = true;
    bf.num.b = false;
    want.emplace_back("v.true", bt);
    want.emplace_back("v.false", bf);
    want.emplace_back("v.str", str_value("h\xc3\xa9llo \xe2\x96\x81 world"));
    want.emplace_back("v.empty_str", str_value(""));
    want.emplace_back("v.strs", array_of(value_type::string, {str_value("a"), str_value(""), str_value("<0x0A>")}));
    want.emplace_back("v.u8s", array_of(value_type::u8, {u_value(value_type::u8, 0), u_value(value_type::u8, 255)}));
    want.emplace_back("v.i64s", array_of(value_type::i64, {i_value(value_type::i64, -1), i_value(value_type::i64, 7)}));
    want.emplace_back("v.empty_arr", array_of(value_type::u32, {}));
    want.emplace_back("v.nested", array_of(value_type::array,
                                           {array_of(value_type::u16, {u_value(value_type::u16, 1)}),
                                            array_of(value_type::string, {str_value("x"), str_value("yz")}),
                                            array_of(value_type::u8, {})}));
    want.emplace_back("v.deep", array_of(value_type::array,
                                         {array_of(value_type::array,
                                                   {array_of(value_type::i32, {i_value(value_type::i32, -9)})})}));

    gguf::writer w;
    for (const auto& kv : want) w.set_value(kv.first, kv.second);
    w.set_u32("s.u32", 77);
    w.set_i32("s.i32", -77);
    w.set_u64("s.u64", 1ull << 40);
    w.set_f32("s.f32", 0.25f);
    w.set_bool("s.bool", true);
    w.set_string("s.str", "abc");
    w.set_string_array("s.strs", {"x", "y"});
    w.set_f32_array("s.f32s", {1.0f, -2.5f});
    w.set_i32_array("s.i32s", {3, -4, 5});
    w.set_u32("s.u32", 78);  // setting a key again replaces it in place
    const auto bytes = w.finish();

    auto r = parse(bytes);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    const gguf::file& f = *r;
    CHECK(f.version() == 3);
    CHECK(f.alignment() == 32);
    CHECK(f.find("general.alignment") == nullptr);  // default alignment is not written
    REQUIRE(f.kvs().size() == want.size() + 9);
    for (size_t k = 0; k < want.size(); ++k) {
        INFO("key " << want[k].first);
        CHECK(f.kvs()[k].first == want[k].first);  // insertion order kept
        CHECK(same(f.kvs()[k].second, want[k].second));
    }
    CHECK(f.kvs()[want.size()].first == "s.u32");
    CHECK(f.get_uint("s.u32").value() == 78);
    CHECK(f.get_int("s.i32").value() == -77);
    CHECK(f.get_uint("s.u64").value() == (1ull << 40));
    CHECK(f.get_float("s.f32").value() == 0.25);
    CHECK(f.get_bool("s.bool").value());
    CHECK(f.get_string("s.str").value() == "abc");
    CHECK(f.get_string_array("s.strs").value() == std::vector<std::string>{"x", "y"});
    CHECK(f.get_float_array("s.f32s").value() == std::vector<float>{1.0f, -2.5f});
    CHECK(f.get_int_array("s.i32s").value() == std::vector<int64_t>{3, -4, 5});
    CHECK(f.get_int_array("v.u8s").value() == std::vector<int64_t>{0, 255});
    CHECK(f.get_float("v.f64").value() == 3.25e100);
    CHECK(f.get_uint("v.u8").value() == 200);
    CHECK(f.get_int("v.u64").error().code() == errc::bad_format);  // 2^63 + 5 does not fit int64
    CHECK(f.get_int("v.i8").value() == -100);
    CHECK(f.get_uint("v.u64").value() == (uint64_t{1} << 63) + 5);
}

TEST_CASE("gguf: typed getters report missing keys and wrong types") {
    gguf::writer w;
    w.set_i32("neg", -3);
    w.set_string("name", "x");
    w.set_f32("eps", 1e-5f);
    auto r = parse(w.finish());
    REQUIRE(r.ok());
    const gguf::file& f = *r;

    auto missing = f.get_uint("nope");
    CHECK(missing.error().code() == errc::invalid_argument);
    CHECK(contains(missing.error().message(), "nope"));
    auto wrong = f.get_uint("name");
    CHECK(wrong.error().code() == errc::bad_format);
    CHECK(contains(wrong.error().message(), "name"));
    CHECK(contains(wrong.error().message(), "string"));
    CHECK(f.get_uint("neg").error().code() == errc::bad_format);
    CHECK(f.get_int("neg").value() == -3);
    CHECK(f.get_float("neg").error().code() == errc::bad_format);  // integers are not floats
    CHECK(f.get_string("eps").error().code() == errc::bad_format);
    CHECK(f.get_bool("eps").error().code() == errc::bad_format);
    CHECK(f.get_string_array("name").error().code() == errc::bad_format);
    CHECK(f.get_float_array("eps").error().code() == errc::bad_format);
    CHECK(f.get_int_array("neg").error().code() == errc::bad_format);
    CHECK(f.get_uint_or("nope", 42).value() == 42);
    CHECK(f.get_uint_or("name", 42).error().code() == errc::bad_format);  // present with a wrong type: an error
    CHECK(f.get_float_or("nope", 0.5).value() == 0.5);
    CHECK(f.get_float_or("eps", 0.5).value() == doctest::Approx(1e-5));
    CHECK(f.get_bool_or("nope", true).value());
    CHECK(f.get_bool_or("name", true).error().code() == errc::bad_format);
    CHECK(f.find("name") != nullptr);
    CHECK(f.find_tensor("name") == nullptr);
}

TEST_CASE("gguf: tensors of every dtype round trip, aligned") {
    for (uint32_t alignment : {32u, 64u}) {
        CAPTURE(alignment);
        gguf::writer w(alignment);
        struct added {
            std::string name;
            dtype type;
            std::vector<int64_t> ne;
            std::vector<uint8_t> bytes;
        };
        std::vector<added> all;
        for (uint32_t id = 0; id < 64; ++id) {
            const dtype_traits* tr = dtype_info(id);
            if (tr == nullptr) continue;
            const std::vector<int64_t> ne = id % 3 == 0   ? std::vector<int64_t>{tr->block_size * 2, 3}
                                            : id % 3 == 1 ? std::vector<int64_t>{tr->block_size, 1, 2, 2}
                                                          : std::vector<int64_t>{tr->block_size * 3};
            int64_t rows = 1;
            for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];
            std::vector<uint8_t> bytes(static_cast<size_t>(ne[0] / tr->block_size * tr->block_bytes * rows));
            for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<uint8_t>(k * 7 + id);
            const std::string name = std::string("t.") + tr->name;
            REQUIRE(w.add_tensor(name, static_cast<dtype>(id), ne, bytes.data(), bytes.size()).ok());
            all.push_back({name, static_cast<dtype>(id), ne, bytes});
        }
        REQUIRE(all.size() >= 30);
        const auto file_bytes = w.finish();
        auto r = parse(file_bytes);
        REQUIRE_MESSAGE(r.ok(), r.error().to_string());
        const gguf::file& f = *r;
        CHECK(f.alignment() == alignment);
        if (alignment == 32) {
            CHECK(f.find("general.alignment") == nullptr);
        } else {
            REQUIRE(f.find("general.alignment") != nullptr);
            CHECK(f.find("general.alignment")->type == value_type::u32);
            CHECK(f.get_uint("general.alignment").value() == alignment);
        }
        CHECK(f.data_offset() % alignment == 0);
        REQUIRE(f.tensors().size() == all.size());
        for (size_t k = 0; k < all.size(); ++k) {
            const gguf::tensor_info& t = f.tensors()[k];
            INFO("tensor " << all[k].name);
            CHECK(t.name == all[k].name);  // insertion order
            CHECK(t.type == all[k].type);
            CHECK(t.n_dims == all[k].ne.size());
            for (size_t d = 0; d < 4; ++d) CHECK(t.ne[d] == (d < all[k].ne.size() ? all[k].ne[d] : 1));
            CHECK(t.nbytes == all[k].bytes.size());
            CHECK(t.offset % alignment == 0);
            CHECK(static_cast<size_t>(t.data - file_bytes.data()) % alignment == 0);
            CHECK(std::memcmp(t.data, all[k].bytes.data(), t.nbytes) == 0);
            CHECK(f.find_tensor(all[k].name) == &t);
        }
    }
}

TEST_CASE("gguf: writer rejects bad tensors") {
    gguf::writer w;
    std::vector<uint8_t> b(1024);
    CHECK(w.add_tensor("a", dtype::f32, {4}, b.data(), 16).ok());
    CHECK(w.add_tensor("a", dtype::f32, {4}, b.data(), 16).code() == errc::invalid_argument);   // duplicate
    CHECK(w.add_tensor("", dtype::f32, {4}, b.data(), 16).code() == errc::invalid_argument);    // no name
    CHECK(w.add_tensor("b", dtype::f32, {4}, b.data(), 12).code() == errc::invalid_argument);   // wrong size
    CHECK(w.add_tensor("c", dtype::q8_0, {16}, b.data(), 17).code() == errc::invalid_argument); // partial block
    CHECK(w.add_tensor("d", dtype::f32, {}, b.data(), 4).code() == errc::invalid_argument);
    CHECK(w.add_tensor("e", dtype::f32, {1, 1, 1, 1, 1}, b.data(), 4).code() == errc::invalid_argument);
    CHECK(w.add_tensor("f", dtype::f32, {0}, b.data(), 0).code() == errc::invalid_argument);
    CHECK(w.add_tensor("g", static_cast<dtype>(4), {4}, b.data(), 16).code() == errc::invalid_argument);
}

TEST_CASE("gguf: versions, magic and byte order") {
    const auto good = small_valid_file();
    REQUIRE(parse(good).ok());
    auto with_version = [&](uint32_t v) {
        auto b = good;
        std::memcpy(b.data() + 4, &v, 4);
        return b;
    };
    SUBCASE("v2 parses like v3") {
        auto r = parse(with_version(2));
        REQUIRE_MESSAGE(r.ok(), r.error().to_string());
        CHECK(r->version() == 2);
        CHECK(r->tensors().size() == 2);
        CHECK(r->get_string("general.architecture").value() == "llama");
    }
    SUBCASE("v1 is rejected") { expect_error(with_version(1), errc::unsupported, {"version 1"}); }
    SUBCASE("future versions are rejected") { expect_error(with_version(4), errc::unsupported, {"version 4"}); }
    SUBCASE("version 0") { expect_error(with_version(0), errc::bad_format, {"version"}); }
    SUBCASE("byte-swapped (big-endian) file") { expect_error(with_version(0x03000000u), errc::unsupported, {"endian"}); }
    SUBCASE("bad magic") {
        auto b = good;
        b[0] = 'X';
        expect_error(b, errc::bad_format, {"magic"});
    }
}

TEST_CASE("gguf: every truncated prefix of a valid file is rejected without crashing") {
    const auto good = small_valid_file();
    auto full = parse(good);
    REQUIRE(full.ok());
    const gguf::tensor_info& last = full->tensors().back();
    REQUIRE(static_cast<size_t>(last.data - good.data()) + last.nbytes == good.size());  // no trailing padding
    int accepted = 0;
    for (size_t len = 0; len < good.size(); ++len) {
        // an exactly-sized heap copy, so a read past `len` is a real overread (visible to sanitizers)
        std::unique_ptr<uint8_t[]> prefix(new uint8_t[len + 1]);
        std::memcpy(prefix.get(), good.data(), len);
        auto r = gguf::file::parse(len == 0 ? nullptr : prefix.get(), len);
        if (r.ok()) {
            ++accepted;
            continue;
        }
        if (r.error().code() != errc::bad_format) {
            INFO("prefix " << len << ": " << r.error().to_string());
            CHECK(r.error().code() == errc::bad_format);
        }
    }
    CHECK(accepted == 0);
}

TEST_CASE("gguf: hostile headers and metadata") {
    SUBCASE("huge kv count") {
        raw r;
        r.header(3, 0, uint64_t{1} << 40);
        expect_error(r.b, errc::bad_format, {"n_kv", "byte offset"});
    }
    SUBCASE("kv count larger than the file can hold") {
        raw r;
        r.header(3, 0, 1000).kv_u32("a", 1);
        expect_error(r.b, errc::bad_format, {"n_kv"});
    }
    SUBCASE("huge tensor count") {
        raw r;
        r.header(3, uint64_t{1} << 50, 0);
        expect_error(r.b, errc::bad_format, {"n_tensors"});
    }
    SUBCASE("huge key length") {
        raw r;
        r.header(3, 0, 1).put<uint64_t>(uint64_t{1} << 62).zeros(16);
        expect_error(r.b, errc::bad_format, {"key #0", "byte offset 24"});
    }
    SUBCASE("huge string value length") {
        raw r;
        r.header(3, 0, 1).str("general.name").put<uint32_t>(8).put<uint64_t>(uint64_t{1} << 62).zeros(16);
        expect_error(r.b, errc::bad_format, {"general.name", "byte offset"});
    }
    SUBCASE("string value longer than the file") {
        raw r;
        r.header(3, 0, 1).str("general.name").put<uint32_t>(8).put<uint64_t>(100).zeros(16);
        expect_error(r.b, errc::bad_format, {"general.name", "truncated"});
    }
    SUBCASE("huge array length") {
        raw r;
        r.header(3, 0, 1).str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8);
        r.put<uint64_t>(uint64_t{1} << 40).zeros(64);
        expect_error(r.b, errc::bad_format, {"tokenizer.ggml.tokens", "array length"});
    }
    SUBCASE("array length within limits but more than the file holds") {
        raw r;
        r.header(3, 0, 1).str("tokenizer.ggml.scores").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(1000);
        r.zeros(64);
        expect_error(r.b, errc::bad_format, {"tokenizer.ggml.scores"});
    }
    SUBCASE("arrays nested too deep") {
        raw r;
        r.header(3, 0, 1).str("deep").put<uint32_t>(9);
        for (int k = 0; k < 6; ++k) r.put<uint32_t>(9).put<uint64_t>(1);  // array of array of ...
        r.put<uint32_t>(4).put<uint64_t>(1).put<uint32_t>(5);
        expect_error(r.b, errc::bad_format, {"deep", "nested"});
    }
    SUBCASE("unknown value type") {
        raw r;
        r.header(3, 0, 1).str("weird").put<uint32_t>(13).put<uint32_t>(0);
        expect_error(r.b, errc::bad_format, {"weird", "13"});
    }
    SUBCASE("unknown array element type") {
        raw r;
        r.header(3, 0, 1).str("weird.arr").put<uint32_t>(9).put<uint32_t>(99).put<uint64_t>(0);
        expect_error(r.b, errc::bad_format, {"weird.arr", "99"});
    }
    SUBCASE("bool that is neither 0 nor 1") {
        raw r;
        r.header(3, 0, 1).str("flag").put<uint32_t>(7).put<uint8_t>(2);
        expect_error(r.b, errc::bad_format, {"flag"});
    }
    SUBCASE("empty key") {
        raw r;
        r.header(3, 0, 1).str("").put<uint32_t>(4).put<uint32_t>(1);
        expect_error(r.b, errc::bad_format, {"key #0", "empty"});
    }
    SUBCASE("duplicate key") {
        raw r;
        r.header(3, 0, 2).kv_u32("llama.block_count", 1).kv_u32("llama.block_count", 2);
        expect_error(r.b, errc::bad_format, {"duplicate", "llama.block_count"});
    }
    SUBCASE("alignment not a power of two") {
        raw r;
        r.header(3, 0, 1).kv_u32("general.alignment", 3);
        expect_error(r.b, errc::bad_format, {"general.alignment"});
    }
    SUBCASE("alignment zero") {
        raw r;
        r.header(3, 0, 1).kv_u32("general.alignment", 0);
        expect_error(r.b, errc::bad_format, {"general.alignment"});
    }
    SUBCASE("alignment of the wrong type") {
        raw r;
        r.header(3, 0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(64);
        expect_error(r.b, errc::bad_format, {"general.alignment", "u32"});
    }
    SUBCASE("a good alignment is used for the data section") {
        raw r;
        r.header(3, 1, 1).kv_u32("general.alignment", 128).tensor("w", {4}, 0, 0).pad(128).zeros(16);
        auto f = parse(r.b);
        REQUIRE_MESSAGE(f.ok(), f.error().to_string());
        CHECK(f->alignment() == 128);
        CHECK(f->data_offset() == 128);
    }
}

TEST_CASE("gguf: hostile tensor infos") {
    SUBCASE("baseline is valid") {
        auto f = parse(one_tensor("blk.0.w", {4, 2}, 0, 0, 32));
        REQUIRE_MESSAGE(f.ok(), f.error().to_string());
        CHECK(f->tensors()[0].n_elements() == 8);
    }
    SUBCASE("n_dims 0") {
        raw r;
        r.header(3, 1, 0).str("blk.0.w").put<uint32_t>(0).put<uint32_t>(0).put<uint64_t>(0).pad(32).zeros(32);
        expect_error(r.b, errc::bad_format, {"blk.0.w", "n_dims"});
    }
    SUBCASE("n_dims 5") {
        expect_error(one_tensor("blk.0.w", {1, 1, 1, 1, 4}, 0, 0, 32), errc::bad_format, {"blk.0.w", "n_dims"});
    }
    SUBCASE("a zero dimension") {
        expect_error(one_tensor("blk.0.w", {4, 0}, 0, 0, 32), errc::bad_format, {"blk.0.w", "ne[1]"});
    }
    SUBCASE("a negative dimension") {
        expect_error(one_tensor("blk.0.w", {~uint64_t{0}}, 0, 0, 32), errc::bad_format, {"blk.0.w", "ne[0]"});
    }
    SUBCASE("dimensions whose product overflows") {
        expect_error(one_tensor("blk.0.w", {uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0, 32), errc::bad_format,
                     {"blk.0.w", "overflow"});
    }
    SUBCASE("byte size that overflows") {
        expect_error(one_tensor("blk.0.w", {uint64_t{1} << 61, 2}, 0, 0, 32), errc::bad_format, {"blk.0.w"});
    }
    SUBCASE("unknown type id (a removed one)") {
        expect_error(one_tensor("blk.0.w", {32}, 4, 0, 32), errc::unsupported, {"blk.0.w", "type id 4"});
    }
    SUBCASE("unknown type id (out of range)") {
        expect_error(one_tensor("blk.0.w", {32}, 1000, 0, 32), errc::unsupported, {"blk.0.w", "1000"});
    }
    SUBCASE("row not a multiple of the block size") {
        expect_error(one_tensor("blk.0.w", {33, 2}, 8, 0, 128), errc::bad_format, {"blk.0.w", "block size"});
    }
    SUBCASE("offset past the end") {
        expect_error(one_tensor("blk.0.w", {4}, 0, 64, 32), errc::bad_format, {"blk.0.w", "past the end"});
    }
    SUBCASE("data running past the end") {
        expect_error(one_tensor("blk.0.w", {16}, 0, 0, 32), errc::bad_format, {"blk.0.w", "past the end"});
    }
    SUBCASE("offset + size overflowing") {
        expect_error(one_tensor("blk.0.w", {8}, 0, ~uint64_t{0} - 31, 32), errc::bad_format, {"blk.0.w"});
    }
    SUBCASE("misaligned offset") {
        expect_error(one_tensor("blk.0.w", {4}, 0, 4, 64), errc::bad_format, {"blk.0.w", "alignment"});
    }
    SUBCASE("duplicate tensor name") {
        raw r;
        r.header(3, 2, 0).tensor("blk.0.w", {4}, 0, 0).tensor("blk.0.w", {4}, 0, 32).pad(32).zeros(64);
        expect_error(r.b, errc::bad_format, {"duplicate", "blk.0.w"});
    }
    SUBCASE("empty tensor name") {
        expect_error(one_tensor("", {4}, 0, 0, 32), errc::bad_format, {"tensor #0"});
    }
    SUBCASE("missing padding before the data section") {
        raw r;
        r.header(3, 1, 0).tensor("blk.0.w", {1}, 0, 0);
        expect_error(r.b, errc::bad_format, {"truncated"});
    }
}

TEST_CASE("mapped_file: maps files, reports errors with the path") {
    const std::string dir = MOE_TEST_TMPDIR;
    const std::string path = dir + "/test_gguf_small.gguf";
    gguf::writer w;
    w.set_string("general.architecture", "llama");
    std::vector<float> f(16, 2.0f);
    REQUIRE(w.add_tensor("w", dtype::f32, {16}, f.data(), 64).ok());
    REQUIRE(w.write(path).ok());

    auto m = mapped_file::open(path);
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    const auto expect = w.finish();
    REQUIRE(m->size() == expect.size());
    CHECK(std::memcmp(m->data(), expect.data(), expect.size()) == 0);
    auto parsed = gguf::file::parse(m->data(), m->size());
    REQUIRE(parsed.ok());
    float v = 0;
    std::memcpy(&v, parsed->find_tensor("w")->data, 4);
    CHECK(v == 2.0f);

    mapped_file moved = std::move(m.value());
    CHECK(moved.size() == expect.size());
    CHECK(m->data() == nullptr);

    auto missing = mapped_file::open(dir + "/does-not-exist.gguf");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code() == errc::io_error);
    CHECK(contains(missing.error().message(), "does-not-exist.gguf"));

    const std::string empty = dir + "/test_gguf_empty.gguf";
    std::FILE* fp = std::fopen(empty.c_str(), "wb");
    REQUIRE(fp != nullptr);
    std::fclose(fp);
    auto e = mapped_file::open(empty);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code() == errc::io_error);
    CHECK(contains(e.error().message(), "file is empty"));
    CHECK(contains(e.error().message(), "test_gguf_empty.gguf"));

    auto dir_map = mapped_file::open(dir);
    CHECK_FALSE(dir_map.ok());

    const mapped_file b = mapped_file::borrow(expect.data(), expect.size());
    CHECK(b.data() == expect.data());
    CHECK(b.size() == expect.size());
    CHECK(w.write(dir + "/no-such-dir/x.gguf").code() == errc::io_error);
    std::remove(path.c_str());
    std::remove(empty.c_str());
}
