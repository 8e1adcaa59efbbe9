// capi_meta.cpp — moe_model_meta_*: a loaded model's GGUF metadata (any key, values rendered as text) from C.
// Before: a moe_model from capi_model.cpp. After: the caller's buffers (moe.h's NUL / BUFFER_TOO_SMALL rules).
#include "capi/capi_internal.hpp"

namespace {
using moe_capi::fail;
}  // namespace

extern "C" {

size_t moe_model_meta_count(const moe_model* model) { return model ? model->state->m.meta_count() : 0; }

moe_status moe_model_meta_key(const moe_model* model, size_t index, char* key, size_t capacity, size_t* n_bytes) {
    const char* fn = "moe_model_meta_key";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!model || !n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "model or n_bytes is NULL");
        *n_bytes = 0;
        const moe::model& m = model->state->m;
        if (index >= m.meta_count())
            return fail(fn, MOE_ERR_INVALID_ARGUMENT, "index " + std::to_string(index) + " is out of range (" +
                                                          std::to_string(m.meta_count()) + " keys)");
        return moe_capi::write_text(fn, std::string(m.meta_key(index)), key, capacity, n_bytes);
    });
}

moe_status moe_model_meta_str(const moe_model* model, const char* key, char* value, size_t capacity,
                              size_t* n_bytes) {
    const char* fn = "moe_model_meta_str";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!model || !key || !n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "model, key or n_bytes is NULL");
        *n_bytes = 0;
        moe::result<std::string> v = model->state->m.meta_value(key);
        if (!v) return fail(fn, v.error());
        return moe_capi::write_text(fn, *v, value, capacity, n_bytes);
    });
}

moe_status moe_model_meta_str_at(const moe_model* model, size_t index, char* value, size_t capacity,
                                 size_t* n_bytes) {
    const char* fn = "moe_model_meta_str_at";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!model || !n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "model or n_bytes is NULL");
        *n_bytes = 0;
        moe::result<std::string> v = model->state->m.meta_value_at(index);
        if (!v) return fail(fn, v.error());
        return moe_capi::write_text(fn, *v, value, capacity, n_bytes);
    });
}

}  // extern "C"
