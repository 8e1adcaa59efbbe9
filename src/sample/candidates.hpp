// candidates.hpp — internal helpers over candidate_set: the total order every stage sorts by, argmax, stage factories.
// Used by the stages in src/sample/stages_*.cpp and by sampler.cpp, which owns the chain and the final draw.
#pragma once

#include <moe/sampler.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

MOE_BEGIN_NAMESPACE

// Logit descending, then id ascending: a total order (NaN never reaches a candidate), so sorting is deterministic.
inline bool candidate_before(const token_candidate& a, const token_candidate& b) noexcept {
    if (a.logit != b.logit) return a.logit > b.logit;
    return a.id < b.id;
}

namespace detail {

// Index of the best candidate under candidate_before (0 for an empty set).
size_t argmax_index(const candidate_set& c);
// candidate_set::normalize() without the sort: p = softmax(logit), items stay in their order.
void softmax(candidate_set& c);

// Stage factories. Arguments are validated by the sampler before these are called.
std::unique_ptr<sampler_stage> make_top_k_stage(int32_t k);
std::unique_ptr<sampler_stage> make_top_p_stage(float p, size_t min_keep);
std::unique_ptr<sampler_stage> make_min_p_stage(float p, size_t min_keep);
std::unique_ptr<sampler_stage> make_temperature_stage(float t);
std::unique_ptr<sampler_stage> make_greedy_stage();
std::unique_ptr<sampler_stage> make_penalties_stage(int32_t last_n, float repeat, float frequency, float presence);

}  // namespace detail

MOE_END_NAMESPACE
