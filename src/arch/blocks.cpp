// blocks.cpp — the shared attention and FFN blocks, written once in graph ops (see blocks.hpp for shapes).
// The kernels behind each op live in backends/; the order of ops mirrors llama.cpp's so rounding stays close.
#include "arch/blocks.hpp"

MOE_BEGIN_NAMESPACE

namespace {
// y = x W^T (+ bias)
value_id linear(graph_builder& b, value_id x, const weight& w, const weight& bias) {
    value_id y = b.mul_mat(x, w.in(b));
    return bias ? b.add(y, bias.in(b)) : y;
}

// Projection [T, H * D] -> [T, H, D], RMS-normed per head or as a whole when a norm weight is given.
value_id heads(graph_builder& b, value_id y, int64_t H, int64_t D, const weight& norm, float eps) {
    const int64_t T = b.val(y).sh[0];
    if (norm && norm.sh[0] != D) y = b.rms_norm(y, norm.in(b), eps);  // whole projection (OLMoE)
    y = b.reshape(y, {T, H, D});
    if (norm && norm.sh[0] == D) y = b.rms_norm(y, norm.in(b), eps);  // each head (Qwen3)
    return y;
}
}  // namespace

value_id attention_block(graph_builder& b, value_id x, value_id pos, value_id kcache, value_id vcache,
                         const attention_weights& w, const attention_params& p) {
    value_id q = heads(b, linear(b, x, w.wq, w.bq), p.n_head, p.head_dim_k, w.q_norm, p.norm_eps);
    value_id k = heads(b, linear(b, x, w.wk, w.bk), p.n_head_kv, p.head_dim_k, w.k_norm, p.norm_eps);
    value_id v = heads(b, linear(b, x, w.wv, w.bv), p.n_head_kv, p.head_dim_v, weight{}, 0.0f);
    q = b.rope(q, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale);
    k = b.rope(k, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale);
    value_id a = b.attention(q, k, v, kcache, vcache, p.scale);
    return linear(b, a, w.wo, w.bo);
}

value_id moe_ffn(graph_builder& b, value_id x, const moe_weights& w, const moe_params& p) {
    const int64_t T = b.val(x).sh[0], d = b.val(x).sh[1];
    value_id probs = b.softmax(b.mul_mat(x, w.router.in(b)));  // [T, n_expert]
    value_id ids = b.top_k(probs, p.n_expert_used);             // [T, k]
    value_id weights = b.gather_cols(probs, ids);               // [T, k]
    if (p.normalize_weights) weights = b.normalize_sum(weights);
    if (p.weights_scale != 0.0f && p.weights_scale != 1.0f) weights = b.scale(weights, p.weights_scale);
    value_id xr = b.reshape(x, {T, 1, d});
    value_id gate = b.mul_mat_id(xr, w.gate_exps.in(b), ids);  // [T, k, n_ff]
    value_id up = b.mul_mat_id(xr, w.up_exps.in(b), ids);      // [T, k, n_ff]
    value_id down = b.mul_mat_id(b.swiglu(gate, up), w.down_exps.in(b), ids);  // [T, k, n_embd]
    return b.weighted_sum(down, weights);
}

value_id swiglu_ffn(graph_builder& b, value_id x, const weight& gate, const weight& up, const weight& down) {
    value_id g = b.mul_mat(x, gate.in(b));
    value_id u = b.mul_mat(x, up.in(b));
    return b.mul_mat(b.swiglu(g, u), down.in(b));
}

value_id shared_expert_ffn(graph_builder& b, value_id x, const shared_expert_weights& w) {
    value_id f = swiglu_ffn(b, x, w.gate, w.up, w.down);
    if (!w.gate_inp) return f;
    weight row = w.gate_inp;  // [n_embd] used as a one-row matrix
    row.sh = shape{1, w.gate_inp.sh[0]};
    value_id g = b.mul_mat(x, row.in(b));  // [T, 1]
    // sigmoid written as silu(g) / g, the way llama.cpp computes this gate, so the two round alike
    return b.mul(f, b.div(b.silu(g), g));
}

MOE_END_NAMESPACE
