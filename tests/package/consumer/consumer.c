/* consumer.c — a C99 program using moe only through its installed C API (moe.h): load a model, generate a few
 * greedy tokens and print them. Built by consumer/CMakeLists.txt or with pkg-config; run by run_package_test.cmake. */
#include <moe/moe.h>

#include <stdio.h>

static bool print_piece(int32_t token, const char* text, size_t len, void* user) {
    (void)token;
    (void)user;
    fwrite(text, 1, len, stdout);
    return true;
}

int main(int argc, char** argv) {
    moe_model* model = NULL;
    moe_session* session = NULL;
    moe_sampler* sampler = NULL;
    moe_generate_params gp = moe_generate_default_params();
    moe_sampler_params pp = moe_sampler_default_params();
    moe_generate_result result;
    moe_status st;
    if (argc != 2) return 2;
    if (moe_check_abi(MOE_C_ABI_VERSION) != MOE_OK) {
        fprintf(stderr, "%s\n", moe_last_error());
        return 1;
    }
    printf("moe %s\n", moe_version_string());
    if (moe_model_load(argv[1], NULL, &model) != MOE_OK || moe_session_create(model, NULL, &session) != MOE_OK) {
        fprintf(stderr, "%s\n", moe_last_error());
        return 1;
    }
    pp.temp = 0.0f;
    pp.seed = 1;
    moe_sampler_create(&pp, &sampler);
    gp.prompt_text = "ROMEO:";
    gp.max_tokens = 8;
    gp.on_token = print_piece;
    result.struct_size = sizeof result;
    st = moe_session_generate(session, sampler, &gp, &result);
    printf("\ngenerated %d tokens: %s\n", (int)result.n_generated, moe_status_name(st));
    moe_sampler_free(sampler);
    moe_session_free(session);
    moe_model_free(model);
    return st == MOE_OK && result.n_generated > 0 ? 0 : 1;
}
