/* test_capi.c — the C API (include/moe/moe.h) from plain C99: every function, its results on the demo model, and its
 * error paths (bad path, corrupt file, wrong struct sizes, cancelled load and generation, busy sessions).
 * Before: libmoe with src/capi; after: nothing (ctest runs it with the demo model's path and a scratch directory). */
#define _POSIX_C_SOURCE 200809L /* nanosleep, for polling politely */
#include <moe/moe.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_failures = 0;
static int g_checks = 0;

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

static const char* g_model_path;
static const char* g_tmp_dir;

/* ---- callbacks ------------------------------------------------------------------------------------------------- */

static int g_log_messages = 0;
static void on_log(moe_log_level level, const char* message, void* user) {
    (void)level;
    (void)user;
    if (message && message[0]) ++g_log_messages;
}

typedef struct progress_state {
    int calls;
    float last;
    float cancel_at; /* cancel once progress >= this; > 1: never */
} progress_state;

static bool on_progress(float progress, void* user) {
    progress_state* p = (progress_state*)user;
    ++p->calls;
    CHECK(progress >= p->last && progress <= 1.0f);
    p->last = progress;
    return progress < p->cancel_at;
}

typedef struct file_reader {
    FILE* f;
    int fail_after; /* reads before a failure; < 0: never */
} file_reader;

static bool read_file_cb(void* user, uint64_t offset, void* dst, size_t n) {
    file_reader* r = (file_reader*)user;
    if (r->fail_after == 0) return false;
    if (r->fail_after > 0) --r->fail_after;
    if (fseek(r->f, (long)offset, SEEK_SET) != 0) return false;
    return fread(dst, 1, n, r->f) == n;
}

typedef struct collected {
    char text[8192];
    size_t len;
    int32_t ids[1024];
    size_t n_ids;
    int stop_after;           /* return false after this many tokens; < 0: never */
    moe_session* cancel_this; /* moe_session_cancel after stop_after tokens instead of returning false */
} collected;

static bool on_token(int32_t token, const char* text, size_t len, void* user) {
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

static void collected_init(collected* c) {
    memset(c, 0, sizeof *c);
    c->stop_after = -1;
}

/* ---- helpers --------------------------------------------------------------------------------------------------- */

static unsigned char* read_whole(const char* path, size_t* size) {
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

static void write_file(const char* path, const void* data, size_t n) {
    FILE* f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static moe_session* new_session(const moe_model* m, int64_t n_ctx) {
    moe_session_params sp = moe_session_default_params();
    moe_session* s = NULL;
    sp.n_ctx = n_ctx;
    sp.n_threads = 2;
    CHECK_OK(moe_session_create(m, &sp, &s));
    return s;
}

static moe_sampler* new_sampler(uint64_t seed) {
    moe_sampler_params pp = moe_sampler_default_params();
    moe_sampler* s = NULL;
    pp.seed = seed;
    CHECK_OK(moe_sampler_create(&pp, &s));
    return s;
}

/* ---- tests ----------------------------------------------------------------------------------------------------- */

static void test_version_and_errors(void) {
    int v;
    CHECK(strcmp(moe_version_string(), "0.1.0") == 0);
    CHECK(moe_version() == MOE_C_VERSION_MAJOR * 10000u + MOE_C_VERSION_MINOR * 100u + MOE_C_VERSION_PATCH);
    CHECK_OK(moe_check_abi(MOE_C_ABI_VERSION));
    CHECK(strcmp(moe_last_error(), "") == 0); /* nothing failed yet on this thread */
    CHECK_STATUS(moe_check_abi(MOE_C_ABI_VERSION + 1), MOE_ERR_ABI_MISMATCH);
    CHECK(strstr(moe_last_error(), "moe_check_abi") != NULL);
    for (v = 0; v <= 13; ++v) CHECK(strlen(moe_status_name((moe_status)v)) > 0);
    CHECK(strcmp(moe_status_name(MOE_OK), "ok") == 0);
    CHECK(strcmp(moe_status_name(MOE_ERR_BAD_FORMAT), "bad format") == 0);
    CHECK(strcmp(moe_status_name((moe_status)99), "unknown status") == 0);
}

static void test_backends(void) {
    moe_backend_list* list = NULL;
    moe_backend_info info;
    size_t i, n;
    int found_cpu = 0;
    CHECK_STATUS(moe_backend_list_create(NULL), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_backend_list_create(&list));
    n = moe_backend_list_count(list);
    CHECK(n >= 1);
    for (i = 0; i < n; ++i) {
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        CHECK_OK(moe_backend_list_get(list, i, &info));
        CHECK(info.name && info.description && info.path && info.device);
        if (strcmp(info.name, "cpu") == 0) found_cpu = info.available;
    }
    CHECK(found_cpu);
    info.struct_size = sizeof info;
    CHECK_STATUS(moe_backend_list_get(list, n, &info), MOE_ERR_INVALID_ARGUMENT);
    info.struct_size = 4;
    CHECK_STATUS(moe_backend_list_get(list, 0, &info), MOE_ERR_ABI_MISMATCH);
    CHECK_STATUS(moe_backend_list_get(NULL, 0, &info), MOE_ERR_INVALID_ARGUMENT);
    CHECK(moe_backend_list_count(NULL) == 0);
    moe_backend_list_free(list);
    moe_backend_list_free(NULL);
}

static void test_load_errors(void) {
    moe_model* m = (moe_model*)&g_checks; /* must be reset to NULL on failure */
    moe_model_params mp = moe_model_default_params();
    char path[1024];
    unsigned char junk[256];
    size_t size = 0;
    unsigned char* bytes;
    progress_state ps;

    CHECK_STATUS(moe_model_load("/nonexistent/model.gguf", NULL, &m), MOE_ERR_IO);
    CHECK(m == NULL);
    CHECK(strstr(moe_last_error(), "/nonexistent/model.gguf") != NULL);
    CHECK_STATUS(moe_model_load(NULL, NULL, &m), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_load(g_model_path, NULL, NULL), MOE_ERR_INVALID_ARGUMENT);

    /* corrupt: GGUF magic then garbage; and the real file cut in half */
    memset(junk, 0xAB, sizeof junk);
    memcpy(junk, "GGUF\3\0\0\0", 8); /* version 3, then impossible counts */
    sprintf(path, "%s/capi_corrupt.gguf", g_tmp_dir);
    write_file(path, junk, sizeof junk);
    CHECK_STATUS(moe_model_load(path, NULL, &m), MOE_ERR_BAD_FORMAT);
    CHECK(m == NULL);
    bytes = read_whole(g_model_path, &size);
    CHECK(bytes != NULL);
    if (bytes) {
        sprintf(path, "%s/capi_truncated.gguf", g_tmp_dir);
        write_file(path, bytes, size / 2);
        CHECK_STATUS(moe_model_load(path, NULL, &m), MOE_ERR_BAD_FORMAT);
        CHECK_STATUS(moe_model_load_from_memory(bytes, size / 2, NULL, &m), MOE_ERR_BAD_FORMAT);
        free(bytes);
    }
    CHECK_STATUS(moe_model_load_from_memory(NULL, 10, NULL, &m), MOE_ERR_INVALID_ARGUMENT);

    /* wrong ABI struct size */
    mp.struct_size = sizeof mp - 1;
    CHECK_STATUS(moe_model_load(g_model_path, &mp, &m), MOE_ERR_ABI_MISMATCH);
    CHECK(strstr(moe_last_error(), "struct_size") != NULL);

    /* cancelled load: the first progress report says stop, and one half-way through */
    mp = moe_model_default_params();
    mp.progress = on_progress;
    mp.progress_user = &ps;
    ps.calls = 0, ps.last = 0.0f, ps.cancel_at = 0.0f;
    CHECK_STATUS(moe_model_load(g_model_path, &mp, &m), MOE_ERR_ABORTED);
    CHECK(m == NULL && ps.calls == 1);
    ps.calls = 0, ps.last = 0.0f, ps.cancel_at = 0.5f;
    CHECK_STATUS(moe_model_load(g_model_path, &mp, &m), MOE_ERR_ABORTED);
    CHECK(m == NULL && ps.calls >= 2);
}

static moe_model* test_load(void) {
    moe_model* m = NULL;
    moe_model* m2 = NULL;
    moe_model* m3 = NULL;
    moe_model_params mp = moe_model_default_params();
    moe_model_info info, info2;
    moe_model_reader reader;
    file_reader fr;
    progress_state ps;
    size_t size = 0;
    unsigned char* bytes;

    ps.calls = 0, ps.last = 0.0f, ps.cancel_at = 2.0f;
    mp.progress = on_progress;
    mp.progress_user = &ps;
    CHECK_OK(moe_model_load(g_model_path, &mp, &m));
    CHECK(m != NULL && ps.calls >= 2 && ps.last == 1.0f);
    if (!m) return NULL;

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_OK(moe_model_get_info(m, &info));
    CHECK(strcmp(info.architecture, "llama") == 0);
    CHECK(info.n_expert == 8 && info.n_expert_used == 2);
    CHECK(info.n_vocab > 0 && info.n_layer > 0 && info.n_ctx_train > 0 && info.n_params > 1000000u);
    CHECK(info.has_tokenizer);
    CHECK(strcmp(info.chat_template, "") == 0);
    info.struct_size = 8;
    CHECK_STATUS(moe_model_get_info(m, &info), MOE_ERR_ABI_MISMATCH);
    CHECK_STATUS(moe_model_get_info(NULL, &info), MOE_ERR_INVALID_ARGUMENT);

    /* from memory and from a reader: same model */
    bytes = read_whole(g_model_path, &size);
    CHECK(bytes != NULL);
    CHECK_OK(moe_model_load_from_memory(bytes, size, NULL, &m2));
    memset(&info2, 0, sizeof info2);
    info2.struct_size = sizeof info2;
    CHECK_OK(moe_model_get_info(m2, &info2));
    info.struct_size = sizeof info;
    CHECK_OK(moe_model_get_info(m, &info));
    CHECK(info2.n_params == info.n_params && info2.n_vocab == info.n_vocab);
    moe_model_free(m2);
    free(bytes);

    fr.f = fopen(g_model_path, "rb");
    fr.fail_after = -1;
    CHECK(fr.f != NULL);
    reader.struct_size = sizeof reader;
    reader.size = size;
    reader.read = read_file_cb;
    reader.user = &fr;
    ps.calls = 0, ps.last = 0.0f, ps.cancel_at = 2.0f;
    CHECK_OK(moe_model_load_from_reader(&reader, &mp, &m3));
    CHECK(m3 != NULL && ps.calls >= 3);
    info2.struct_size = sizeof info2;
    CHECK_OK(moe_model_get_info(m3, &info2));
    CHECK(info2.n_params == info.n_params);
    moe_model_free(m3);
    m3 = NULL;
    fr.fail_after = 0; /* the read callback fails */
    CHECK_STATUS(moe_model_load_from_reader(&reader, NULL, &m3), MOE_ERR_IO);
    CHECK(m3 == NULL);
    fr.fail_after = -1; /* the progress callback cancels while reading */
    ps.calls = 0, ps.last = 0.0f, ps.cancel_at = 0.0f;
    CHECK_STATUS(moe_model_load_from_reader(&reader, &mp, &m3), MOE_ERR_ABORTED);
    reader.struct_size = 1;
    CHECK_STATUS(moe_model_load_from_reader(&reader, NULL, &m3), MOE_ERR_ABI_MISMATCH);
    CHECK_STATUS(moe_model_load_from_reader(NULL, NULL, &m3), MOE_ERR_INVALID_ARGUMENT);
    fclose(fr.f);
    moe_model_free(NULL);
    return m;
}

static void test_text(const moe_model* m) {
    int32_t ids[256];
    size_t n = 0, nb = 0;
    char text[1024];
    const char* name = NULL;
    const char* hello = "ROMEO: But soft, what light";
    moe_chat_message msgs[2];

    CHECK(moe_token_bos(m) >= -1 && moe_token_eos(m) >= 0);
    CHECK(moe_token_eot(m) >= -1);
    CHECK(moe_token_is_eog(m, moe_token_eos(m)));
    CHECK(!moe_token_is_eog(NULL, 0) && moe_token_bos(NULL) == -1);

    CHECK_STATUS(moe_tokenize(m, hello, strlen(hello), false, false, NULL, 0, &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK(n > 3);
    CHECK_STATUS(moe_tokenize(m, hello, strlen(hello), false, false, ids, 2, &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(moe_tokenize(m, hello, strlen(hello), false, false, ids, 256, &n));
    CHECK_OK(moe_detokenize(m, ids, n, false, text, sizeof text, &nb));
    CHECK(nb == strlen(hello) && strcmp(text, hello) == 0);
    CHECK_STATUS(moe_detokenize(m, ids, n, false, text, 4, &nb), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK(nb == strlen(hello));
    CHECK_OK(moe_token_to_piece(m, ids[0], false, text, sizeof text, &nb));
    CHECK(nb > 0 && strncmp(hello, text, nb) == 0);
    ids[1] = 1 << 30;
    CHECK_STATUS(moe_detokenize(m, ids, 2, false, text, sizeof text, &nb), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_token_to_piece(m, -5, false, text, sizeof text, &nb), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_tokenize(NULL, hello, 3, false, false, ids, 256, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_tokenize(m, NULL, 3, false, false, ids, 256, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_tokenize(m, "", 0, false, false, ids, 256, &n));
    CHECK(n == 0);

    /* chat: the demo model has no template of its own */
    CHECK_STATUS(moe_chat_template_name(m, &name), MOE_ERR_UNSUPPORTED);
    msgs[0].role = "system", msgs[0].content = "Be brief.";
    msgs[1].role = "user", msgs[1].content = "Hi!";
    CHECK_STATUS(moe_chat_format(m, NULL, msgs, 2, true, text, sizeof text, &nb), MOE_ERR_UNSUPPORTED);
    CHECK_OK(moe_chat_format(NULL, "chatml", msgs, 2, true, text, sizeof text, &nb));
    CHECK(strcmp(text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
                       "<|im_start|>assistant\n") == 0);
    CHECK(nb == strlen(text));
    CHECK_OK(moe_chat_format(m, "chatml", msgs, 2, false, text, sizeof text, &nb));
    CHECK_STATUS(moe_chat_format(NULL, "chatml", msgs, 2, true, text, 10, &nb), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(moe_chat_format(NULL, "no-such-template", msgs, 2, true, text, sizeof text, &nb),
                 MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_chat_format(NULL, NULL, msgs, 2, true, text, sizeof text, &nb), MOE_ERR_INVALID_ARGUMENT);
    msgs[1].role = "narrator";
    CHECK_STATUS(moe_chat_format(NULL, "llama3", msgs, 2, true, text, sizeof text, &nb), MOE_ERR_INVALID_ARGUMENT);
}

static void test_session(const moe_model* m) {
    moe_session_params sp = moe_session_default_params();
    moe_session* s = NULL;
    moe_session* s2 = NULL;
    int32_t ids[64];
    size_t n = 0, state_n = 0, i;
    const float* lg = NULL;
    const float* lg2 = NULL;
    float saved[4096];
    int32_t best = -1, best2 = -1, bad = -3;
    void* state;
    int64_t vocab;
    const char* prompt = "KING HENRY: Once more unto the breach";

    CHECK(sp.struct_size == sizeof sp && sp.max_batch == 512 && strcmp(sp.backend, "auto") == 0);
    sp.struct_size = 3;
    CHECK_STATUS(moe_session_create(m, &sp, &s), MOE_ERR_ABI_MISMATCH);
    sp = moe_session_default_params();
    sp.backend = "no-such-backend";
    CHECK_STATUS(moe_session_create(m, &sp, &s), MOE_ERR_INVALID_ARGUMENT);
    sp.backend = "cuda";
    CHECK_STATUS(moe_session_create(m, &sp, &s), MOE_ERR_BACKEND_UNAVAILABLE);
    sp = moe_session_default_params();
    sp.n_ctx = -1;
    CHECK_STATUS(moe_session_create(m, &sp, &s), MOE_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_STATUS(moe_session_create(NULL, NULL, &s), MOE_ERR_INVALID_ARGUMENT);

    CHECK_OK(moe_session_create(m, NULL, &s)); /* defaults: the training context */
    CHECK(moe_session_n_ctx(s) > 0 && moe_session_n_past(s) == 0 && strcmp(moe_session_backend(s), "cpu") == 0);
    moe_session_free(s);
    s = new_session(m, 64);
    CHECK(moe_session_n_ctx(s) == 64);
    vocab = moe_session_n_vocab(s);
    CHECK(vocab > 0 && vocab <= 4096);
    CHECK(moe_session_n_ctx(NULL) == 0 && moe_session_n_past(NULL) == 0 && strcmp(moe_session_backend(NULL), "") == 0);

    CHECK_STATUS(moe_session_logits(s, -1, &lg), MOE_ERR_INVALID_ARGUMENT); /* nothing evaluated yet */
    CHECK_OK(moe_tokenize(m, prompt, strlen(prompt), true, false, ids, 64, &n));
    CHECK_STATUS(moe_session_eval(s, ids, 0, false), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_eval(s, &bad, 1, false), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_session_eval(s, ids, n, true));
    CHECK(moe_session_n_past(s) == (int64_t)n);
    CHECK_OK(moe_session_logits(s, 0, &lg));
    CHECK_OK(moe_session_logits(s, -1, &lg));
    CHECK_STATUS(moe_session_logits(s, (int64_t)n, &lg2), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_session_argmax(s, -1, &best));
    CHECK(best >= 0 && best < vocab);
    for (i = 0; i < (size_t)vocab; ++i) CHECK(lg[i] <= lg[best]);

    /* eval without all_logits keeps only the last row */
    ids[0] = best, ids[1] = best;
    CHECK_OK(moe_session_eval(s, ids, 2, false));
    CHECK_STATUS(moe_session_logits(s, 0, &lg2), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_session_logits(s, 1, &lg2));
    CHECK_OK(moe_session_argmax(s, -1, &best));
    CHECK_STATUS(moe_session_argmax(s, 0, &best2), MOE_ERR_INVALID_ARGUMENT);
    CHECK(best2 == -1);

    /* save the KV cache, restore it into another session: the same logits, and the same continuation */
    CHECK_STATUS(moe_session_state_save(s, NULL, 0, &state_n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK(state_n > (size_t)vocab * sizeof(float));
    state = malloc(state_n);
    CHECK_STATUS(moe_session_state_save(s, state, state_n - 1, &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(moe_session_state_save(s, state, state_n, &n));
    CHECK(n == state_n);
    CHECK_OK(moe_session_logits(s, -1, &lg));
    memcpy(saved, lg, (size_t)vocab * sizeof(float));
    s2 = new_session(m, 48);
    CHECK_OK(moe_session_state_load(s2, state, state_n));
    CHECK(moe_session_n_past(s2) == moe_session_n_past(s));
    CHECK_OK(moe_session_logits(s2, -1, &lg2));
    CHECK(memcmp(saved, lg2, (size_t)vocab * sizeof(float)) == 0);
    CHECK_OK(moe_session_eval(s, &best, 1, false));
    CHECK_OK(moe_session_eval(s2, &best, 1, false));
    CHECK_OK(moe_session_logits(s, -1, &lg));
    CHECK_OK(moe_session_logits(s2, -1, &lg2));
    CHECK(memcmp(lg, lg2, (size_t)vocab * sizeof(float)) == 0);

    /* truncate back to the saved point and redo the token: the same logits again */
    CHECK_STATUS(moe_session_truncate(s, moe_session_n_past(s) + 1), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_truncate(s, -1), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_session_truncate(s, moe_session_n_past(s) - 1));
    CHECK_STATUS(moe_session_logits(s, -1, &lg), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_session_eval(s, &best, 1, false));
    CHECK_OK(moe_session_logits(s, -1, &lg));
    CHECK(memcmp(lg, lg2, (size_t)vocab * sizeof(float)) == 0);

    /* bad states */
    CHECK_STATUS(moe_session_state_load(s2, state, state_n - 1), MOE_ERR_BAD_FORMAT);
    CHECK(moe_session_n_past(s2) == 0);
    ((unsigned char*)state)[0] ^= 0xFF;
    CHECK_STATUS(moe_session_state_load(s2, state, state_n), MOE_ERR_BAD_FORMAT);
    ((unsigned char*)state)[0] ^= 0xFF;
    moe_session_free(s2);
    s2 = new_session(m, 8); /* too small for the saved tokens */
    CHECK_STATUS(moe_session_state_load(s2, state, state_n), MOE_ERR_CONTEXT_FULL);
    CHECK_STATUS(moe_session_state_load(s2, NULL, 0), MOE_ERR_INVALID_ARGUMENT);
    free(state);

    /* a full context evaluates nothing */
    CHECK_OK(moe_session_clear(s2));
    for (i = 0; i < 9; ++i) ids[i] = best;
    CHECK_STATUS(moe_session_eval(s2, ids, 9, false), MOE_ERR_CONTEXT_FULL);
    CHECK(moe_session_n_past(s2) == 0);
    CHECK_OK(moe_session_eval(s2, ids, 8, false));
    CHECK_STATUS(moe_session_eval(s2, ids, 1, false), MOE_ERR_CONTEXT_FULL);
    CHECK_OK(moe_session_clear(s2));
    CHECK(moe_session_n_past(s2) == 0);

    CHECK_STATUS(moe_session_eval(NULL, ids, 1, false), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_clear(NULL), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_cancel(NULL), MOE_ERR_INVALID_ARGUMENT);
    moe_session_free(s2);
    moe_session_free(s);
    moe_session_free(NULL);
}

static void test_sampler(const moe_model* m) {
    moe_sampler_params pp = moe_sampler_default_params();
    moe_sampler* a = NULL;
    moe_sampler* b = NULL;
    moe_sampler* c = NULL;
    moe_session* s = new_session(m, 32);
    const float* lg = NULL;
    float flat[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float neg_inf[2];
    int32_t ta = -1, tb = -1, best = -1, tok = 0;
    int i;

    CHECK(pp.struct_size == sizeof pp && pp.seed == MOE_SEED_RANDOM && pp.top_k == 40);
    pp.temp = -1.0f;
    CHECK_STATUS(moe_sampler_create(&pp, &a), MOE_ERR_INVALID_ARGUMENT);
    CHECK(a == NULL);
    pp = moe_sampler_default_params();
    pp.struct_size = 0;
    CHECK_STATUS(moe_sampler_create(&pp, &a), MOE_ERR_ABI_MISMATCH);
    CHECK_STATUS(moe_sampler_create(NULL, NULL), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_sampler_create(NULL, &c)); /* defaults, random seed */
    moe_sampler_free(c);

    a = new_sampler(7);
    b = new_sampler(7);
    CHECK(moe_sampler_seed(a) == 7 && moe_sampler_seed(NULL) == 0);
    CHECK_OK(moe_session_eval(s, &tok, 1, false));
    CHECK_OK(moe_session_logits(s, -1, &lg));
    for (i = 0; i < 20; ++i) {
        CHECK_OK(moe_sampler_sample(a, lg, moe_session_n_vocab(s), &ta));
        CHECK_OK(moe_sampler_sample(b, lg, moe_session_n_vocab(s), &tb));
        CHECK(ta == tb && ta >= 0);
        CHECK_OK(moe_sampler_accept(a, ta));
        CHECK_OK(moe_sampler_accept(b, tb));
    }
    moe_sampler_reset(a);
    moe_sampler_reset(NULL);
    CHECK_OK(moe_session_sample(s, a, &ta));
    CHECK(ta >= 0);
    CHECK_STATUS(moe_sampler_sample(a, NULL, 10, &ta), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_sampler_sample(a, lg, 0, &ta), MOE_ERR_INVALID_ARGUMENT);
    neg_inf[0] = neg_inf[1] = -HUGE_VALF;
    CHECK_STATUS(moe_sampler_sample(a, neg_inf, 2, &ta), MOE_ERR_INVALID_ARGUMENT);
    CHECK(ta == -1);
    CHECK_STATUS(moe_sampler_accept(NULL, 1), MOE_ERR_INVALID_ARGUMENT);

    /* a chain built stage by stage; greedy picks the argmax */
    CHECK_OK(moe_sampler_create_chain(3, &c));
    CHECK_OK(moe_sampler_add_penalties(c, 16, 1.1f, 0.0f, 0.0f));
    CHECK_OK(moe_sampler_add_top_k(c, 10));
    CHECK_OK(moe_sampler_add_top_p(c, 0.9f, 1));
    CHECK_OK(moe_sampler_add_min_p(c, 0.01f, 1));
    CHECK_OK(moe_sampler_add_temperature(c, 0.0f));
    CHECK_OK(moe_sampler_add_greedy(c));
    CHECK_STATUS(moe_sampler_add_top_k(c, -1), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_sampler_add_top_p(c, 0.0f, 1), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_sampler_add_min_p(c, 2.0f, 1), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_sampler_add_temperature(c, -1.0f), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_sampler_add_penalties(c, -1, 1.0f, 0.0f, 0.0f), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_sampler_add_greedy(NULL), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_session_argmax(s, -1, &best));
    CHECK_OK(moe_sampler_sample(c, lg, moe_session_n_vocab(s), &ta));
    CHECK(ta == best);
    CHECK_OK(moe_sampler_sample(c, flat, 8, &ta));
    CHECK(ta == 0); /* ties: the lowest id */
    CHECK_STATUS(moe_session_sample(NULL, c, &ta), MOE_ERR_INVALID_ARGUMENT);
    moe_sampler_free(c);
    moe_sampler_free(a);
    moe_sampler_free(b);
    moe_sampler_free(NULL);
    moe_session_free(s);
}

static void test_generate(const moe_model* m) {
    moe_generate_params gp = moe_generate_default_params();
    moe_generate_result r;
    moe_session* s = new_session(m, 128);
    moe_session* s2 = new_session(m, 128);
    moe_sampler* smp = new_sampler(42);
    moe_sampler* smp2 = new_sampler(42);
    collected c1, c2;
    char all[8192];
    size_t n = 0;

    CHECK(gp.struct_size == sizeof gp && gp.max_tokens == -1 && gp.stop_at_eog);
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;

    /* 24 tokens from a text prompt; the same seed gives the same text */
    collected_init(&c1);
    gp.prompt_text = "ROMEO:";
    gp.max_tokens = 24;
    gp.stop_at_eog = false;
    gp.on_token = on_token;
    gp.user = &c1;
    CHECK_OK(moe_session_generate(s, smp, &gp, &r));
    CHECK(r.n_generated == 24 && r.reason == MOE_STOP_MAX_TOKENS && r.n_prompt > 0 && r.seconds > 0);
    CHECK(c1.n_ids == 24 && c1.len > 0);
    CHECK(moe_session_n_past(s) == r.n_prompt + 24); /* every reported token is in the KV cache */
    CHECK_OK(moe_detokenize(m, c1.ids, c1.n_ids, false, all, sizeof all, &n));
    CHECK(n == c1.len && strcmp(all, c1.text) == 0);

    /* the same in two calls (12 + 12, the second continuing from the logits) */
    collected_init(&c2);
    gp.user = &c2;
    gp.max_tokens = 12;
    CHECK_OK(moe_session_generate(s2, smp2, &gp, &r));
    gp.prompt_text = NULL;
    CHECK_OK(moe_session_generate(s2, smp2, &gp, &r));
    CHECK(r.n_prompt == 0 && r.n_generated == 12);
    CHECK(c2.n_ids == 24 && memcmp(c1.ids, c2.ids, sizeof c1.ids[0] * 24) == 0);
    CHECK(strcmp(c1.text, c2.text) == 0);

    /* the callback stops it */
    collected_init(&c2);
    c2.stop_after = 5;
    gp.max_tokens = 50;
    CHECK_OK(moe_session_generate(s2, smp2, &gp, &r));
    CHECK(r.reason == MOE_STOP_CALLBACK && r.n_generated == 5 && c2.n_ids == 5);

    /* cancelled generation: moe_session_cancel (from the callback here; any thread may call it) */
    collected_init(&c2);
    c2.stop_after = 3;
    c2.cancel_this = s2;
    CHECK_STATUS(moe_session_generate(s2, smp2, &gp, &r), MOE_ERR_ABORTED);
    CHECK(r.reason == MOE_STOP_CANCELLED && r.n_generated == 3);
    CHECK(strstr(moe_last_error(), "cancelled") != NULL);
    /* the cancel was consumed: the next generation runs */
    collected_init(&c2);
    gp.max_tokens = 2;
    CHECK_OK(moe_session_generate(s2, smp2, &gp, &r));
    CHECK(r.n_generated == 2);

    /* a full context ends it without an error */
    gp.max_tokens = -1;
    gp.on_token = NULL;
    CHECK_OK(moe_session_generate(s2, smp2, &gp, &r));
    CHECK(r.reason == MOE_STOP_CONTEXT_FULL && moe_session_n_past(s2) == 128);
    gp.prompt_text = "more";
    CHECK_STATUS(moe_session_generate(s2, smp2, &gp, &r), MOE_ERR_CONTEXT_FULL);

    /* errors */
    CHECK_OK(moe_session_clear(s2));
    gp.prompt_text = NULL;
    CHECK_STATUS(moe_session_generate(s2, smp2, &gp, &r), MOE_ERR_INVALID_ARGUMENT); /* nothing to continue */
    CHECK_STATUS(moe_session_generate(NULL, smp2, &gp, &r), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_generate(s2, smp2, NULL, &r), MOE_ERR_INVALID_ARGUMENT);
    gp.struct_size = 1;
    CHECK_STATUS(moe_session_generate(s2, smp2, &gp, &r), MOE_ERR_ABI_MISMATCH);
    gp = moe_generate_default_params();
    r.struct_size = 2;
    gp.prompt_text = "x";
    CHECK_STATUS(moe_session_generate(s2, smp2, &gp, &r), MOE_ERR_ABI_MISMATCH);
    gp.max_tokens = 2;
    CHECK_OK(moe_session_generate(s2, smp2, &gp, NULL)); /* result may be NULL */

    moe_sampler_free(smp);
    moe_sampler_free(smp2);
    moe_session_free(s);
    moe_session_free(s2);
}

static void nap(void) {
    struct timespec ts;
    ts.tv_sec = 0;
    ts.tv_nsec = 1000000; /* 1 ms: a game loop's frame would be longer */
    nanosleep(&ts, NULL);
}

static void test_async(const moe_model* m) {
    moe_generate_params gp = moe_generate_default_params();
    moe_generate_result r;
    moe_session* s = new_session(m, 128);
    moe_session* big = new_session(m, 2048);
    moe_sampler* smp = new_sampler(9);
    moe_sampler* smp2 = NULL;
    moe_async* a = NULL;
    moe_async* a2 = NULL;
    collected ref, c;
    char text[8192];
    char piece[7]; /* small on purpose: the text comes in several polls, cut between characters */
    int32_t ids[1024];
    size_t n = 0, len = 0, n_ids = 0, calls = 0, total_calls = 0;
    bool done = false;
    int32_t tok = 0;
    const float* lg = NULL;
    float flat[2] = {0.0f, 0.0f};

    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;

    /* reference: synchronous, same seed and prompt */
    collected_init(&ref);
    gp.prompt_text = "JULIET:";
    gp.max_tokens = 30;
    gp.stop_at_eog = false;
    gp.on_token = on_token;
    gp.user = &ref;
    CHECK_OK(moe_session_generate(s, smp, &gp, &r));
    CHECK(ref.n_ids == 30);
    moe_sampler_free(smp);
    CHECK_OK(moe_session_clear(s));

    /* async, polled like a game loop: the same text and ids */
    smp = new_sampler(9);
    gp.on_token = NULL;
    CHECK_OK(moe_async_start(s, smp, &gp, &a));
    while (!done) {
        CHECK_OK(moe_async_poll(a, piece, sizeof piece, &n, &done));
        CHECK(n < sizeof piece && strlen(piece) == n);
        memcpy(text + len, piece, n);
        len += n;
        CHECK_OK(moe_async_poll_tokens(a, ids + n_ids, 1024 - n_ids, &n));
        n_ids += n;
        if (!done) nap();
    }
    text[len] = '\0';
    CHECK(moe_async_finished(a));
    CHECK_OK(moe_async_poll_tokens(a, ids + n_ids, 1024 - n_ids, &n));
    n_ids += n;
    CHECK(strcmp(text, ref.text) == 0);
    CHECK(n_ids == 30 && memcmp(ids, ref.ids, 30 * sizeof ids[0]) == 0);
    CHECK_OK(moe_async_wait(a, &r));
    CHECK(r.reason == MOE_STOP_MAX_TOKENS && r.n_generated == 30);
    CHECK_OK(moe_async_wait(a, NULL)); /* again: same answer */
    r.struct_size = 1;
    CHECK_STATUS(moe_async_wait(a, &r), MOE_ERR_ABI_MISMATCH);
    r.struct_size = sizeof r;
    moe_async_free(a);
    CHECK(moe_session_n_past(s) == r.n_prompt + 30); /* the host has the session back */
    CHECK_OK(moe_session_logits(s, -1, &lg));

    /* while a long generation runs, the session and sampler are busy; cancel ends it with ABORTED */
    gp.prompt_text = "HAMLET:";
    gp.max_tokens = -1;
    CHECK_OK(moe_async_start(big, smp, &gp, &a));
    CHECK_STATUS(moe_session_eval(big, &tok, 1, false), MOE_ERR_BUSY);
    CHECK_STATUS(moe_session_logits(big, -1, &lg), MOE_ERR_BUSY);
    CHECK_STATUS(moe_session_clear(big), MOE_ERR_BUSY);
    CHECK_STATUS(moe_session_generate(big, smp, &gp, &r), MOE_ERR_BUSY);
    CHECK_STATUS(moe_async_start(big, smp, &gp, &a2), MOE_ERR_BUSY);
    CHECK(a2 == NULL);
    CHECK_OK(moe_sampler_create_chain(1, &smp2));
    CHECK_STATUS(moe_async_start(s, smp, &gp, &a2), MOE_ERR_BUSY); /* the sampler is taken */
    CHECK_STATUS(moe_sampler_sample(smp, flat, 2, &tok), MOE_ERR_BUSY);
    tok = 0;
    CHECK_OK(moe_async_cancel(a));
    CHECK_STATUS(moe_async_wait(a, &r), MOE_ERR_ABORTED);
    CHECK(r.reason == MOE_STOP_CANCELLED && r.n_generated < 2000);
    CHECK(moe_async_finished(a));
    moe_async_free(a);
    CHECK_OK(moe_session_eval(big, &tok, 1, false)); /* free again */

    /* callbacks on the host thread, in moe_async_dispatch; a false return stops the generation */
    collected_init(&c);
    c.stop_after = 4;
    gp.prompt_text = "MACBETH:";
    gp.max_tokens = 200;
    gp.on_token = on_token;
    gp.user = &c;
    gp.async_callbacks = MOE_ASYNC_CALLBACKS_ON_DISPATCH;
    CHECK_OK(moe_session_clear(s));
    CHECK_OK(moe_async_start(s, smp2, &gp, &a));
    while (!moe_async_finished(a)) {
        CHECK_OK(moe_async_dispatch(a, &calls));
        total_calls += calls;
        nap();
    }
    CHECK_OK(moe_async_dispatch(a, &calls));
    total_calls += calls;
    CHECK(c.n_ids == 4 && total_calls == 4);
    CHECK_OK(moe_async_wait(a, &r));
    CHECK(r.reason == MOE_STOP_CALLBACK || r.reason == MOE_STOP_MAX_TOKENS);
    /* the text is still queued: a capacity that cannot hold a character is refused, poll() with NULL just checks */
    CHECK_OK(moe_async_poll(a, NULL, 0, &n, &done));
    CHECK(!done && n == 0);
    CHECK_STATUS(moe_async_poll(a, piece, 1, &n, &done), MOE_ERR_INVALID_ARGUMENT);
    moe_async_free(a);

    /* freeing a running generation cancels and joins it */
    gp.on_token = NULL;
    gp.async_callbacks = MOE_ASYNC_CALLBACKS_ON_WORKER;
    gp.max_tokens = -1;
    CHECK_OK(moe_session_clear(big));
    CHECK_OK(moe_async_start(big, smp, &gp, &a));
    moe_async_free(a);
    CHECK_OK(moe_session_eval(big, &tok, 1, false));

    /* errors */
    CHECK_STATUS(moe_async_start(NULL, smp, &gp, &a), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_async_start(s, smp, &gp, NULL), MOE_ERR_INVALID_ARGUMENT);
    gp.struct_size = 0;
    CHECK_STATUS(moe_async_start(s, smp, &gp, &a), MOE_ERR_ABI_MISMATCH);
    gp = moe_generate_default_params();
    gp.async_callbacks = (moe_async_callbacks)7;
    CHECK_STATUS(moe_async_start(s, smp, &gp, &a), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_async_poll(NULL, piece, sizeof piece, &n, &done), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_async_poll_tokens(NULL, ids, 4, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_async_dispatch(NULL, &calls), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_async_cancel(NULL), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_async_wait(NULL, &r), MOE_ERR_INVALID_ARGUMENT);
    CHECK(!moe_async_finished(NULL));
    moe_async_free(NULL);

    moe_sampler_free(smp);
    moe_sampler_free(smp2);
    moe_session_free(s);
    moe_session_free(big);
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
    test_text(m);
    test_session(m);
    test_sampler(m);
    test_generate(m);
    test_async(m);
    moe_model_free(m);
    printf("test_capi: %d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
