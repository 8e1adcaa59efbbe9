// attend_cached.cpp — blocked softmax attention over the f32 KV cache (see attend_cached.hpp for the arithmetic).
// Before: kv_rows (where each token sits in the cache). After: the attention ops' output rows [T, Hq * Dv].
#include "backends/cpu/ref/attend_cached.hpp"

#include "backends/cpu/simd/simd.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {

namespace {

// Query rows per work item: their scores for one block of keys are computed while the block is in L1.
constexpr int64_t item_rows = 32;
// Cache rows per block: 64 rows of a 128-wide head are 32 KiB of keys (or values).
constexpr int64_t key_block = 64;

// One query row of a work item: where its query, keys, values (its slot's row 0) and output are, and the rows
// first .. len - 1 it attends to.
struct query_row {
    const float* q;
    const float* k;
    const float* v;
    const float* sink;
    float* out;
    int64_t first, len;
};

// s[0 .. n): scores -> probabilities, in the reference order (attend_cached.hpp).
void softmax_scores(float* s, int64_t n, float scale, const float* sink) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = s[j] * scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    if (sink) mx = std::max(mx, *sink);
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
    }
    if (sink) sum += static_cast<double>(std::exp(*sink - mx));
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) s[j] = s[j] * inv;
}

// Rows j0 .. j1 - 1 of one KV head (rows `stride` floats apart, d wide) -> dst, rows d floats apart. The cache
// interleaves heads, so a head's rows are 4-8 KiB apart and share a handful of cache sets; packed, a block stays
// in L1 while the item's queries pass over it.
void pack_rows(const float* src, int64_t stride, int64_t d, int64_t j0, int64_t j1, float* dst) {
    for (int64_t j = j0; j < j1; ++j)
        std::memcpy(dst + (j - j0) * d, src + j * stride, static_cast<size_t>(d) * sizeof(float));
}

// Attends nq query rows that read the same KV head (strides ks, vs between cache rows). Row i's scores sit at
// s + i * C, indexed by cache row. Keys, then values, are visited in blocks of key_block rows, each block meeting
// every query row before the next is read; splitting a row's dots and axpys into blocks changes no operation.
// With several rows, each block of the first row's slot is first copied to pack (key_block * max(dk, dv) floats).
void attend_block(const query_row* qr, int nq, int64_t ks, int64_t dk, int64_t vs, int64_t dv, float scale, float* s,
                  int64_t C, float* pack) {
    int64_t lo = qr[0].first, hi = qr[0].len;
    for (int i = 1; i < nq; ++i) lo = std::min(lo, qr[i].first), hi = std::max(hi, qr[i].len);
    const bool packs = nq > 1;
    const float* xs[item_rows];
    float* outs[item_rows];
    for (int64_t j0 = lo; j0 < hi; j0 += key_block) {
        const int64_t j1 = std::min(hi, j0 + key_block);
        if (packs) pack_rows(qr[0].k, ks, dk, j0, j1, pack);
        int nfull = 0;  // rows of the packed slot that see the whole block: one pass over it for all of them
        for (int i = 0; i < nq; ++i) {
            const int64_t b = std::max(j0, qr[i].first), e = std::min(j1, qr[i].len);
            if (b >= e) continue;
            float* si = s + i * C + b;
            if (!packs || qr[i].k != qr[0].k) simd::dot_f32_rows(qr[i].q, qr[i].k + b * ks, ks, e - b, dk, si);
            else if (b > j0 || e < j1) simd::dot_f32_rows(qr[i].q, pack + (b - j0) * dk, dk, e - b, dk, si);
            else xs[nfull] = qr[i].q, outs[nfull++] = si;
        }
        if (nfull > 0) simd::dot_f32_rows_multi(xs, nfull, pack, dk, j1 - j0, dk, outs);
    }
    for (int i = 0; i < nq; ++i) {
        softmax_scores(s + i * C + qr[i].first, qr[i].len - qr[i].first, scale, qr[i].sink);
        std::memset(qr[i].out, 0, static_cast<size_t>(dv) * sizeof(float));
    }
    for (int64_t j0 = lo; j0 < hi; j0 += key_block) {
        const int64_t j1 = std::min(hi, j0 + key_block);
        if (packs) pack_rows(qr[0].v, vs, dv, j0, j1, pack);
        for (int i = 0; i < nq; ++i) {
            const int64_t b = std::max(j0, qr[i].first), e = std::min(j1, qr[i].len);
            if (b >= e) continue;
            const bool packed = packs && qr[i].v == qr[0].v;
            const float* vb = packed ? pack + (b - j0) * dv : qr[i].v + b * vs;
            simd::axpy_f32_rows(s + i * C + b, vb, packed ? dv : vs, e - b, dv, qr[i].out);
        }
    }
}

}  // namespace

void write_kv(const kv_rows& rows, const cached_attention& a, const float* k, const float* v, float* kcache,
              float* vcache) {
    const size_t kb = static_cast<size_t>(a.Hkv * a.Dk) * sizeof(float);
    const size_t vb = static_cast<size_t>(a.Hkv * a.Dv) * sizeof(float);
    for (int64_t t = 0; t < a.T; ++t) {
        std::memcpy(kcache + rows.row(t) * a.Hkv * a.Dk, k + t * a.Hkv * a.Dk, kb);
        std::memcpy(vcache + rows.row(t) * a.Hkv * a.Dv, v + t * a.Hkv * a.Dv, vb);
    }
}

void attend_cached(context& c, const kv_rows& rows, const cached_attention& a, const float* q, const float* kcache,
                   const float* vcache, float* out) {
    // An item: KV head hk, query heads g0 .. g0 + gc - 1 of its group, tokens t0 .. t0 + tb - 1. Items run latest
    // tokens first (causal rows grow with the position), taken by whichever thread is free.
    const int64_t group = a.Hq / a.Hkv;
    const int64_t gc = std::min(group, item_rows), n_gc = (group + gc - 1) / gc;
    const int64_t tb = std::max<int64_t>(1, item_rows / gc), n_tb = (a.T + tb - 1) / tb;
    const int64_t items = a.Hkv * n_gc * n_tb, C = rows.C;
    const int64_t ks = a.Hkv * a.Dk, vs = a.Hkv * a.Dv;
    std::atomic<int64_t> next{0};
    c.pool.run([&](int ith, int) {
        // scores, then the packed block: sized for the whole cache, so no growth while decoding
        float* s = c.scratch(ith, static_cast<size_t>(item_rows * C + key_block * std::max(a.Dk, a.Dv)));
        query_row qr[item_rows];
        for (int64_t it; (it = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
            const int64_t t0 = (n_tb - 1 - it / (a.Hkv * n_gc)) * tb, hk = it % a.Hkv, g0 = it / a.Hkv % n_gc * gc;
            int nq = 0;
            for (int64_t t = t0; t < std::min(a.T, t0 + tb); ++t) {
                const int64_t len = rows.position(t) + 1;
                const int64_t first = a.window > 0 ? std::max<int64_t>(0, len - a.window) : 0;
                for (int64_t h = hk * group + g0; h < hk * group + std::min(group, g0 + gc); ++h)
                    qr[nq++] = {q + (t * a.Hq + h) * a.Dk,
                                kcache + rows.first(t) * ks + hk * a.Dk,
                                vcache + rows.first(t) * vs + hk * a.Dv,
                                a.sinks ? a.sinks + h : nullptr,
                                out + (t * a.Hq + h) * a.Dv,
                                first,
                                len};
            }
            attend_block(qr, nq, ks, a.Dk, vs, a.Dv, a.scale, s, C, s + item_rows * C);
        }
    });
}

}  // namespace cpu
MOE_END_NAMESPACE
