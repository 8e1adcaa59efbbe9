// capi_generate.cpp — the generation loop behind moe_session_generate and the async worker: evaluate the prompt in
// chunks, then sample, report, evaluate until a stop condition. Before: a session and a sampler; after: the
// caller's on_token callback (sync) or the moe_async queues (capi_async.cpp).
#include "capi/capi_internal.hpp"

#include <algorithm>
#include <chrono>

namespace moe_capi {

moe_status make_request(const char* fn, const moe_generate_params* p, gen_request& out) noexcept {
    if (!p) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "params is NULL");
    if (!size_ok(p->struct_size, sizeof(moe_generate_params)))
        return fail(fn, MOE_ERR_ABI_MISMATCH,
                    "moe_generate_params.struct_size does not match this library's (use moe_generate_default_params)");
    if (p->prompt_text && p->prompt_tokens)
        return fail(fn, MOE_ERR_INVALID_ARGUMENT, "give prompt_text or prompt_tokens, not both");
    if (!p->prompt_tokens && p->n_prompt_tokens > 0)
        return fail(fn, MOE_ERR_INVALID_ARGUMENT, "prompt_tokens is NULL with n_prompt_tokens > 0");
    const int where = enum_int(p->async_callbacks);
    if (where != MOE_ASYNC_CALLBACKS_ON_WORKER && where != MOE_ASYNC_CALLBACKS_ON_DISPATCH)
        return fail(fn, MOE_ERR_INVALID_ARGUMENT, "async_callbacks is not a moe_async_callbacks value");
    try {
        out.has_text = p->prompt_text != nullptr;
        out.prompt_text = p->prompt_text ? p->prompt_text : "";
        if (p->prompt_tokens) out.prompt_tokens.assign(p->prompt_tokens, p->prompt_tokens + p->n_prompt_tokens);
    } catch (const std::bad_alloc&) {
        return fail(fn, MOE_ERR_OUT_OF_MEMORY, "out of memory copying the prompt");
    }
    out.max_tokens = p->max_tokens;
    out.stop_at_eog = p->stop_at_eog;
    return MOE_OK;
}

namespace {

bool cancelled(moe_session& s, moe_capi::gen_sink& sink) {
    return s.cancel.load(std::memory_order_acquire) || sink.cancel_requested();
}

moe::status aborted() { return moe::status(moe::errc::aborted, "the generation was cancelled"); }

}  // namespace

moe::status generate(moe_session& s, moe_sampler& smp, const gen_request& req, gen_sink& sink,
                     moe_generate_result& res) {
    const auto t0 = std::chrono::steady_clock::now();
    res.n_prompt = 0, res.n_generated = 0, res.reason = MOE_STOP_NONE, res.seconds = 0;
    struct timer {
        moe_generate_result& r;
        std::chrono::steady_clock::time_point t0;
        ~timer() { r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
    } time_it{res, t0};
    auto stop = [&](moe_stop_reason why, moe::status st = {}) {
        res.reason = why;
        return st;
    };

    moe::session& ses = s.s;
    const moe::tokenizer* tok = s.state->m.tokenizer();
    std::vector<int32_t> prompt = req.prompt_tokens;
    if (req.has_text) {
        if (!tok) return stop(MOE_STOP_ERROR, moe::status(moe::errc::unsupported, "a text prompt needs a model with a tokenizer"));
        moe::result<std::vector<int32_t>> ids = tok->encode(req.prompt_text, ses.n_past() == 0, true);
        if (!ids) return stop(MOE_STOP_ERROR, ids.error());
        prompt = std::move(*ids);
    }
    if (prompt.empty() && !ses.logits(-1))
        return stop(MOE_STOP_ERROR, moe::status(moe::errc::invalid_argument,
                                                "no prompt and no logits to continue from (eval a prompt first)"));
    if (ses.n_past() + static_cast<int64_t>(prompt.size()) > ses.n_ctx())
        return stop(MOE_STOP_ERROR, moe::status(moe::errc::context_full,
                                                "the prompt (" + std::to_string(prompt.size()) + " tokens) does not fit: " +
                                                    std::to_string(ses.n_past()) + " of " + std::to_string(ses.n_ctx()) +
                                                    " context tokens are used"));
    // The prompt in chunks, so a cancel is seen between them.
    const size_t chunk = 256;
    for (size_t done = 0; done < prompt.size();) {
        if (cancelled(s, sink)) return stop(MOE_STOP_CANCELLED, aborted());
        const size_t n = std::min(chunk, prompt.size() - done);
        moe::status st = ses.eval(prompt.data() + done, n);
        if (!st.ok()) return stop(MOE_STOP_ERROR, st);
        done += n;
        res.n_prompt = static_cast<int64_t>(done);
    }

    std::unique_ptr<moe::detokenizer> detok;
    if (tok) detok.reset(new moe::detokenizer(*tok));
    auto flush = [&]() -> bool {
        if (!detok) return true;
        const std::string rest = detok->flush();
        return rest.empty() || sink.on_token(-1, rest);
    };
    const std::string no_text;
    for (;;) {
        if (cancelled(s, sink)) return stop(MOE_STOP_CANCELLED, aborted());
        if (sink.stop_requested()) return flush(), stop(MOE_STOP_CALLBACK);
        if (req.max_tokens >= 0 && res.n_generated >= req.max_tokens) return flush(), stop(MOE_STOP_MAX_TOKENS);
        if (ses.n_past() >= ses.n_ctx()) return flush(), stop(MOE_STOP_CONTEXT_FULL);
        const int32_t id = smp.s.sample(ses.logits(-1), ses.n_vocab());
        if (id < 0)
            return stop(MOE_STOP_ERROR, moe::status(moe::errc::internal,
                                                    "the sampler found no token (every logit is -inf or NaN)"));
        smp.s.accept(id);
        if (req.stop_at_eog && tok && tok->is_eog(id)) return flush(), stop(MOE_STOP_EOG);
        ++res.n_generated;
        const bool go_on = sink.on_token(id, detok ? detok->push(id) : no_text);
        // Every reported token goes into the KV cache, so a later call continues after it.
        moe::status st = ses.eval(&id, 1);
        if (!st.ok()) return stop(MOE_STOP_ERROR, st);
        if (!go_on) return flush(), stop(MOE_STOP_CALLBACK);
    }
}

}  // namespace moe_capi

namespace {

// Synchronous generation: tokens go straight to the caller's callback on this thread.
class callback_sink final : public moe_capi::gen_sink {
public:
    callback_sink(moe_token_fn fn, void* user) : fn_(fn), user_(user) {}
    bool on_token(int32_t token, const std::string& text) override {
        return !fn_ || fn_(token, text.data(), text.size(), user_);
    }

private:
    moe_token_fn fn_;
    void* user_;
};

}  // namespace

extern "C" {

moe_generate_params moe_generate_default_params(void) {
    moe_generate_params p{};
    p.struct_size = sizeof(moe_generate_params);
    p.max_tokens = -1;
    p.stop_at_eog = true;
    p.async_callbacks = MOE_ASYNC_CALLBACKS_ON_WORKER;
    return p;
}

moe_status moe_session_generate(moe_session* session, moe_sampler* sampler, const moe_generate_params* params,
                                moe_generate_result* result) {
    const char* fn = "moe_session_generate";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session || !sampler) return moe_capi::fail(fn, MOE_ERR_INVALID_ARGUMENT, "session or sampler is NULL");
        if (result && !moe_capi::size_ok(result->struct_size, sizeof(moe_generate_result)))
            return moe_capi::fail(fn, MOE_ERR_ABI_MISMATCH, "result->struct_size does not match this library's");
        moe_capi::gen_request req;
        if (moe_status st = moe_capi::make_request(fn, params, req); st != MOE_OK) return st;
        moe_capi::claim cs(session->busy);
        if (!cs.ok()) return moe_capi::fail(fn, MOE_ERR_BUSY, "the session is in use by another generation");
        moe_capi::claim cp(sampler->busy);
        if (!cp.ok()) return moe_capi::fail(fn, MOE_ERR_BUSY, "the sampler is in use by another generation");
        session->cancel.store(false, std::memory_order_release);
        callback_sink sink(params->on_token, params->user);
        moe_generate_result res{};
        res.struct_size = sizeof res;
        moe::status st = moe_capi::generate(*session, *sampler, req, sink, res);
        if (result) *result = res;
        return st.ok() ? MOE_OK : moe_capi::fail(fn, st);
    });
}

}  // extern "C"
