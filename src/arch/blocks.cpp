// blocks.cpp — the shared attention and FFN blocks, written once in graph ops (see blocks.hpp for shapes).
// The kernels behind each op live in backends/; the order of ops mirrors llama.cpp's so rounding stays close.
#include "arch/blocks.hpp"

MOE_BEGIN_NAMESPACE

value_id attention_block(graph_builder& b, value_id x, value_id pos, value_id kcache, value_id vcache,
                         const attention_weights& w, const attention_params& p) {
    const int64_t T = b.val(x).sh[0];
    value_id q = b.reshape(b.mul_mat(x, w.wq.in(b)), {T, p.n_head, p.head_dim_k});
    value_id k = b.reshape(b.mul_mat(x, w.wk.in(b)), {T, p.n_head_kv, p.head_dim_k});
    value_id v = b.reshape(b.mul_mat(x, w.wv.in(b)), {T, p.n_head_kv, p.head_dim_v});
    q = b.rope(q, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale);
    k = b.rope(k, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale);
    value_id a = b.attention(q, k, v, kcache, vcache, p.scale);
    return b.mul_mat(a, w.wo.in(b));
}

value_id moe_ffn(graph_builder& b, value_id x, const moe_weights& w, const moe_params& p) {
    const int64_t T = b.val(x).sh[0], d = b.val(x).sh[1];
    value_id probs = b.softmax(b.mul_mat(x, w.router.in(b)));  // [T, n_expert]
    value_id ids = b.top_k(probs, p.n_expert_used);             // [T, k]
    value_id weights = b.gather_cols(probs, ids);               // [T, k]
    if (p.normalize_weights) weights = b.normalize_sum(weights);
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

MOE_END_NAMESPACE
