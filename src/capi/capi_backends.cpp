// capi_backends.cpp — moe_backend_list_*: the backends a session can be created on (the built-in CPU backend and
// the modules found on disk), from moe::list_backends. Its names go to moe_session_params.backend.
#include "capi/capi_internal.hpp"

#include <vector>

struct moe_backend_list {
    std::vector<moe::backend_listing> items;
};

extern "C" {

moe_status moe_backend_list_create(moe_backend_list** out) {
    return moe_capi::guarded("moe_backend_list_create", [&]() -> moe_status {
        if (!out) return moe_capi::fail("moe_backend_list_create", MOE_ERR_INVALID_ARGUMENT, "out is NULL");
        *out = nullptr;
        moe::result<std::vector<moe::backend_listing>> list = moe::list_backends();
        if (!list) return moe_capi::fail("moe_backend_list_create", list.error());
        std::unique_ptr<moe_backend_list> l(new moe_backend_list{std::move(*list)});
        *out = l.release();
        return MOE_OK;
    });
}

size_t moe_backend_list_count(const moe_backend_list* list) { return list ? list->items.size() : 0; }

moe_status moe_backend_list_get(const moe_backend_list* list, size_t index, moe_backend_info* info) {
    return moe_capi::guarded("moe_backend_list_get", [&]() -> moe_status {
        const char* fn = "moe_backend_list_get";
        if (!list || !info) return moe_capi::fail(fn, MOE_ERR_INVALID_ARGUMENT, "list or info is NULL");
        if (!moe_capi::size_ok(info->struct_size, sizeof(moe_backend_info)))
            return moe_capi::fail(fn, MOE_ERR_ABI_MISMATCH, "info->struct_size does not match this library's moe_backend_info");
        if (index >= list->items.size())
            return moe_capi::fail(fn, MOE_ERR_INVALID_ARGUMENT,
                                  "index " + std::to_string(index) + " out of range (" +
                                      std::to_string(list->items.size()) + " backends)");
        const moe::backend_listing& b = list->items[index];
        info->name = b.name.c_str();
        info->description = b.description.c_str();
        info->path = b.path.c_str();
        info->device = b.device.c_str();
        info->available = b.available;
        return MOE_OK;
    });
}

void moe_backend_list_free(moe_backend_list* list) { delete list; }

}  // extern "C"
