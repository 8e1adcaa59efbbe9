// capi_model.cpp — moe_model_*: loading a model from a path, a memory buffer or read callbacks (with a progress
// callback that can cancel), its metadata, and freeing it. Before: the caller's GGUF bytes; after: sessions.
#include "capi/capi_internal.hpp"

namespace {

using moe_capi::fail;

// Checks params (NULL: defaults) and turns them into moe::model_params.
moe_status convert_params(const char* fn, const moe_model_params* p, moe::model_params& out) {
    if (!p) return MOE_OK;
    if (!moe_capi::size_ok(p->struct_size, sizeof(moe_model_params)))
        return fail(fn, MOE_ERR_ABI_MISMATCH,
                    "moe_model_params.struct_size is " + std::to_string(p->struct_size) + ", this library's is " +
                        std::to_string(sizeof(moe_model_params)) + " (use moe_model_default_params)");
    if (p->progress) {
        const moe_progress_fn cb = p->progress;
        void* user = p->progress_user;
        out.progress = [cb, user](float progress) { return cb(progress, user); };
    }
    moe::load_limits& l = out.limits;
    auto cap = [](uint64_t v, uint64_t& field) { field = v ? v : field; };
    cap(p->max_kv, l.max_kv);
    cap(p->max_tensors, l.max_tensors);
    cap(p->max_string_bytes, l.max_string_bytes);
    cap(p->max_array_elements, l.max_array_elements);
    cap(p->max_metadata_bytes, l.max_metadata_bytes);
    out.pack_weights = p->pack_weights != 0;
    return MOE_OK;
}

moe_status finish(const char* fn, moe::result<moe::model> m, const std::string& what, moe_model** out) {
    if (!m) return fail(fn, m.error());
    std::unique_ptr<moe_model> h(new moe_model{std::make_shared<const moe_capi::model_state>(std::move(*m))});
    if (moe_capi::log_enabled(MOE_LOG_INFO)) {
        const moe::model_info& i = h->state->m.info();
        moe_capi::log(MOE_LOG_INFO, "loaded " + what + ": " + i.architecture + ", " + std::to_string(i.n_params) +
                                        " parameters, " + std::to_string(i.n_layer) + " layers, " +
                                        std::to_string(i.n_expert) + " experts (" + std::to_string(i.n_expert_used) +
                                        " used)");
    }
    *out = h.release();
    return MOE_OK;
}

}  // namespace

extern "C" {

moe_model_params moe_model_default_params(void) {
    moe_model_params p{};
    p.struct_size = sizeof(moe_model_params);
    p.pack_weights = 1;
    return p;
}

moe_status moe_model_load(const char* path, const moe_model_params* params, moe_model** out) {
    const char* fn = "moe_model_load";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!out) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = nullptr;
        if (!path) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "path is NULL");
        moe::model_params mp;
        if (moe_status st = convert_params(fn, params, mp); st != MOE_OK) return st;
        return finish(fn, moe::model::load(path, mp), std::string("'") + path + "'", out);
    });
}

moe_status moe_model_load_from_memory(const void* data, size_t size, const moe_model_params* params, moe_model** out) {
    const char* fn = "moe_model_load_from_memory";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!out) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = nullptr;
        if (!data || size == 0) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "data is NULL or size is 0");
        moe::model_params mp;
        if (moe_status st = convert_params(fn, params, mp); st != MOE_OK) return st;
        return finish(fn, moe::model::load_from_memory(data, size, mp), "a model buffer", out);
    });
}

moe_status moe_model_load_from_reader(const moe_model_reader* reader, const moe_model_params* params, moe_model** out) {
    const char* fn = "moe_model_load_from_reader";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!out) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = nullptr;
        if (!reader) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "reader is NULL");
        if (!moe_capi::size_ok(reader->struct_size, sizeof(moe_model_reader)))
            return fail(fn, MOE_ERR_ABI_MISMATCH, "moe_model_reader.struct_size does not match this library's");
        if (!reader->read || reader->size == 0)
            return fail(fn, MOE_ERR_INVALID_ARGUMENT, "reader has no read function or size 0");
        moe::model_params mp;
        if (moe_status st = convert_params(fn, params, mp); st != MOE_OK) return st;
        const moe_read_fn read = reader->read;
        void* user = reader->user;
        auto read_fn = [read, user](uint64_t offset, void* dst, size_t n) -> moe::status {
            if (!read(user, offset, dst, n)) return moe::status(moe::errc::io_error, "the read callback failed");
            return {};
        };
        return finish(fn, moe::model::load_from_reader(reader->size, read_fn, mp), "a model reader", out);
    });
}

void moe_model_free(moe_model* model) { delete model; }

moe_status moe_model_get_info(const moe_model* model, moe_model_info* info) {
    const char* fn = "moe_model_get_info";
    if (!model || !info) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "model or info is NULL");
    if (!moe_capi::size_ok(info->struct_size, sizeof(moe_model_info)))
        return fail(fn, MOE_ERR_ABI_MISMATCH, "info->struct_size does not match this library's moe_model_info");
    const moe::model_info& i = model->state->m.info();
    info->architecture = i.architecture.c_str();
    info->name = i.name.c_str();
    info->chat_template = i.chat_template.c_str();
    info->n_vocab = i.n_vocab;
    info->n_embd = i.n_embd;
    info->n_layer = i.n_layer;
    info->n_head = i.n_head;
    info->n_head_kv = i.n_head_kv;
    info->head_dim = i.head_dim;
    info->n_expert = i.n_expert;
    info->n_expert_used = i.n_expert_used;
    info->n_ctx_train = i.n_ctx_train;
    info->n_params = i.n_params;
    info->weight_bytes = i.weight_bytes;
    info->has_tokenizer = model->state->m.tokenizer() != nullptr;
    return MOE_OK;
}

}  // extern "C"
