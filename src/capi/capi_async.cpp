// capi_async.cpp — moe_async_*: runs the generation loop (capi_generate.cpp) on a worker thread for game loops and
// UIs; the host polls text and ids without blocking, dispatches queued callbacks on its own thread, or cancels.
#include "capi/capi_internal.hpp"

#include <mutex>
#include <thread>
#include <utility>

struct moe_async {
    moe_session* session = nullptr;
    moe_sampler* sampler = nullptr;
    moe_capi::gen_request req;
    moe_token_fn on_token = nullptr;
    void* user = nullptr;
    bool on_dispatch = false;

    std::mutex m;                                       // guards the queues, status and result below
    std::string text;                                   // text not yet taken by moe_async_poll
    std::vector<int32_t> tokens;                        // ids not yet taken by moe_async_poll_tokens
    std::vector<std::pair<int32_t, std::string>> calls; // on_token calls waiting for moe_async_dispatch
    moe::status st;
    moe_generate_result res{};
    std::atomic<bool> finished{false};                  // set (under m) after the last text was queued
    std::atomic<bool> dispatch_stop{false};             // a dispatched on_token returned false
    std::atomic<bool> cancel{false};                    // moe_async_cancel

    std::mutex join_mutex;
    std::thread worker;
};

namespace {

using moe_capi::fail;

// The worker's sink: queue everything for the host; call on_token here unless the host dispatches it.
class async_sink final : public moe_capi::gen_sink {
public:
    explicit async_sink(moe_async& a) : a_(a) {}
    bool on_token(int32_t token, const std::string& piece) override {
        {
            std::lock_guard<std::mutex> lock(a_.m);
            a_.text += piece;
            if (token >= 0) a_.tokens.push_back(token);
            if (a_.on_dispatch && a_.on_token) a_.calls.emplace_back(token, piece);
        }
        if (!a_.on_dispatch && a_.on_token) return a_.on_token(token, piece.data(), piece.size(), a_.user);
        return true;
    }
    bool stop_requested() override { return a_.dispatch_stop.load(std::memory_order_acquire); }
    bool cancel_requested() override { return a_.cancel.load(std::memory_order_acquire); }

private:
    moe_async& a_;
};

void run_worker(moe_async* a) noexcept {
    moe::status st;
    moe_generate_result res{};
    res.struct_size = sizeof res;
    try {
        async_sink sink(*a);
        st = moe_capi::generate(*a->session, *a->sampler, a->req, sink, res);
    } catch (const std::bad_alloc&) {
        st = moe::status(moe::errc::out_of_memory, "out of memory during the generation");
        res.reason = MOE_STOP_ERROR;
    } catch (const std::exception& e) {
        st = moe::status(moe::errc::internal, std::string("unexpected exception during the generation: ") + e.what());
        res.reason = MOE_STOP_ERROR;
    } catch (...) {
        st = moe::status(moe::errc::internal, "unexpected exception during the generation");
        res.reason = MOE_STOP_ERROR;
    }
    if (!st.ok() && moe_capi::log_enabled(MOE_LOG_DEBUG))
        moe_capi::log(MOE_LOG_DEBUG, "async generation ended: " + st.to_string());
    std::lock_guard<std::mutex> lock(a->m);
    a->st = std::move(st);
    a->res = res;
    // The session and sampler are the host's again from here on.
    a->sampler->busy.store(false, std::memory_order_release);
    a->session->busy.store(false, std::memory_order_release);
    a->finished.store(true, std::memory_order_release);
}

void join(moe_async* a) {
    std::lock_guard<std::mutex> lock(a->join_mutex);
    if (a->worker.joinable()) a->worker.join();
}

}  // namespace

extern "C" {

moe_status moe_async_start(moe_session* session, moe_sampler* sampler, const moe_generate_params* params,
                           moe_async** out) {
    const char* fn = "moe_async_start";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!out) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = nullptr;
        if (!session || !sampler) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session or sampler is NULL");
        std::unique_ptr<moe_async> a(new moe_async());
        if (moe_status st = moe_capi::make_request(fn, params, a->req); st != MOE_OK) return st;
        a->session = session;
        a->sampler = sampler;
        a->on_token = params->on_token;
        a->user = params->user;
        a->on_dispatch = params->async_callbacks == MOE_ASYNC_CALLBACKS_ON_DISPATCH;
        moe_capi::claim cs(session->busy);
        if (!cs.ok()) return fail(fn, MOE_ERR_BUSY, "the session is in use by another generation");
        moe_capi::claim cp(sampler->busy);
        if (!cp.ok()) return fail(fn, MOE_ERR_BUSY, "the sampler is in use by another generation");
        session->cancel.store(false, std::memory_order_release);
        a->worker = std::thread(run_worker, a.get());
        cs.release_ownership();  // the worker clears both flags when it finishes
        cp.release_ownership();
        *out = a.release();
        return MOE_OK;
    });
}

moe_status moe_async_poll(moe_async* async, char* text, size_t capacity, size_t* n_bytes, bool* done) {
    const char* fn = "moe_async_poll";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!async || !n_bytes || !done) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "async, n_bytes or done is NULL");
        *n_bytes = 0;
        *done = false;
        std::lock_guard<std::mutex> lock(async->m);
        if (text && capacity > 0) {
            size_t k = std::min(capacity - 1, async->text.size());
            // Cut only between UTF-8 characters: back off over continuation bytes.
            while (k > 0 && k < async->text.size() && (static_cast<unsigned char>(async->text[k]) & 0xC0) == 0x80) --k;
            if (k == 0 && !async->text.empty()) {
                text[0] = '\0';
                return fail(fn, MOE_ERR_INVALID_ARGUMENT,
                            "a capacity of " + std::to_string(capacity) + " cannot hold the next character (use >= 5)");
            }
            async->text.copy(text, k);
            text[k] = '\0';
            async->text.erase(0, k);
            *n_bytes = k;
        }
        *done = async->finished.load(std::memory_order_acquire) && async->text.empty();
        return MOE_OK;
    });
}

moe_status moe_async_poll_tokens(moe_async* async, int32_t* tokens, size_t capacity, size_t* n_tokens) {
    const char* fn = "moe_async_poll_tokens";
    if (!async || !n_tokens) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "async or n_tokens is NULL");
    *n_tokens = 0;
    if (!tokens && capacity > 0) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "tokens is NULL");
    std::lock_guard<std::mutex> lock(async->m);
    const size_t k = std::min(capacity, async->tokens.size());
    std::copy(async->tokens.begin(), async->tokens.begin() + static_cast<std::ptrdiff_t>(k), tokens);
    async->tokens.erase(async->tokens.begin(), async->tokens.begin() + static_cast<std::ptrdiff_t>(k));
    *n_tokens = k;
    return MOE_OK;
}

moe_status moe_async_dispatch(moe_async* async, size_t* n_calls) {
    const char* fn = "moe_async_dispatch";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (n_calls) *n_calls = 0;
        if (!async) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "async is NULL");
        std::vector<std::pair<int32_t, std::string>> calls;
        {
            std::lock_guard<std::mutex> lock(async->m);
            calls.swap(async->calls);
        }
        size_t ran = 0;
        for (const auto& c : calls) {
            if (async->dispatch_stop.load(std::memory_order_acquire)) break;
            ++ran;
            if (!async->on_token(c.first, c.second.data(), c.second.size(), async->user))
                async->dispatch_stop.store(true, std::memory_order_release);
        }
        if (n_calls) *n_calls = ran;
        return MOE_OK;
    });
}

moe_status moe_async_cancel(moe_async* async) {
    if (!async) return fail("moe_async_cancel", MOE_ERR_INVALID_ARGUMENT, "async is NULL");
    async->cancel.store(true, std::memory_order_release);
    return MOE_OK;
}

bool moe_async_finished(const moe_async* async) {
    return async && async->finished.load(std::memory_order_acquire);
}

moe_status moe_async_wait(moe_async* async, moe_generate_result* result) {
    const char* fn = "moe_async_wait";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!async) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "async is NULL");
        if (result && !moe_capi::size_ok(result->struct_size, sizeof(moe_generate_result)))
            return fail(fn, MOE_ERR_ABI_MISMATCH, "result->struct_size does not match this library's");
        join(async);
        moe::status st;
        {
            std::lock_guard<std::mutex> lock(async->m);
            st = async->st;
            if (result) *result = async->res;
        }
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

void moe_async_free(moe_async* async) {
    if (!async) return;
    (void)moe_async_cancel(async);
    try {
        join(async);
    } catch (...) {  // join only throws for a thread that cannot be joined; nothing left to do then
    }
    delete async;
}

}  // extern "C"
