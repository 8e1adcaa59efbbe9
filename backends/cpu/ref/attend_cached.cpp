// attend_cached.cpp — blocked softmax attention over an f32 or f16 KV cache (arithmetic: attend_cached.hpp).
// Before: kv_rows (where each token sits in the cache). After: the attention ops' output rows [T, Hq * Dv].
#include "backends/cpu/ref/attend_cached.hpp"

#include "backends/cpu/ref/expf_ref.hpp"
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

// One query row of a work item: where its query, keys, values (its slot's row 0 of its KV head, f32 or f16
// elements) and output are, and the rows first .. len - 1 it attends to.
struct query_row {
    const float* q;
    const void* k;
    const void* v;
    const float* sink;
    float* out;
    int64_t first, len;
};

// Where a KV head's rows are: ks / vs elements apart, dk / dv wide, f32 or f16.
struct head_rows {
    int64_t ks, dk, vs, dv;
    bool f16;
};

const void* element(const void* base, bool f16, int64_t i) {
    return f16 ? static_cast<const void*>(static_cast<const uint16_t*>(base) + i)
               : static_cast<const void*>(static_cast<const float*>(base) + i);
}


// Rows j0 .. j1 - 1 of one KV head (rows `stride` elements apart, d wide) -> dst as f32, rows d floats apart. The
// cache interleaves heads, so a head's rows are 4-8 KiB apart and share a handful of cache sets; packed, a block
// stays in L1 while the item's queries pass over it. An f16 cache is widened here (exactly), so every kernel after
// this reads floats.
void pack_rows(const void* src, bool f16, int64_t stride, int64_t d, int64_t j0, int64_t j1, float* dst) {
    if (f16) return simd::f16_rows_to_f32(static_cast<const uint16_t*>(src) + j0 * stride, stride, j1 - j0, d, dst);
    // rows a page or more apart, where the hardware prefetchers do not follow: fetch rows ahead here, also past j1
    // (the next block; prefetches never fault)
    constexpr int64_t ahead = 16;
    const float* f = static_cast<const float*>(src);
    const int64_t lines = (d * 4 + 63) / 64;
    for (int64_t j = j0; j < j1; ++j) {
        for (int64_t l = 0; l < lines; ++l)
            __builtin_prefetch(reinterpret_cast<const char*>(f + (j + ahead) * stride) + 64 * l);
        std::memcpy(dst + (j - j0) * d, f + j * stride, static_cast<size_t>(d) * sizeof(float));
    }
}

// The rows of the item not yet done that read the same cache rows as row i (its slot): marks them done, lists them
// in idx and returns how many; b0 .. e0 is the part of the block j0 .. j1 - 1 that any of them sees (empty: b0 >= e0).
int same_slot(const query_row* qr, int nq, int i, int64_t j0, int64_t j1, bool* done, int* idx, int64_t& b0,
              int64_t& e0) {
    int n = 0;
    b0 = j1, e0 = j0;
    for (int m = i; m < nq; ++m) {
        if (done[m] || qr[m].k != qr[i].k) continue;
        done[m] = true, idx[n++] = m;
        b0 = std::min(b0, std::max(j0, qr[m].first)), e0 = std::max(e0, std::min(j1, qr[m].len));
    }
    return n;
}

// Visits the cache rows lo .. hi - 1 of an item in blocks of key_block rows and, within a block, the item's rows
// slot by slot: fn(j0, j1, idx, n, b0, e0, packs) for the n rows idx[] of one slot, which see part b0 .. e0 of block
// j0 .. j1 - 1, after that part of the slot's keys (k_side) or values was copied (widened) to pack where several rows
// read it or the cache is f16 (packs).
template <class Fn>
void slot_blocks(const query_row* qr, int nq, int64_t lo, int64_t hi, bool k_side, const head_rows& h, float* pack,
                 Fn fn) {
    int idx[item_rows];
    bool done[item_rows];
    int64_t b0, e0;
    for (int64_t j0 = lo; j0 < hi; j0 += key_block) {
        const int64_t j1 = std::min(hi, j0 + key_block);
        std::fill(done, done + nq, false);
        for (int i = 0; i < nq; ++i) {
            if (done[i]) continue;
            const int n = same_slot(qr, nq, i, j0, j1, done, idx, b0, e0);
            const bool packs = h.f16 || n > 1;
            if (packs && b0 < e0)
                pack_rows(k_side ? qr[i].k : qr[i].v, h.f16, k_side ? h.ks : h.vs, k_side ? h.dk : h.dv, b0, e0, pack);
            fn(j0, j1, idx, n, b0, e0, packs);
        }
    }
}

// Attends nq query rows that read the same KV head. Row i's scores sit at s + i * C, indexed by cache row. Keys,
// then values, are visited in blocks of key_block rows, each block meeting every query row before the next is read;
// splitting a row's dots and axpys into blocks changes no operation. Where several rows read one slot's block, or
// the cache is f16, the block is first copied (widened) to pack (key_block * max(dk, dv) floats) and read there.
void attend_block(const query_row* qr, int nq, const head_rows& h, float scale, float* s, int64_t C, float* pack) {
    int64_t lo = qr[0].first, hi = qr[0].len;
    for (int i = 1; i < nq; ++i) lo = std::min(lo, qr[i].first), hi = std::max(hi, qr[i].len);
    const float* xs[item_rows];
    float* outs[item_rows];
    slot_blocks(qr, nq, lo, hi, true, h, pack,
                [&](int64_t j0, int64_t j1, const int* idx, int n, int64_t b0, int64_t e0, bool packs) {
                    int nfull = 0;  // rows that see all of b0 .. e0: one pass over the packed rows for all of them
                    for (int r = 0; r < n; ++r) {
                        const query_row& m = qr[idx[r]];
                        const int64_t b = std::max(j0, m.first), e = std::min(j1, m.len);
                        if (b >= e) continue;
                        float* sm = s + idx[r] * C + b;
                        if (!packs)
                            simd::dot_f32_rows(m.q, static_cast<const float*>(m.k) + b * h.ks, h.ks, e - b, h.dk, sm);
                        else if (b > b0 || e < e0)
                            simd::dot_f32_rows(m.q, pack + (b - b0) * h.dk, h.dk, e - b, h.dk, sm);
                        else
                            xs[nfull] = m.q, outs[nfull++] = sm;
                    }
                    if (nfull > 0) simd::dot_f32_rows_multi(xs, nfull, pack, h.dk, e0 - b0, h.dk, outs);
                });
    for (int i = 0; i < nq; ++i) {
        simd::softmax_f32(s + i * C + qr[i].first, qr[i].len - qr[i].first, scale, qr[i].sink);
        std::memset(qr[i].out, 0, static_cast<size_t>(h.dv) * sizeof(float));
    }
    slot_blocks(qr, nq, lo, hi, false, h, pack,
                [&](int64_t j0, int64_t j1, const int* idx, int n, int64_t b0, int64_t, bool packs) {
                    for (int r = 0; r < n; ++r) {
                        const query_row& m = qr[idx[r]];
                        const int64_t b = std::max(j0, m.first), e = std::min(j1, m.len);
                        if (b >= e) continue;
                        const float* vb = packs ? pack + (b - b0) * h.dv : static_cast<const float*>(m.v) + b * h.vs;
                        simd::axpy_f32_rows(s + idx[r] * C + b, vb, packs ? h.dv : h.vs, e - b, h.dv, m.out);
                    }
                });
}

}  // namespace

void write_kv(const kv_rows& rows, const cached_attention& a, const float* k, const float* v, const kv_cache& cache) {
    const int64_t kn = a.Hkv * a.Dk, vn = a.Hkv * a.Dv;
    const kv_layout kl = cache.keys(a), vl = cache.values(a);
    for (int64_t t = 0; t < a.T; ++t) {
        const int64_t r = rows.row(t);
        if (cache.f16) {
            for (int64_t h = 0; h < a.Hkv; ++h) {
                simd::f32_to_f16(k + t * kn + h * a.Dk, static_cast<uint16_t*>(cache.k) + kl.offset(r, h), a.Dk);
                simd::f32_to_f16(v + t * vn + h * a.Dv, static_cast<uint16_t*>(cache.v) + vl.offset(r, h), a.Dv);
            }
        } else {
            std::memcpy(static_cast<float*>(cache.k) + r * kn, k + t * kn, static_cast<size_t>(kn) * sizeof(float));
            std::memcpy(static_cast<float*>(cache.v) + r * vn, v + t * vn, static_cast<size_t>(vn) * sizeof(float));
        }
    }
}

void attend_cached(context& c, const kv_rows& rows, const cached_attention& a, const float* q, const kv_cache& cache,
                   float* out) {
    // An item: KV head hk, query heads g0 .. g0 + gc - 1 of its group, tokens t0 .. t0 + tb - 1. Items run latest
    // tokens first (causal rows grow with the position), taken by whichever thread is free.
    // Decoding with few KV heads (one token of a 32-head group is one item) splits the groups so that every thread
    // has an item.
    const int64_t group = a.Hq / a.Hkv, nth = c.pool.size();
    int64_t gc = std::min(group, item_rows);
    if (a.Hkv * ((group + gc - 1) / gc) * ((a.T + item_rows / gc - 1) / (item_rows / gc)) < nth)
        gc = std::max<int64_t>(1, (group * a.Hkv + nth - 1) / nth / a.Hkv);
    const int64_t n_gc = (group + gc - 1) / gc;
    const int64_t tb = std::max<int64_t>(1, item_rows / gc), n_tb = (a.T + tb - 1) / tb;
    const int64_t items = a.Hkv * n_gc * n_tb, C = rows.C;
    const kv_layout kl = cache.keys(a), vl = cache.values(a);
    const head_rows h{kl.row_stride(), a.Dk, vl.row_stride(), a.Dv, cache.f16};
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
                for (int64_t hq = hk * group + g0; hq < hk * group + std::min(group, g0 + gc); ++hq)
                    qr[nq++] = {q + (t * a.Hq + hq) * a.Dk,
                                element(cache.k, h.f16, kl.offset(rows.first(t), hk)),
                                element(cache.v, h.f16, vl.offset(rows.first(t), hk)),
                                a.sinks ? a.sinks + hq : nullptr,
                                out + (t * a.Hq + hq) * a.Dv,
                                first,
                                len};
            }
            attend_block(qr, nq, h, a.scale, s, C, s + item_rows * C);
        }
    });
}

}  // namespace cpu
MOE_END_NAMESPACE
