// perplexity.cpp — chunked perplexity and KL divergence over a token stream (llama.cpp's perplexity tool method).
// Before: tokens from the tokenizer (moe-perplexity). After: the numbers moe-perplexity prints.
#include <moe/perplexity.hpp>
#include <moe/session.hpp>

#include <algorithm>
#include <cmath>

MOE_BEGIN_NAMESPACE

double log_prob(const float* logits, int64_t n_vocab, int32_t token) noexcept {
    float mx = logits[0];
    for (int64_t v = 1; v < n_vocab; ++v) mx = std::max(mx, logits[v]);
    double sum = 0;
    for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(double(logits[v]) - mx);
    return double(logits[token]) - mx - std::log(sum);
}

namespace {

struct accumulator {
    double nll = 0, nll2 = 0;
    int64_t n = 0;
    void add(double x) { nll += x, nll2 += x * x, ++n; }
    perplexity_result finish(int64_t chunks) const {
        perplexity_result r;
        r.n_chunks = chunks, r.n_scored = n;
        if (n == 0) return r;
        r.mean_nll = nll / double(n);
        r.ppl = std::exp(r.mean_nll);
        const double var = nll2 / double(n) - r.mean_nll * r.mean_nll;
        r.ppl_error = n > 1 ? r.ppl * std::sqrt(std::max(var, 0.0) / double(n - 1)) : 0.0;
        return r;
    }
};

status check_params(const std::vector<int32_t>& tokens, const perplexity_params& p, int64_t& n_chunks) {
    if (p.n_ctx < 4) return status(errc::invalid_argument, "perplexity needs a context of at least 4 tokens");
    if (static_cast<int64_t>(tokens.size()) < 2 * p.n_ctx)
        return status(errc::invalid_argument, "perplexity needs at least " + std::to_string(2 * p.n_ctx) +
                                                  " tokens for a context of " + std::to_string(p.n_ctx) + "; got " +
                                                  std::to_string(tokens.size()));
    n_chunks = static_cast<int64_t>(tokens.size()) / p.n_ctx;
    if (p.max_chunks >= 0) n_chunks = std::min(n_chunks, p.max_chunks);
    return {};
}

result<session> open_session(const model& m, const perplexity_params& p) {
    session_params sp;
    sp.n_ctx = p.n_ctx;
    sp.n_threads = p.n_threads;
    return session::create(m, sp);
}

// Evaluates chunk c from an empty context, with the BOS substitution, and all logits.
status eval_chunk(session& s, const std::vector<int32_t>& tokens, int64_t c, const perplexity_params& p,
                  std::vector<int32_t>& chunk) {
    chunk.assign(tokens.begin() + c * p.n_ctx, tokens.begin() + (c + 1) * p.n_ctx);
    if (p.bos >= 0) chunk[0] = p.bos;
    s.clear();
    return s.eval(chunk.data(), chunk.size(), logits_mode::all);
}

}  // namespace

result<perplexity_result> perplexity(const model& m, const std::vector<int32_t>& tokens, const perplexity_params& p) {
    int64_t n_chunks = 0;
    MOE_TRY(check_params(tokens, p, n_chunks));
    result<session> s = open_session(m, p);
    if (!s) return s.error();
    accumulator acc;
    std::vector<int32_t> chunk;
    const int64_t first = p.n_ctx / 2;
    for (int64_t c = 0; c < n_chunks; ++c) {
        MOE_TRY(eval_chunk(*s, tokens, c, p, chunk));
        for (int64_t i = first; i < p.n_ctx - 1; ++i)
            acc.add(-log_prob(s->logits(i), s->n_vocab(), tokens[static_cast<size_t>(c * p.n_ctx + i + 1)]));
        if (p.progress && !p.progress(c + 1, n_chunks, acc.finish(c + 1).ppl))
            return status(errc::aborted, "perplexity was stopped");
    }
    return acc.finish(n_chunks);
}

result<kl_divergence_result> kl_divergence(const model& base, const model& test, const std::vector<int32_t>& tokens,
                                           const perplexity_params& p) {
    int64_t n_chunks = 0;
    MOE_TRY(check_params(tokens, p, n_chunks));
    if (base.info().n_vocab != test.info().n_vocab)
        return status(errc::invalid_argument, "the two models have different vocabularies (" +
                                                  std::to_string(base.info().n_vocab) + " vs " +
                                                  std::to_string(test.info().n_vocab) + " tokens)");
    result<session> sb = open_session(base, p);
    if (!sb) return sb.error();
    result<session> st = open_session(test, p);
    if (!st) return st.error();
    const int64_t V = base.info().n_vocab, first = p.n_ctx / 2;
    accumulator ab, at;
    double kl = 0, kl2 = 0, kl_max = 0;
    int64_t agree = 0, n = 0;
    std::vector<int32_t> chunk;
    std::vector<double> lp(static_cast<size_t>(V));
    for (int64_t c = 0; c < n_chunks; ++c) {
        MOE_TRY(eval_chunk(*sb, tokens, c, p, chunk));
        MOE_TRY(eval_chunk(*st, tokens, c, p, chunk));
        for (int64_t i = first; i < p.n_ctx - 1; ++i) {
            const float* lb = sb->logits(i);
            const float* lt = st->logits(i);
            const int32_t next = tokens[static_cast<size_t>(c * p.n_ctx + i + 1)];
            ab.add(-log_prob(lb, V, next));
            at.add(-log_prob(lt, V, next));
            // KL(base || test) = sum p_b (log p_b - log p_t), both log-softmaxes in double
            double mb = lb[0], mt = lt[0];
            int64_t ib = 0, it = 0;
            for (int64_t v = 1; v < V; ++v) {
                if (lb[v] > mb) mb = lb[v], ib = v;
                if (lt[v] > mt) mt = lt[v], it = v;
            }
            double zb = 0, zt = 0;
            for (int64_t v = 0; v < V; ++v) zb += std::exp(lb[v] - mb), zt += std::exp(lt[v] - mt);
            const double lzb = std::log(zb), lzt = std::log(zt);
            double d = 0;
            for (int64_t v = 0; v < V; ++v) {
                const double lpb = lb[v] - mb - lzb, lpt = lt[v] - mt - lzt;
                d += std::exp(lpb) * (lpb - lpt);
            }
            kl += d, kl2 += d * d, kl_max = std::max(kl_max, d);
            agree += ib == it;
            ++n;
        }
        if (p.progress && !p.progress(c + 1, n_chunks, at.finish(c + 1).ppl))
            return status(errc::aborted, "KL divergence was stopped");
    }
    kl_divergence_result r;
    r.base = ab.finish(n_chunks);
    r.test = at.finish(n_chunks);
    r.mean_kl = kl / double(n);
    const double var = kl2 / double(n) - r.mean_kl * r.mean_kl;
    r.kl_error = n > 1 ? std::sqrt(std::max(var, 0.0) / double(n - 1)) : 0.0;
    r.max_kl = kl_max;
    r.top1_agreement = double(agree) / double(n);
    return r;
}

MOE_END_NAMESPACE
