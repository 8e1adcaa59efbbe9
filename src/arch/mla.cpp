// mla.cpp — the MLA attention block in graph ops, in llama.cpp's order (src/models/deepseek2.cpp there), so the
// two round alike. Before: the layer's attn_norm. After: the residual add; the KV latent lives in the session cache.
#include "arch/mla.hpp"

MOE_BEGIN_NAMESPACE

mla_weights bind_mla(weight_binder& wb, const std::string& pre, const mla_params& p, int64_t E) {
    const int64_t H = p.n_head, qk = p.qk_nope + p.n_rot, L = p.kv_lora_rank;
    mla_weights w;
    if (p.q_lora_rank > 0) {
        w.wq_a = wb.require(pre + "attn_q_a.weight", {p.q_lora_rank, E});
        w.q_a_norm = wb.require_f32(pre + "attn_q_a_norm.weight", {p.q_lora_rank});
        w.wq_b = wb.require(pre + "attn_q_b.weight", {H * qk, p.q_lora_rank});
    } else {
        w.wq = wb.require(pre + "attn_q.weight", {H * qk, E});
    }
    w.wkv_a_mqa = wb.require(pre + "attn_kv_a_mqa.weight", {L + p.n_rot, E});
    w.kv_a_norm = wb.require_f32(pre + "attn_kv_a_norm.weight", {L});
    if (p.absorbed) {
        w.wk_b = wb.require(pre + "attn_k_b.weight", {H, L, p.qk_nope});
        w.wv_b = wb.require(pre + "attn_v_b.weight", {H, p.v_dim, L});
    } else {
        w.wkv_b = wb.require(pre + "attn_kv_b.weight", {H * (p.qk_nope + p.v_dim), L});
    }
    w.wo = wb.require(pre + "attn_output.weight", {E, H * p.v_dim});
    return w;
}

kv_layer_shape mla_kv_shape(const mla_params& p) {
    if (p.absorbed) return kv_layer_shape{1, p.kv_lora_rank + p.n_rot, 0};  // values are read from the K rows
    return kv_layer_shape{p.n_head, p.qk_nope + p.n_rot, p.v_dim};
}

namespace {
value_id rope_part(graph_builder& b, value_id x, value_id pos, const mla_params& p) {
    if (p.yarn.ext_factor != 0.0f || p.yarn.attn_factor != 1.0f)
        return b.rope_yarn(x, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale,
                           yarn_rope_params(p.yarn, p.n_rot, p.rope_base));
    return b.rope(x, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale);
}
}  // namespace

value_id mla_attention(graph_builder& b, value_id x, value_id pos, value_id seq, value_id kcache, value_id vcache,
                       const mla_weights& w, const mla_params& p) {
    const int64_t T = b.val(x).sh[0], H = p.n_head, L = p.kv_lora_rank, R = p.n_rot, N = p.qk_nope;
    value_id q;  // [T, H, N + R]
    if (p.q_lora_rank > 0) {
        q = b.rms_norm(b.mul_mat(x, w.wq_a.in(b)), w.q_a_norm.in(b), p.norm_eps);
        q = b.mul_mat(q, w.wq_b.in(b));
    } else {
        q = b.mul_mat(x, w.wq.in(b));
    }
    q = b.reshape(q, {T, H, N + R});
    value_id q_nope = b.cols(q, 0, N);                           // [T, H, N]
    value_id q_pe = rope_part(b, b.cols(q, N, R), pos, p);       // [T, H, R]

    value_id kv_pe = b.mul_mat(x, w.wkv_a_mqa.in(b));            // [T, L + R]
    value_id latent = b.rms_norm(b.cols(kv_pe, 0, L), w.kv_a_norm.in(b), p.norm_eps);  // [T, L]
    value_id k_pe = rope_part(b, b.reshape(b.cols(kv_pe, L, R), {T, 1, R}), pos, p);  // [T, 1, R], one shared head

    const value_id apos = seq != no_value ? pos : no_value;  // one sequence: cache rows from n_past
    value_id out;  // [T, H * v_dim]
    if (p.absorbed) {
        // score = q_nope . (k_b latent) + q_pe . k_pe = (k_b^T q_nope) . latent + q_pe . k_pe: MQA over the cache
        value_id q_abs = b.mul_mat_heads(q_nope, w.wk_b.in(b));  // [T, H, L]
        value_id qc = b.concat(q_abs, q_pe);                    // [T, H, L + R]
        value_id kc = b.concat(b.reshape(latent, {T, 1, L}), k_pe);  // [T, 1, L + R]
        value_id a = b.attention_mla(qc, kc, kcache, L, p.kq_scale, apos, seq);  // [T, H, L]: attended latents
        out = b.reshape(b.mul_mat_heads(a, w.wv_b.in(b)), {T, H * p.v_dim});
    } else {
        value_id kv = b.reshape(b.mul_mat(latent, w.wkv_b.in(b)), {T, H, N + p.v_dim});
        value_id k = b.concat(b.cols(kv, 0, N), k_pe);  // the RoPE key repeats over the heads
        value_id v = b.cols(kv, N, p.v_dim);
        out = b.attention(b.concat(q_nope, q_pe), k, v, kcache, vcache, p.kq_scale, apos, seq);
    }
    return b.mul_mat(out, w.wo.in(b));
}

MOE_END_NAMESPACE
