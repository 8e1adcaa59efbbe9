// test_alloc_failure.cpp — makes every allocation of a load + session + eval + tokenize run fail in turn (alloc_hooks)
// and checks each run ends in an out-of-memory status or in the right answer, never a crash, and that it recovers.
#include "alloc_hooks.hpp"
#include "testgen/model_writer.hpp"

#include <moe/moe.h>
#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace moe;

namespace {

using bytes = std::vector<uint8_t>;

const bytes& tiny_model() {
    static const bytes b = [] {
        testgen::model_spec s;
        s.arch = "qwen3moe";
        s.n_vocab = 300, s.n_embd = 32, s.n_layer = 1, s.n_head = 2, s.n_head_kv = 1, s.n_ff = 32;
        s.n_expert = 4, s.n_expert_used = 2, s.n_ctx_train = 64, s.weight_type = dtype::q8_0;
        result<bytes> r = testgen::make_random_model(s);
        REQUIRE_MESSAGE(r.ok(), r.error().to_string());
        return std::move(*r);
    }();
    return b;
}

// What one run produces: the status of the first failing step, or the results when all steps succeeded.
struct outcome {
    status st;
    std::vector<float> logits;  // last-token logits after the prompt, then after one more token
    std::vector<int32_t> ids;   // the tokenizer's ids for a short text
};

// The test's own allocations (copying results) run paused: only the library's allocations are failed.
outcome run_cpp() {
    outcome o;
    auto failed = [&o](const status& st) {
        alloc_hooks::paused p;
        o.st = st;
        return o;
    };
    auto keep_logits = [&o](const session& s) {
        alloc_hooks::paused p;
        o.logits.insert(o.logits.end(), s.logits(), s.logits() + s.n_vocab());
    };
    const bytes& b = tiny_model();
    result<model> m = model::load_from_memory(b.data(), b.size());
    if (!m) return failed(m.error());
    session_params sp;
    sp.n_ctx = 16, sp.n_threads = 2;
    result<session> s = session::create(*m, sp);
    if (!s) return failed(s.error());
    const int32_t prompt[4] = {1, 5, 9, 77};
    status st = s->eval(prompt, 4);
    if (!st.ok()) return failed(st);
    keep_logits(*s);
    const int32_t next = 3;
    st = s->eval(&next, 1);
    if (!st.ok()) return failed(st);
    keep_logits(*s);
    if (const tokenizer* tk = m->tokenizer()) {
        result<std::vector<int32_t>> ids = tk->encode("hello world", false, false);
        if (!ids) return failed(ids.error());
        o.ids = std::move(*ids);
    }
    return o;
}

// The same steps through the C API: statuses must be MOE_ERR_OUT_OF_MEMORY, never an escaped exception.
outcome run_c() {
    outcome o;
    const bytes& b = tiny_model();
    moe_model* m = nullptr;
    moe_status st = moe_model_load_from_memory(b.data(), b.size(), nullptr, &m);
    if (st != MOE_OK) {
        alloc_hooks::paused p;
        o.st = status(errc::out_of_memory, moe_status_name(st));
        o.logits.assign(1, float(st));
        return o;
    }
    moe_session_params sp = moe_session_default_params();
    sp.n_ctx = 16, sp.n_threads = 2;
    moe_session* s = nullptr;
    st = moe_session_create(m, &sp, &s);
    if (st == MOE_OK) {
        const int32_t prompt[4] = {1, 5, 9, 77};
        st = moe_session_eval(s, prompt, 4, false);
        const float* lg = nullptr;
        if (st == MOE_OK) st = moe_session_logits(s, -1, &lg);
        if (st == MOE_OK) {
            alloc_hooks::paused p;
            o.logits.assign(lg, lg + moe_session_n_vocab(s));
        }
    }
    moe_session_free(s);
    moe_model_free(m);
    alloc_hooks::paused p;
    if (st != MOE_OK) o.st = status(errc::out_of_memory, moe_status_name(st)), o.logits.assign(1, float(st));
    return o;
}

// Fails allocation k for k = 0, 1, ... until a run completes without reaching the armed allocation.
template <class Run, class Check>
long fail_each_allocation(Run run, Check check) {
    long k = 0;
    for (;; ++k) {
        alloc_hooks::fail_after(k);
        outcome o;
        bool escaped = false;  // the API let an exception out: a bug (its calls return statuses)
        try {
            o = run();
        } catch (const std::exception&) {
            escaped = true;
        }
        const bool injected = alloc_hooks::failure_injected();
        alloc_hooks::disarm();
        if (escaped) FAIL("an exception escaped the API when allocation " << k << " failed");
        check(k, injected, o);
        if (!injected) break;
    }
    return k;
}

}  // namespace

TEST_CASE("allocation failure: every allocation of load, session, eval and tokenize fails in turn") {
    if (!alloc_hooks::active()) {
        MESSAGE("allocation hooks unavailable in this build (ThreadSanitizer): skipped");
        return;
    }
    const outcome want = run_cpp();
    REQUIRE(want.st.ok());
    REQUIRE(!want.ids.empty());
    long oom = 0, absorbed = 0;
    const long n = fail_each_allocation(run_cpp, [&](long k, bool injected, const outcome& o) {
        CAPTURE(k);
        INFO(o.st.to_string());
        if (!injected) {
            CHECK(o.st.ok());
            return;
        }
        if (o.st.ok()) {  // the failure was absorbed (a worker thread not started, a cache not kept): same answers
            ++absorbed;
            CHECK(o.logits == want.logits);
            CHECK(o.ids == want.ids);
        } else {
            ++oom;
            CHECK(o.st.code() == errc::out_of_memory);
        }
    });
    MESSAGE("C++ API: " << n << " allocations, " << oom << " runs ended in out_of_memory, " << absorbed
                        << " absorbed the failure");
    CHECK(n > 100);  // the run really allocates: the count is not vacuous
    // The process is still usable: a clean run gives the first answers again.
    const outcome again = run_cpp();
    REQUIRE(again.st.ok());
    CHECK(again.logits == want.logits);
}

TEST_CASE("allocation failure: the C API returns MOE_ERR_OUT_OF_MEMORY and never lets an exception out") {
    if (!alloc_hooks::active()) {
        MESSAGE("allocation hooks unavailable in this build (ThreadSanitizer): skipped");
        return;
    }
    const outcome want = run_c();
    REQUIRE(want.st.ok());
    long oom = 0;
    const long n = fail_each_allocation(run_c, [&](long k, bool injected, const outcome& o) {
        CAPTURE(k);
        INFO(o.st.to_string());
        if (!injected || o.st.ok()) {
            CHECK(o.st.ok());
            CHECK(o.logits == want.logits);
            return;
        }
        ++oom;
        CHECK(o.logits == std::vector<float>{float(MOE_ERR_OUT_OF_MEMORY)});
    });
    MESSAGE("C API: " << n << " allocations, " << oom << " runs ended in MOE_ERR_OUT_OF_MEMORY");
    CHECK(n > 100);
}
