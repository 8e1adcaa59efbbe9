/* simple-c — the smallest moe program in C99: load a model, stream a continuation of a prompt to stdout, free.
 * Before: a GGUF file (argv[1], default: the demo model). After: nothing; next step up: examples/game-loop. */
#include <moe/moe.h>

#include <stdio.h>

#ifndef MOE_DEMO_MODEL
#define MOE_DEMO_MODEL "shakespeare-moe-q8_0.gguf"
#endif

/* Called once per generated token with its text (whole UTF-8 characters, not NUL-terminated). */
static bool print_piece(int32_t token, const char* text, size_t len, void* user) {
    (void)token;
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true; /* false would stop the generation */
}

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : MOE_DEMO_MODEL;
    const char* prompt = argc > 2 ? argv[2] : "ROMEO:";
    moe_model* model = NULL;
    moe_session* session = NULL;
    moe_sampler* sampler = NULL;
    moe_sampler_params sp = moe_sampler_default_params();
    moe_generate_params gp = moe_generate_default_params();
    moe_generate_result result;
    int rc = 1;

    if (moe_model_load(path, NULL, &model) != MOE_OK) goto done; /* maps and validates the whole file */
    if (moe_session_create(model, NULL, &session) != MOE_OK) goto done; /* KV cache, threads */
    sp.seed = 42; /* the same text on every run */
    if (moe_sampler_create(&sp, &sampler) != MOE_OK) goto done;

    gp.prompt_text = prompt;
    gp.max_tokens = 100;
    gp.on_token = print_piece;
    result.struct_size = sizeof result; /* structs the library fills carry their size */
    fputs(prompt, stdout);
    if (moe_session_generate(session, sampler, &gp, &result) != MOE_OK) goto done;
    printf("\n\n[%lld prompt tokens, %lld generated in %.2f s]\n", (long long)result.n_prompt,
           (long long)result.n_generated, result.seconds);
    rc = 0;

done:
    if (rc != 0) fprintf(stderr, "error: %s\n", moe_last_error());
    moe_sampler_free(sampler); /* each free accepts NULL */
    moe_session_free(session);
    moe_model_free(model);
    return rc;
}
