// test_sampler.cpp — checks include/moe/sampler.hpp: each stage against hand-computed distributions, penalties over
// the window, seeded reproducibility, validation and edge cases (NaN, -inf, n_vocab 1). Logits would come from a session.
#include <moe/sampler.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace moe;

namespace {

const float inf = std::numeric_limits<float>::infinity();
const float nan_f = std::numeric_limits<float>::quiet_NaN();

// Logits whose softmax is exactly `probs` (up to float rounding).
std::vector<float> log_of(const std::vector<double>& probs) {
    std::vector<float> l;
    for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
    return l;
}

// p of token `id` among the candidates left by the last sample(); 0 when it was cut.
double p_of(const sampler& s, int32_t id) {
    for (const token_candidate& c : s.candidates().items)
        if (c.id == id) return c.p;
    return 0.0;
}

const token_candidate* find(const sampler& s, int32_t id) {
    for (const token_candidate& c : s.candidates().items)
        if (c.id == id) return &c;
    return nullptr;
}

std::vector<double> frequencies(sampler& s, const std::vector<float>& logits, int n) {
    std::vector<double> f(logits.size(), 0.0);
    for (int i = 0; i < n; ++i) {
        const int32_t t = s.sample(logits.data(), static_cast<int64_t>(logits.size()));
        REQUIRE(t >= 0);
        f[static_cast<size_t>(t)] += 1.0 / n;
    }
    return f;
}

}  // namespace

TEST_CASE("sampler: the RNG is the standard's mt19937_64") {
    // [rand.predef]: the 10000th output of a default-constructed mt19937_64 is 9981545732273789042.
    std::mt19937_64 e;
    e.discard(9999);
    CHECK(e() == 9981545732273789042ull);
}

TEST_CASE("sampler: an empty chain draws from softmax(logits)") {
    const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
    const std::vector<float> logits = log_of(probs);
    sampler s = sampler::chain(1);
    REQUIRE(s.sample(logits.data(), 4) >= 0);
    REQUIRE(s.candidates().items.size() == 4);
    CHECK(!s.candidates().sorted);           // no stage sorted them: the draw walks them in id order
    CHECK(s.candidates().items[0].id == 0);
    for (int32_t id = 0; id < 4; ++id) CHECK(p_of(s, id) == doctest::Approx(probs[static_cast<size_t>(id)]).epsilon(1e-6));

    // 100k draws with a fixed seed: frequencies within 0.01 of the probabilities (sd is about 0.0016).
    const std::vector<double> f = frequencies(s, logits, 100000);
    for (size_t i = 0; i < 4; ++i) CHECK(std::fabs(f[i] - probs[i]) < 0.01);
}

TEST_CASE("sampler: top-k keeps the k best, renormalised") {
    const std::vector<float> logits = {1, 2, 3, 4, 5};
    sampler s = sampler::chain(7);
    REQUIRE(s.add_top_k(2).ok());
    const int32_t t = s.sample(logits.data(), 5);
    CHECK((t == 4 || t == 3));
    REQUIRE(s.candidates().items.size() == 2);
    // softmax over {5, 4}: e^5 / (e^5 + e^4) = 1 / (1 + e^-1)
    const double p4 = 1.0 / (1.0 + std::exp(-1.0));
    CHECK(p_of(s, 4) == doctest::Approx(p4).epsilon(1e-6));
    CHECK(p_of(s, 3) == doctest::Approx(1.0 - p4).epsilon(1e-6));

    SUBCASE("k = 0 keeps everything") {
        sampler all = sampler::chain(7);
        REQUIRE(all.add_top_k(0).ok());
        REQUIRE(all.sample(logits.data(), 5) >= 0);
        CHECK(all.candidates().items.size() == 5);
    }
    SUBCASE("k larger than the vocabulary keeps everything") {
        sampler big = sampler::chain(7);
        REQUIRE(big.add_top_k(100).ok());
        REQUIRE(big.sample(logits.data(), 5) >= 0);
        CHECK(big.candidates().items.size() == 5);
    }
}

TEST_CASE("sampler: top-p keeps the smallest prefix reaching p") {
    // probabilities 0.5, 0.2, 0.15, 0.1, 0.05; cumulative 0.5, 0.7, 0.85 -> p = 0.8 keeps ids 0, 1, 2.
    const std::vector<float> logits = log_of({0.5, 0.2, 0.15, 0.1, 0.05});
    sampler s = sampler::chain(3);
    REQUIRE(s.add_top_p(0.8f).ok());
    REQUIRE(s.sample(logits.data(), 5) >= 0);
    REQUIRE(s.candidates().items.size() == 3);
    CHECK(p_of(s, 0) == doctest::Approx(0.5 / 0.85).epsilon(1e-5));
    CHECK(p_of(s, 1) == doctest::Approx(0.2 / 0.85).epsilon(1e-5));
    CHECK(p_of(s, 2) == doctest::Approx(0.15 / 0.85).epsilon(1e-5));
    CHECK(p_of(s, 3) == 0.0);

    SUBCASE("min_keep overrides a tiny p") {
        sampler k = sampler::chain(3);
        REQUIRE(k.add_top_p(0.01f, 2).ok());
        REQUIRE(k.sample(logits.data(), 5) >= 0);
        CHECK(k.candidates().items.size() == 2);
    }
    SUBCASE("p = 1 keeps everything") {
        sampler k = sampler::chain(3);
        REQUIRE(k.add_top_p(1.0f).ok());
        REQUIRE(k.sample(logits.data(), 5) >= 0);
        CHECK(k.candidates().items.size() == 5);
    }
}

TEST_CASE("sampler: top-p over a large vocabulary matches a full sort") {
    // The stage sorts only a growing head of the list; the nucleus must be the one a full sort gives.
    std::vector<float> logits(50000);
    std::mt19937 gen(77);
    for (float& l : logits) l = static_cast<float>(gen() % 100000) / 10000.0f;
    for (float p : {0.05f, 0.5f, 0.9f, 0.999f}) {
        CAPTURE(p);
        sampler s = sampler::chain(1);
        REQUIRE(s.add_top_p(p).ok());
        REQUIRE(s.sample(logits.data(), 50000) >= 0);
        // Reference: sort all, accumulate softmax until >= p.
        std::vector<token_candidate> all;
        double z = 0;
        const float mx = *std::max_element(logits.begin(), logits.end());
        for (int32_t i = 0; i < 50000; ++i) z += std::exp(static_cast<double>(logits[static_cast<size_t>(i)] - mx));
        for (int32_t i = 0; i < 50000; ++i) all.push_back({i, logits[static_cast<size_t>(i)], 0.0f});
        std::sort(all.begin(), all.end(), [](const token_candidate& a, const token_candidate& b) {
            return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
        });
        double cum = 0;
        size_t keep = 0;
        while (keep < all.size()) {
            cum += std::exp(static_cast<double>(all[keep].logit - mx)) / z;
            ++keep;
            if (cum >= p) break;
        }
        const std::vector<token_candidate>& got = s.candidates().items;
        CHECK(s.candidates().sorted);
        // Float rounding may move the boundary by a token.
        CHECK(got.size() + 1 >= keep);
        CHECK(got.size() <= keep + 1);
        for (size_t i = 0; i < std::min(got.size(), keep); ++i) CHECK(got[i].id == all[i].id);
    }
}

TEST_CASE("sampler: min-p keeps tokens with p >= min_p * p_max") {
    // p_max = 0.5; min_p 0.25 -> threshold 0.125: keeps 0.5, 0.2, 0.15; drops 0.1, 0.05.
    const std::vector<float> logits = log_of({0.5, 0.2, 0.15, 0.1, 0.05});
    sampler s = sampler::chain(3);
    REQUIRE(s.add_min_p(0.25f).ok());
    REQUIRE(s.sample(logits.data(), 5) >= 0);
    REQUIRE(s.candidates().items.size() == 3);
    CHECK(p_of(s, 0) == doctest::Approx(0.5 / 0.85).epsilon(1e-5));
    CHECK(p_of(s, 2) == doctest::Approx(0.15 / 0.85).epsilon(1e-5));
    CHECK(find(s, 4) == nullptr);

    SUBCASE("min-p 1 keeps only the best") {
        sampler k = sampler::chain(3);
        REQUIRE(k.add_min_p(1.0f).ok());
        CHECK(k.sample(logits.data(), 5) == 0);
        CHECK(k.candidates().items.size() == 1);
    }
}

TEST_CASE("sampler: temperature scales logits before the softmax") {
    const std::vector<float> logits = {1, 2, 3, 4, 5};
    sampler s = sampler::chain(5);
    REQUIRE(s.add_temperature(2.0f).ok());
    REQUIRE(s.sample(logits.data(), 5) >= 0);
    double z = 0;
    for (int i = 1; i <= 5; ++i) z += std::exp(i / 2.0);
    for (int32_t id = 0; id < 5; ++id) CHECK(p_of(s, id) == doctest::Approx(std::exp((id + 1) / 2.0) / z).epsilon(1e-6));

    SUBCASE("temperature 0 is argmax, ties to the lower id") {
        const std::vector<float> tie = {1, 5, 2, 5, 0};
        sampler g = sampler::chain(5);
        REQUIRE(g.add_temperature(0.0f).ok());
        for (int i = 0; i < 10; ++i) CHECK(g.sample(tie.data(), 5) == 1);
        CHECK(g.candidates().items.size() == 1);
        CHECK(g.candidates().items[0].p == 1.0f);
    }
    SUBCASE("a low temperature sharpens, a high one flattens") {
        sampler lo = sampler::chain(5), hi = sampler::chain(5);
        REQUIRE(lo.add_temperature(0.5f).ok());
        REQUIRE(hi.add_temperature(10.0f).ok());
        REQUIRE(lo.sample(logits.data(), 5) >= 0);
        REQUIRE(hi.sample(logits.data(), 5) >= 0);
        CHECK(p_of(lo, 4) > p_of(s, 4));
        CHECK(p_of(hi, 4) < p_of(s, 4));
    }
}

TEST_CASE("sampler: greedy stage and temp 0 in the standard chain") {
    const std::vector<float> logits = {0.5f, 3.0f, 2.9f, -1.0f};
    sampler g = sampler::chain(9);
    REQUIRE(g.add_greedy().ok());
    for (int i = 0; i < 20; ++i) CHECK(g.sample(logits.data(), 4) == 1);

    sampler_params p;
    p.temp = 0.0f;
    auto s = sampler::create(p);
    REQUIRE(s.ok());
    for (int i = 0; i < 20; ++i) CHECK(s->sample(logits.data(), 4) == 1);
}

TEST_CASE("sampler: repetition, frequency and presence penalties over the window") {
    const std::vector<float> logits = {2.0f, -2.0f, 1.0f, 0.5f, 3.0f};
    sampler s = sampler::chain(11);
    REQUIRE(s.add_penalties(3, 2.0f, 0.5f, 0.25f).ok());
    s.accept(0);
    s.accept(1);
    s.accept(0);  // window {0, 1, 0}: token 0 twice, token 1 once
    REQUIRE(s.sample(logits.data(), 5) >= 0);
    // token 0: 2 / 2 = 1, then 1 - 2 * 0.5 - 0.25 = -0.25; token 1: -2 * 2 = -4, then -4 - 0.5 - 0.25 = -4.75
    CHECK(find(s, 0)->logit == doctest::Approx(-0.25));
    CHECK(find(s, 1)->logit == doctest::Approx(-4.75));
    CHECK(find(s, 2)->logit == 1.0f);
    CHECK(find(s, 3)->logit == 0.5f);
    CHECK(find(s, 4)->logit == 3.0f);
    // The resulting distribution, by hand.
    const double z = std::exp(-0.25) + std::exp(-4.75) + std::exp(1.0) + std::exp(0.5) + std::exp(3.0);
    CHECK(p_of(s, 0) == doctest::Approx(std::exp(-0.25) / z).epsilon(1e-6));
    CHECK(p_of(s, 4) == doctest::Approx(std::exp(3.0) / z).epsilon(1e-6));

    SUBCASE("the window slides: only the last N tokens count") {
        s.accept(2);
        s.accept(2);  // window {0, 2, 2}: token 1 has left it, token 0 once, token 2 twice
        REQUIRE(s.sample(logits.data(), 5) >= 0);
        CHECK(find(s, 1)->logit == -2.0f);
        CHECK(find(s, 0)->logit == doctest::Approx(2.0 / 2 - 0.5 - 0.25));
        CHECK(find(s, 2)->logit == doctest::Approx(1.0 / 2 - 1.0 - 0.25));
    }
    SUBCASE("reset forgets the window") {
        s.reset();
        REQUIRE(s.sample(logits.data(), 5) >= 0);
        for (int32_t id = 0; id < 5; ++id) CHECK(find(s, id)->logit == logits[static_cast<size_t>(id)]);
    }
    SUBCASE("penalties after a cut find tokens by id") {
        sampler c = sampler::chain(11);
        REQUIRE(c.add_top_k(3).ok());  // keeps 4, 0, 2 sorted by logit: ids no longer equal indices
        REQUIRE(c.add_penalties(4, 2.0f, 0.0f, 0.0f).ok());
        c.accept(4);
        c.accept(2);
        c.accept(1);  // cut by top-k: nothing to penalise
        REQUIRE(c.sample(logits.data(), 5) >= 0);
        REQUIRE(c.candidates().items.size() == 3);
        CHECK(find(c, 4)->logit == 1.5f);
        CHECK(find(c, 2)->logit == 0.5f);
        CHECK(find(c, 0)->logit == 2.0f);
    }
    SUBCASE("the standard chain penalises through sampler_params") {
        sampler_params p;
        p.temp = 0.0f;
        p.repeat_penalty = 10.0f;
        p.penalty_last_n = 1;
        auto g = sampler::create(p);
        REQUIRE(g.ok());
        CHECK(g->sample(logits.data(), 5) == 4);
        g->accept(4);  // 3 / 10 = 0.3 now loses to token 0 (2.0)
        CHECK(g->sample(logits.data(), 5) == 0);
        g->accept(0);  // window of 1: token 4 is free again
        CHECK(g->sample(logits.data(), 5) == 4);
    }
}

TEST_CASE("sampler: a seed makes runs reproducible") {
    std::vector<float> logits(1000);
    std::mt19937 gen(123);
    for (float& l : logits) l = static_cast<float>(gen() % 1000) / 100.0f;
    sampler_params p;
    p.temp = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 42;
    auto a = sampler::create(p);
    auto b = sampler::create(p);
    p.seed = 43;
    auto c = sampler::create(p);
    REQUIRE((a.ok() && b.ok() && c.ok()));
    CHECK(a->seed() == 42);
    std::vector<int32_t> ta, tb, tc;
    for (int i = 0; i < 200; ++i) {
        ta.push_back(a->sample(logits.data(), 1000));
        tb.push_back(b->sample(logits.data(), 1000));
        tc.push_back(c->sample(logits.data(), 1000));
    }
    CHECK(ta == tb);
    CHECK(ta != tc);

    // reset() restarts the random sequence.
    a->reset();
    std::vector<int32_t> again;
    for (int i = 0; i < 200; ++i) again.push_back(a->sample(logits.data(), 1000));
    CHECK(again == ta);

    // The draw itself is pinned to its definition: mt19937_64(42), top 53 bits / 2^53, inverse CDF over the
    // candidates in id order (an empty chain sorts nothing); logits {0, 1, 2, 3}.
    const std::vector<float> small = {0.0f, 1.0f, 2.0f, 3.0f};
    sampler d = sampler::chain(42);
    std::vector<int32_t> got;
    for (int i = 0; i < 8; ++i) got.push_back(d.sample(small.data(), 4));
    std::mt19937_64 ref(42);
    double z = 0;
    for (float l : small) z += std::exp(static_cast<double>(l));
    std::vector<int32_t> want;
    for (int i = 0; i < 8; ++i) {
        const double u = static_cast<double>(ref() >> 11) / 9007199254740992.0;
        double cum = 0;
        int32_t pick = 0;
        for (int32_t id = 0; id < 4; ++id) {
            cum += std::exp(static_cast<double>(small[static_cast<size_t>(id)])) / z;
            if (u < cum) {
                pick = id;
                break;
            }
        }
        want.push_back(pick);
    }
    CHECK(got == want);
}

TEST_CASE("sampler: the standard chain's frequencies match the hand-computed distribution") {
    // top-k 3 of {0.4, 0.3, 0.2, 0.1} -> {4/9, 3/9, 2/9}; top-p and min-p off; temperature 1.
    const std::vector<float> logits = log_of({0.4, 0.3, 0.2, 0.1});
    sampler_params p;
    p.temp = 1.0f;
    p.top_k = 3;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 2024;
    auto s = sampler::create(p);
    REQUIRE(s.ok());
    CHECK(s->n_stages() == 2);  // top-k, temperature
    const std::vector<double> f = frequencies(*s, logits, 100000);
    CHECK(std::fabs(f[0] - 4.0 / 9) < 0.01);
    CHECK(std::fabs(f[1] - 3.0 / 9) < 0.01);
    CHECK(std::fabs(f[2] - 2.0 / 9) < 0.01);
    CHECK(f[3] == 0.0);

    SUBCASE("default params build penalties-free top-k, top-p, min-p, temperature") {
        auto d = sampler::create({});
        REQUIRE(d.ok());
        REQUIRE(d->n_stages() == 4);
        CHECK(std::string(d->stage_name(0)) == "top-k");
        CHECK(std::string(d->stage_name(1)) == "top-p");
        CHECK(std::string(d->stage_name(2)) == "min-p");
        CHECK(std::string(d->stage_name(3)) == "temperature");
        CHECK(d->stage_name(4) == nullptr);
    }
}

TEST_CASE("sampler: parameters are validated") {
    auto bad = [](sampler_params p) {
        auto s = sampler::create(p);
        return !s.ok() && s.error().code() == errc::invalid_argument;
    };
    sampler_params p;
    p.temp = -0.1f;
    CHECK(bad(p));
    p = {};
    p.temp = nan_f;
    CHECK(bad(p));
    p = {};
    p.top_p = 0.0f;
    CHECK(bad(p));
    p = {};
    p.top_p = 1.5f;
    CHECK(bad(p));
    p = {};
    p.top_k = -1;
    CHECK(bad(p));
    p = {};
    p.min_p = 1.5f;
    CHECK(bad(p));
    p = {};
    p.repeat_penalty = 0.0f;
    CHECK(bad(p));
    p = {};
    p.penalty_last_n = -1;
    CHECK(bad(p));
    p = {};
    p.presence_penalty = inf;
    CHECK(bad(p));

    sampler s = sampler::chain(1);
    CHECK(s.add_top_p(-1.0f).code() == errc::invalid_argument);
    CHECK(s.add_temperature(-1.0f).code() == errc::invalid_argument);
    CHECK(s.add(nullptr).code() == errc::invalid_argument);
    CHECK(s.n_stages() == 0);
}

TEST_CASE("sampler: edge cases") {
    auto d = sampler::create({});
    REQUIRE(d.ok());

    SUBCASE("all -inf except one") {
        const std::vector<float> l = {-inf, -inf, 0.3f, -inf};
        for (int i = 0; i < 10; ++i) CHECK(d->sample(l.data(), 4) == 2);
    }
    SUBCASE("n_vocab 1") {
        const float l = -5.0f;
        CHECK(d->sample(&l, 1) == 0);
        CHECK(d->candidates().items[0].p == 1.0f);
    }
    SUBCASE("NaN logits are never picked") {
        const std::vector<float> l = {nan_f, 1.0f, nan_f, 0.5f};
        for (int i = 0; i < 50; ++i) {
            const int32_t t = d->sample(l.data(), 4);
            CHECK((t == 1 || t == 3));
        }
    }
    SUBCASE("nothing to sample: -1") {
        const std::vector<float> l = {nan_f, -inf, nan_f};
        CHECK(d->sample(l.data(), 3) == -1);
        CHECK(d->sample(nullptr, 3) == -1);
        CHECK(d->sample(l.data(), 0) == -1);
        CHECK(d->sample(l.data(), -4) == -1);
    }
    SUBCASE("+inf takes all the mass") {
        const std::vector<float> l = {1.0f, inf, 2.0f};
        for (int i = 0; i < 10; ++i) CHECK(d->sample(l.data(), 3) == 1);
    }
    SUBCASE("huge and tiny logits") {
        const std::vector<float> l = {3e38f, -3e38f, 3e38f};
        for (int i = 0; i < 10; ++i) {
            const int32_t t = d->sample(l.data(), 3);
            CHECK((t == 0 || t == 2));
        }
    }
}

TEST_CASE("sampler: no reallocation after the first sample") {
    std::vector<float> logits(5000);
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 97) * 0.1f;
    sampler_params p;
    p.repeat_penalty = 1.1f;
    p.seed = 5;
    auto s = sampler::create(p);
    REQUIRE(s.ok());
    REQUIRE(s->sample(logits.data(), 5000) >= 0);
    const token_candidate* data = s->candidates().items.data();
    const size_t cap = s->candidates().items.capacity();
    for (int i = 0; i < 100; ++i) {
        const int32_t t = s->sample(logits.data(), 5000);
        REQUIRE(t >= 0);
        s->accept(t);
    }
    CHECK(s->candidates().items.data() == data);
    CHECK(s->candidates().items.capacity() == cap);
}

namespace {
// A custom stage: bans one token.
class ban_stage final : public sampler_stage {
public:
    explicit ban_stage(int32_t id) : id_(id) {}
    const char* name() const noexcept override { return "ban"; }
    void apply(candidate_set& c) override {
        for (token_candidate& t : c.items)
            if (t.id == id_) t.logit = -inf;
        c.sorted = false;
    }

private:
    int32_t id_;
};
}  // namespace

TEST_CASE("sampler: custom stages join the chain") {
    const std::vector<float> logits = {1.0f, 5.0f, 2.0f};
    sampler s = sampler::chain(1);
    REQUIRE(s.add(std::unique_ptr<sampler_stage>(new ban_stage(1))).ok());
    REQUIRE(s.add_greedy().ok());
    CHECK(s.stage_name(0) == std::string("ban"));
    CHECK(s.sample(logits.data(), 3) == 2);
    CHECK(p_of(s, 1) == 0.0);
}
