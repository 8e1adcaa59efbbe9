// llama.cpp — the "llama" architecture: dense Llama, and Mixtral-style MoE when llama.expert_count > 0.
// GGUF metadata -> hyperparameters -> bound weights -> graph; shared pieces come from decoder.hpp and blocks.hpp.
#include "arch/prenorm_decoder.hpp"

MOE_BEGIN_NAMESPACE

namespace {

struct llama_layer {
    weight attn_norm;  // [n_embd] f32
    attention_weights attn;
    weight ffn_norm;   // [n_embd] f32
    moe_weights moe;   // when n_expert > 0
    weight ffn_gate, ffn_up, ffn_down;  // dense: [n_ff, n_embd], [n_ff, n_embd], [n_embd, n_ff]
};

class llama_arch final : public architecture {
public:
    status load(const gguf::file& f);
    const model_info& info() const noexcept override { return hp_.info; }
    std::vector<kv_layer_shape> kv_shape() const override { return uniform_kv_shape(hp_); }
    result<graph> build(const build_request& req) const override;

private:
    decoder_hparams hp_;
    moe_params moe_;
    output_weights out_;
    std::vector<llama_layer> layers_;
};

status llama_arch::load(const gguf::file& f) {
    MOE_TRY(read_decoder_hparams(f, "llama", rope_mode::norm, hp_));  // llama.cpp: LLAMA_ROPE_TYPE_NORM
    const model_info& in = hp_.info;
    if (hp_.n_ff == 0) return status(errc::bad_format, "required metadata key 'llama.feed_forward_length' is missing");
    moe_.n_expert_used = in.n_expert_used;
    moe_.normalize_weights = true;  // Mixtral renormalises the top-k probabilities

    const int64_t E = in.n_embd, F = hp_.n_ff;
    weight_binder wb(f);
    out_ = bind_output_weights(wb, in, true);
    layers_.resize(static_cast<size_t>(in.n_layer));
    for (int64_t il = 0; il < in.n_layer; ++il) {
        llama_layer& L = layers_[static_cast<size_t>(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        L.attn_norm = wb.require_f32(p + "attn_norm.weight", {E});
        L.attn = bind_attention(wb, p, hp_.attn, E);
        L.ffn_norm = wb.require_f32(p + "ffn_norm.weight", {E});
        if (in.n_expert > 0) {
            const int64_t X = in.n_expert;
            L.moe.router = wb.require(p + "ffn_gate_inp.weight", {X, E});
            L.moe.gate_exps = wb.require(p + "ffn_gate_exps.weight", {X, F, E});
            L.moe.up_exps = wb.require(p + "ffn_up_exps.weight", {X, F, E});
            L.moe.down_exps = wb.require(p + "ffn_down_exps.weight", {X, E, F});
        } else {
            L.ffn_gate = wb.require(p + "ffn_gate.weight", {F, E});
            L.ffn_up = wb.require(p + "ffn_up.weight", {F, E});
            L.ffn_down = wb.require(p + "ffn_down.weight", {E, F});
        }
    }
    return wb.error();
}

result<graph> llama_arch::build(const build_request& req) const {
    return build_prenorm_decoder(req, hp_, out_, layers_, [&](graph_builder& b, value_id h, const llama_layer& L) {
        return hp_.info.n_expert > 0 ? moe_ffn(b, h, L.moe, moe_) : swiglu_ffn(b, h, L.ffn_gate, L.ffn_up, L.ffn_down);
    });
}

}  // namespace

result<std::unique_ptr<architecture>> make_llama(const gguf::file& f) {
    std::unique_ptr<llama_arch> a(new llama_arch());
    MOE_TRY(a->load(f));
    return std::unique_ptr<architecture>(std::move(a));
}

MOE_END_NAMESPACE
