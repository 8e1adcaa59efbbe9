// moe_timing.hpp — llama-bench-style timings of a moe::session: pp (one p-token batch into an empty cache) and
// tg (n single-token evals from an empty cache), plus mean/stddev. Before: a loaded moe::model. After: the tables.
#pragma once

#include <moe/moe.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace moe_bench {

// A decimal integer in [lo, 2^30] from a command-line argument (both benchmark tools' option parser).
bool parse_int(const char* s, int64_t lo, int64_t& out);

// Tokens/s of each repetition, and their mean and sample standard deviation.
struct rate_stats {
    std::vector<double> samples;
    double mean() const;
    double stddev() const;
};

// Deterministic pseudo-random token ids in [1, n_vocab): the same sequence for every engine and repetition.
std::vector<int32_t> bench_tokens(int64_t n, int64_t n_vocab, uint32_t seed);

// One session, reused across repetitions (cleared before each, or cut back to `depth` cached tokens). n_ctx =
// depth + p + n, for each of n_seq sequences.
class moe_timer {
public:
    // Errors: those of session::create.
    static moe::result<moe_timer> create(const moe::model& m, int64_t p, int64_t n, int n_threads,
                                         const std::string& backend, int n_seq = 1,
                                         moe::dtype kv_type = moe::dtype::f32, int64_t depth = 0);
    // Seconds for one prompt batch of `tokens` into an empty cache (or one holding `depth` tokens).
    moe::result<double> time_pp(const std::vector<int32_t>& tokens);
    // Seconds for tokens.size() single-token evals into an empty cache (or one holding `depth` tokens).
    moe::result<double> time_tg(const std::vector<int32_t>& tokens);
    // Seconds for tokens.size() steps of eval_batch with one token for each of the n_seq sequences (all empty
    // first): aggregate tokens/s = n_seq * steps / seconds.
    moe::result<double> time_tg_batched(const std::vector<int32_t>& tokens);

private:
    moe_timer(moe::session s, std::vector<int32_t> depth) : session_(std::move(s)), depth_(std::move(depth)) {}
    // Empties the cache, or brings it to the depth tokens (evaluated once, then kept by truncating back to them).
    moe::status reset();
    moe::session session_;
    std::vector<int32_t> depth_;
};

}  // namespace moe_bench
