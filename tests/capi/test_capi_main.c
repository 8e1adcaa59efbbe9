/* test_capi_main.c — the C API (include/moe/moe.h) from plain C99: runs every area (test_capi_*.c) on the demo model
 * and reports the checks. Before: libmoe with src/capi; after: nothing (ctest passes the model path and a scratch dir). */
#include "capi_check.h"

static int g_log_messages = 0;
static void on_log(moe_log_level level, const char* message, void* user) {
    (void)level;
    (void)user;
    if (message && message[0]) ++g_log_messages;
}

int main(int argc, char** argv) {
    moe_model* m;
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.gguf TMPDIR\n", argv[0]);
        return 2;
    }
    g_model_path = argv[1];
    g_tmp_dir = argv[2];
    test_version_and_errors();
    moe_log_set(on_log, NULL, MOE_LOG_DEBUG);
    test_backends();
    test_load_errors();
    CHECK(g_log_messages > 0); /* failures are logged at debug level */
    moe_log_set(NULL, NULL, MOE_LOG_INFO);
    g_log_messages = 0;
    m = test_load();
    CHECK(g_log_messages == 0);
    if (!m) {
        fprintf(stderr, "cannot load %s: %s\n", g_model_path, moe_last_error());
        return 1;
    }
    test_meta(m);
    test_text(m);
    test_session(m);
    test_sampler(m);
    test_generate(m);
    test_async(m);
    moe_model_free(m);
    printf("test_capi: %d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
