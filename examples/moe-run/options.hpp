// options.hpp — moe-run's command line: what the user asked for, parsed and checked, and the --help text.
// main.cpp parses argv into run_options, then runs the token-id, text or chat flow (generate.cpp, chat.cpp).
#pragma once

#include <moe/sampler.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct run_options {
    std::string model_path;
    std::string prompt;              // -p: text
    std::vector<int32_t> tokens;     // --tokens: ids (the logits hook and engine comparisons)
    bool have_tokens = false;
    long long n_predict = -2;        // -2: not given (128 for prompts, unlimited chat replies), -1: until the end
    bool print_ids = false;
    std::string logits_out;
    int threads = 0;
    long long n_ctx = 0;
    std::string backend = "auto";
    bool kv_f16 = false;             // --kv-type f16
    bool chat = false;
    std::string system_prompt;
    std::string chat_template;       // --chat-template NAME: overrides the model's template
    moe::sampler_params sampling;
    bool temp_given = false;
    bool no_progress = false;
};

// Parses argv. Returns 0 to go on, 1 after printing an error line, 2 after printing --help (exit 0).
int parse_options(int argc, char** argv, run_options& o);
