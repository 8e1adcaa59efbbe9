// model_writer_deepseek2.cpp — random deepseek2 (DeepSeek-V2/V3-style) layers with the tensor names, shapes and
// metadata keys llama.cpp's converter writes. Called by model_writer.cpp; read by src/arch/deepseek2.cpp and llama.cpp.
#include "testgen/model_writer_deepseek2.hpp"

#include <moe/quant.hpp>

#include <cmath>

MOE_BEGIN_NAMESPACE
namespace testgen {

namespace {
struct ds_dims {
    int64_t E, H, qk, R, N, L, V, Q, F, X, S, D;  // embd, heads, q/k head, rope, no-rope, kv lora, v head, q lora,
};                                                // expert ff, experts, shared ff, dense ff
ds_dims dims_of(const model_spec& s, int64_t head_dim) {
    const model_spec::deepseek2_spec& d = s.deepseek2;
    ds_dims x{};
    x.E = s.n_embd, x.H = s.n_head, x.qk = head_dim, x.R = d.rope_dim, x.N = head_dim - d.rope_dim;
    x.L = d.kv_lora_rank, x.V = d.v_head_dim > 0 ? d.v_head_dim : x.N, x.Q = d.q_lora_rank, x.F = s.n_ff;
    x.X = s.n_expert, x.S = s.n_ff * d.n_expert_shared, x.D = d.n_ff_dense > 0 ? d.n_ff_dense : 2 * s.n_ff;
    return x;
}
double inv_sqrt(int64_t fan_in) { return 1.0 / std::sqrt(static_cast<double>(fan_in)); }
}  // namespace

status check_deepseek2_spec(const model_spec& s, int64_t head_dim) {
    auto bad = [](const std::string& m) { return status(errc::invalid_argument, "model spec: deepseek2 " + m); };
    const model_spec::deepseek2_spec& d = s.deepseek2;
    const ds_dims x = dims_of(s, head_dim);
    if (d.rope_dim <= 0 || d.rope_dim % 2 || x.N < 1) return bad("needs an even rope_dim below head_dim");
    if (d.kv_lora_rank <= 0 || d.q_lora_rank < 0 || d.v_head_dim < 0 || d.n_expert_shared < 0 || d.n_dense_lead < 0 ||
        d.n_ff_dense < 0 || d.n_dense_lead > s.n_layer)
        return bad("ranks, head sizes and layer counts must be in range");
    if (d.n_group > 1 && (s.n_expert % d.n_group || s.n_expert / d.n_group < 2 || d.n_group_used < 1 ||
                          d.n_group_used >= d.n_group))
        return bad("groups must split the experts in groups of two or more, with 1 .. n_group - 1 used");
    if (d.yarn_factor < 0.0f || d.yarn_orig_ctx < 0 || d.yarn_mscale_all_dim < 0.0f) return bad("YaRN values < 0");
    // rows of every matrix must be whole blocks: attn_k_b rows are the no-RoPE part, attn_v_b/attn_kv_b rows the latent
    const int64_t bs = traits(s.weight_type).block_size;
    for (int64_t n : {x.N, x.L, x.Q, x.H * x.V, x.D, x.S})
        if (n % bs != 0)
            return bad("q_lora_rank, kv_lora_rank, head_dim - rope_dim, n_head * v_head_dim and the dense and shared "
                       "FFN widths must be multiples of " + std::to_string(bs) + " for " + dtype_name(s.weight_type));
    return ok_status();
}

void write_deepseek2_metadata(gguf::writer& w, const model_spec& s, int64_t head_dim) {
    const model_spec::deepseek2_spec& d = s.deepseek2;
    const ds_dims x = dims_of(s, head_dim);
    const std::string a = "deepseek2.";
    auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
    w.set_u32(a + "feed_forward_length", u32(x.D));
    w.set_u32(a + "leading_dense_block_count", u32(d.n_dense_lead));
    w.set_u32(a + "rope.dimension_count", u32(x.R));
    w.set_u32(a + "attention.q_lora_rank", u32(x.Q));  // llama.cpp wants the key unless the layer count is V2-Lite's
    w.set_u32(a + "attention.kv_lora_rank", u32(x.L));
    if (d.legacy_kv_b) {  // before MLA absorption: full K/V per head
        w.set_u32(a + "attention.head_count_kv", u32(x.H));
        w.set_u32(a + "attention.key_length", u32(x.qk));
        w.set_u32(a + "attention.value_length", u32(x.V));
    } else {  // MQA over the latent: one shared head of kv_lora_rank + rope dims, values kv_lora_rank wide
        w.set_u32(a + "attention.head_count_kv", 1);
        w.set_u32(a + "attention.key_length", u32(x.L + x.R));
        w.set_u32(a + "attention.value_length", u32(x.L));
        w.set_u32(a + "attention.key_length_mla", u32(x.qk));
        w.set_u32(a + "attention.value_length_mla", u32(x.V));
    }
    w.set_u32(a + "expert_feed_forward_length", u32(x.F));
    w.set_u32(a + "expert_shared_count", u32(d.n_expert_shared));
    w.set_f32(a + "expert_weights_scale", d.weights_scale);
    if (d.weights_norm) w.set_bool(a + "expert_weights_norm", true);
    w.set_u32(a + "expert_gating_func", d.sigmoid ? 2 : 1);
    if (d.n_group > 0) {
        w.set_u32(a + "expert_group_count", u32(d.n_group));
        w.set_u32(a + "expert_group_used_count", u32(d.n_group_used));
    }
    if (d.yarn_factor > 0.0f) {
        w.set_string(a + "rope.scaling.type", "yarn");
        w.set_f32(a + "rope.scaling.factor", d.yarn_factor);
        w.set_u32(a + "rope.scaling.original_context_length", u32(d.yarn_orig_ctx > 0 ? d.yarn_orig_ctx : s.n_ctx_train));
        if (d.yarn_mscale_all_dim > 0.0f) w.set_f32(a + "rope.scaling.yarn_log_multiplier", 0.1f * d.yarn_mscale_all_dim);
    }
}

status write_deepseek2_layer(const model_spec& s, int64_t head_dim, int64_t il, const gaussian_fn& gaussian,
                             const put_fn& put) {
    const model_spec::deepseek2_spec& d = s.deepseek2;
    const ds_dims x = dims_of(s, head_dim);
    const dtype wt = s.weight_type;
    const std::string p = "blk." + std::to_string(il) + ".";
    auto size = [](const std::vector<int64_t>& ne) {
        size_t n = 1;
        for (int64_t v : ne) n *= static_cast<size_t>(v);
        return n;
    };
    auto tensor = [&](const std::string& name, const std::vector<int64_t>& ne, dtype t, double mean, double sd) {
        return put(name, ne, t, gaussian(name, size(ne), mean, sd));
    };
    auto norm = [&](const std::string& name, int64_t n) { return tensor(name, {n}, dtype::f32, 1.0, 0.1); };
    // scales as model_writer.cpp: activations O(1) through the layer
    MOE_TRY(norm(p + "attn_norm.weight", x.E));
    if (x.Q > 0) {
        MOE_TRY(tensor(p + "attn_q_a.weight", {x.E, x.Q}, wt, 0.0, inv_sqrt(x.E)));
        MOE_TRY(norm(p + "attn_q_a_norm.weight", x.Q));
        MOE_TRY(tensor(p + "attn_q_b.weight", {x.Q, x.H * x.qk}, wt, 0.0, inv_sqrt(x.Q)));
    } else {
        MOE_TRY(tensor(p + "attn_q.weight", {x.E, x.H * x.qk}, wt, 0.0, inv_sqrt(x.E)));
    }
    MOE_TRY(tensor(p + "attn_kv_a_mqa.weight", {x.E, x.L + x.R}, wt, 0.0, inv_sqrt(x.E)));
    MOE_TRY(norm(p + "attn_kv_a_norm.weight", x.L));
    // k_b [H][L][N] (ggml ne {N, L, H}) and v_b [H][V][L] (ne {L, V, H}); older files hold both in attn_kv_b, per
    // head N rows of k (k_b transposed) then V rows of v, each L wide: the converter's split, undone
    const std::vector<float> kb = gaussian(p + "attn_k_b.weight", size({x.N, x.L, x.H}), 0.0, inv_sqrt(x.L));
    const std::vector<float> vb = gaussian(p + "attn_v_b.weight", size({x.L, x.V, x.H}), 0.0, inv_sqrt(x.L));
    if (d.legacy_kv_b) {
        std::vector<float> kvb(static_cast<size_t>(x.H * (x.N + x.V) * x.L));
        for (int64_t h = 0; h < x.H; ++h) {
            float* head = kvb.data() + h * (x.N + x.V) * x.L;
            for (int64_t n = 0; n < x.N; ++n)
                for (int64_t c = 0; c < x.L; ++c) head[n * x.L + c] = kb[static_cast<size_t>((h * x.L + c) * x.N + n)];
            for (int64_t v = 0; v < x.V; ++v)
                for (int64_t c = 0; c < x.L; ++c)
                    head[(x.N + v) * x.L + c] = vb[static_cast<size_t>((h * x.V + v) * x.L + c)];
        }
        MOE_TRY(put(p + "attn_kv_b.weight", {x.L, x.H * (x.N + x.V)}, wt, kvb));
    } else {
        MOE_TRY(put(p + "attn_k_b.weight", {x.N, x.L, x.H}, wt, kb));
        MOE_TRY(put(p + "attn_v_b.weight", {x.L, x.V, x.H}, wt, vb));
    }
    MOE_TRY(tensor(p + "attn_output.weight", {x.H * x.V, x.E}, wt, 0.0, inv_sqrt(x.H * x.V)));
    MOE_TRY(norm(p + "ffn_norm.weight", x.E));
    if (il < d.n_dense_lead) {
        MOE_TRY(tensor(p + "ffn_gate.weight", {x.E, x.D}, wt, 0.0, inv_sqrt(x.E)));
        MOE_TRY(tensor(p + "ffn_up.weight", {x.E, x.D}, wt, 0.0, inv_sqrt(x.E)));
        return tensor(p + "ffn_down.weight", {x.D, x.E}, wt, 0.0, inv_sqrt(x.D));
    }
    // the router and the selection biases stay f32, as llama.cpp's quantizer keeps them
    MOE_TRY(tensor(p + "ffn_gate_inp.weight", {x.E, x.X}, dtype::f32, 0.0, inv_sqrt(x.E)));
    if (d.sigmoid) MOE_TRY(tensor(p + "exp_probs_b.bias", {x.X}, dtype::f32, 0.0, 0.1));
    if (d.fuse_gate_up) {  // one tensor: per expert the gate rows, then the up rows
        MOE_TRY(tensor(p + "ffn_gate_up_exps.weight", {x.E, 2 * x.F, x.X}, wt, 0.0, inv_sqrt(x.E)));
    } else {
        MOE_TRY(tensor(p + "ffn_gate_exps.weight", {x.E, x.F, x.X}, wt, 0.0, inv_sqrt(x.E)));
        MOE_TRY(tensor(p + "ffn_up_exps.weight", {x.E, x.F, x.X}, wt, 0.0, inv_sqrt(x.E)));
    }
    MOE_TRY(tensor(p + "ffn_down_exps.weight", {x.F, x.E, x.X}, wt, 0.0, inv_sqrt(x.F)));
    if (x.S > 0) {
        MOE_TRY(tensor(p + "ffn_gate_shexp.weight", {x.E, x.S}, wt, 0.0, inv_sqrt(x.E)));
        MOE_TRY(tensor(p + "ffn_up_shexp.weight", {x.E, x.S}, wt, 0.0, inv_sqrt(x.E)));
        MOE_TRY(tensor(p + "ffn_down_shexp.weight", {x.S, x.E}, wt, 0.0, inv_sqrt(x.S)));
    }
    return ok_status();
}

}  // namespace testgen
MOE_END_NAMESPACE
