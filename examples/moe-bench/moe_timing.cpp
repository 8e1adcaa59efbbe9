// moe_timing.cpp — runs the pp and tg measurements on a moe::session with a steady clock around eval().
// Before: moe-bench / bench_vs_llama option parsing and model load. After: rate_stats fed to the printers.
#include "moe_timing.hpp"

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace moe_bench {

bool parse_int(const char* s, int64_t lo, int64_t& out) {
    if (s == nullptr || *s == '\0') return false;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > (1LL << 30)) return false;
    out = static_cast<int64_t>(v);
    return true;
}


double rate_stats::mean() const {
    if (samples.empty()) return 0;
    double s = 0;
    for (double v : samples) s += v;
    return s / static_cast<double>(samples.size());
}

double rate_stats::stddev() const {
    if (samples.size() < 2) return 0;
    const double m = mean();
    double s = 0;
    for (double v : samples) s += (v - m) * (v - m);
    return std::sqrt(s / static_cast<double>(samples.size() - 1));
}

std::vector<int32_t> bench_tokens(int64_t n, int64_t n_vocab, uint32_t seed) {
    std::vector<int32_t> t(static_cast<size_t>(n > 0 ? n : 0));
    uint32_t x = seed ? seed : 1u;
    const uint32_t range = n_vocab > 1 ? static_cast<uint32_t>(n_vocab - 1) : 1u;
    for (int32_t& v : t) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;  // xorshift32
        v = static_cast<int32_t>(1 + x % range);
    }
    return t;
}

moe::result<moe_timer> moe_timer::create(const moe::model& m, int64_t p, int64_t n, int n_threads,
                                         const std::string& backend, int n_seq, moe::dtype kv_type,
                                         int64_t depth) {
    if (depth > 0 && n_seq > 1) return moe::status(moe::errc::invalid_argument, "a depth with several sequences");
    moe::session_params sp;
    sp.kv_type = kv_type;
    sp.n_ctx = depth + p + n;
    sp.n_seq = n_seq;
    sp.n_threads = n_threads;
    sp.backend = backend;
    sp.max_batch = p > 512 ? p : 512;  // the whole prompt as one batch, as llama-bench's n_ubatch >= p
    moe::result<moe::session> s = moe::session::create(m, sp);
    if (!s) return s.error();
    return moe_timer(std::move(*s), bench_tokens(depth, m.info().n_vocab, 999));
}

moe::status moe_timer::reset() {
    const auto d = static_cast<int64_t>(depth_.size());
    if (d > 0 && session_.n_past() >= d) return session_.truncate(d);
    session_.clear();
    return d > 0 ? session_.eval(depth_.data(), depth_.size(), moe::logits_mode::last) : moe::status{};
}

moe::result<double> moe_timer::time_pp(const std::vector<int32_t>& tokens) {
    MOE_TRY(reset());
    const auto t0 = std::chrono::steady_clock::now();
    moe::status st = session_.eval(tokens.data(), tokens.size(), moe::logits_mode::last);
    const auto t1 = std::chrono::steady_clock::now();
    if (!st.ok()) return st;
    return std::chrono::duration<double>(t1 - t0).count();
}

moe::result<double> moe_timer::time_tg(const std::vector<int32_t>& tokens) {
    MOE_TRY(reset());
    const auto t0 = std::chrono::steady_clock::now();
    for (const int32_t& tok : tokens) {
        moe::status st = session_.eval(&tok, 1, moe::logits_mode::last);
        if (!st.ok()) return st;
    }
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count();
}

moe::result<double> moe_timer::time_tg_batched(const std::vector<int32_t>& tokens) {
    session_.clear();
    const int S = session_.n_seq();
    std::vector<int32_t> tok(static_cast<size_t>(S)), seq(static_cast<size_t>(S));
    for (int q = 0; q < S; ++q) seq[static_cast<size_t>(q)] = q;
    const int64_t V = session_.n_vocab();
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < tokens.size(); ++i) {
        for (int q = 0; q < S; ++q)  // a different token per sequence, so each one routes its own way
            tok[static_cast<size_t>(q)] = static_cast<int32_t>(1 + (tokens[i] + 7919 * q) % (V - 1));
        moe::status st = session_.eval_batch(tok.data(), seq.data(), tok.size(), moe::logits_mode::last);
        if (!st.ok()) return st;
    }
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count();
}

}  // namespace moe_bench
