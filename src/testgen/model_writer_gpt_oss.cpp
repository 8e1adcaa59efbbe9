// model_writer_gpt_oss.cpp — random gpt-oss layers with the tensor names, shapes and metadata keys llama.cpp's
// converter writes (conversion/gpt_oss.py). Called by model_writer.cpp; read by src/arch/gpt_oss.cpp and llama.cpp.
#include "testgen/model_writer_gpt_oss.hpp"

#include <moe/quant.hpp>

#include <cmath>

MOE_BEGIN_NAMESPACE
namespace testgen {

namespace {
double inv_sqrt(int64_t fan_in) { return 1.0 / std::sqrt(static_cast<double>(fan_in)); }
}  // namespace

status check_gpt_oss_spec(const model_spec& s, int64_t head_dim) {
    auto bad = [](const std::string& m) { return status(errc::invalid_argument, "model spec: gpt-oss " + m); };
    const model_spec::gpt_oss_spec& g = s.gpt_oss;
    if (s.tie_output) return bad("files always carry output.weight (llama.cpp requires it)");
    if (g.sliding_window < 1) return bad("needs sliding_window >= 1");
    if (g.yarn_factor < 0.0f || g.yarn_orig_ctx < 1) return bad("YaRN factor must be >= 0 and its context >= 1");
    if (g.mxfp4_experts) {
        const int64_t bs = traits(dtype::mxfp4).block_size;
        if (s.n_embd % bs != 0 || s.n_ff % bs != 0)
            return bad("with MXFP4 experts, n_embd and n_ff must be multiples of " + std::to_string(bs));
    }
    (void)head_dim;
    return ok_status();
}

void write_gpt_oss_metadata(gguf::writer& w, const model_spec& s) {
    const model_spec::gpt_oss_spec& g = s.gpt_oss;
    const std::string a = "gpt-oss.";
    w.set_u32(a + "expert_feed_forward_length", static_cast<uint32_t>(s.n_ff));
    w.set_u32(a + "attention.sliding_window", static_cast<uint32_t>(g.sliding_window));
    if (g.yarn_factor > 0.0f) {
        w.set_string(a + "rope.scaling.type", "yarn");
        w.set_f32(a + "rope.scaling.factor", g.yarn_factor);
        w.set_u32(a + "rope.scaling.original_context_length", static_cast<uint32_t>(g.yarn_orig_ctx));
    }
}

// Scales: q/k/v/o and the router as the generic writer; small biases; sinks around 0.5 (a fraction of every
// softmax); gate/up rows 3x wider than usual so that |gate|, |up| pass the SwiGLU clamp (7) now and then; down
// scaled to bring the clamped-SwiGLU output (std ~6) back to O(1).
status write_gpt_oss_layer(const model_spec& s, int64_t hd, int64_t il, const random_tensor_fn& add) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const int64_t E = s.n_embd, F = s.n_ff, X = s.n_expert, n_q = s.n_head * hd, n_kv = s.n_head_kv * hd;
    const dtype wt = s.weight_type, xt = s.gpt_oss.mxfp4_experts ? dtype::mxfp4 : s.weight_type;
    MOE_TRY(add(p + "attn_norm.weight", {E}, dtype::f32, 1.0, 0.1));
    MOE_TRY(add(p + "attn_q.weight", {E, n_q}, wt, 0.0, inv_sqrt(E)));
    MOE_TRY(add(p + "attn_q.bias", {n_q}, dtype::f32, 0.0, 0.1));
    MOE_TRY(add(p + "attn_k.weight", {E, n_kv}, wt, 0.0, inv_sqrt(E)));
    MOE_TRY(add(p + "attn_k.bias", {n_kv}, dtype::f32, 0.0, 0.1));
    MOE_TRY(add(p + "attn_v.weight", {E, n_kv}, wt, 0.0, inv_sqrt(E)));
    MOE_TRY(add(p + "attn_v.bias", {n_kv}, dtype::f32, 0.0, 0.1));
    MOE_TRY(add(p + "attn_output.weight", {n_q, E}, wt, 0.0, 0.25 * inv_sqrt(n_q)));
    MOE_TRY(add(p + "attn_output.bias", {E}, dtype::f32, 0.0, 0.1));
    MOE_TRY(add(p + "attn_sinks.weight", {s.n_head}, dtype::f32, 0.5, 1.0));
    MOE_TRY(add(p + "post_attention_norm.weight", {E}, dtype::f32, 1.0, 0.1));
    // the router stays f32, as llama.cpp's quantizer keeps it; biases are never quantized
    MOE_TRY(add(p + "ffn_gate_inp.weight", {E, X}, dtype::f32, 0.0, 3.0 * inv_sqrt(E)));
    MOE_TRY(add(p + "ffn_gate_inp.bias", {X}, dtype::f32, 0.0, 0.1));
    MOE_TRY(add(p + "ffn_gate_exps.weight", {E, F, X}, xt, 0.0, 3.0 * inv_sqrt(E)));
    MOE_TRY(add(p + "ffn_gate_exps.bias", {F, X}, dtype::f32, 0.0, 0.1));
    MOE_TRY(add(p + "ffn_up_exps.weight", {E, F, X}, xt, 0.0, 3.0 * inv_sqrt(E)));
    MOE_TRY(add(p + "ffn_up_exps.bias", {F, X}, dtype::f32, 0.0, 0.1));
    MOE_TRY(add(p + "ffn_down_exps.weight", {F, E, X}, xt, 0.0, 0.25 * inv_sqrt(F) / 6.0));
    MOE_TRY(add(p + "ffn_down_exps.bias", {E, X}, dtype::f32, 0.0, 0.1));
    return ok_status();
}

}  // namespace testgen
MOE_END_NAMESPACE
