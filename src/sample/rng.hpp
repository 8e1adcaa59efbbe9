// rng.hpp — the sampler's random source: std::mt19937_64 plus our own [0, 1) conversion, identical on every platform.
// Owned by each sampler (sampler.cpp); the final draw turns one uniform number into a token.
#pragma once

#include <moe/config.hpp>

#include <cstdint>
#include <random>

MOE_BEGIN_NAMESPACE
namespace detail {

class sample_rng {
public:
    explicit sample_rng(uint64_t seed = 0) : engine_(seed) {}
    void seed(uint64_t s) { engine_.seed(s); }
    // Top 53 bits of one 64-bit output, scaled by 2^-53: a uniform double in [0, 1). No std:: distribution, whose
    // algorithm the standard leaves to each library.
    double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }

private:
    std::mt19937_64 engine_;  // the standard fixes its output sequence for a given seed
};

}  // namespace detail
MOE_END_NAMESPACE
