// test_support.hpp — small helpers shared by the engine-core unit tests: a seeded RNG, independent block decoders
// and a one-call "build, bind, run" for single-op graphs. Included by tests/unit/test_*.cpp; not part of the library.
#pragma once

#include "backends/cpu/cpu_backend.hpp"
#include "graph/ir.hpp"
#include "runtime/executor.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace moe_test {

// Deterministic generator (64-bit LCG); the tests must give the same numbers on every run and platform.
struct rng {
    uint64_t s;
    explicit rng(uint64_t seed) : s(seed * 2654435761u + 1) {}
    uint32_t next() {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<uint32_t>(s >> 33);
    }
    double uniform() { return static_cast<double>(next()) / 2147483648.0; }  // [0, 1)
    float uniform(float lo, float hi) { return lo + static_cast<float>(uniform()) * (hi - lo); }
    int32_t below(int32_t n) { return static_cast<int32_t>(next() % static_cast<uint32_t>(n)); }
    std::vector<float> floats(size_t n, float lo = -1.0f, float hi = 1.0f) {
        std::vector<float> v(n);
        for (float& x : v) x = uniform(lo, hi);
        return v;
    }
};

// Test-local decoders, written from the GGUF block layouts (not through src/quant), so a wrong library
// dequantizer cannot agree with itself.
inline double decode_q8_0(const void* blocks, int64_t i) {
    const auto* b = static_cast<const uint8_t*>(blocks) + static_cast<size_t>(i / 32) * 34;
    uint16_t d;
    std::memcpy(&d, b, 2);
    const auto q = static_cast<int8_t>(b[2 + i % 32]);
    return static_cast<double>(moe::fp16_to_f32(d)) * q;
}

inline double decode_q4_0(const void* blocks, int64_t i) {
    const auto* b = static_cast<const uint8_t*>(blocks) + static_cast<size_t>(i / 32) * 18;
    uint16_t d;
    std::memcpy(&d, b, 2);
    const int64_t j = i % 32;
    const int nib = j < 16 ? (b[2 + j] & 0x0f) : (b[2 + j - 16] >> 4);
    return static_cast<double>(moe::fp16_to_f32(d)) * (nib - 8);
}

// Element i of a row stored as `t` (f32, f16, bf16, q8_0, q4_0), decoded in double.
inline double decode(moe::dtype t, const void* row, int64_t i) {
    switch (t) {
    case moe::dtype::f32: return static_cast<const float*>(row)[i];
    case moe::dtype::f16: return moe::fp16_to_f32(static_cast<const uint16_t*>(row)[i]);
    case moe::dtype::bf16: return moe::bf16_to_f32(static_cast<const uint16_t*>(row)[i]);
    case moe::dtype::q8_0: return decode_q8_0(row, i);
    case moe::dtype::q4_0: return decode_q4_0(row, i);
    default: FAIL("decode: unexpected type"); return 0.0;
    }
}

// rows x n floats encoded as `t`, row by row, with the library's quantizer.
inline std::vector<uint8_t> encode_rows(moe::dtype t, const std::vector<float>& x, int64_t rows, int64_t n) {
    const size_t rb = moe::row_bytes(t, n);
    std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        moe::status s = moe::quantize_row(t, x.data() + r * n, out.data() + static_cast<size_t>(r) * rb, n);
        REQUIRE(s.ok());
    }
    return out;
}

// How many of the floats differ in their bits (the bit-exactness checks).
inline size_t differing_bits(const std::vector<float>& got, const std::vector<float>& want) {
    REQUIRE(got.size() == want.size());
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
    return differ;
}

// |got - want| <= tol * mag, with mag > 0 the scale the error is measured against.
inline bool near(double got, double want, double tol, double mag) {
    return std::fabs(got - want) <= tol * (mag > 0 ? mag : 1.0);
}

// A built graph bound to a CPU backend (plus optional backends in front), with helpers to fill inputs and read
// outputs by value id.
struct bound {
    std::unique_ptr<moe::cpu_backend> cpu;
    std::unique_ptr<moe::executor> ex;
    template <class T>
    void set(moe::value_id v, const std::vector<T>& data) {
        const moe::value& val = ex->g().val(v);
        REQUIRE(val.bytes() == data.size() * sizeof(T));
        std::memcpy(ex->data(v), data.data(), val.bytes());
    }
    template <class T>
    std::vector<T> get(moe::value_id v) const {
        const moe::value& val = ex->g().val(v);
        std::vector<T> out(val.bytes() / sizeof(T));
        std::memcpy(out.data(), ex->data(v), val.bytes());
        return out;
    }
    moe::status run(int64_t n_past = 0) {
        moe::run_args a;
        a.n_past = n_past;
        return ex->run(a);
    }
};

// Finishes the builder and binds the graph to [front..., cpu(n_threads)].
inline bound bind(moe::graph_builder& gb, int n_threads, std::vector<moe::backend*> front = {}) {
    bound b;
    b.cpu.reset(new moe::cpu_backend(n_threads));
    moe::result<moe::graph> g = gb.finish();
    REQUIRE_MESSAGE(g.ok(), g.error().to_string());
    front.push_back(b.cpu.get());
    moe::result<moe::executor> ex = moe::executor::create(std::move(*g), front);
    REQUIRE_MESSAGE(ex.ok(), ex.error().to_string());
    b.ex.reset(new moe::executor(std::move(*ex)));
    return b;
}

}  // namespace moe_test
