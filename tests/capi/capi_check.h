/* capi_check.h — shared by the C99 C API test files: CHECK macros and counters, model path, token collector, helpers
 * (capi_support.c), each area's entry point. Before: moe.h. After: test_capi_*.c; test_capi_main.c runs them. */
#ifndef MOE_CAPI_CHECK_H
#define MOE_CAPI_CHECK_H

#include <moe/moe.h>

#include <stdio.h>

extern int g_failures;
extern int g_checks;
extern const char* g_model_path; /* the demo model */
extern const char* g_tmp_dir;    /* scratch directory for files the tests write */

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        ++g_checks;                                                                      \
        if (!(cond)) {                                                                   \
            ++g_failures;                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #cond, \
                    moe_last_error());                                                   \
        }                                                                                \
    } while (0)
#define CHECK_STATUS(expr, expected)                                                            \
    do {                                                                                        \
        moe_status check_st_ = (expr);                                                          \
        ++g_checks;                                                                             \
        if (check_st_ != (expected)) {                                                          \
            ++g_failures;                                                                       \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s; last error: %s\n", __FILE__, __LINE__, #expr, \
                    moe_status_name(check_st_), moe_status_name(expected), moe_last_error());  \
        }                                                                                       \
    } while (0)
#define CHECK_OK(expr) CHECK_STATUS(expr, MOE_OK)

/* ---- helpers (capi_support.c) ---------------------------------------------------------------------------------- */

typedef struct collected {
    char text[8192];
    size_t len;
    int32_t ids[1024];
    size_t n_ids;
    int stop_after;           /* return false after this many tokens; < 0: never */
    moe_session* cancel_this; /* moe_session_cancel after stop_after tokens instead of returning false */
} collected;

bool on_token(int32_t token, const char* text, size_t len, void* user); /* a moe_token_fn filling a collected */
void collected_init(collected* c);
unsigned char* read_whole(const char* path, size_t* size); /* malloc'ed file contents, NULL on failure */
void write_file(const char* path, const void* data, size_t n);
moe_session* new_session(const moe_model* m, int64_t n_ctx); /* 2 threads */
moe_sampler* new_sampler(uint64_t seed);                     /* the default chain with this seed */

/* ---- areas ----------------------------------------------------------------------------------------------------- */

/* test_capi_models.c */
void test_version_and_errors(void);
void test_backends(void);
void test_load_errors(void);
moe_model* test_load(void); /* the demo model, loaded three ways; NULL on failure */
void test_meta(const moe_model* m);
/* test_capi_text.c */
void test_text(const moe_model* m);
void test_session(const moe_model* m);
void test_sampler(const moe_model* m);
/* test_capi_generate.c */
void test_generate(const moe_model* m);
void test_async(const moe_model* m);

#endif /* MOE_CAPI_CHECK_H */
