// sampler.hpp — picks the next token from a row of logits: a chain of stages (penalties, top-k, top-p, min-p,
// temperature, greedy) followed by a seeded random draw. Takes session::logits(); its token goes back to eval().
//
//   auto smp = moe::sampler::create({});                 // llama.cpp-like defaults (temp 0.8, top-k 40, ...)
//   int32_t tok = smp->sample(s->logits(), s->n_vocab()); // -1 when nothing can be sampled
//   smp->accept(tok);                                     // feeds the repetition-penalty window
//
//   moe::sampler c = moe::sampler::chain(/*seed*/ 42);    // or build a chain stage by stage
//   c.add_top_k(20); c.add_temperature(0.7f);             // each add_* returns a status (bad values: invalid_argument)
//
// Reproducibility: the draw uses std::mt19937_64 (its output sequence is fixed by the C++ standard) and our own
// conversion to a uniform double in [0, 1) (top 53 bits), never a std:: distribution, and candidates are in a fixed
// order (by id, or by logit descending then id ascending once sorted), so a seed gives the same tokens on every
// platform and standard library.
// A sampler is used from one thread at a time; after the first sample() it allocates nothing more.
#pragma once

#include <moe/config.hpp>
#include <moe/status.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

MOE_BEGIN_NAMESPACE

// One token still in the running: its id, its (possibly modified) logit and, once normalised, its probability.
struct token_candidate {
    int32_t id;
    float logit;
    float p;
};

// The working set the stages narrow down. It starts as every token in id order with NaN logits read as -inf.
struct MOE_API candidate_set {
    std::vector<token_candidate> items;
    bool sorted = false;    // items are ordered by logit descending, ties by id ascending
    int32_t selected = -1;  // a stage that decides the token itself (greedy) sets this; the draw is then skipped

    // Orders items by (logit desc, id asc) if not already so. Allocation-free.
    void sort();
    // Sets p = softmax(logit) over items (a +inf logit takes all the mass; all -inf gives all zeros). Sorts first.
    void normalize();
};

// A stage of a chain. Derive from it for a custom stage and pass it to sampler::add().
class MOE_API sampler_stage {
public:
    virtual ~sampler_stage() = default;
    virtual const char* name() const noexcept = 0;
    // Narrow or reshape the candidates. Must keep at least one candidate when it is given at least one, and clear
    // `sorted` after changing logits in a way that can reorder them.
    virtual void apply(candidate_set& c) = 0;
    virtual void accept(int32_t /*token*/) {}
    virtual void reset() {}
};

struct sampler_params {
    float temp = 0.8f;              // >= 0; 0 = greedy (only the argmax survives)
    int32_t top_k = 40;             // 0 = off
    float top_p = 0.95f;            // in (0, 1]; 1 = off
    float min_p = 0.05f;            // in [0, 1]; 0 = off
    float repeat_penalty = 1.0f;    // > 0; 1 = off. Divides positive logits, multiplies negative ones
    float frequency_penalty = 0.0f; // subtracted count times
    float presence_penalty = 0.0f;  // subtracted once if the token appears in the window
    int32_t penalty_last_n = 64;    // window of accepted tokens the penalties look at; 0 = off
    uint64_t seed = UINT64_MAX;     // sampler::random_seed: drawn from std::random_device (see sampler::seed())
};

namespace detail { struct sampler_impl; }

class MOE_API sampler {
public:
    static constexpr uint64_t random_seed = UINT64_MAX;

    // The standard chain, in llama.cpp's order: penalties -> top-k -> top-p -> min-p -> temperature -> draw.
    // Stages that are off are left out. Errors: invalid_argument (a value outside the ranges above, or NaN).
    static result<sampler> create(const sampler_params& params);
    // An empty chain (a plain softmax draw); add stages in the order they should run.
    static sampler chain(uint64_t seed = random_seed);

    // Each returns invalid_argument (and adds nothing) for a value outside its range.
    status add_penalties(int32_t last_n, float repeat, float frequency, float presence);  // last_n >= 0, repeat > 0
    status add_top_k(int32_t k);                                  // k >= 0; 0 keeps everything
    status add_top_p(float p, size_t min_keep = 1);               // p in (0, 1]
    status add_min_p(float p, size_t min_keep = 1);               // p in [0, 1]
    status add_temperature(float t);                              // t >= 0; 0 keeps only the argmax
    status add_greedy();                                          // decides the argmax of what is left; no draw
    status add(std::unique_ptr<sampler_stage> stage);             // invalid_argument if null

    // Runs the chain over logits[0, n_vocab) and draws a token. Does not accept() it. Returns -1 when logits is null,
    // n_vocab is not in [1, INT32_MAX], or no logit is finite or +inf (all -inf / NaN).
    int32_t sample(const float* logits, int64_t n_vocab) noexcept;
    // The candidates left after the last sample(), with normalised p, in the order the draw walked them: by (logit
    // desc, id asc) when a stage sorted them (top-k, top-p, temperature 0), by id otherwise.
    const candidate_set& candidates() const noexcept;

    void accept(int32_t token) noexcept;  // records a token for the stages that keep history (penalties)
    void reset() noexcept;                // forgets the history and restarts the random sequence from seed()
    uint64_t seed() const noexcept;       // the seed in use (the drawn one when created with random_seed)

    size_t n_stages() const noexcept;
    const char* stage_name(size_t i) const noexcept;  // nullptr when i is out of range

    sampler(sampler&&) noexcept;
    sampler& operator=(sampler&&) noexcept;
    ~sampler();

private:
    explicit sampler(std::unique_ptr<detail::sampler_impl> impl);
    std::unique_ptr<detail::sampler_impl> impl_;
};

MOE_END_NAMESPACE
