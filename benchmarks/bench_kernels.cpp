// bench_kernels.cpp — Google Benchmark: the matmul kernels (backends/cpu/simd) per ISA x weight type (and q4_0x8,
// q8_0x8, f16x8: those types as the loader repacks them), one thread, a 4096 x 4096 matrix times 1 activation row
// (decode), 4 (four sequences' decode) and 16 rows (prefill); GB/s counts the weight bytes read.
#include "backends/cpu/ref/vec_dot.hpp"
#include "backends/cpu/simd/simd.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace simd = moe::cpu::simd;
using moe::dtype;

constexpr int64_t k_rows = 4096, k_cols = 4096;

// Random weights in each type (quantized from uniform floats), built once per type.
const std::vector<uint8_t>& weights(dtype t) {
    static std::vector<uint8_t> cache[simd::n_dtype_slots];
    std::vector<uint8_t>& w = cache[static_cast<int>(t)];
    if (!w.empty()) return w;
    const size_t rb = moe::row_bytes(t, k_cols);
    w.resize(rb * k_rows);
    std::vector<float> x(k_cols);
    uint64_t s = 7;
    for (int64_t r = 0; r < k_rows; ++r) {
        for (float& v : x) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            v = static_cast<float>(static_cast<int32_t>(s >> 32)) / 2147483648.0f;
        }
        (void)moe::quantize_row(t, x.data(), w.data() + static_cast<size_t>(r) * rb, k_cols);
    }
    return w;
}

// Weights of type t in the layout the model loader repacks them into (simd.hpp: q4_0x8, q8_0x8, f16x8).
const std::vector<uint8_t>& packed(dtype t) {
    static std::vector<uint8_t> cache[simd::n_dtype_slots];
    std::vector<uint8_t>& p = cache[static_cast<int>(t)];
    if (p.empty()) {
        const std::vector<uint8_t>& w = weights(t);
        p.resize(w.size());
        if (t == dtype::q4_0) simd::repack_q4_0x8(w.data(), p.data(), k_rows, k_cols);
        else if (t == dtype::q8_0) simd::repack_q8_0x8(w.data(), p.data(), k_rows, k_cols);
        else simd::repack_h16x8(w.data(), p.data(), k_rows, k_cols);
    }
    return p;
}

void packed_tile(dtype t, const uint8_t* w, size_t rb, const uint8_t* const* a, int na, float* const* o) {
    if (t == dtype::q4_0) simd::tile_q4_0x8(w, rb, 0, k_rows, a, na, o, k_cols);
    else if (t == dtype::q8_0) simd::tile_q8_0x8(w, rb, 0, k_rows, a, na, o, k_cols);
    else simd::tile_h16x8(t, w, rb, 0, k_rows, a, na, o, k_cols);
}

void bm_matmul(benchmark::State& st, simd::isa level, dtype t, int na, bool is_packed) {
    if (simd::table_for(level) == nullptr) return st.SkipWithError("ISA not available on this CPU");
    const simd::kernel_table& kt = *simd::table_for(level);
    const simd::tile_fn kernel = !is_packed              ? kt.tile[static_cast<int>(t)]
                                 : t == dtype::q4_0      ? kt.q4_0x8
                                 : t == dtype::q8_0      ? kt.q8_0x8
                                                         : kt.f16x8;
    if (level != simd::isa::ref && kernel == nullptr)
        return st.SkipWithError("no SIMD kernel for this type (reference)");
    const simd::isa saved = simd::active().level;
    simd::set_isa(level);
    const std::vector<uint8_t>& w = is_packed ? packed(t) : weights(t);
    const size_t rb = moe::row_bytes(t, k_cols), arb = moe::row_bytes(moe::cpu::dot_type(t), k_cols);
    std::vector<float> x(static_cast<size_t>(k_cols) * na), out(static_cast<size_t>(k_rows) * na);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) / 97.0f - 0.5f;
    std::vector<uint8_t> act(arb * na);
    std::vector<const uint8_t*> a(static_cast<size_t>(na));
    std::vector<float*> o(static_cast<size_t>(na));
    for (int i = 0; i < na; ++i) {
        a[static_cast<size_t>(i)] = act.data() + static_cast<size_t>(i) * arb;
        o[static_cast<size_t>(i)] = out.data() + static_cast<size_t>(i) * k_rows;
    }
    for (auto _ : st) {
        for (int i = 0; i < na; ++i)
            simd::convert_activation(t, x.data() + static_cast<size_t>(i) * k_cols, act.data() + i * arb, k_cols);
        if (is_packed) packed_tile(t, w.data(), rb, a.data(), na, o.data());
        else simd::tile(t, w.data(), rb, 0, k_rows, a.data(), na, o.data(), k_cols);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(rb) * k_rows);
    simd::set_isa(saved);
}

// Decoding's MLA attention over a 4096-row latent cache (DeepSeek-V2's shape: rows of 576 = 512 latent + 64 RoPE
// values, 512 value columns), one work item of 8 heads on one thread, as attention_mla runs it: the scores key block
// by key block (ggml_dot_rows_multi), or the value sums of all 8 heads (ggml_weighted_rows_vec_multi) over float or
// binary16 rows. GFLOP/s counts 2 per multiply-add.
enum class mla_part { scores, values, values_f16 };
void bm_mla_decode(benchmark::State& st, simd::isa level, mla_part part) {
    if (simd::table_for(level) == nullptr) return st.SkipWithError("ISA not available on this CPU");
    const simd::isa saved = simd::active().level;
    simd::set_isa(level);
    constexpr int heads = 8, W = 16;
    constexpr int64_t rows = 4096, D = 576, Dv = 512, block = 64;
    std::vector<float> cache(static_cast<size_t>(rows * D)), q(static_cast<size_t>(heads * D));
    std::vector<float> s(static_cast<size_t>(heads * rows)), out(static_cast<size_t>(heads * Dv));
    std::vector<uint16_t> cache16(cache.size());
    for (size_t i = 0; i < cache.size(); ++i) {
        cache[i] = static_cast<float>(i % 89) / 89.0f - 0.5f;
        cache16[i] = moe::f32_to_fp16(cache[i]);
    }
    for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<float>(i % 37) / 37.0f - 0.5f;
    for (size_t i = 0; i < s.size(); ++i) s[i] = 1.0f / static_cast<float>(rows);
    std::vector<float> acc(static_cast<size_t>(simd::ggml_weighted_vec_acc_floats(heads, Dv)));
    const float* xs[heads];
    float* so[heads];
    const float* ps[heads];
    float* os[heads];
    for (int h = 0; h < heads; ++h) {
        xs[h] = q.data() + h * D, ps[h] = s.data() + h * rows, os[h] = out.data() + h * Dv;
    }
    for (auto _ : st) {
        if (part == mla_part::scores) {
            for (int64_t j0 = 0; j0 < rows; j0 += block) {
                for (int h = 0; h < heads; ++h) so[h] = s.data() + h * rows + j0;
                simd::ggml_dot_rows_multi(W, xs, heads, cache.data() + j0 * D, D, block, D, so);
            }
        } else if (part == mla_part::values) {
            simd::ggml_weighted_rows_vec_multi(W, ps, heads, cache.data(), D, rows, Dv, os, acc.data());
        } else {
            simd::ggml_weighted_rows_vec_multi_f16(W, ps, heads, cache16.data(), D, rows, Dv, os, acc.data());
        }
        benchmark::DoNotOptimize(s.data());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    const double flops = 2.0 * heads * rows * (part == mla_part::scores ? D : Dv);
    st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    simd::set_isa(saved);
}

const int registered = [] {
    for (simd::isa level : {simd::isa::ref, simd::isa::avx2, simd::isa::avx512, simd::isa::neon}) {
        const std::pair<mla_part, const char*> parts[] = {
            {mla_part::scores, "scores"}, {mla_part::values, "values"}, {mla_part::values_f16, "values_f16"}};
        for (const auto& p : parts) {
            const std::string name = std::string("mla_decode_4096/") + p.second + "/" + simd::isa_name(level);
            benchmark::RegisterBenchmark(name.c_str(), bm_mla_decode, level, p.first)->Unit(benchmark::kMicrosecond);
        }
    }
    const dtype types[] = {dtype::f32,  dtype::f16,  dtype::q8_0, dtype::q4_0, dtype::q4_1, dtype::q5_0,
                           dtype::q5_1, dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k,
                           dtype::iq4_nl, dtype::iq4_xs, dtype::mxfp4};
    for (int na : {1, 4, 16}) {
        for (dtype t : types) {
            for (simd::isa level : {simd::isa::ref, simd::isa::avx2, simd::isa::avx512, simd::isa::neon}) {
                const std::string name = std::string("matmul_4096x4096/") + moe::dtype_name(t) + "/" +
                                         simd::isa_name(level) + "/rows:" + std::to_string(na);
                benchmark::RegisterBenchmark(name.c_str(), bm_matmul, level, t, na, false)
                    ->Unit(benchmark::kMicrosecond);
            }
        }
        for (dtype t : {dtype::q4_0, dtype::q8_0, dtype::f16}) {
            for (simd::isa level : {simd::isa::ref, simd::isa::avx2, simd::isa::avx512, simd::isa::neon}) {
                const std::string name = std::string("matmul_4096x4096/") + moe::dtype_name(t) + "x8/" +
                                         simd::isa_name(level) + "/rows:" + std::to_string(na);
                benchmark::RegisterBenchmark(name.c_str(), bm_matmul, level, t, na, true)
                    ->Unit(benchmark::kMicrosecond);
            }
        }
    }
    return 0;
}();

}  // namespace

BENCHMARK_MAIN();
