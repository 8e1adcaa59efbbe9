// stages_select.cpp — temperature (scales logits; 0 keeps only the argmax) and greedy (decides the token outright).
// Temperature runs last before the draw in the standard chain; greedy makes sampler.cpp skip the random draw.
#include "sample/candidates.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

class temperature_stage final : public sampler_stage {
public:
    explicit temperature_stage(float t) : t_(t) {}
    const char* name() const noexcept override { return "temperature"; }
    void apply(candidate_set& c) override {
        if (c.items.empty()) return;
        if (t_ <= 0.0f) {
            const token_candidate best = c.items[argmax_index(c)];
            c.items.resize(1);
            c.items[0] = best;
            c.sorted = true;
            return;
        }
        // Dividing by a positive number keeps the order, so a sorted set stays sorted.
        for (token_candidate& t : c.items) t.logit /= t_;
    }

private:
    float t_;
};

class greedy_stage final : public sampler_stage {
public:
    const char* name() const noexcept override { return "greedy"; }
    void apply(candidate_set& c) override {
        if (c.items.empty()) return;
        c.selected = c.items[argmax_index(c)].id;
    }
};

}  // namespace

std::unique_ptr<sampler_stage> make_temperature_stage(float t) {
    return std::unique_ptr<sampler_stage>(new temperature_stage(t));
}
std::unique_ptr<sampler_stage> make_greedy_stage() { return std::unique_ptr<sampler_stage>(new greedy_stage()); }

}  // namespace detail
MOE_END_NAMESPACE
