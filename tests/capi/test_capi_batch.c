/* test_capi_batch.c — the C API's several-sequence calls from plain C99 (moe_session_params.n_seq,
 * moe_session_eval_batch, _n_seq, _n_past_seq, _clear_seq, _truncate_seq) on the demo model. Before: moe.h; after:
 * nothing. A program of its own (with the checks of capi_check.h / capi_support.c), so the two grow independently. */
#include "capi_check.h"

#include <stdio.h>
#include <string.h>

enum { n_seqs = 3 };

static moe_session* open_session(moe_model* m, int32_t n_seq, int64_t n_ctx) {
    moe_session_params sp = moe_session_default_params();
    moe_session* s = NULL;
    sp.n_ctx = n_ctx;
    sp.n_threads = 2;
    sp.n_seq = n_seq;
    CHECK_OK(moe_session_create(m, &sp, &s));
    return s;
}

/* Three sequences with prompts of 5, 2 and 7 tokens in one batch, then four decode steps of one token each: the
 * logits equal those of three single-sequence sessions (the demo model is q8_0 llama: bit-identical, see
 * tests/unit/test_batched_decode.cpp). */
static void batched_matches_separate(moe_model* m) {
    static const int64_t prompt_len[n_seqs] = {5, 2, 7};
    int32_t tok[32], seq[32], last[n_seqs];
    size_t n = 0;
    int q, step;
    moe_session* b = open_session(m, n_seqs, 64);
    moe_session* one[n_seqs];
    if (!b) return;
    CHECK(moe_session_n_seq(b) == n_seqs);
    for (q = 0; q < n_seqs; ++q) {
        int64_t j;
        one[q] = open_session(m, 1, 64);
        if (!one[q]) return;
        for (j = 0; j < prompt_len[q]; ++j) {
            tok[n] = (int32_t)(1 + (q * 31 + j * 7) % 60);
            seq[n] = q;
            ++n;
        }
        CHECK_OK(moe_session_eval(one[q], tok + n - prompt_len[q], (size_t)prompt_len[q], false));
        last[q] = (int32_t)(n - 1);
    }
    CHECK_OK(moe_session_eval_batch(b, tok, seq, n, false));
    for (step = 0; step <= 4; ++step) {
        int32_t next[n_seqs], ids[n_seqs];
        for (q = 0; q < n_seqs; ++q) {
            const float *lb = NULL, *l1 = NULL;
            CHECK_OK(moe_session_logits(b, step == 0 ? last[q] : q, &lb));
            CHECK_OK(moe_session_logits(one[q], -1, &l1));
            if (lb && l1) CHECK(memcmp(lb, l1, (size_t)moe_session_n_vocab(b) * sizeof(float)) == 0);
            CHECK(moe_session_n_past_seq(b, q) == moe_session_n_past(one[q]));
            CHECK_OK(moe_session_argmax(one[q], -1, &next[q]));
            ids[q] = q;
        }
        if (step == 0) {
            const float* none = NULL;  /* not the last token of its sequence: no logits */
            CHECK_STATUS(moe_session_logits(b, 0, &none), MOE_ERR_INVALID_ARGUMENT);
        }
        if (step == 4) break;
        CHECK_OK(moe_session_eval_batch(b, next, ids, n_seqs, false));
        for (q = 0; q < n_seqs; ++q) CHECK_OK(moe_session_eval(one[q], &next[q], 1, false));
    }
    /* sequence 1 leaves, a new one takes its slot */
    CHECK_OK(moe_session_clear_seq(b, 1));
    CHECK(moe_session_n_past_seq(b, 1) == 0);
    CHECK(moe_session_n_past_seq(b, 0) == prompt_len[0] + 4);
    CHECK_OK(moe_session_truncate_seq(b, 2, 3));
    CHECK(moe_session_n_past_seq(b, 2) == 3);
    CHECK_OK(moe_session_eval_batch(b, tok, seq + prompt_len[0], 2, true)); /* two tokens of sequence 1 */
    CHECK(moe_session_n_past_seq(b, 1) == 2);
    moe_session_free(b);
    for (q = 0; q < n_seqs; ++q) moe_session_free(one[q]);
}

static void errors(moe_model* m) {
    const int32_t tok[4] = {1, 2, 3, 4};
    const int32_t bad[2] = {0, 2}, s1[4] = {1, 1, 1, 1};
    moe_session_params sp = moe_session_default_params();
    moe_session* s = open_session(m, 2, 4);
    moe_session* none = NULL;
    if (!s) return;
    CHECK(sp.n_seq == 1);
    CHECK_STATUS(moe_session_eval_batch(s, tok, bad, 2, false), MOE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(moe_last_error(), "sequence id 2") != NULL);
    CHECK_STATUS(moe_session_eval_batch(s, tok, NULL, 1, false), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_eval_batch(NULL, tok, bad, 1, false), MOE_ERR_INVALID_ARGUMENT);
    CHECK_OK(moe_session_eval_batch(s, tok, s1, 1, false));
    CHECK_STATUS(moe_session_eval_batch(s, tok, s1, 4, false), MOE_ERR_CONTEXT_FULL); /* 1 + 4 > 4 */
    CHECK(moe_session_n_past_seq(s, 1) == 1);
    CHECK(moe_session_n_past_seq(s, 0) == 0);
    CHECK(moe_session_n_past_seq(s, 7) == 0);
    CHECK_STATUS(moe_session_clear_seq(s, 2), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_truncate_seq(s, 1, 2), MOE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(moe_session_truncate_seq(s, -1, 0), MOE_ERR_INVALID_ARGUMENT);
    CHECK(moe_session_n_seq(NULL) == 0);
    sp.n_seq = 0;
    CHECK_STATUS(moe_session_create(m, &sp, &none), MOE_ERR_INVALID_ARGUMENT);
    CHECK(none == NULL);
    moe_session_free(s);
}

int main(int argc, char** argv) {
    moe_model* m = NULL;
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    g_model_path = argv[1];
    if (moe_model_load(argv[1], NULL, &m) != MOE_OK) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], moe_last_error());
        return 1;
    }
    batched_matches_separate(m);
    errors(m);
    moe_model_free(m);
    printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
