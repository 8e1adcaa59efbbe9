// test_capi_threads.cpp — the C API's threading contract: sessions on one shared model give, on their own threads,
// exactly what they give alone; async workers, callbacks' threads, per-thread errors and cross-thread cancel.
// Before: the C API (include/moe/moe.h) and the demo model; after: nothing (part of the moe_capi_cpp doctest binary).
#include <moe/moe.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

struct model_handle {
    moe_model* m = nullptr;
    model_handle() { REQUIRE(moe_model_load(MOE_DEMO_MODEL, nullptr, &m) == MOE_OK); }
    ~model_handle() { moe_model_free(m); }
};

struct run_output {
    std::vector<int32_t> ids;
    std::string text;
    std::vector<std::thread::id> callback_threads;
};

bool collect(int32_t token, const char* text, size_t len, void* user) {
    auto* out = static_cast<run_output*>(user);
    if (token >= 0) out->ids.push_back(token);
    out->text.append(text, len);
    out->callback_threads.push_back(std::this_thread::get_id());
    return true;
}

moe_session* make_session(const moe_model* m, int64_t n_ctx = 256) {
    moe_session_params sp = moe_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_threads = 1;  // the same kernels' thread split alone and together
    moe_session* s = nullptr;
    REQUIRE(moe_session_create(m, &sp, &s) == MOE_OK);
    return s;
}

moe_sampler* make_sampler(uint64_t seed) {
    moe_sampler_params pp = moe_sampler_default_params();
    pp.seed = seed;
    moe_sampler* smp = nullptr;
    REQUIRE(moe_sampler_create(&pp, &smp) == MOE_OK);
    return smp;
}

moe_generate_params gen_params(const char* prompt, int32_t n, run_output* out) {
    moe_generate_params gp = moe_generate_default_params();
    gp.prompt_text = prompt;
    gp.max_tokens = n;
    gp.stop_at_eog = false;
    gp.on_token = collect;
    gp.user = out;
    return gp;
}

// One generation on a fresh session and sampler; safe to call from any thread (no doctest macros inside).
moe_status generate_alone(const moe_model* m, const char* prompt, uint64_t seed, int32_t n, run_output& out) {
    moe_session_params sp = moe_session_default_params();
    sp.n_ctx = 256;
    sp.n_threads = 1;
    moe_session* s = nullptr;
    moe_sampler* smp = nullptr;
    moe_sampler_params pp = moe_sampler_default_params();
    pp.seed = seed;
    moe_status st = moe_session_create(m, &sp, &s);
    if (st == MOE_OK) st = moe_sampler_create(&pp, &smp);
    moe_generate_params gp = gen_params(prompt, n, &out);
    if (st == MOE_OK) st = moe_session_generate(s, smp, &gp, nullptr);
    moe_sampler_free(smp);
    moe_session_free(s);
    return st;
}

const char* const prompts[] = {"ROMEO:", "JULIET: O Romeo", "KING LEAR:", "PORTIA: The quality of mercy"};

}  // namespace

TEST_CASE("capi threads: sessions on one model, on their own threads, match running alone") {
    model_handle mh;
    constexpr int n = 4;
    run_output alone[n], together[n];
    for (int i = 0; i < n; ++i)
        REQUIRE(generate_alone(mh.m, prompts[i], 100 + static_cast<uint64_t>(i), 40, alone[i]) == MOE_OK);
    moe_status st[n];
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] { st[i] = generate_alone(mh.m, prompts[i], 100 + static_cast<uint64_t>(i), 40, together[i]); });
    for (std::thread& t : threads) t.join();
    for (int i = 0; i < n; ++i) {
        CAPTURE(i);
        CHECK(st[i] == MOE_OK);
        CHECK(together[i].ids.size() == 40);
        CHECK(together[i].ids == alone[i].ids);
        CHECK(together[i].text == alone[i].text);
    }
    CHECK(alone[0].ids != alone[1].ids);  // different prompts and seeds do differ
}

TEST_CASE("capi threads: several async generations polled from one game loop match the synchronous ones") {
    model_handle mh;
    constexpr int n = 3;
    run_output alone[n];
    for (int i = 0; i < n; ++i) REQUIRE(generate_alone(mh.m, prompts[i], 7, 32, alone[i]) == MOE_OK);

    moe_session* s[n];
    moe_sampler* smp[n];
    moe_async* a[n];
    std::string text[n];
    std::vector<int32_t> ids[n];
    bool done[n] = {};
    for (int i = 0; i < n; ++i) {
        s[i] = make_session(mh.m);
        smp[i] = make_sampler(7);
        moe_generate_params gp = gen_params(prompts[i], 32, nullptr);
        gp.on_token = nullptr;
        REQUIRE(moe_async_start(s[i], smp[i], &gp, &a[i]) == MOE_OK);
    }
    for (int frames = 0; frames < 100000 && !(done[0] && done[1] && done[2]); ++frames) {
        for (int i = 0; i < n; ++i) {
            char buf[64];
            size_t len = 0, k = 0;
            int32_t got[16];
            REQUIRE(moe_async_poll(a[i], buf, sizeof buf, &len, &done[i]) == MOE_OK);
            text[i].append(buf, len);
            REQUIRE(moe_async_poll_tokens(a[i], got, 16, &k) == MOE_OK);
            ids[i].insert(ids[i].end(), got, got + k);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int i = 0; i < n; ++i) {
        CAPTURE(i);
        size_t k = 0;
        int32_t got[64];
        REQUIRE(moe_async_poll_tokens(a[i], got, 64, &k) == MOE_OK);
        ids[i].insert(ids[i].end(), got, got + k);
        moe_generate_result r{};
        r.struct_size = sizeof r;
        CHECK(done[i]);
        CHECK(moe_async_wait(a[i], &r) == MOE_OK);
        CHECK(r.n_generated == 32);
        CHECK(ids[i] == alone[i].ids);
        CHECK(text[i] == alone[i].text);
        moe_async_free(a[i]);
        moe_sampler_free(smp[i]);
        moe_session_free(s[i]);
    }
}

TEST_CASE("capi threads: async callbacks run on the worker, or on the host inside moe_async_dispatch") {
    model_handle mh;
    const std::thread::id host = std::this_thread::get_id();
    for (moe_async_callbacks where : {MOE_ASYNC_CALLBACKS_ON_WORKER, MOE_ASYNC_CALLBACKS_ON_DISPATCH}) {
        CAPTURE(static_cast<int>(where));
        moe_session* s = make_session(mh.m);
        moe_sampler* smp = make_sampler(3);
        run_output out;
        moe_generate_params gp = gen_params("ROMEO:", 16, &out);
        gp.async_callbacks = where;
        moe_async* a = nullptr;
        REQUIRE(moe_async_start(s, smp, &gp, &a) == MOE_OK);
        while (!moe_async_finished(a)) {
            if (where == MOE_ASYNC_CALLBACKS_ON_DISPATCH) CHECK(moe_async_dispatch(a, nullptr) == MOE_OK);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        size_t calls = 0;
        CHECK(moe_async_dispatch(a, &calls) == MOE_OK);
        CHECK(moe_async_wait(a, nullptr) == MOE_OK);
        CHECK(out.ids.size() == 16);
        REQUIRE(!out.callback_threads.empty());
        for (std::thread::id t : out.callback_threads)
            CHECK((t == host) == (where == MOE_ASYNC_CALLBACKS_ON_DISPATCH));
        if (where == MOE_ASYNC_CALLBACKS_ON_WORKER) CHECK(calls == 0);
        moe_async_free(a);
        moe_sampler_free(smp);
        moe_session_free(s);
    }
}

TEST_CASE("capi threads: moe_last_error is per thread") {
    moe_model* m = nullptr;
    REQUIRE(moe_model_load("/nonexistent/a.gguf", nullptr, &m) == MOE_ERR_IO);
    const std::string mine = moe_last_error();
    std::string theirs_before, theirs_after;
    std::thread t([&] {
        theirs_before = moe_last_error();
        moe_model* m2 = nullptr;
        (void)moe_model_load("/nonexistent/b.gguf", nullptr, &m2);
        theirs_after = moe_last_error();
    });
    t.join();
    CHECK(theirs_before.empty());
    CHECK(theirs_after.find("b.gguf") != std::string::npos);
    CHECK(std::string(moe_last_error()) == mine);
    CHECK(mine.find("a.gguf") != std::string::npos);
}

TEST_CASE("capi threads: moe_session_cancel from another thread stops a synchronous generation") {
    model_handle mh;
    moe_session* s = make_session(mh.m, 4096);
    moe_sampler* smp = make_sampler(5);
    std::atomic<int> made{0};
    moe_generate_params gp = moe_generate_default_params();
    gp.prompt_text = "HAMLET:";
    gp.stop_at_eog = false;  // would run to 4096 tokens
    gp.on_token = [](int32_t, const char*, size_t, void* user) {
        static_cast<std::atomic<int>*>(user)->fetch_add(1);
        return true;
    };
    gp.user = &made;
    std::thread canceller([&] {
        while (made.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        CHECK(moe_session_cancel(s) == MOE_OK);
    });
    moe_generate_result r{};
    r.struct_size = sizeof r;
    CHECK(moe_session_generate(s, smp, &gp, &r) == MOE_ERR_ABORTED);
    canceller.join();
    CHECK(r.reason == MOE_STOP_CANCELLED);
    CHECK(r.n_generated >= 5);
    CHECK(r.n_generated < 4000);
    moe_sampler_free(smp);
    moe_session_free(s);
}

TEST_CASE("capi threads: a session keeps its model alive after moe_model_free") {
    moe_model* m = nullptr;
    REQUIRE(moe_model_load(MOE_DEMO_MODEL, nullptr, &m) == MOE_OK);
    run_output before, after;
    REQUIRE(generate_alone(m, "ROMEO:", 11, 8, before) == MOE_OK);
    moe_session* s = make_session(m);
    moe_sampler* smp = make_sampler(11);
    moe_model_free(m);
    moe_generate_params gp = gen_params("ROMEO:", 8, &after);
    CHECK(moe_session_generate(s, smp, &gp, nullptr) == MOE_OK);
    CHECK(after.ids == before.ids);
    moe_sampler_free(smp);
    moe_session_free(s);
}
