// capi_session.cpp — moe_session_*: creating sessions on a shared model, evaluating token batches, logits, and the
// KV cache (clear, truncate, save, restore, cancel). Before: a moe_model; after: sampling and generation.
#include "capi/capi_internal.hpp"

namespace {

using moe_capi::claim;
using moe_capi::fail;

moe_status busy(const char* fn) {
    return fail(fn, MOE_ERR_BUSY, "the session is in use by a generation (moe_async or another thread)");
}

}  // namespace

extern "C" {

moe_session_params moe_session_default_params(void) {
    moe_session_params p{};
    p.struct_size = sizeof(moe_session_params);
    const moe::session_params d;
    p.n_ctx = d.n_ctx;
    p.n_threads = d.n_threads;
    p.backend = "auto";
    p.max_batch = d.max_batch;
    p.max_memory = d.max_memory;
    p.n_seq = d.n_seq;
    p.kv_type = MOE_KV_F32;
    return p;
}

moe_status moe_session_create(const moe_model* model, const moe_session_params* params, moe_session** out) {
    const char* fn = "moe_session_create";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!out) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = nullptr;
        if (!model) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "model is NULL");
        moe::session_params sp;
        if (params) {
            if (!moe_capi::size_ok(params->struct_size, sizeof(moe_session_params)))
                return fail(fn, MOE_ERR_ABI_MISMATCH,
                            "moe_session_params.struct_size is " + std::to_string(params->struct_size) +
                                ", this library's is " + std::to_string(sizeof(moe_session_params)) +
                                " (use moe_session_default_params)");
            sp.n_ctx = params->n_ctx;
            sp.n_threads = params->n_threads;
            sp.backend = params->backend ? params->backend : "auto";
            sp.max_batch = params->max_batch;
            sp.max_memory = params->max_memory;
            sp.n_seq = params->n_seq;
            if (params->kv_type != MOE_KV_F32 && params->kv_type != MOE_KV_F16)
                return fail(fn, MOE_ERR_INVALID_ARGUMENT,
                            "moe_session_params.kv_type is " + std::to_string(params->kv_type) +
                                "; MOE_KV_F32 (0) or MOE_KV_F16 (1)");
            sp.kv_type = params->kv_type == MOE_KV_F16 ? moe::dtype::f16 : moe::dtype::f32;
        }
        moe::result<moe::session> s = moe::session::create(model->state->m, sp);
        if (!s) return fail(fn, s.error());
        std::unique_ptr<moe_session> h(new moe_session(model->state, std::move(*s)));
        if (moe_capi::log_enabled(MOE_LOG_INFO))
            moe_capi::log(MOE_LOG_INFO, std::string("session: ") + h->s.backend_name() + " backend, " +
                                            std::to_string(h->s.n_ctx()) + " tokens of context");
        *out = h.release();
        return MOE_OK;
    });
}

void moe_session_free(moe_session* session) { delete session; }

int64_t moe_session_n_ctx(const moe_session* session) { return session ? session->s.n_ctx() : 0; }
int64_t moe_session_n_past(const moe_session* session) { return session ? session->s.n_past() : 0; }
int64_t moe_session_n_vocab(const moe_session* session) { return session ? session->s.n_vocab() : 0; }
const char* moe_session_backend(const moe_session* session) { return session ? session->s.backend_name() : ""; }
const char* moe_session_backend_note(const moe_session* session) { return session ? session->s.backend_note() : ""; }

moe_status moe_session_eval(moe_session* session, const int32_t* tokens, size_t n, bool all_logits) {
    const char* fn = "moe_session_eval";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session is NULL");
        claim c(session->busy);
        if (!c.ok()) return busy(fn);
        moe::status st = session->s.eval(tokens, n, all_logits ? moe::logits_mode::all : moe::logits_mode::last);
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

int32_t moe_session_n_seq(const moe_session* session) { return session ? session->s.n_seq() : 0; }
int64_t moe_session_n_past_seq(const moe_session* session, int32_t seq) {
    return session ? session->s.n_past(seq) : 0;
}

moe_status moe_session_eval_batch(moe_session* session, const int32_t* tokens, const int32_t* seq_ids, size_t n,
                                  bool all_logits) {
    const char* fn = "moe_session_eval_batch";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session is NULL");
        claim c(session->busy);
        if (!c.ok()) return busy(fn);
        moe::status st =
            session->s.eval_batch(tokens, seq_ids, n, all_logits ? moe::logits_mode::all : moe::logits_mode::last);
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

moe_status moe_session_clear_seq(moe_session* session, int32_t seq) {
    const char* fn = "moe_session_clear_seq";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session is NULL");
        claim c(session->busy);
        if (!c.ok()) return busy(fn);
        moe::status st = session->s.clear_seq(seq);
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

moe_status moe_session_truncate_seq(moe_session* session, int32_t seq, int64_t n_keep) {
    const char* fn = "moe_session_truncate_seq";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session is NULL");
        claim c(session->busy);
        if (!c.ok()) return busy(fn);
        moe::status st = session->s.truncate(seq, n_keep);
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

moe_status moe_session_logits(const moe_session* session, int64_t i, const float** logits) {
    const char* fn = "moe_session_logits";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session || !logits) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session or logits is NULL");
        *logits = nullptr;
        if (session->busy.load(std::memory_order_acquire)) return busy(fn);
        *logits = session->s.logits(i);
        if (!*logits)
            return fail(fn, MOE_ERR_INVALID_ARGUMENT,
                        "no logits for position " + std::to_string(i) +
                            " of the last batch (not computed: eval with all_logits, out of range, or no eval yet)");
        return MOE_OK;
    });
}

moe_status moe_session_argmax(const moe_session* session, int64_t i, int32_t* token) {
    const char* fn = "moe_session_argmax";
    if (!token) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "token is NULL");
    *token = -1;
    const float* l = nullptr;
    if (moe_status st = moe_session_logits(session, i, &l); st != MOE_OK) return st;
    *token = session->s.argmax(i);
    return MOE_OK;
}

moe_status moe_session_clear(moe_session* session) {
    const char* fn = "moe_session_clear";
    if (!session) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session is NULL");
    claim c(session->busy);
    if (!c.ok()) return busy(fn);
    session->s.clear();
    return MOE_OK;
}

moe_status moe_session_truncate(moe_session* session, int64_t n_keep) {
    const char* fn = "moe_session_truncate";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session is NULL");
        claim c(session->busy);
        if (!c.ok()) return busy(fn);
        moe::status st = session->s.truncate(n_keep);
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

moe_status moe_session_state_save(const moe_session* session, void* data, size_t capacity, size_t* n_bytes) {
    const char* fn = "moe_session_state_save";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session || !n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session or n_bytes is NULL");
        if (session->busy.load(std::memory_order_acquire)) return busy(fn);
        const size_t need = session->s.state_size();
        *n_bytes = need;
        if (!data || capacity < need)
            return fail(fn, MOE_ERR_BUFFER_TOO_SMALL,
                        "the state needs " + std::to_string(need) + " bytes, " + std::to_string(data ? capacity : 0) +
                            " given");
        moe::result<size_t> w = session->s.save_state(data, capacity);
        if (!w) return fail(fn, w.error());
        *n_bytes = *w;
        return MOE_OK;
    });
}

moe_status moe_session_state_load(moe_session* session, const void* data, size_t size) {
    const char* fn = "moe_session_state_load";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!session || !data) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session or data is NULL");
        claim c(session->busy);
        if (!c.ok()) return busy(fn);
        moe::status st = session->s.load_state(data, size);
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

moe_status moe_session_cancel(moe_session* session) {
    if (!session) return fail("moe_session_cancel", MOE_ERR_INVALID_ARGUMENT, "session is NULL");
    session->cancel.store(true, std::memory_order_release);
    return MOE_OK;
}

}  // extern "C"
