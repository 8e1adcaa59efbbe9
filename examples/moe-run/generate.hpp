// generate.hpp — the decode loop shared by moe-run's flows: sample, stream text, stop at end-of-generation,
// the token budget, a full context or Ctrl-C. main.cpp and chat.cpp call it after evaluating their prompts.
#pragma once

#include <moe/moe.hpp>
#include <moe/sampler.hpp>
#include <moe/tokenizer.hpp>

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

// Set by the SIGINT handler; the loop checks it between tokens.
extern volatile std::sig_atomic_t g_interrupted;
void install_interrupt_handler();

struct generation_stats {
    int64_t n_generated = 0;
    int64_t n_evaluated = 0;  // generated tokens now in the KV cache (the last one may not be)
    double seconds = 0;
    bool stopped_by_eog = false;
    bool interrupted = false;
    bool context_full = false;
};

// Generates from the session's current logits until one of the stop conditions. Each sampled token is accepted
// by the sampler, evaluated, passed to on_token (ids) and, when a tokenizer is given, streamed as text to
// on_text. max_tokens < 0: no budget. Stops before evaluating an end-of-generation token.
moe::status generate(moe::session& s, moe::sampler& smp, const moe::tokenizer* tok, int64_t max_tokens,
                     const std::function<void(int32_t)>& on_token, const std::function<void(const std::string&)>& on_text,
                     generation_stats& stats);
