// attention_mla.cpp — Multi-head Latent Attention over a compressed f32 or f16 KV cache (DeepSeek-V2/V3, as llama.cpp
// runs it with absorbed wk_b/wv_b): one shared cache "head" per token holds [latent | RoPE key]; values are the latent.
// Before: src/arch/deepseek2.cpp builds q = [wk_b-absorbed q_nope | q_pe]. After: mul_mat_heads with wv_b.
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/kv_rows.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/simd/simd.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace cpu {

namespace {

constexpr int mla_item_rows = 32;    // query rows per work item
constexpr int64_t mla_key_block = 64;  // cache rows whose scores all of an item's rows take before the next block

// The query rows of one work item: query, cache slot (row 0: floats, or with hslot set an f16 cache's own rows),
// rows attended (0 .. len - 1), scores, output.
struct mla_rows {
    int n = 0;
    const float* q[mla_item_rows];
    const float* slot[mla_item_rows];
    const uint16_t* hslot[mla_item_rows];
    int64_t len[mla_item_rows];
    float* s[mla_item_rows];
    float* out[mla_item_rows];
    bool f16 = false;      // rows read from hslot (decoding over an f16 cache), widened block by block into kbuf
    float* kbuf = nullptr;  // mla_key_block rows of D floats
    float* acc = nullptr;   // the value sums' scratch (attention_mla sizes it)

    bool same_slot(int i, int j) const noexcept { return f16 ? hslot[i] == hslot[j] : slot[i] == slot[j]; }
    // Rows j0 .. j1 - 1 of row i's slot as floats: the cache's own, or an f16 block widened (exactly) into kbuf.
    const float* key_rows(int i, int64_t j0, int64_t j1, int64_t D) const noexcept {
        if (!f16) return slot[i] + j0 * D;
        simd::f16_rows_to_f32(hslot[i] + j0 * D, D, j1 - j0, D, kbuf);
        return kbuf;
    }
};

// Each row's arithmetic is the one-row-at-a-time order (attention_mla's comment); only the visiting order changes:
// keys in blocks that every row scores before the next block (rows of one slot that take the whole block share
// its loads), and values summed for all rows of one slot and length at once, so the item's rows read each cache
// row from L2 instead of each from memory.
void mla_attend_item(mla_rows& r, int W, int64_t D, int64_t Dv, float scale, bool tile_scores, bool tile_values) {
    const int64_t pad = W > 0 ? 4 * W : 1;
    int64_t hi = 0;
    for (int i = 0; i < r.n; ++i) hi = std::max(hi, r.len[i]);
    const float* xs[mla_item_rows];
    float* outs[mla_item_rows];
    for (int64_t j0 = 0; j0 < hi; j0 += mla_key_block) {
        const int64_t j1 = std::min(hi, j0 + mla_key_block);
        for (int i0 = 0, i1 = 0; i0 < r.n; i0 = i1) {  // runs of rows over one slot
            int64_t last = j0;  // the run's rows read rows j0 .. last - 1 of this block
            for (i1 = i0; i1 < r.n && r.same_slot(i1, i0); ++i1) last = std::max(last, std::min(j1, r.len[i1]));
            if (last == j0) continue;
            const float* kb = r.key_rows(i0, j0, last, D);
            int nfull = 0;
            for (int i = i0; i < i1; ++i) {
                const int64_t e = std::min(j1, r.len[i]);
                if (!tile_scores && e == j1) {
                    xs[nfull] = r.q[i], outs[nfull++] = r.s[i] + j0;
                    continue;
                }
                for (int64_t j = j0; j < e; ++j) {
                    const float* kr = kb + (j - j0) * D;
                    r.s[i][j] = tile_scores ? simd::ggml_dot_tile(W, kr, r.q[i], D) : simd::ggml_dot(W, kr, r.q[i], D);
                }
            }
            if (nfull > 0) simd::ggml_dot_rows_multi(W, xs, nfull, kb, D, j1 - j0, D, outs);
        }
    }
    for (int i = 0; i < r.n; ++i) {
        float* s = r.s[i];
        const int64_t len = r.len[i], padded = (len + pad - 1) / pad * pad;
        float mx = -INFINITY;
        for (int64_t j = 0; j < len; ++j) {
            s[j] = s[j] * scale;
            mx = s[j] > mx ? s[j] : mx;
        }
        for (int64_t j = len; j < padded; ++j) s[j] = -INFINITY;
        const float inv = static_cast<float>(1.0 / ggml_f32::exp_sum(W, s, mx, s, padded));
        for (int64_t j = 0; j < len; ++j) s[j] *= inv;
    }
    const float* ps[mla_item_rows];
    if (tile_values) {  // rows of the first row's slot together, row blocks in L1; any others one by one
        int64_t ns[mla_item_rows];
        int nsame = 0;
        for (int i = 0; i < r.n; ++i) {
            if (r.slot[i] == r.slot[0]) ps[nsame] = r.s[i], ns[nsame] = r.len[i], outs[nsame++] = r.out[i];
            else simd::ggml_weighted_rows(W, true, r.s[i], r.slot[i], D, r.len[i], Dv, r.out[i], r.acc);
        }
        simd::ggml_weighted_rows_multi(W, ps, ns, nsame, r.slot[0], D, Dv, outs, r.acc);
        return;
    }
    for (int i0 = 0, i1 = 0; i0 < r.n; i0 = i1) {  // runs of rows over the same rows of one slot
        for (i1 = i0; i1 < r.n && r.same_slot(i1, i0) && r.len[i1] == r.len[i0]; ++i1)
            ps[i1 - i0] = r.s[i1], outs[i1 - i0] = r.out[i1];
        if (r.f16) simd::ggml_weighted_rows_vec_multi_f16(W, ps, i1 - i0, r.hslot[i0], D, r.len[i0], Dv, outs, r.acc);
        else simd::ggml_weighted_rows_vec_multi(W, ps, i1 - i0, r.slot[i0], D, r.len[i0], Dv, outs, r.acc);
    }
}

// An f16 cache's rows, widened to f32 once for all of the op's work items: each slot's rows 0 .. the last row a
// token of the batch reads, into the context's shared scratch, slot after slot; c.offset_scratch[slot] is the row
// of the scratch where the slot's row 0 lands. The widening is exact, so the arithmetic after it is an f32 cache's.
const float* widen_slots(context& c, const kv_rows& rows, const tensor_view& cache, int64_t T, int64_t D) {
    const int64_t S = rows.seq ? cache.sh[0] : 1;
    std::vector<int64_t>& off = c.offset_scratch;
    if (off.size() < static_cast<size_t>(2 * S)) off.resize(static_cast<size_t>(2 * S));
    int64_t* len = off.data() + S;
    std::fill(len, len + S, 0);
    for (int64_t t = 0; t < T; ++t) {
        int64_t& l = len[rows.seq ? rows.seq[t] : 0];
        l = std::max(l, rows.position(t) + 1);
    }
    int64_t total = 0;
    for (int64_t s = 0; s < S; ++s) off[static_cast<size_t>(s)] = total, total += len[s];
    // one sequence: sized for the whole cache, so no growth while decoding
    float* dst = c.shared_scratch(static_cast<size_t>((rows.seq ? total : rows.C) * D));
    const uint16_t* src = static_cast<const uint16_t*>(cache.data);
    c.pool.run([&](int ith, int nth) {
        const int64_t r0 = total * ith / nth, r1 = total * (ith + 1) / nth;  // this thread's rows of the scratch
        for (int64_t s = 0; s < S; ++s) {
            const int64_t o = off[static_cast<size_t>(s)], b = std::max(r0, o), e = std::min(r1, o + len[s]);
            for (int64_t r = b; r < e; ++r) simd::f16_to_f32(src + (s * rows.C + r - o) * D, dst + r * D, D);
        }
    });
    return dst;
}

}  // namespace

// q [T, H, D], kv [T, 1, D], cache [C, 1, D] -> out [T, H, Dv]. Appends kv at cache rows n_past.., then query row
// t attends to rows 0 .. n_past + t (several sequences: slot seq[t], rows 0 .. pos[t]; kv_rows.hpp):
// softmax(q . k_j * scale) weights the first Dv columns of each row.
//
// Every sum runs in the order of llama.cpp's CPU graph for the same batch (ggml_f32_order.hpp), so the attended
// latents round as its do: the scores are ggml_vec_dot_f32 (its q is a permuted, non-contiguous view; with one head
// it is contiguous and a batch goes to tinyBLAS), the softmax is ggml's over chunks of the SIMD width, and the value
// sums are tinyBLAS's for batches (n >= 2, value rows a multiple of 4) and ggml_vec_dot_f32's for one token.
// Bit-equal latents matter: llama.cpp quantizes them (q8_0) before wv_b, which turns last-bit differences into
// whole quantization steps.
status attention_mla(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args& args) {
    const tensor_view &q = in[0], &kv = in[1], &cache = in[2];
    const int64_t T = q.sh[0], H = q.sh[1], D = q.sh[2], Dv = n.i[0];
    kv_rows rows;
    MOE_TRY(rows.init(n, in, 2, T, args));
    const int64_t C = rows.C;
    if (Dv < 1 || Dv > D) return status(errc::invalid_argument, "attention_mla: value width outside the cache row");
    const float scale = n.f[0];
    const bool f16 = cache.type == dtype::f16;
    for (int64_t t = 0; t < T; ++t) {
        const float* src = static_cast<const float*>(kv.data) + t * D;
        if (f16) simd::f32_to_f16(src, static_cast<uint16_t*>(cache.data) + rows.row(t) * D, D);
        else std::memcpy(static_cast<float*>(cache.data) + rows.row(t) * D, src, sizeof(float) * size_t(D));
    }
    // The rows the queries read, as floats: the cache itself; an f16 cache's rows widened block by block inside
    // each work item when decoding one token (two or so items read each row); for a batch, its filled rows widened
    // once per op.
    const bool direct = f16 && T == 1;
    const float* kc = f16 && !direct ? widen_slots(c, rows, cache, T, D) : static_cast<const float*>(cache.data);
    auto slot_of = [&](int64_t t) {
        const size_t slot = static_cast<size_t>(rows.seq ? rows.seq[t] : 0);
        return f16 && !direct ? kc + c.offset_scratch[slot] * D : kc + rows.first(t) * D;
    };
    const uint16_t* hc_rows = static_cast<const uint16_t*>(cache.data);

    const int W = ggml_f32::lanes();
    const int64_t pad = W > 0 ? 4 * W : 1;                       // softmax chunks; rows past the query are -inf
    const bool tile_scores = W > 0 && H == 1 && T >= 2 && D % W == 0;
    const bool tile_values = W > 0 && T >= 2 && Dv % 4 == 0;
    const float* qp = static_cast<const float*>(q.data);
    float* o = static_cast<float*>(out.data);
    // An item: heads h0 .. h0 + hc - 1 of tokens t0 .. t0 + tb - 1, latest tokens first, taken by whichever thread
    // is free. Its query rows read the same cache rows (one shared head), block by block (mla_attend_item).
    // Decoding (one token of 16 heads is one item) splits the heads so that every thread has an item.
    const int64_t nth = c.pool.size();
    int64_t hc = std::min<int64_t>(H, mla_item_rows);
    if ((T + mla_item_rows / hc - 1) / (mla_item_rows / hc) * ((H + hc - 1) / hc) < nth)
        hc = std::max<int64_t>(1, (H + nth - 1) / nth);
    const int64_t n_hc = (H + hc - 1) / hc;
    const int64_t tb = std::max<int64_t>(1, mla_item_rows / hc), n_tb = (T + tb - 1) / tb;
    const int64_t items = n_tb * n_hc, srow = C + pad;
    std::atomic<int64_t> next{0};
    c.pool.run([&](int ith, int) {
        // scores for the whole cache (+ padding) per row, then the value accumulators: no growth while decoding
        const int64_t acc_floats = std::max<int64_t>(simd::ggml_weighted_vec_acc_floats(mla_item_rows, Dv),
                                                     (mla_item_rows * 16 + 256) * 16);
        const int64_t kbuf_floats = direct ? mla_key_block * D : 0;
        float* s = c.scratch(ith, static_cast<size_t>(mla_item_rows * srow + acc_floats + kbuf_floats));
        mla_rows r;
        r.acc = s + mla_item_rows * srow;
        r.f16 = direct;
        r.kbuf = r.acc + acc_floats;
        for (int64_t it; (it = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
            const int64_t t0 = (n_tb - 1 - it / n_hc) * tb, h0 = it % n_hc * hc;
            r.n = 0;
            for (int64_t t = t0; t < std::min(T, t0 + tb); ++t)
                for (int64_t h = h0; h < std::min(H, h0 + hc); ++h, ++r.n) {
                    r.q[r.n] = qp + (t * H + h) * D;
                    if (direct) r.hslot[r.n] = hc_rows + rows.first(t) * D;
                    else r.slot[r.n] = slot_of(t);
                    r.len[r.n] = rows.position(t) + 1;
                    r.s[r.n] = s + r.n * srow;
                    r.out[r.n] = o + (t * H + h) * Dv;
                }
            mla_attend_item(r, W, D, Dv, scale, tile_scores, tile_values);
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
