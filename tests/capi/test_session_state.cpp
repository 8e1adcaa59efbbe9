// test_session_state.cpp — the C++ additions the C API rests on: model::load_from_reader, session::truncate,
// save_state / load_state (plain, MLA and sliding-window caches) and list_backends, on random models (src/testgen).
// Before: the model writer; after: nothing (part of the moe_capi_cpp doctest binary).
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

moe::testgen::model_spec spec_for(const std::string& arch) {
    moe::testgen::model_spec s;
    s.arch = arch;
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 96;
    s.n_expert = 4, s.n_expert_used = 2, s.seed = 9;
    if (arch == "deepseek2") s.head_dim = 32, s.deepseek2.kv_lora_rank = 32, s.deepseek2.rope_dim = 16;
    if (arch == "gpt-oss") s.gpt_oss.sliding_window = 4;
    return s;
}

std::vector<int32_t> prompt(size_t n) {
    std::vector<int32_t> p;
    for (size_t i = 0; i < n; ++i) p.push_back(static_cast<int32_t>(1 + (i * 37) % 290));
    return p;
}

moe::session make_session(const moe::model& m, int64_t n_ctx = 32) {
    moe::session_params sp;
    sp.n_ctx = n_ctx;
    sp.n_threads = 1;
    moe::result<moe::session> s = moe::session::create(m, sp);
    REQUIRE(s.ok());
    return std::move(*s);
}

std::vector<float> row(const moe::session& s) {
    const float* l = s.logits();
    REQUIRE(l != nullptr);
    return std::vector<float>(l, l + s.n_vocab());
}

}  // namespace

TEST_CASE("model::load_from_reader gives the model load_from_memory gives; read errors and cancel") {
    moe::result<std::vector<uint8_t>> bytes = moe::testgen::make_random_model(spec_for("llama"));
    REQUIRE(bytes.ok());
    const std::vector<uint8_t>& b = *bytes;
    size_t reads = 0;
    auto read = [&](uint64_t offset, void* dst, size_t n) -> moe::status {
        if (offset + n > b.size()) return moe::status(moe::errc::io_error, "past the end");
        std::memcpy(dst, b.data() + offset, n);
        ++reads;
        return {};
    };
    std::vector<float> progress;
    moe::model_params mp;
    mp.progress = [&](float p) {
        progress.push_back(p);
        return true;
    };
    moe::result<moe::model> r = moe::model::load_from_reader(b.size(), read, mp);
    REQUIRE(r.ok());
    CHECK(reads >= 1);
    REQUIRE(progress.size() >= 3);
    for (size_t i = 1; i < progress.size(); ++i) CHECK(progress[i] >= progress[i - 1]);
    CHECK(progress.back() == 1.0f);
    moe::result<moe::model> mem = moe::model::load_from_memory(b.data(), b.size());
    REQUIRE(mem.ok());
    CHECK(r->info().n_params == mem->info().n_params);
    moe::session a = make_session(*r), c = make_session(*mem);
    const std::vector<int32_t> p = prompt(6);
    REQUIRE(a.eval(p.data(), p.size()).ok());
    REQUIRE(c.eval(p.data(), p.size()).ok());
    CHECK(row(a) == row(c));

    auto failing = [](uint64_t, void*, size_t) { return moe::status(moe::errc::io_error, "disk on fire"); };
    moe::result<moe::model> bad = moe::model::load_from_reader(b.size(), failing);
    REQUIRE(!bad.ok());
    CHECK(bad.error().code() == moe::errc::io_error);
    CHECK(bad.error().message().find("disk on fire") != std::string::npos);
    moe::model_params cancel;
    cancel.progress = [](float f) { return f < 0.25f; };
    moe::result<moe::model> stopped = moe::model::load_from_reader(b.size(), read, cancel);
    REQUIRE(!stopped.ok());
    CHECK(stopped.error().code() == moe::errc::aborted);
    CHECK(moe::model::load_from_reader(0, read).error().code() == moe::errc::invalid_argument);
    CHECK(moe::model::load_from_reader(b.size(), nullptr).error().code() == moe::errc::invalid_argument);
    // a short file comes back as bad_format from the parser, not a crash
    CHECK(moe::model::load_from_reader(b.size() / 3, read).error().code() == moe::errc::bad_format);
}

TEST_CASE("session: save_state / load_state / truncate round-trip (plain, MLA and sliding-window caches)") {
    for (const char* arch : {"llama", "deepseek2", "gpt-oss"}) {
        CAPTURE(arch);
        moe::result<std::vector<uint8_t>> bytes = moe::testgen::make_random_model(spec_for(arch));
        REQUIRE(bytes.ok());
        moe::result<moe::model> m = moe::model::load_from_memory(bytes->data(), bytes->size());
        REQUIRE(m.ok());
        moe::session a = make_session(*m);
        const std::vector<int32_t> p = prompt(10);
        REQUIRE(a.eval(p.data(), 7).ok());
        std::vector<uint8_t> state(a.state_size());
        CHECK(!a.save_state(state.data(), state.size() - 1).ok());
        moe::result<size_t> w = a.save_state(state.data(), state.size());
        REQUIRE(w.ok());
        CHECK(*w == state.size());
        const std::vector<float> at7 = row(a);

        // restore into another session (smaller n_ctx is fine) and continue both: identical
        moe::session b = make_session(*m, 16);
        REQUIRE(b.load_state(state.data(), state.size()).ok());
        CHECK(b.n_past() == 7);
        CHECK(row(b) == at7);
        REQUIRE(a.eval(p.data() + 7, 3).ok());
        REQUIRE(b.eval(p.data() + 7, 3).ok());
        const std::vector<float> at10 = row(a);
        CHECK(row(b) == at10);

        // truncate to 7 and redo the last three: the same logits
        CHECK(!a.truncate(11).ok());
        CHECK(!a.truncate(-1).ok());
        REQUIRE(a.truncate(7).ok());
        CHECK(a.n_past() == 7);
        CHECK(a.logits() == nullptr);
        REQUIRE(a.eval(p.data() + 7, 3).ok());
        CHECK(row(a) == at10);

        // refusals leave an empty cache
        moe::session tiny = make_session(*m, 4);
        CHECK(tiny.load_state(state.data(), state.size()).code() == moe::errc::context_full);
        CHECK(tiny.n_past() == 0);
        CHECK(b.load_state(state.data(), state.size() - 4).code() == moe::errc::bad_format);
        CHECK(b.n_past() == 0);
        CHECK(b.load_state(state.data(), 3).code() == moe::errc::bad_format);
        // an empty session's state restores to an empty session
        moe::session e = make_session(*m);
        std::vector<uint8_t> empty(e.state_size());
        REQUIRE(e.save_state(empty.data(), empty.size()).ok());
        REQUIRE(b.load_state(empty.data(), empty.size()).ok());
        CHECK(b.n_past() == 0);
        CHECK(b.logits() == nullptr);
    }
}

TEST_CASE("session: a state from another model shape is refused") {
    moe::result<std::vector<uint8_t>> x = moe::testgen::make_random_model(spec_for("llama"));
    moe::testgen::model_spec other = spec_for("llama");
    other.n_head_kv = 4;
    moe::result<std::vector<uint8_t>> y = moe::testgen::make_random_model(other);
    REQUIRE(x.ok());
    REQUIRE(y.ok());
    moe::result<moe::model> mx = moe::model::load_from_memory(x->data(), x->size());
    moe::result<moe::model> my = moe::model::load_from_memory(y->data(), y->size());
    REQUIRE(mx.ok());
    REQUIRE(my.ok());
    moe::session a = make_session(*mx), b = make_session(*my);
    const std::vector<int32_t> p = prompt(3);
    REQUIRE(a.eval(p.data(), p.size()).ok());
    std::vector<uint8_t> state(a.state_size());
    REQUIRE(a.save_state(state.data(), state.size()).ok());
    CHECK(b.load_state(state.data(), state.size()).code() == moe::errc::shape_mismatch);
}

TEST_CASE("list_backends: the CPU is always there; a directory without modules adds nothing") {
    moe::result<std::vector<moe::backend_listing>> l = moe::list_backends({"/nonexistent-moe-dir"});
    REQUIRE(l.ok());
    REQUIRE(l->size() == 1);
    CHECK((*l)[0].name == "cpu");
    CHECK((*l)[0].available);
    CHECK((*l)[0].path.empty());
}
