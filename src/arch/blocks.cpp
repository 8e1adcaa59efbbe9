// blocks.cpp — the shared attention and FFN blocks, written once in graph ops (see blocks.hpp for shapes).
// The kernels behind each op live in backends/; the order of ops mirrors llama.cpp's so rounding stays close.
#include "arch/blocks.hpp"

#include <algorithm>
#include <cmath>

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

value_id attention_block(graph_builder& b, value_id x, value_id pos, value_id seq, value_id kcache, value_id vcache,
                         const attention_weights& w, const attention_params& p) {
    value_id q = heads(b, linear(b, x, w.wq, w.bq), p.n_head, p.head_dim_k, w.q_norm, p.norm_eps);
    value_id k = heads(b, linear(b, x, w.wk, w.bk), p.n_head_kv, p.head_dim_k, w.k_norm, p.norm_eps);
    value_id v = heads(b, linear(b, x, w.wv, w.bv), p.n_head_kv, p.head_dim_v, weight{}, 0.0f);
    if (p.yarn.ext_factor != 0.0f || p.yarn.attn_factor != 1.0f) {
        const rope_yarn_params y = yarn_rope_params(p.yarn, p.n_rot, p.rope_base);
        q = b.rope_yarn(q, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale, y);
        k = b.rope_yarn(k, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale, y);
    } else {
        q = b.rope(q, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale);
        k = b.rope(k, pos, p.n_rot, p.mode, p.rope_base, p.rope_freq_scale);
    }
    const value_id apos = seq != no_value ? pos : no_value;  // one sequence: rows from n_past
    value_id a = p.window > 0 || w.sinks ? b.attention_ext(q, k, v, kcache, vcache, w.sinks ? w.sinks.in(b) : no_value,
                                                           p.scale, p.window, apos, seq)
                                         : b.attention(q, k, v, kcache, vcache, p.scale, apos, seq);
    return linear(b, a, w.wo, w.bo);
}

rope_yarn_params yarn_rope_params(const yarn_params& y, int64_t n_rot, float base) {
    // float math as ggml_rope_yarn_corr_dims: n_rot * ln(n_ctx_orig / (beta * 2 pi)) / (2 ln base)
    const float pi = static_cast<float>(3.14159265358979323846);
    auto corr_dim = [&](float beta) {
        return static_cast<float>(n_rot) * std::log(static_cast<float>(y.n_ctx_orig) / (beta * 2 * pi)) /
               (2 * std::log(base));
    };
    const float low = std::max(0.0f, std::floor(corr_dim(y.beta_fast)));
    const float high = std::min(static_cast<float>(n_rot - 1), std::ceil(corr_dim(y.beta_slow)));
    auto whole = [](float v) {  // whole numbers; non-finite or huge values saturate (the ramp is then flat)
        return std::isnan(v) ? int64_t(0) : static_cast<int64_t>(std::max(-1e9f, std::min(1e9f, v)));
    };
    rope_yarn_params r;
    r.ext_factor = y.ext_factor, r.attn_factor = y.attn_factor;
    r.corr_low = whole(low), r.corr_high = whole(high);
    return r;
}

value_id moe_ffn(graph_builder& b, value_id x, const moe_weights& w, const moe_params& p) {
    const int64_t T = b.val(x).sh[0], d = b.val(x).sh[1];
    value_id logits = b.mul_mat(x, w.router.in(b));  // [T, n_expert]
    value_id probs = p.gating == expert_gating::sigmoid ? b.sigmoid(logits) : b.softmax(logits);
    value_id select = w.exp_probs_b ? b.add(probs, w.exp_probs_b.in(b)) : probs;  // the bias only steers the choice
    if (p.n_group > 1) select = b.expert_group_mask(select, p.n_group, p.n_group_used);
    value_id ids = b.top_k(select, p.n_expert_used);  // [T, k]
    value_id weights = b.gather_cols(probs, ids);     // [T, k]
    if (p.normalize_weights) weights = b.normalize_sum(weights);
    if (p.weights_scale != 0.0f && p.weights_scale != 1.0f) weights = b.scale(weights, p.weights_scale);
    value_id xr = b.reshape(x, {T, 1, d});
    value_id gate, up;  // [T, k, n_ff]
    if (w.gate_up_exps) {  // one product, then the two halves of each row (llama.cpp's views of the fused result)
        value_id gu = b.mul_mat_id(xr, w.gate_up_exps.in(b), ids);  // [T, k, 2 n_ff]
        const int64_t F = b.val(gu).sh[2] / 2;
        gate = b.cols(gu, 0, F);
        up = b.cols(gu, F, F);
    } else {
        gate = b.mul_mat_id(xr, w.gate_exps.in(b), ids);
        up = b.mul_mat_id(xr, w.up_exps.in(b), ids);
    }
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
