// generate.cpp — sampling loop with streaming detokenization, timings and Ctrl-C handling for moe-run.
// Before: a session whose last eval produced logits. After: text on stdout, statistics on stderr (main.cpp).
#include "generate.hpp"

#include <chrono>
#include <signal.h>

volatile std::sig_atomic_t g_interrupted = 0;

namespace {
void on_sigint(int) { g_interrupted = 1; }
}  // namespace

void install_interrupt_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked read of the next chat line returns, so Ctrl-C there quits
    sigaction(SIGINT, &sa, nullptr);
}

moe::status generate(moe::session& s, moe::sampler& smp, const moe::tokenizer* tok, int64_t max_tokens,
                     const std::function<void(int32_t)>& on_token, const std::function<void(const std::string&)>& on_text,
                     generation_stats& stats) {
    stats = {};
    g_interrupted = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<moe::detokenizer> detok;
    if (tok) detok.reset(new moe::detokenizer(*tok));
    moe::status st;
    while (max_tokens < 0 || stats.n_generated < max_tokens) {
        if (g_interrupted) {
            stats.interrupted = true;
            break;
        }
        const int32_t id = smp.sample(s.logits(), s.n_vocab());
        if (id < 0) {
            st = moe::status(moe::errc::internal, "the sampler found no token to pick (all logits are -inf or NaN)");
            break;
        }
        smp.accept(id);
        if (tok && tok->is_eog(id)) {
            stats.stopped_by_eog = true;
            break;
        }
        ++stats.n_generated;
        if (on_token) on_token(id);
        if (detok && on_text) on_text(detok->push(id));
        if (max_tokens >= 0 && stats.n_generated >= max_tokens) break;
        if (s.n_past() + 1 > s.n_ctx()) {
            stats.context_full = true;
            break;
        }
        st = s.eval(&id, 1);
        if (!st.ok()) break;
        ++stats.n_evaluated;
    }
    if (detok && on_text) on_text(detok->flush());
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
}
