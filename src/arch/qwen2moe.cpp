// qwen2moe.cpp — Qwen2-MoE / Qwen1.5-MoE: attention biases, NeoX RoPE, routed experts with un-normalised softmax
// weights plus a shared expert scaled by a per-token sigmoid gate. GGUF -> weights -> graph via decoder/blocks.
#include "arch/prenorm_decoder.hpp"

MOE_BEGIN_NAMESPACE

namespace {

struct qwen2moe_layer {
    weight attn_norm, ffn_norm;  // [n_embd] f32
    attention_weights attn;      // q/k/v biases as the file has them
    moe_weights moe;
    shared_expert_weights shexp;
};

class qwen2moe_arch final : public architecture {
public:
    status load(const gguf::file& f) {
        MOE_TRY(read_decoder_hparams(f, "qwen2moe", rope_mode::neox, hp_));  // llama.cpp: LLAMA_ROPE_TYPE_NEOX
        const model_info& in = hp_.info;
        if (in.n_expert == 0) return status(errc::bad_format, "qwen2moe.expert_count must be > 0");
        hparam_reader h(f, "qwen2moe");
        const int64_t F = h.count_or("expert_feed_forward_length", hp_.n_ff / in.n_expert_used);
        const int64_t S = h.count_or("expert_shared_feed_forward_length", hp_.n_ff);
        MOE_TRY(h.error());
        if (F == 0 || S == 0) return status(errc::bad_format, "qwen2moe: an expert FFN width is 0");
        moe_.n_expert_used = in.n_expert_used;
        moe_.normalize_weights = false;
        const int64_t E = in.n_embd, X = in.n_expert;
        weight_binder wb(f);
        out_ = bind_output_weights(wb, in, false);
        layers_.resize(static_cast<size_t>(in.n_layer));
        for (int64_t il = 0; il < in.n_layer; ++il) {
            qwen2moe_layer& L = layers_[static_cast<size_t>(il)];
            const std::string p = "blk." + std::to_string(il) + ".";
            L.attn_norm = wb.require_f32(p + "attn_norm.weight", {E});
            L.attn = bind_attention(wb, p, hp_.attn, E);
            L.ffn_norm = wb.require_f32(p + "ffn_norm.weight", {E});
            L.moe.router = wb.require(p + "ffn_gate_inp.weight", {X, E});
            L.moe.gate_exps = wb.require(p + "ffn_gate_exps.weight", {X, F, E});
            L.moe.up_exps = wb.require(p + "ffn_up_exps.weight", {X, F, E});
            L.moe.down_exps = wb.require(p + "ffn_down_exps.weight", {X, E, F});
            L.shexp.gate_inp = wb.require(p + "ffn_gate_inp_shexp.weight", {E});
            L.shexp.gate = wb.require(p + "ffn_gate_shexp.weight", {S, E});
            L.shexp.up = wb.require(p + "ffn_up_shexp.weight", {S, E});
            L.shexp.down = wb.require(p + "ffn_down_shexp.weight", {E, S});
        }
        return wb.error();
    }
    const model_info& info() const noexcept override { return hp_.info; }
    std::vector<kv_layer_shape> kv_shape() const override { return uniform_kv_shape(hp_); }
    result<graph> build(const build_request& req) const override {
        return build_prenorm_decoder(req, hp_, out_, layers_, [&](graph_builder& b, value_id h, const qwen2moe_layer& L) {
            return b.add(moe_ffn(b, h, L.moe, moe_), shared_expert_ffn(b, h, L.shexp));
        });
    }

private:
    decoder_hparams hp_;
    moe_params moe_;
    output_weights out_;
    std::vector<qwen2moe_layer> layers_;
};

}  // namespace

result<std::unique_ptr<architecture>> make_qwen2moe(const gguf::file& f) {
    std::unique_ptr<qwen2moe_arch> a(new qwen2moe_arch());
    MOE_TRY(a->load(f));
    return std::unique_ptr<architecture>(std::move(a));
}

MOE_END_NAMESPACE
