// stages_penalties.cpp — repetition, frequency and presence penalties over the last N accepted tokens (llama.cpp's).
// First stage of the standard chain; it sees accept()ed tokens through the sampler and reshapes logits for the cuts.
#include "sample/candidates.hpp"

#include <algorithm>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

// For each token seen `count` > 0 times in the window:
//   logit = logit > 0 ? logit / repeat : logit * repeat;   logit -= count * frequency + presence.
// The window is a ring buffer of the last last_n accepted tokens; all buffers are sized once, at construction.
class penalties_stage final : public sampler_stage {
public:
    penalties_stage(int32_t last_n, float repeat, float frequency, float presence)
        : repeat_(repeat), frequency_(frequency), presence_(presence), ring_(static_cast<size_t>(last_n)),
          sorted_(static_cast<size_t>(last_n)), counts_(static_cast<size_t>(last_n)) {}

    const char* name() const noexcept override { return "penalties"; }

    void accept(int32_t token) override {
        if (ring_.empty() || token < 0) return;
        ring_[head_] = token;
        head_ = (head_ + 1) % ring_.size();
        if (n_ < ring_.size()) ++n_;
    }

    void reset() override { head_ = n_ = 0; }

    void apply(candidate_set& c) override {
        if (n_ == 0 || c.items.empty()) return;
        if (repeat_ == 1.0f && frequency_ == 0.0f && presence_ == 0.0f) return;

        // Distinct tokens of the window with their counts, ascending by id.
        std::copy(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(n_), sorted_.begin());
        std::sort(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(n_));
        size_t n_distinct = 0;
        for (size_t i = 0; i < n_;) {
            size_t j = i;
            while (j < n_ && sorted_[j] == sorted_[i]) ++j;
            counts_[n_distinct++] = {sorted_[i], static_cast<int32_t>(j - i)};
            i = j;
        }

        // Fast path: the set is still the untouched vocabulary in id order, so a token's index is its id.
        bool by_index = true;
        for (size_t i = 0; i < n_distinct && by_index; ++i) {
            const size_t id = static_cast<size_t>(counts_[i].token);
            by_index = id < c.items.size() && c.items[id].id == counts_[i].token;
        }
        if (by_index) {
            for (size_t i = 0; i < n_distinct; ++i) penalize(c.items[static_cast<size_t>(counts_[i].token)], counts_[i].count);
        } else {
            const auto first = counts_.begin(), last = counts_.begin() + static_cast<std::ptrdiff_t>(n_distinct);
            for (token_candidate& t : c.items) {
                auto it = std::lower_bound(first, last, t.id, [](const token_count& a, int32_t id) { return a.token < id; });
                if (it != last && it->token == t.id) penalize(t, it->count);
            }
        }
        c.sorted = false;
    }

private:
    struct token_count {
        int32_t token;
        int32_t count;
    };

    void penalize(token_candidate& t, int32_t count) const {
        t.logit = t.logit > 0.0f ? t.logit / repeat_ : t.logit * repeat_;
        t.logit -= static_cast<float>(count) * frequency_ + presence_;
    }

    float repeat_, frequency_, presence_;
    std::vector<int32_t> ring_;
    size_t head_ = 0, n_ = 0;
    std::vector<int32_t> sorted_;      // scratch: the window, sorted
    std::vector<token_count> counts_;  // scratch: distinct tokens and counts
};

}  // namespace

std::unique_ptr<sampler_stage> make_penalties_stage(int32_t last_n, float repeat, float frequency, float presence) {
    return std::unique_ptr<sampler_stage>(new penalties_stage(last_n, repeat, frequency, presence));
}

}  // namespace detail
MOE_END_NAMESPACE
