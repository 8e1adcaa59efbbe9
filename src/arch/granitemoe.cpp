// granitemoe.cpp — IBM Granite MoE ("granitemoe", and GraniteMoeShared: the same key with shared experts): embedding,
// residual, attention and logit multipliers around a Mixtral-style MoE. GGUF -> weights -> graph via decoder/blocks.
#include "arch/decoder.hpp"

MOE_BEGIN_NAMESPACE

namespace {

struct granitemoe_layer {
    weight attn_norm, ffn_norm;  // [n_embd] f32
    attention_weights attn;      // optional attn_output.bias
    moe_weights moe;
    shared_expert_weights shexp;  // GraniteMoeShared only (expert_shared_feed_forward_length > 0)
};

// The multipliers llama.cpp's llama_model_granite reads; 0 means "not applied" for the optional ones.
struct granite_scales {
    float embedding = 0.0f;  // embedding_scale: multiplies the token embeddings
    float residual = 0.0f;   // residual_scale: multiplies each block's output before it joins the residual
    float logit = 1.0f;      // logit_scale (required): the logits are divided by it
};

class granitemoe_arch final : public architecture {
public:
    status load(const gguf::file& f) {
        MOE_TRY(read_decoder_hparams(f, "granitemoe", rope_mode::norm, hp_));  // llama.cpp: LLAMA_ROPE_TYPE_NORM
        const model_info& in = hp_.info;
        attention_params& a = hp_.attn;
        if (in.n_expert == 0)
            return status(errc::unsupported, "granitemoe: files without experts (dense Granite) are not supported");
        if (a.n_rot != a.head_dim_k || a.head_dim_v != a.head_dim_k)
            return status(errc::bad_format, "granitemoe: rope.dimension_count (" + std::to_string(a.n_rot) +
                                                ") must equal the key and value head sizes (llama.cpp asserts it)");
        if (!f.find("granitemoe.logit_scale"))
            return status(errc::bad_format, "required metadata key 'granitemoe.logit_scale' is missing");
        hparam_reader h(f, "granitemoe");
        sc_.logit = h.real_or("logit_scale", 1.0f);
        sc_.residual = h.real_or("residual_scale", 0.0f);
        sc_.embedding = h.real_or("embedding_scale", 0.0f);
        const float attention_scale = h.real_or("attention.scale", 0.0f);
        const int64_t S = h.count_or("expert_shared_feed_forward_length", 0);
        MOE_TRY(h.error());
        // (llama.cpp's granitemoe, unlike granite, ignores rope.scaling.finetuned: its layers always use RoPE)
        if (attention_scale != 0.0f) a.scale = attention_scale;  // replaces 1/sqrt(head_dim)
        if (hp_.n_ff == 0) return status(errc::bad_format, "granitemoe: feed_forward_length (the expert width) is 0");
        moe_.n_expert_used = in.n_expert_used;
        moe_.normalize_weights = true;  // llama.cpp: build_moe_ffn(..., norm_w = true, SOFTMAX)
        const int64_t E = in.n_embd, X = in.n_expert, F = hp_.n_ff;
        weight_binder wb(f);
        out_ = bind_output_weights(wb, in, true);
        layers_.resize(static_cast<size_t>(in.n_layer));
        for (int64_t il = 0; il < in.n_layer; ++il) {
            granitemoe_layer& L = layers_[static_cast<size_t>(il)];
            const std::string p = "blk." + std::to_string(il) + ".";
            if (f.find_tensor(p + "rope_freqs.weight"))
                return status(errc::unsupported, "granitemoe: tensor '" + p + "rope_freqs.weight' (RoPE frequency "
                                                 "factors) is not supported yet");
            L.attn_norm = wb.require_f32(p + "attn_norm.weight", {E});
            L.attn = bind_attention(wb, p, a, E);
            L.ffn_norm = wb.require_f32(p + "ffn_norm.weight", {E});
            L.moe.router = wb.require(p + "ffn_gate_inp.weight", {X, E});
            L.moe.gate_exps = wb.require(p + "ffn_gate_exps.weight", {X, F, E});
            L.moe.up_exps = wb.require(p + "ffn_up_exps.weight", {X, F, E});
            L.moe.down_exps = wb.require(p + "ffn_down_exps.weight", {X, E, F});
            if (S > 0) {
                L.shexp.gate = wb.require(p + "ffn_gate_shexp.weight", {S, E});
                L.shexp.up = wb.require(p + "ffn_up_shexp.weight", {S, E});
                L.shexp.down = wb.require(p + "ffn_down_shexp.weight", {E, S});
            }
        }
        return wb.error();
    }
    const model_info& info() const noexcept override { return hp_.info; }
    std::vector<kv_layer_shape> kv_shape() const override {
        const attention_params& a = hp_.attn;
        return std::vector<kv_layer_shape>(static_cast<size_t>(hp_.info.n_layer),
                                           kv_layer_shape{a.n_head_kv, a.head_dim_k, a.head_dim_v});
    }
    result<graph> build(const build_request& req) const override {
        decoder_graph g;
        MOE_TRY(begin_decoder_graph(g, req, out_, hp_.attn, hp_.info.n_layer));
        graph_builder& b = g.b;
        value_id x = sc_.embedding != 0.0f ? b.scale(g.x, sc_.embedding) : g.x;
        auto residual = [&](value_id y) { return sc_.residual != 0.0f ? b.scale(y, sc_.residual) : y; };
        for (size_t il = 0; il < layers_.size(); ++il) {
            const granitemoe_layer& L = layers_[il];
            value_id h = b.rms_norm(x, L.attn_norm.in(b), hp_.rms_eps);
            x = b.add(residual(attention_block(b, h, g.pos, g.seq, g.k_cache[il], g.v_cache[il], L.attn, hp_.attn)), x);
            h = b.rms_norm(x, L.ffn_norm.in(b), hp_.rms_eps);
            value_id f = moe_ffn(b, h, L.moe, moe_);
            if (L.shexp.gate) f = b.add(f, shared_expert_ffn(b, h, L.shexp));
            x = b.add(residual(f), x);
        }
        // finish_decoder_graph's head, then Granite's logit division
        x = decoder_output_rows(g, b.rms_norm(x, out_.output_norm.in(b), hp_.rms_eps), req);
        value_id logits = b.scale(b.mul_mat(x, out_.output.in(b)), 1.0f / sc_.logit);
        b.mark_output(logits);
        return b.finish();
    }

private:
    decoder_hparams hp_;
    granite_scales sc_;
    moe_params moe_;
    output_weights out_;
    std::vector<granitemoe_layer> layers_;
};

}  // namespace

result<std::unique_ptr<architecture>> make_granitemoe(const gguf::file& f) {
    std::unique_ptr<granitemoe_arch> a(new granitemoe_arch());
    MOE_TRY(a->load(f));
    return std::unique_ptr<architecture>(std::move(a));
}

MOE_END_NAMESPACE
