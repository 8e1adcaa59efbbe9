// perplexity.hpp — scoring a token stream the way llama.cpp's perplexity tool does, and the KL divergence between
// two models' next-token distributions over the same tokens (for judging quantization). Used by moe-perplexity.
#pragma once

#include <moe/config.hpp>
#include <moe/model.hpp>
#include <moe/status.hpp>

#include <cstdint>
#include <functional>
#include <vector>

MOE_BEGIN_NAMESPACE

struct perplexity_params {
    int64_t n_ctx = 512;     // chunk length; each chunk is evaluated from an empty context
    int n_threads = 0;
    int32_t bos = -1;        // >= 0: replaces the first token of every chunk (llama.cpp does this when the
                             // vocabulary adds BOS)
    int64_t max_chunks = -1; // -1: all whole chunks in the stream
    // Called after each chunk with (chunks done, chunks total, running perplexity); return false to stop.
    std::function<bool(int64_t, int64_t, double)> progress;
};

struct perplexity_result {
    double ppl = 0;          // exp(mean negative log-likelihood)
    double ppl_error = 0;    // standard error of ppl (delta method, as llama.cpp reports it)
    double mean_nll = 0;
    int64_t n_chunks = 0;
    int64_t n_scored = 0;    // tokens scored: the second half of every chunk
};

// Splits `tokens` into chunks of n_ctx and scores, in each chunk, the predictions of positions n_ctx/2 .. n_ctx-2
// for the next token (the second half, where every prediction has at least n_ctx/2 tokens of context).
// Errors: invalid_argument when there are fewer than 2 * n_ctx tokens.
MOE_API result<perplexity_result> perplexity(const model& m, const std::vector<int32_t>& tokens,
                                             const perplexity_params& params);

struct kl_divergence_result {
    perplexity_result base, test;
    double mean_kl = 0;       // mean over scored tokens of KL(base || test), in nats
    double kl_error = 0;      // standard error of the mean
    double max_kl = 0;
    double top1_agreement = 0;  // fraction of scored positions where both models' argmax agree
};

// Runs both models over the same chunks (same scoring positions) and compares their distributions.
MOE_API result<kl_divergence_result> kl_divergence(const model& base, const model& test,
                                                   const std::vector<int32_t>& tokens,
                                                   const perplexity_params& params);

// log-softmax helper shared with tests: log p(token) under logits (n_vocab floats), computed in double.
MOE_API double log_prob(const float* logits, int64_t n_vocab, int32_t token) noexcept;

MOE_END_NAMESPACE
