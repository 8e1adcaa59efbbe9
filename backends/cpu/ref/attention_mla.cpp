// attention_mla.cpp — Multi-head Latent Attention over a compressed KV cache (DeepSeek-V2/V3, as llama.cpp runs it
// with absorbed wk_b/wv_b): one shared cache "head" per token holds [latent | RoPE key]; the values are the latent.
// Before: src/arch/deepseek2.cpp builds q = [wk_b-absorbed q_nope | q_pe]. After: mul_mat_heads with wv_b.
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/kv_rows.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/simd/simd.hpp"

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {

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
    float* kc = static_cast<float*>(cache.data);
    for (int64_t t = 0; t < T; ++t)
        std::memcpy(kc + rows.row(t) * D, static_cast<const float*>(kv.data) + t * D,
                    static_cast<size_t>(D) * sizeof(float));

    const int W = ggml_f32::lanes();
    const int64_t pad = W > 0 ? 4 * W : 1;                       // softmax chunks; rows past the query are -inf
    const bool tile_scores = W > 0 && H == 1 && T >= 2 && D % W == 0;
    const bool tile_values = W > 0 && T >= 2 && Dv % 4 == 0;
    const float* qp = static_cast<const float*>(q.data);
    float* o = static_cast<float*>(out.data);
    c.pool.run([&](int ith, int nth) {
        // scores for the whole cache (+ padding) and the value accumulators: sized once, no growth while decoding
        float* s = c.scratch(ith, static_cast<size_t>(C + pad + 4 * 16 * Dv));
        float* acc = s + C + pad;
        for (int64_t th = ith; th < T * H; th += nth) {
            const int64_t t = th / H, len = rows.position(t) + 1, padded = (len + pad - 1) / pad * pad;
            const float* qr = qp + th * D;
            const float* slot = kc + rows.first(t) * D;
            float mx = -INFINITY;
            for (int64_t j = 0; j < len; ++j) {
                const float* kr = slot + j * D;
                s[j] = (tile_scores ? simd::ggml_dot_tile(W, kr, qr, D) : simd::ggml_dot(W, kr, qr, D)) * scale;
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int64_t j = len; j < padded; ++j) s[j] = -INFINITY;
            const float inv = static_cast<float>(1.0 / ggml_f32::exp_sum(W, s, mx, s, padded));
            for (int64_t j = 0; j < len; ++j) s[j] *= inv;
            simd::ggml_weighted_rows(W, tile_values, s, slot, D, len, Dv, o + th * Dv, acc);
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
