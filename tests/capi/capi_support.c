/* capi_support.c — the shared part of the C API test: check counters, the model path, the token collector and the
 * session / sampler helpers declared in capi_check.h. Before: moe.h; after: the test_capi_*.c areas. C99. */
#include "capi_check.h"

#include <stdlib.h>
#include <string.h>

int g_failures = 0;
int g_checks = 0;
const char* g_model_path;
const char* g_tmp_dir;

bool on_token(int32_t token, const char* text, size_t len, void* user) {
    collected* c = (collected*)user;
    if (token >= 0 && c->n_ids < sizeof c->ids / sizeof c->ids[0]) c->ids[c->n_ids++] = token;
    if (c->len + len < sizeof c->text) {
        memcpy(c->text + c->len, text, len);
        c->len += len;
        c->text[c->len] = '\0';
    }
    if (c->stop_after >= 0 && (int)c->n_ids >= c->stop_after) {
        if (c->cancel_this) {
            moe_session_cancel(c->cancel_this);
            return true;
        }
        return false;
    }
    return true;
}

void collected_init(collected* c) {
    memset(c, 0, sizeof *c);
    c->stop_after = -1;
}

/* ---- helpers --------------------------------------------------------------------------------------------------- */

unsigned char* read_whole(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    unsigned char* data;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = (unsigned char*)malloc((size_t)n);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return data;
}

void write_file(const char* path, const void* data, size_t n) {
    FILE* f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

moe_session* new_session(const moe_model* m, int64_t n_ctx) {
    moe_session_params sp = moe_session_default_params();
    moe_session* s = NULL;
    sp.n_ctx = n_ctx;
    sp.n_threads = 2;
    CHECK_OK(moe_session_create(m, &sp, &s));
    return s;
}

moe_sampler* new_sampler(uint64_t seed) {
    moe_sampler_params pp = moe_sampler_default_params();
    moe_sampler* s = NULL;
    pp.seed = seed;
    CHECK_OK(moe_sampler_create(&pp, &s));
    return s;
}
