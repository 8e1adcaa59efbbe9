// capi_sampler.cpp — moe_sampler_*: the standard sampler chain or one built stage by stage (include/moe/sampler.hpp),
// drawing tokens from a session's logits. Before: moe_session_eval's logits; after: the token goes back to eval.
#include "capi/capi_internal.hpp"

#include <cmath>

namespace {

using moe_capi::claim;
using moe_capi::fail;

moe_status busy(const char* fn) { return fail(fn, MOE_ERR_BUSY, "the sampler is in use by a running generation"); }

// Runs one add_* on an idle sampler.
template <class F>
moe_status add_stage(const char* fn, moe_sampler* s, F&& add) {
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!s) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "sampler is NULL");
        claim c(s->busy);
        if (!c.ok()) return busy(fn);
        moe::status st = add(s->s);
        return st.ok() ? MOE_OK : fail(fn, st);
    });
}

}  // namespace

extern "C" {

moe_sampler_params moe_sampler_default_params(void) {
    const moe::sampler_params d;
    moe_sampler_params p{};
    p.struct_size = sizeof(moe_sampler_params);
    p.temp = d.temp;
    p.top_k = d.top_k;
    p.top_p = d.top_p;
    p.min_p = d.min_p;
    p.repeat_penalty = d.repeat_penalty;
    p.frequency_penalty = d.frequency_penalty;
    p.presence_penalty = d.presence_penalty;
    p.penalty_last_n = d.penalty_last_n;
    p.seed = d.seed;
    return p;
}

moe_status moe_sampler_create(const moe_sampler_params* params, moe_sampler** out) {
    const char* fn = "moe_sampler_create";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!out) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = nullptr;
        moe::sampler_params sp;
        if (params) {
            if (!moe_capi::size_ok(params->struct_size, sizeof(moe_sampler_params)))
                return fail(fn, MOE_ERR_ABI_MISMATCH,
                            "moe_sampler_params.struct_size does not match this library's (use "
                            "moe_sampler_default_params)");
            sp.temp = params->temp;
            sp.top_k = params->top_k;
            sp.top_p = params->top_p;
            sp.min_p = params->min_p;
            sp.repeat_penalty = params->repeat_penalty;
            sp.frequency_penalty = params->frequency_penalty;
            sp.presence_penalty = params->presence_penalty;
            sp.penalty_last_n = params->penalty_last_n;
            sp.seed = params->seed;
        }
        moe::result<moe::sampler> s = moe::sampler::create(sp);
        if (!s) return fail(fn, s.error());
        *out = new moe_sampler(std::move(*s));
        return MOE_OK;
    });
}

moe_status moe_sampler_create_chain(uint64_t seed, moe_sampler** out) {
    const char* fn = "moe_sampler_create_chain";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!out) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = new moe_sampler(moe::sampler::chain(seed));
        return MOE_OK;
    });
}

moe_status moe_sampler_add_penalties(moe_sampler* s, int32_t last_n, float repeat, float frequency, float presence) {
    return add_stage("moe_sampler_add_penalties", s,
                     [&](moe::sampler& x) { return x.add_penalties(last_n, repeat, frequency, presence); });
}
moe_status moe_sampler_add_top_k(moe_sampler* s, int32_t k) {
    return add_stage("moe_sampler_add_top_k", s, [&](moe::sampler& x) { return x.add_top_k(k); });
}
moe_status moe_sampler_add_top_p(moe_sampler* s, float p, size_t min_keep) {
    return add_stage("moe_sampler_add_top_p", s, [&](moe::sampler& x) { return x.add_top_p(p, min_keep); });
}
moe_status moe_sampler_add_min_p(moe_sampler* s, float p, size_t min_keep) {
    return add_stage("moe_sampler_add_min_p", s, [&](moe::sampler& x) { return x.add_min_p(p, min_keep); });
}
moe_status moe_sampler_add_temperature(moe_sampler* s, float t) {
    return add_stage("moe_sampler_add_temperature", s, [&](moe::sampler& x) { return x.add_temperature(t); });
}
moe_status moe_sampler_add_greedy(moe_sampler* s) {
    return add_stage("moe_sampler_add_greedy", s, [&](moe::sampler& x) { return x.add_greedy(); });
}

moe_status moe_sampler_sample(moe_sampler* s, const float* logits, int64_t n_vocab, int32_t* token) {
    const char* fn = "moe_sampler_sample";
    if (!token) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "token is NULL");
    *token = -1;
    if (!s || !logits) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "sampler or logits is NULL");
    if (n_vocab < 1) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "n_vocab must be >= 1");
    claim c(s->busy);
    if (!c.ok()) return busy(fn);
    *token = s->s.sample(logits, n_vocab);
    if (*token < 0) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "no token can be sampled (every logit is -inf or NaN)");
    return MOE_OK;
}

moe_status moe_sampler_accept(moe_sampler* s, int32_t token) {
    const char* fn = "moe_sampler_accept";
    if (!s) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "sampler is NULL");
    claim c(s->busy);
    if (!c.ok()) return busy(fn);
    s->s.accept(token);
    return MOE_OK;
}

moe_status moe_session_sample(moe_session* session, moe_sampler* s, int32_t* token) {
    const char* fn = "moe_session_sample";
    if (!token) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "token is NULL");
    *token = -1;
    if (!session || !s) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "session or sampler is NULL");
    claim cs(session->busy);
    if (!cs.ok()) return fail(fn, MOE_ERR_BUSY, "the session is in use by a running generation");
    claim c(s->busy);
    if (!c.ok()) return busy(fn);
    const float* l = session->s.logits(-1);
    if (!l) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "the session has no logits (eval a token first)");
    *token = s->s.sample(l, session->s.n_vocab());
    if (*token < 0) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "no token can be sampled (every logit is -inf or NaN)");
    s->s.accept(*token);
    return MOE_OK;
}

void moe_sampler_reset(moe_sampler* s) {
    if (!s) return;
    claim c(s->busy);
    if (c.ok()) s->s.reset();
}

uint64_t moe_sampler_seed(const moe_sampler* s) { return s ? s->s.seed() : 0; }

void moe_sampler_free(moe_sampler* s) { delete s; }

}  // extern "C"
