// candidates.cpp — candidate_set ordering and softmax: the two operations every sampling stage leans on.
// The sampler fills a candidate_set from a logits row; the stages (stages_*.cpp) sort, cut and renormalise it.
#include "sample/candidates.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

MOE_BEGIN_NAMESPACE

void candidate_set::sort() {
    if (sorted) return;
    std::sort(items.begin(), items.end(), candidate_before);
    sorted = true;
}

void candidate_set::normalize() {
    sort();
    detail::softmax(*this);
}

namespace detail {

void softmax(candidate_set& c) {
    if (c.items.empty()) return;
    const float max_logit = c.items[argmax_index(c)].logit;
    if (max_logit == std::numeric_limits<float>::infinity()) {
        // exp(inf - inf) is NaN: let the +inf tokens share all the mass.
        size_t n_inf = 0;
        for (const token_candidate& t : c.items) n_inf += t.logit == max_logit ? 1 : 0;
        for (token_candidate& t : c.items) t.p = t.logit == max_logit ? 1.0f / static_cast<float>(n_inf) : 0.0f;
        return;
    }
    if (max_logit == -std::numeric_limits<float>::infinity()) {
        for (token_candidate& t : c.items) t.p = 0.0f;
        return;
    }
    // exp in float (every logit - max <= 0, so no overflow), the sum in double.
    double sum = 0.0;
    for (token_candidate& t : c.items) {
        t.p = std::exp(t.logit - max_logit);
        sum += static_cast<double>(t.p);
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (token_candidate& t : c.items) t.p *= inv;
}

size_t argmax_index(const candidate_set& c) {
    if (c.items.empty()) return 0;
    if (c.sorted) return 0;
    size_t best = 0;
    for (size_t i = 1; i < c.items.size(); ++i)
        if (candidate_before(c.items[i], c.items[best])) best = i;
    return best;
}

}  // namespace detail

MOE_END_NAMESPACE
