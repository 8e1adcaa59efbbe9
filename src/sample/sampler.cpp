// sampler.cpp — the chain: fills the candidate set from a logits row, runs the stages, draws with the seeded RNG.
// Logits come from session::logits(); the stages live in stages_*.cpp; the chosen token goes back to session::eval().
#include "sample/candidates.hpp"
#include "sample/rng.hpp"

#include <moe/sampler.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

MOE_BEGIN_NAMESPACE
namespace detail {

struct sampler_impl {
    std::vector<std::unique_ptr<sampler_stage>> stages;
    candidate_set cands;
    sample_rng rng;
    uint64_t seed = 0;
};

namespace {

uint64_t resolve_seed(uint64_t seed) {
    if (seed != sampler::random_seed) return seed;
    uint64_t s = sampler::random_seed;
    try {
        std::random_device rd;
        while (s == sampler::random_seed) s = (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd());
    } catch (...) {
        s = 0x9e3779b97f4a7c15ull;  // no entropy source: a fixed seed is still a valid seed
    }
    return s;
}

status bad(const std::string& what) { return status(errc::invalid_argument, "sampler: " + what); }

bool finite(float v) { return std::isfinite(v); }

}  // namespace
}  // namespace detail

sampler::sampler(std::unique_ptr<detail::sampler_impl> impl) : impl_(std::move(impl)) {}
sampler::sampler(sampler&&) noexcept = default;
sampler& sampler::operator=(sampler&&) noexcept = default;
sampler::~sampler() = default;

sampler sampler::chain(uint64_t seed) {
    std::unique_ptr<detail::sampler_impl> impl(new detail::sampler_impl());
    impl->seed = detail::resolve_seed(seed);
    impl->rng.seed(impl->seed);
    return sampler(std::move(impl));
}

result<sampler> sampler::create(const sampler_params& p) {
    using detail::bad;
    if (!(p.temp >= 0.0f) || !detail::finite(p.temp)) return bad("temp must be a finite number >= 0");
    if (p.top_k < 0) return bad("top_k must be >= 0 (0 = off)");
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return bad("top_p must be in (0, 1]");
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return bad("min_p must be in [0, 1]");
    if (!(p.repeat_penalty > 0.0f) || !detail::finite(p.repeat_penalty)) return bad("repeat_penalty must be > 0");
    if (!detail::finite(p.frequency_penalty)) return bad("frequency_penalty must be finite");
    if (!detail::finite(p.presence_penalty)) return bad("presence_penalty must be finite");
    if (p.penalty_last_n < 0) return bad("penalty_last_n must be >= 0");

    sampler s = chain(p.seed);
    const bool penalties = p.penalty_last_n > 0 &&
                           (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
    if (penalties) MOE_TRY(s.add_penalties(p.penalty_last_n, p.repeat_penalty, p.frequency_penalty, p.presence_penalty));
    if (p.temp > 0.0f) {
        if (p.top_k > 0) MOE_TRY(s.add_top_k(p.top_k));
        if (p.top_p < 1.0f) MOE_TRY(s.add_top_p(p.top_p));
        if (p.min_p > 0.0f) MOE_TRY(s.add_min_p(p.min_p));
    }
    // Temperature 0 keeps only the argmax; the cuts before it could not change that, so they are left out.
    MOE_TRY(s.add_temperature(p.temp));
    return s;
}

status sampler::add_penalties(int32_t last_n, float repeat, float frequency, float presence) {
    using detail::bad;
    if (last_n < 0) return bad("penalty window must be >= 0");
    if (!(repeat > 0.0f) || !detail::finite(repeat)) return bad("repeat penalty must be a finite number > 0");
    if (!detail::finite(frequency) || !detail::finite(presence)) return bad("frequency/presence penalties must be finite");
    return add(detail::make_penalties_stage(last_n, repeat, frequency, presence));
}

status sampler::add_top_k(int32_t k) {
    if (k < 0) return detail::bad("top-k must be >= 0 (0 = off)");
    return add(detail::make_top_k_stage(k));
}

status sampler::add_top_p(float p, size_t min_keep) {
    if (!(p > 0.0f && p <= 1.0f)) return detail::bad("top-p must be in (0, 1]");
    return add(detail::make_top_p_stage(p, min_keep));
}

status sampler::add_min_p(float p, size_t min_keep) {
    if (!(p >= 0.0f && p <= 1.0f)) return detail::bad("min-p must be in [0, 1]");
    return add(detail::make_min_p_stage(p, min_keep));
}

status sampler::add_temperature(float t) {
    if (!(t >= 0.0f) || !detail::finite(t)) return detail::bad("temperature must be a finite number >= 0");
    return add(detail::make_temperature_stage(t));
}

status sampler::add_greedy() { return add(detail::make_greedy_stage()); }

status sampler::add(std::unique_ptr<sampler_stage> stage) {
    if (!stage) return detail::bad("null stage");
    try {
        impl_->stages.push_back(std::move(stage));
    } catch (...) {
        return status(errc::out_of_memory, "sampler: cannot add a stage");
    }
    return ok_status();
}

int32_t sampler::sample(const float* logits, int64_t n_vocab) noexcept {
    if (logits == nullptr || n_vocab < 1 || n_vocab > std::numeric_limits<int32_t>::max()) return -1;
    candidate_set& c = impl_->cands;
    try {
        const float neg_inf = -std::numeric_limits<float>::infinity();
        c.items.resize(static_cast<size_t>(n_vocab));  // allocates on the first call only
        c.sorted = false;
        c.selected = -1;
        bool any = false;
        for (int64_t i = 0; i < n_vocab; ++i) {
            const float l = std::isnan(logits[i]) ? neg_inf : logits[i];
            c.items[static_cast<size_t>(i)] = {static_cast<int32_t>(i), l, 0.0f};
            any = any || l != neg_inf;
        }
        if (!any) {
            c.items.clear();
            return -1;
        }
        for (const auto& st : impl_->stages) {
            st->apply(c);
            if (c.items.empty()) return -1;  // only a faulty custom stage gets here
        }
        detail::softmax(c);
        if (c.selected >= 0) return c.selected;

        // Inverse-CDF draw over the candidates in the order the stages left them: sorted by (logit desc, id asc)
        // when a cut sorted them, by id otherwise. Either order is fixed, so the draw is reproducible.
        const double u = impl_->rng.uniform();
        double cum = 0.0;
        for (const token_candidate& t : c.items) {
            cum += static_cast<double>(t.p);
            if (u < cum) return t.id;
        }
        for (auto it = c.items.rbegin(); it != c.items.rend(); ++it)  // u landed in the rounding gap
            if (it->p > 0.0f) return it->id;
        return c.items.front().id;
    } catch (...) {
        c.items.clear();
        return -1;
    }
}

const candidate_set& sampler::candidates() const noexcept { return impl_->cands; }

void sampler::accept(int32_t token) noexcept {
    for (const auto& st : impl_->stages) {
        try {
            st->accept(token);
        } catch (...) {
        }
    }
}

void sampler::reset() noexcept {
    for (const auto& st : impl_->stages) {
        try {
            st->reset();
        } catch (...) {
        }
    }
    impl_->rng.seed(impl_->seed);
}

uint64_t sampler::seed() const noexcept { return impl_->seed; }
size_t sampler::n_stages() const noexcept { return impl_->stages.size(); }
const char* sampler::stage_name(size_t i) const noexcept {
    return i < impl_->stages.size() ? impl_->stages[i]->name() : nullptr;
}

MOE_END_NAMESPACE
