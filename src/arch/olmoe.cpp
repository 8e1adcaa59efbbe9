// olmoe.cpp — OLMoE (e.g. OLMoE-1B-7B): RMSNorm of the whole q and k projections, NeoX RoPE, 64 experts top-8
// with un-normalised softmax weights. GGUF metadata -> weights -> graph through decoder.hpp and blocks.hpp.
#include "arch/prenorm_decoder.hpp"

MOE_BEGIN_NAMESPACE

namespace {

struct olmoe_layer {
    weight attn_norm, ffn_norm;  // [n_embd] f32
    attention_weights attn;      // with q_norm [n_head * head_dim], k_norm [n_head_kv * head_dim]
    moe_weights moe;
};

class olmoe_arch final : public architecture {
public:
    status load(const gguf::file& f) {
        MOE_TRY(read_decoder_hparams(f, "olmoe", rope_mode::neox, hp_));  // llama.cpp: LLAMA_ROPE_TYPE_NEOX
        const model_info& in = hp_.info;
        if (in.n_expert == 0) return status(errc::bad_format, "olmoe.expert_count must be > 0");
        if (hp_.n_ff == 0) return status(errc::bad_format, "required metadata key 'olmoe.feed_forward_length' is missing");
        moe_.n_expert_used = in.n_expert_used;
        moe_.normalize_weights = false;  // OLMoE uses the top-k softmax probabilities as they are
        const int64_t E = in.n_embd, X = in.n_expert, F = hp_.n_ff;
        const int64_t Q = hp_.attn.n_head * hp_.attn.head_dim_k, K = hp_.attn.n_head_kv * hp_.attn.head_dim_k;
        weight_binder wb(f);
        out_ = bind_output_weights(wb, in, false);
        layers_.resize(static_cast<size_t>(in.n_layer));
        for (int64_t il = 0; il < in.n_layer; ++il) {
            olmoe_layer& L = layers_[static_cast<size_t>(il)];
            const std::string p = "blk." + std::to_string(il) + ".";
            L.attn_norm = wb.require_f32(p + "attn_norm.weight", {E});
            L.attn = bind_attention(wb, p, hp_.attn, E);
            L.attn.q_norm = wb.require_f32(p + "attn_q_norm.weight", {Q});
            L.attn.k_norm = wb.require_f32(p + "attn_k_norm.weight", {K});
            L.ffn_norm = wb.require_f32(p + "ffn_norm.weight", {E});
            L.moe.router = wb.require(p + "ffn_gate_inp.weight", {X, E});
            L.moe.gate_exps = wb.require(p + "ffn_gate_exps.weight", {X, F, E});
            L.moe.up_exps = wb.require(p + "ffn_up_exps.weight", {X, F, E});
            L.moe.down_exps = wb.require(p + "ffn_down_exps.weight", {X, E, F});
        }
        if (wb.error().ok() && (Q == hp_.attn.head_dim_k || K == hp_.attn.head_dim_k))
            return status(errc::unsupported, "olmoe: one attention head is ambiguous for the q/k norm layout");
        return wb.error();
    }
    const model_info& info() const noexcept override { return hp_.info; }
    std::vector<kv_layer_shape> kv_shape() const override { return uniform_kv_shape(hp_); }
    result<graph> build(const build_request& req) const override {
        return build_prenorm_decoder(req, hp_, out_, layers_, [&](graph_builder& b, value_id h, const olmoe_layer& L) {
            return moe_ffn(b, h, L.moe, moe_);
        });
    }

private:
    decoder_hparams hp_;
    moe_params moe_;
    output_weights out_;
    std::vector<olmoe_layer> layers_;
};

}  // namespace

result<std::unique_ptr<architecture>> make_olmoe(const gguf::file& f) {
    std::unique_ptr<olmoe_arch> a(new olmoe_arch());
    MOE_TRY(a->load(f));
    return std::unique_ptr<architecture>(std::move(a));
}

MOE_END_NAMESPACE
