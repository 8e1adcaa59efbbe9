/* test_capi_text.c — the C API's tokenizer, chat templates, sessions (eval, logits, KV cache save / restore /
 * truncate, full context) and samplers. Before: capi_check.h and a loaded model; after: test_capi_generate.c. C99. */
#include "capi_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void test_text(const moe_model* m) {
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

void test_session(const moe_model* m) {
    moe_session_params sp = moe_session_default_params();
    moe_session* s = NULL;
    moe_session* s2 = NULL;
    moe_session* h = NULL;
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
    CHECK(sp.kv_type == MOE_KV_F32);
    sp.kv_type = 7;
    CHECK_STATUS(moe_session_create(m, &sp, &s), MOE_ERR_INVALID_ARGUMENT);
    sp = moe_session_default_params();
    sp.n_ctx = -1;
    CHECK_STATUS(moe_session_create(m, &sp, &s), MOE_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_STATUS(moe_session_create(NULL, NULL, &s), MOE_ERR_INVALID_ARGUMENT);

    CHECK_OK(moe_session_create(m, NULL, &s)); /* defaults: the training context */
    CHECK(moe_session_n_ctx(s) > 0 && moe_session_n_past(s) == 0 && strcmp(moe_session_backend(s), "cpu") == 0);
    CHECK(strncmp(moe_session_backend_note(s), "auto: ", 6) == 0); /* why CUDA is (not) used */
    CHECK(strcmp(moe_session_backend_note(NULL), "") == 0);
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
    /* an f16 KV cache: a state of the f32 cache is refused; its own state restores */
    sp = moe_session_default_params();
    sp.n_ctx = 64, sp.n_threads = 1, sp.kv_type = MOE_KV_F16;
    CHECK_OK(moe_session_create(m, &sp, &h));
    CHECK_STATUS(moe_session_state_load(h, state, state_n), MOE_ERR_SHAPE_MISMATCH);
    CHECK_OK(moe_session_eval(h, ids, 2, false));
    CHECK_OK(moe_session_argmax(h, -1, &best2));
    CHECK(best2 >= 0 && best2 < vocab);
    free(state);
    CHECK_STATUS(moe_session_state_save(h, NULL, 0, &state_n), MOE_ERR_BUFFER_TOO_SMALL);
    state = malloc(state_n);
    CHECK_OK(moe_session_state_save(h, state, state_n, &n));
    CHECK_OK(moe_session_clear(h));
    CHECK_OK(moe_session_state_load(h, state, state_n));
    CHECK(moe_session_n_past(h) == 2);
    moe_session_free(h);
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

void test_sampler(const moe_model* m) {
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
