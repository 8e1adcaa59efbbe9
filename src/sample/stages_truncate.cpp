// stages_truncate.cpp — the stages that cut the candidate list: top-k, top-p (nucleus) and min-p, as llama.cpp has them.
// They run after the penalties and before temperature in the standard chain; sampler.cpp draws from what is left.
#include "sample/candidates.hpp"

#include <algorithm>
#include <cmath>

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

// Keeps the k best candidates (k <= 0: all), sorted.
class top_k_stage final : public sampler_stage {
public:
    explicit top_k_stage(int32_t k) : k_(k) {}
    const char* name() const noexcept override { return "top-k"; }
    void apply(candidate_set& c) override {
        if (k_ <= 0 || c.items.empty()) return;
        const size_t k = std::min(static_cast<size_t>(k_), c.items.size());
        if (!c.sorted) {
            std::partial_sort(c.items.begin(), c.items.begin() + static_cast<std::ptrdiff_t>(k), c.items.end(),
                              candidate_before);
            c.sorted = true;
        }
        c.items.resize(k);
    }

private:
    int32_t k_;
};

// Keeps the smallest prefix (by probability, descending) whose probabilities add up to at least p, and at least
// min_keep candidates. p >= 1 keeps everything.
class top_p_stage final : public sampler_stage {
public:
    top_p_stage(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
    const char* name() const noexcept override { return "top-p"; }
    void apply(candidate_set& c) override {
        if (p_ >= 1.0f || c.items.empty()) return;
        softmax(c);  // probabilities do not depend on the order
        if (!c.sorted) narrow_unsorted(c);
        c.sort();
        cut_sorted(c);
    }

private:
    // Keeps the first candidates of a sorted set until their mass reaches p (and min_keep are kept).
    void cut_sorted(candidate_set& c) const {
        double cum = 0.0;
        for (size_t i = 0; i < c.items.size(); ++i) {
            cum += static_cast<double>(c.items[i].p);
            if (cum >= static_cast<double>(p_) && i + 1 >= min_keep_) {
                c.items.resize(i + 1);
                return;
            }
        }
    }

    // The nucleus is usually a small head of a large vocabulary. Without sorting everything: spread the candidates
    // over buckets by logit (bucket 0 holds the best), find the bucket where the running mass reaches p, and keep
    // only the candidates of that bucket and the better ones. What is dropped can never be in the nucleus.
    void narrow_unsorted(candidate_set& c) const {
        constexpr int n_buckets = 512;
        const float max_logit = c.items[argmax_index(c)].logit;
        if (!std::isfinite(max_logit)) return;
        float min_logit = max_logit;
        for (const token_candidate& t : c.items)
            if (std::isfinite(t.logit) && t.logit < min_logit) min_logit = t.logit;
        const float range = std::min(max_logit - min_logit, 64.0f);  // beyond e^-64 all share the last bucket
        if (!(range > 0.0f)) return;
        const float scale = static_cast<float>(n_buckets - 1) / range;
        const auto bucket = [&](float logit) {
            const float b = (max_logit - logit) * scale;  // -inf logits give +inf here
            return b >= static_cast<float>(n_buckets - 1) ? n_buckets - 1 : static_cast<int>(b);
        };
        double mass[n_buckets] = {};
        for (const token_candidate& t : c.items) mass[bucket(t.logit)] += static_cast<double>(t.p);
        int last = n_buckets - 1;
        double cum = 0.0;
        for (int b = 0; b < n_buckets; ++b) {
            cum += mass[b];
            if (cum >= static_cast<double>(p_)) {
                last = b;
                break;
            }
        }
        const auto head_end = std::partition(c.items.begin(), c.items.end(),
                                             [&](const token_candidate& t) { return bucket(t.logit) <= last; });
        const size_t head = static_cast<size_t>(head_end - c.items.begin());
        if (head >= min_keep_ && head < c.items.size()) {
            // Rounding could leave the head's mass a hair under p; then keep everything (the full sort decides).
            double head_mass = 0.0;
            for (size_t i = 0; i < head; ++i) head_mass += static_cast<double>(c.items[i].p);
            if (head_mass >= static_cast<double>(p_)) c.items.resize(head);
        }
    }

    float p_;
    size_t min_keep_;
};

// Keeps candidates whose probability is at least p times the best one's: logit >= max_logit + ln(p).
// At least min_keep candidates survive. p <= 0 keeps everything.
class min_p_stage final : public sampler_stage {
public:
    min_p_stage(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
    const char* name() const noexcept override { return "min-p"; }
    void apply(candidate_set& c) override {
        if (p_ <= 0.0f || c.items.empty()) return;
        const float max_logit = c.items[argmax_index(c)].logit;
        const float threshold = max_logit + std::log(p_);
        const auto below = [threshold](const token_candidate& t) { return t.logit < threshold; };
        size_t kept = 0;
        for (const token_candidate& t : c.items) kept += below(t) ? 0 : 1;
        if (kept >= min_keep_) {
            // Order-preserving compaction: sorted sets stay sorted, unsorted ones keep their id order.
            c.items.erase(std::remove_if(c.items.begin(), c.items.end(), below), c.items.end());
            return;
        }
        c.sort();
        c.items.resize(std::min(min_keep_, c.items.size()));
    }

private:
    float p_;
    size_t min_keep_;
};

}  // namespace

std::unique_ptr<sampler_stage> make_top_k_stage(int32_t k) { return std::unique_ptr<sampler_stage>(new top_k_stage(k)); }
std::unique_ptr<sampler_stage> make_top_p_stage(float p, size_t min_keep) {
    return std::unique_ptr<sampler_stage>(new top_p_stage(p, min_keep));
}
std::unique_ptr<sampler_stage> make_min_p_stage(float p, size_t min_keep) {
    return std::unique_ptr<sampler_stage>(new min_p_stage(p, min_keep));
}

}  // namespace detail
MOE_END_NAMESPACE
