// test_backend_module.cpp — a backend module for the registry tests: host memory, op add only, built in variants
// (good, wrong api_version, short table, no entry point, no device). Loaded by tests/unit/test_backend_registry.cpp.
#include "backends/backend_module.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

// MOE_TEST_MODULE_VARIANT: 0 good, 1 wrong api_version, 2 table smaller than v1, 3 no entry point, 4 no device.
#ifndef MOE_TEST_MODULE_VARIANT
#define MOE_TEST_MODULE_VARIANT 0
#endif

// Counters the tests read through dlsym, to see that work really happened here and everything was released.
static std::atomic<int> g_add_calls{0};
static std::atomic<int> g_live_allocs{0};
static std::atomic<int> g_live_instances{0};

extern "C" {
MOE_BACKEND_MODULE_EXPORT int moe_test_backend_add_calls(void) { return g_add_calls.load(); }
MOE_BACKEND_MODULE_EXPORT int moe_test_backend_live_allocs(void) { return g_live_allocs.load(); }
MOE_BACKEND_MODULE_EXPORT int moe_test_backend_live_instances(void) { return g_live_instances.load(); }
}

// std::to_string is avoided on purpose: it brings GNU "unique" symbols, which make glibc keep the module loaded
// forever, and the tests check that the module is unloaded once nothing uses it.
struct moe_backend_instance {
    int n_threads = 0;
    char error[160] = {0};
};

namespace {

void put(char* buf, size_t size, const char* text) {
    if (buf && size) std::snprintf(buf, size, "%s", text);
}

int32_t score(char* reason, size_t reason_size) {
    if (MOE_TEST_MODULE_VARIANT == 4) {
        put(reason, reason_size, "simulated: no test device present");
        return 0;
    }
    if (const char* why = std::getenv("MOE_TEST_BACKEND_UNAVAILABLE")) {
        put(reason, reason_size, why);
        return 0;
    }
    put(reason, reason_size, "test device (host memory, add only)");
    return 10;
}

int32_t create(const moe_backend_create_params* params, moe_backend_instance** out, char* err, size_t err_size) {
    if (!params || !out || params->struct_size < sizeof(moe_backend_create_params)) {
        put(err, err_size, "bad create parameters");
        return MOE_BACKEND_ERR_INVALID_ARGUMENT;
    }
    if (std::getenv("MOE_TEST_BACKEND_FAIL_CREATE")) {
        put(err, err_size, "simulated: device busy");
        return MOE_BACKEND_ERR_UNAVAILABLE;
    }
    auto* inst = new (std::nothrow) moe_backend_instance;
    if (!inst) {
        put(err, err_size, "out of memory");
        return MOE_BACKEND_ERR_OUT_OF_MEMORY;
    }
    inst->n_threads = params->n_threads;
    ++g_live_instances;
    *out = inst;
    return MOE_BACKEND_OK;
}

void destroy(moe_backend_instance* inst) {
    if (!inst) return;
    --g_live_instances;
    delete inst;
}

int32_t host_memory(const moe_backend_instance*) { return 1; }

int64_t elements(const moe_backend_tensor& t) {
    int64_t n = 1;
    for (int k = 0; k < t.rank; ++k) n *= t.dims[k];
    return n;
}

// add: two f32 inputs, b either the shape of a or [d] with d = a's last dim; f32 output shaped like a.
bool add_fits(const moe_backend_node* n) {
    if (n->op != MOE_BACKEND_OP_ADD || n->n_inputs != 2) return false;
    const moe_backend_tensor &a = n->inputs[0], &b = n->inputs[1], &o = n->output;
    if (a.type != MOE_BACKEND_TYPE_F32 || b.type != MOE_BACKEND_TYPE_F32 || o.type != MOE_BACKEND_TYPE_F32) return false;
    if (a.rank < 1 || a.rank > MOE_BACKEND_MAX_DIMS || o.rank != a.rank) return false;
    for (int k = 0; k < a.rank; ++k)
        if (o.dims[k] != a.dims[k]) return false;
    const bool same = b.rank == a.rank && elements(b) == elements(a);
    const bool row = b.rank == 1 && b.dims[0] == a.dims[a.rank - 1];
    return same || row;
}

int32_t supports(const moe_backend_instance*, const moe_backend_node* node) { return node && add_fits(node) ? 1 : 0; }

int32_t alloc(moe_backend_instance* inst, size_t bytes, void** out) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        std::snprintf(inst->error, sizeof(inst->error), "cannot allocate %zu bytes", bytes);
        return MOE_BACKEND_ERR_OUT_OF_MEMORY;
    }
    ++g_live_allocs;
    *out = p;
    return MOE_BACKEND_OK;
}

void free_mem(moe_backend_instance*, void* p) {
    if (!p) return;
    --g_live_allocs;
    std::free(p);
}

int32_t run_node(moe_backend_instance* inst, const moe_backend_node* node, const moe_backend_run_args* args) {
    if (!node || !args || args->struct_size < sizeof(moe_backend_run_args)) {
        put(inst->error, sizeof(inst->error), "bad run arguments");
        return MOE_BACKEND_ERR_INVALID_ARGUMENT;
    }
    if (!add_fits(node)) {
        std::snprintf(inst->error, sizeof(inst->error), "the test backend only adds f32 tensors (op %d)",
                      static_cast<int>(node->op));
        return MOE_BACKEND_ERR_UNSUPPORTED;
    }
    const moe_backend_tensor &a = node->inputs[0], &b = node->inputs[1];
    if (!a.data || !b.data || !node->output.data) {
        put(inst->error, sizeof(inst->error), "null tensor data");
        return MOE_BACKEND_ERR_INVALID_ARGUMENT;
    }
    const int64_t n = elements(a), nb = elements(b);
    const float* x = static_cast<const float*>(a.data);
    const float* y = static_cast<const float*>(b.data);
    float* o = static_cast<float*>(node->output.data);
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] + y[i % nb];
    ++g_add_calls;
    inst->error[0] = '\0';
    return MOE_BACKEND_OK;
}

const char* last_error(const moe_backend_instance* inst) { return inst ? inst->error : ""; }

const moe_backend_module_v1 table = {
    MOE_TEST_MODULE_VARIANT == 1 ? 99u : static_cast<uint32_t>(MOE_BACKEND_API_VERSION),
    MOE_TEST_MODULE_VARIANT == 2 ? static_cast<uint32_t>(offsetof(moe_backend_module_v1, run_node))
                                 : static_cast<uint32_t>(sizeof(moe_backend_module_v1)),
    MOE_TEST_MODULE_VARIANT == 4 ? "test-nodevice" : "test",
    "moe unit-test backend: host memory, f32 add only",
    score,
    create,
    destroy,
    host_memory,
    supports,
    alloc,
    free_mem,
    run_node,
    last_error,
};

}  // namespace

#if MOE_TEST_MODULE_VARIANT != 3
extern "C" MOE_BACKEND_MODULE_EXPORT const moe_backend_module_v1* moe_backend_module_get(void) { return &table; }
#else
// No entry point: the registry must refuse this file. Keep the table referenced so the build stays warning-free.
extern "C" MOE_BACKEND_MODULE_EXPORT const moe_backend_module_v1* moe_test_backend_not_the_entry(void) {
    return &table;
}
#endif
