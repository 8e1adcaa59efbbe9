/* backend_module_c99.c — proves backends/backend_module.h is plain C99: a complete (inert) module table in C.
 * Built as an object library next to the test modules (tests/CMakeLists.txt); never loaded. */
#include "backends/backend_module.h"

#include <stdio.h>

/* C99 has no _Static_assert: a negative array size fails the build instead. */
typedef char moe_check_version_first[offsetof(moe_backend_module_v1, api_version) == 0 ? 1 : -1];
typedef char moe_check_size_second[offsetof(moe_backend_module_v1, struct_size) == 4 ? 1 : -1];
typedef char moe_check_dims[MOE_BACKEND_MAX_DIMS == 4 ? 1 : -1];

static int32_t c_score(char* reason, size_t reason_size) {
    if (reason && reason_size) snprintf(reason, reason_size, "%s", "C99 check only");
    return 0;
}
static int32_t c_create(const moe_backend_create_params* params, moe_backend_instance** out, char* err,
                        size_t err_size) {
    (void)params;
    *out = NULL;
    if (err && err_size) snprintf(err, err_size, "%s", "not a real backend");
    return MOE_BACKEND_ERR_UNAVAILABLE;
}
static void c_destroy(moe_backend_instance* inst) { (void)inst; }
static int32_t c_host_memory(const moe_backend_instance* inst) { (void)inst; return 1; }
static int32_t c_supports(const moe_backend_instance* inst, const moe_backend_node* node) {
    (void)inst;
    return node->op == MOE_BACKEND_OP_ADD && node->inputs[0].type == MOE_BACKEND_TYPE_F32;
}
static int32_t c_alloc(moe_backend_instance* inst, size_t bytes, void** out) {
    (void)inst, (void)bytes;
    *out = NULL;
    return MOE_BACKEND_ERR_OUT_OF_MEMORY;
}
static void c_free(moe_backend_instance* inst, void* p) { (void)inst, (void)p; }
static int32_t c_run_node(moe_backend_instance* inst, const moe_backend_node* node, const moe_backend_run_args* args) {
    (void)inst, (void)node, (void)args;
    return MOE_BACKEND_ERR_UNSUPPORTED;
}
static const char* c_last_error(const moe_backend_instance* inst) { (void)inst; return ""; }

const moe_backend_module_v1 moe_backend_c99_table = {
    MOE_BACKEND_API_VERSION, sizeof(moe_backend_module_v1), "c99", NULL, c_score, c_create, c_destroy,
    c_host_memory, c_supports, c_alloc, c_free, c_run_node, c_last_error,
};
