/* test_capi_generate.c — the C API's generation: moe_session_generate (stops, cancel, full context, errors) and
 * moe_async_* polled like a game loop. Before: test_capi_text.c's sessions; after: test_capi_main.c. C99. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, for polling politely */
#include "capi_check.h"

#include <string.h>
#include <time.h>

void test_generate(const moe_model* m) {
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

void test_async(const moe_model* m) {
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
