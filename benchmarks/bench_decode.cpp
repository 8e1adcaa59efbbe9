// bench_decode.cpp — Google Benchmark: prompt (prefill) and generation (decode) tokens/s of a generated MoE model
// through the public API, per weight type. Models come from src/testgen; results feed benchmarks/RESULTS.md later.
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace {

// One model per weight type, written once to the temp dir and loaded once.
moe::model* model_for(moe::dtype t) {
    static std::map<moe::dtype, moe::model> cache;
    auto it = cache.find(t);
    if (it != cache.end()) return &it->second;
    moe::testgen::model_spec s;
    s.n_vocab = 4096, s.n_embd = 512, s.n_layer = 4, s.n_head = 8, s.n_head_kv = 2, s.n_ff = 512;
    s.n_expert = 16, s.n_expert_used = 4, s.weight_type = t, s.seed = 3;
    const std::string path = std::string(MOE_BENCH_TMPDIR) + "/bench-" + moe::dtype_name(t) + ".gguf";
    if (!moe::testgen::write_random_model(path, s).ok()) return nullptr;
    moe::result<moe::model> m = moe::model::load(path);
    if (!m) return nullptr;
    return &cache.emplace(t, std::move(*m)).first->second;
}

void bm_prefill(benchmark::State& st, moe::dtype t) {
    moe::model* m = model_for(t);
    if (!m) return st.SkipWithError("could not create the model");
    const int64_t n = st.range(0);
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) tokens[static_cast<size_t>(i)] = static_cast<int32_t>(1 + (i * 131) % 4000);
    moe::session_params sp;
    sp.n_ctx = n, sp.n_threads = static_cast<int>(st.range(1));
    moe::result<moe::session> s = moe::session::create(*m, sp);
    if (!s) return st.SkipWithError(s.error().to_string().c_str());
    for (auto _ : st) {
        s->clear();
        if (!s->eval(tokens.data(), tokens.size()).ok()) return st.SkipWithError("eval failed");
    }
    st.counters["tok/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

void bm_decode(benchmark::State& st, moe::dtype t) {
    moe::model* m = model_for(t);
    if (!m) return st.SkipWithError("could not create the model");
    moe::session_params sp;
    sp.n_ctx = 4096, sp.n_threads = static_cast<int>(st.range(0));
    moe::result<moe::session> s = moe::session::create(*m, sp);
    if (!s) return st.SkipWithError(s.error().to_string().c_str());
    int32_t tok = 1;
    for (auto _ : st) {
        if (s->n_past() + 1 > s->n_ctx()) s->clear();
        if (!s->eval(&tok, 1).ok()) return st.SkipWithError("eval failed");
        tok = s->argmax();
    }
    st.counters["tok/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK_CAPTURE(bm_prefill, q4_0, moe::dtype::q4_0)->Args({64, 1})->Args({64, 2})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_prefill, q8_0, moe::dtype::q8_0)->Args({64, 2})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_decode, q4_0, moe::dtype::q4_0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_decode, q8_0, moe::dtype::q8_0)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_decode, f32, moe::dtype::f32)->Arg(2)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
