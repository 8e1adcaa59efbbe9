/* test_capi_models.c — the C API's version, errors, backend list, model loading (path, memory, reader; bad files,
 * wrong struct sizes, cancelled loads), model info and metadata. Before: capi_check.h; after: test_capi_main.c. C99. */
#include "capi_check.h"

#include <stdlib.h>
#include <string.h>

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

void test_version_and_errors(void) {
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

void test_backends(void) {
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

void test_load_errors(void) {
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

moe_model* test_load(void) {
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

void test_meta(const moe_model* m) {
    char buf[256];
    char small[4];
    size_t n = 0, i, count;
    int found_name = 0;
    const char* name = "shakespeare-moe-q8_0";
    moe_model_info info;

    /* every key, in file order; general.architecture comes first */
    count = moe_model_meta_count(m);
    CHECK(count == 27);
    CHECK(moe_model_meta_count(NULL) == 0);
    for (i = 0; i < count; ++i) {
        CHECK_OK(moe_model_meta_key(m, i, buf, sizeof buf, &n));
        CHECK(n > 0 && n == strlen(buf));
        if (strcmp(buf, "general.name") == 0) found_name = 1;
        CHECK_STATUS(moe_model_meta_str_at(m, i, NULL, 0, &n), MOE_ERR_BUFFER_TOO_SMALL); /* asks the length */
    }
    CHECK(found_name);
    CHECK_OK(moe_model_meta_key(m, 0, buf, sizeof buf, &n));
    CHECK(strcmp(buf, "general.architecture") == 0 && n == 20);
    CHECK_OK(moe_model_meta_str_at(m, 0, buf, sizeof buf, &n));
    CHECK(strcmp(buf, "llama") == 0 && n == 5);

    /* values of each kind, rendered as text */
    CHECK_OK(moe_model_meta_str(m, "general.name", buf, sizeof buf, &n));
    CHECK(strcmp(buf, name) == 0 && n == strlen(name));
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_OK(moe_model_get_info(m, &info));
    CHECK(strcmp(buf, info.name) == 0);
    CHECK_OK(moe_model_meta_str(m, "llama.context_length", buf, sizeof buf, &n)); /* u32 */
    CHECK(strcmp(buf, "256") == 0 && info.n_ctx_train == 256);
    CHECK_OK(moe_model_meta_str(m, "llama.rope.freq_base", buf, sizeof buf, &n)); /* f32 */
    CHECK(strcmp(buf, "10000") == 0);
    CHECK_OK(moe_model_meta_str(m, "llama.attention.layer_norm_rms_epsilon", buf, sizeof buf, &n));
    CHECK(strcmp(buf, "1e-05") == 0); /* the f32 nearest 1e-5, shortest form */
    CHECK_OK(moe_model_meta_str(m, "tokenizer.ggml.add_bos_token", buf, sizeof buf, &n)); /* bool */
    CHECK(strcmp(buf, "true") == 0);
    CHECK_OK(moe_model_meta_str(m, "tokenizer.ggml.add_eos_token", buf, sizeof buf, &n));
    CHECK(strcmp(buf, "false") == 0);
    CHECK_OK(moe_model_meta_str(m, "tokenizer.ggml.tokens", buf, sizeof buf, &n)); /* arrays: length and type */
    CHECK(strcmp(buf, "[array of 1024 string]") == 0);
    CHECK_OK(moe_model_meta_str(m, "tokenizer.ggml.token_type", buf, sizeof buf, &n));
    CHECK(strcmp(buf, "[array of 1024 i32]") == 0);

    /* buffers: the length is reported, nothing written, an exact fit works */
    CHECK_STATUS(moe_model_meta_str(m, "general.name", NULL, 0, &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK(n == strlen(name));
    memcpy(small, "abc", 4);
    CHECK_STATUS(moe_model_meta_str(m, "general.name", small, sizeof small, &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK(n == strlen(name) && strcmp(small, "abc") == 0);
    CHECK(strstr(moe_last_error(), "moe_model_meta_str") != NULL);
    CHECK_STATUS(moe_model_meta_str(m, "general.name", buf, strlen(name), &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(moe_model_meta_str(m, "general.name", buf, strlen(name) + 1, &n));
    CHECK(strcmp(buf, name) == 0);
    CHECK_STATUS(moe_model_meta_key(m, 0, small, sizeof small, &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 20);
    CHECK_STATUS(moe_model_meta_str_at(m, 2, small, sizeof small, &n), MOE_ERR_BUFFER_TOO_SMALL);
    CHECK(n == strlen(name));

    /* errors: NULL arguments, an unknown key, an index out of range */
    CHECK_STATUS(moe_model_meta_str(NULL, "general.name", buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_meta_str(m, NULL, buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_meta_str(m, "general.name", buf, sizeof buf, NULL), MOE_ERR_INVALID_ARGUMENT);
    n = 99;
    CHECK_STATUS(moe_model_meta_str(m, "no.such.key", buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK(n == 0 && strstr(moe_last_error(), "no.such.key") != NULL);
    CHECK_STATUS(moe_model_meta_str(m, "", buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_meta_key(NULL, 0, buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_meta_key(m, 0, buf, sizeof buf, NULL), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_meta_key(m, count, buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_meta_str_at(NULL, 0, buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_model_meta_str_at(m, count, buf, sizeof buf, &n), MOE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(moe_last_error(), "out of range") != NULL);
}
