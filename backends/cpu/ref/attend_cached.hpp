// attend_cached.hpp — softmax attention of a batch's query rows over an f32 or f16 KV cache, blocked so that each KV
// head's rows are read from cache once per block of queries that share them. Used by attention.cpp, attention_ext.cpp.
#pragma once

#include "backends/cpu/ref/kv_rows.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "graph/kv_layout.hpp"

#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {

// The caches: kcache [S * C, Hkv, Dk], vcache [S * C, Hkv, Dv] (an f16 cache head-major: graph/kv_layout.hpp);
// q [T, Hq, Dk]; out [T, Hq, Dv].
struct cached_attention {
    int64_t T = 0, Hq = 0, Hkv = 0, Dk = 0, Dv = 0;
    float scale = 1.0f;
    int64_t window = 0;            // > 0: query at position p sees rows j with p - j < window only
    const float* sinks = nullptr;  // [Hq] or null: one more softmax logit per head, with no value
};

// One layer's cache: f32 rows, or binary16 rows (session_params::kv_type f16) that are widened to f32, block by
// block, before any arithmetic, so an f16 cache computes exactly what an f32 cache holding the same values does.
struct kv_cache {
    void* k = nullptr;
    void* v = nullptr;
    bool f16 = false;
    int64_t rows = 0;  // S * C

    kv_layout keys(const cached_attention& a) const { return kv_layout::of(type(), rows, a.Hkv, a.Dk); }
    kv_layout values(const cached_attention& a) const { return kv_layout::of(type(), rows, a.Hkv, a.Dv); }
    dtype type() const { return f16 ? dtype::f16 : dtype::f32; }
};
// The cache inputs k (in[kc]) and v (in[vc]) of an attention node: both f32 or both f16 (cpu_backend::supports).
inline kv_cache cache_inputs(const tensor_view* in, int kc, int vc) {
    const shape& s = in[kc].sh;  // [C, Hkv, Dk] or [S, C, Hkv, Dk]
    return {in[kc].data, in[vc].data, in[kc].type == dtype::f16, s.rows() / s[s.rank - 2]};
}

// Copies this batch's k [T, Hkv, Dk] and v [T, Hkv, Dv] into their cache rows (rows.row(t)), rounded to nearest
// even binary16 in an f16 cache.
void write_kv(const kv_rows& rows, const cached_attention& a, const float* k, const float* v, const kv_cache& cache);

// Every query row (t, h) attends to its slot's rows first .. rows.position(t) (KV head h / (Hq / Hkv)), with each
// row's arithmetic exactly that of the reference order: scores dot(q, k_j) * scale (simd::dot_f32_rows), then
// simd::softmax_f32 (their maximum, the sink's logit too; e_j = expf_ref(s_j - max), summed in double in eight
// lanes; p_j = e_j * (1 / sum)), then out = sum over j in order of p_j * v_j (simd::axpy_f32_rows). Threads take
// (KV head, block of tokens) items.
void attend_cached(context& c, const kv_rows& rows, const cached_attention& a, const float* q, const kv_cache& cache,
                   float* out);

}  // namespace cpu
MOE_END_NAMESPACE
