// test_half.cpp — checks include/moe/half.hpp: fp16 exhaustively and against a slow double reference, bf16 rounding.
// These conversions sit under quant scales, the test-model writer and the F16/BF16 kernels tested after them.
#include <moe/half.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace moe;

namespace {

bool fp16_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

// The exact value of a finite binary16 bit pattern, computed from the definition.
double fp16_value(uint16_t h) {
    const int sign = (h >> 15) & 1;
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    double v = exp == 0 ? std::ldexp(static_cast<double>(mant), -24) : std::ldexp(static_cast<double>(1024 + mant), exp - 25);
    return sign ? -v : v;
}

// Slow reference for float -> binary16, round-to-nearest-even: search the sorted table of positive finite halves.
uint16_t fp16_reference(float f) {
    static std::vector<double> table = [] {
        std::vector<double> t(0x7c00);
        for (uint32_t h = 0; h < 0x7c00u; ++h) t[h] = fp16_value(static_cast<uint16_t>(h));
        return t;
    }();
    const uint16_t sign = std::signbit(f) ? 0x8000u : 0u;
    if (std::isnan(f)) return 0x7e00u;  // only "is NaN" is compared for NaN inputs
    const double a = std::fabs(static_cast<double>(f));
    if (a >= 65520.0) return static_cast<uint16_t>(sign | 0x7c00u);  // halfway to 2^16 and beyond: infinity
    size_t lo = 0, hi = table.size() - 1;                         // table[lo] <= a < table[hi] (or a == max)
    if (a >= table[hi]) {
        lo = hi;
    } else {
        while (hi - lo > 1) {
            const size_t mid = (lo + hi) / 2;
            (table[mid] <= a ? lo : hi) = mid;
        }
    }
    uint16_t best = static_cast<uint16_t>(lo);
    if (lo + 1 < table.size() || a > table[lo]) {
        const size_t up = lo + 1;
        const double d_lo = a - table[lo];
        const double d_up = (up < table.size() ? table[up] : 65536.0) - a;
        if (d_up < d_lo || (d_up == d_lo && (up & 1u) == 0)) best = static_cast<uint16_t>(up);
    }
    if (best >= 0x7c00u) return static_cast<uint16_t>(sign | 0x7c00u);
    return static_cast<uint16_t>(sign | best);
}

// Slow reference for float -> bfloat16 with round-to-nearest-even, done in double.
uint16_t bf16_reference(float f) {
    const uint32_t u = f32_bits(f);
    if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40u);
    const uint32_t lo_bits = u & 0xffff0000u;
    const double x = std::fabs(static_cast<double>(f));
    const double lo = std::fabs(static_cast<double>(bits_f32(lo_bits)));
    // next bf16 up in magnitude; from the largest finite it is infinity, whose "distance" is 2^128 as a rounding point
    const uint32_t up_bits = lo_bits + 0x10000u;
    const double up = (up_bits & 0x7fffffffu) == 0x7f800000u ? std::ldexp(1.0, 128)
                                                             : std::fabs(static_cast<double>(bits_f32(up_bits)));
    const uint16_t lo_h = static_cast<uint16_t>(lo_bits >> 16);
    if ((u & 0x7fffffffu) == 0x7f800000u) return lo_h;  // infinity stays
    if (x - lo < up - x) return lo_h;
    if (x - lo > up - x) return static_cast<uint16_t>(up_bits >> 16);
    return (lo_h & 1u) == 0 ? lo_h : static_cast<uint16_t>(up_bits >> 16);
}

struct lcg {
    uint64_t s;
    uint32_t next() {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<uint32_t>(s >> 32);
    }
};

}  // namespace

TEST_CASE("half: every binary16 value converts to float exactly and back") {
    int mismatches = 0;
    for (uint32_t i = 0; i < 65536u; ++i) {
        const auto h = static_cast<uint16_t>(i);
        const float f = fp16_to_f32(h);
        if (fp16_is_nan(h)) {
            CHECK(std::isnan(f));
            const uint16_t back = f32_to_fp16(f);
            CHECK(fp16_is_nan(back));
            CHECK((back & 0x8000u) == (h & 0x8000u));                   // sign kept
            CHECK((back & 0x1ffu) == (h & 0x1ffu));                     // payload kept ...
            CHECK((back & 0x200u) != 0);                                // ... and made quiet
            continue;
        }
        if (((h >> 10) & 0x1f) == 0x1f) {
            CHECK(std::isinf(f));
        } else if (static_cast<double>(f) != fp16_value(h)) {
            ++mismatches;
        }
        if (f32_to_fp16(f) != h) ++mismatches;
    }
    CHECK(mismatches == 0);
    CHECK(fp16_to_f32(0x3c00) == 1.0f);
    CHECK(fp16_to_f32(0xc000) == -2.0f);
    CHECK(fp16_to_f32(0x7bff) == 65504.0f);
    CHECK(fp16_to_f32(0x0001) == std::ldexp(1.0f, -24));
    CHECK(std::signbit(fp16_to_f32(0x8000)));
}

TEST_CASE("half: float -> fp16 rounds to nearest even like a slow double reference") {
    SUBCASE("every midpoint between adjacent halves, and one float ulp either side") {
        int mismatches = 0;
        for (uint32_t h = 0; h < 0x7bffu; ++h) {
            const double mid = (fp16_value(static_cast<uint16_t>(h)) + fp16_value(static_cast<uint16_t>(h + 1))) / 2;
            const float m = static_cast<float>(mid);
            REQUIRE(static_cast<double>(m) == mid);  // a 12-bit significand fits a float
            const uint16_t tie = f32_to_fp16(m);
            const uint16_t even = (h & 1u) == 0 ? static_cast<uint16_t>(h) : static_cast<uint16_t>(h + 1);
            if (tie != even) ++mismatches;
            if (f32_to_fp16(-m) != (even | 0x8000u)) ++mismatches;
            if (f32_to_fp16(std::nextafter(m, 0.0f)) != h) ++mismatches;
            if (f32_to_fp16(std::nextafter(m, 1e30f)) != h + 1) ++mismatches;
        }
        CHECK(mismatches == 0);
    }
    SUBCASE("overflow, infinity, subnormals and zero") {
        CHECK(f32_to_fp16(65504.0f) == 0x7bff);
        CHECK(f32_to_fp16(65519.996f) == 0x7bff);
        CHECK(f32_to_fp16(65520.0f) == 0x7c00);  // tie between 65504 and 2^16: even side is infinity
        CHECK(f32_to_fp16(1e10f) == 0x7c00);
        CHECK(f32_to_fp16(-1e10f) == 0xfc00);
        CHECK(f32_to_fp16(INFINITY) == 0x7c00);
        CHECK(f32_to_fp16(-INFINITY) == 0xfc00);
        CHECK(fp16_is_nan(f32_to_fp16(NAN)));
        CHECK(f32_to_fp16(std::ldexp(1.0f, -24)) == 0x0001);
        CHECK(f32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);                        // tie with 0: even is 0
        CHECK(f32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);  // just above the tie
        CHECK(f32_to_fp16(std::ldexp(3.0f, -25)) == 0x0002);                        // 1.5 ulp: tie, to even 2
        CHECK(f32_to_fp16(std::ldexp(1.0f, -14)) == 0x0400);                        // smallest normal
        CHECK(f32_to_fp16(std::ldexp(1023.5f, -24)) == 0x0400);                     // subnormal rounds up to normal
        CHECK(f32_to_fp16(1e-30f) == 0x0000);
        CHECK(f32_to_fp16(-1e-30f) == 0x8000);
        CHECK(f32_to_fp16(-0.0f) == 0x8000);
        CHECK(f32_to_fp16(std::numeric_limits<float>::denorm_min()) == 0x0000);
    }
    SUBCASE("random floats of every magnitude") {
        lcg rng{42};
        int mismatches = 0;
        for (int i = 0; i < 400000; ++i) {
            uint32_t u = rng.next();
            if (i % 2 == 0) {
                // concentrate on the exponents that matter: 2^-26 .. 2^17
                const uint32_t e = 101u + rng.next() % 43u;
                u = (u & 0x807fffffu) | (e << 23);
            }
            const float f = bits_f32(u);
            if (std::isnan(f)) continue;
            if (f32_to_fp16(f) != fp16_reference(f)) ++mismatches;
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("half: bfloat16 rounding") {
    SUBCASE("hand-picked round-to-nearest-even cases") {
        CHECK(f32_to_bf16(1.0f) == 0x3f80);
        CHECK(f32_to_bf16(bits_f32(0x3f808000u)) == 0x3f80);  // tie, lower is even: down
        CHECK(f32_to_bf16(bits_f32(0x3f818000u)) == 0x3f82);  // tie, lower is odd: up
        CHECK(f32_to_bf16(bits_f32(0x3f808001u)) == 0x3f81);  // above the tie: up
        CHECK(f32_to_bf16(bits_f32(0x3f807fffu)) == 0x3f80);  // below the tie: down
        CHECK(f32_to_bf16(bits_f32(0xbf818000u)) == 0xbf82);  // negative tie to even
        CHECK(f32_to_bf16(bits_f32(0x7f7fffffu)) == 0x7f80);  // largest float rounds to infinity
        CHECK(f32_to_bf16(INFINITY) == 0x7f80);
        CHECK(f32_to_bf16(-INFINITY) == 0xff80);
        CHECK(f32_to_bf16(-0.0f) == 0x8000);
        CHECK(f32_to_bf16(bits_f32(0x00018000u)) == 0x0002);  // subnormal tie to even
        const uint16_t nan = f32_to_bf16(bits_f32(0x7f800001u));  // signalling NaN with a low payload bit
        CHECK((nan & 0x7f80u) == 0x7f80u);
        CHECK((nan & 0x007fu) != 0);  // still NaN, not infinity
    }
    SUBCASE("every bfloat16 value round-trips") {
        int mismatches = 0;
        for (uint32_t i = 0; i < 65536u; ++i) {
            const auto h = static_cast<uint16_t>(i);
            const float f = bf16_to_f32(h);
            if (f32_bits(f) != (i << 16)) ++mismatches;
            if (std::isnan(f)) continue;
            if (f32_to_bf16(f) != h) ++mismatches;
        }
        CHECK(mismatches == 0);
    }
    SUBCASE("random floats against a double reference") {
        lcg rng{7};
        int mismatches = 0;
        for (int i = 0; i < 400000; ++i) {
            uint32_t u = rng.next();
            if (i % 3 == 0) u = (u & 0xffff0000u) | 0x8000u;  // exact ties
            const float f = bits_f32(u);
            if (std::isnan(f)) continue;
            if (f32_to_bf16(f) != bf16_reference(f)) ++mismatches;
        }
        CHECK(mismatches == 0);
    }
}
