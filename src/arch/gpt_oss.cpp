// gpt_oss.cpp — OpenAI gpt-oss ("gpt-oss", llama.cpp's LLM_ARCH_OPENAI_MOE): attention sinks, alternating sliding-
// window and full layers, q/k/v/o and router/expert biases, clamped SwiGLU, YaRN NeoX RoPE. GGUF -> weights -> graph.
#include "arch/decoder.hpp"

MOE_BEGIN_NAMESPACE

namespace {

// ggml_swiglu_oai's constants as llama.cpp's build_moe_ffn passes them (LLM_FFN_SWIGLU_OAI_MOE)
constexpr float swiglu_alpha = 1.702f;
constexpr float swiglu_limit = 7.0f;

struct oai_moe_weights {
    weight router, router_b;             // ffn_gate_inp [n_expert, n_embd], bias [n_expert] f32
    weight gate_exps, up_exps;           // [n_expert, n_ff_exp, n_embd]  (MXFP4 in real downloads)
    weight down_exps;                    // [n_expert, n_embd, n_ff_exp]
    weight gate_b, up_b, down_b;         // [n_expert, n_ff_exp], [n_expert, n_ff_exp], [n_expert, n_embd] f32
};

struct gpt_oss_layer {
    weight attn_norm, post_attn_norm;  // [n_embd] f32; the second normalises the MoE input
    attention_weights attn;            // q/k/v/o with biases, sinks [n_head]
    oai_moe_weights moe;
    bool swa = false;                  // sliding-window layer
};

// x [T, n_embd] -> [T, n_embd]. Routing is llama.cpp's SOFTMAX_WEIGHT gating: top-k of the biased router logits,
// then a softmax over the k chosen logits; each expert's three projections carry their own bias rows.
value_id oai_moe_ffn(graph_builder& b, value_id x, const oai_moe_weights& w, int64_t n_expert_used) {
    const int64_t T = b.val(x).sh[0], d = b.val(x).sh[1];
    value_id logits = b.add(b.mul_mat(x, w.router.in(b)), w.router_b.in(b));  // [T, n_expert]
    value_id ids = b.top_k(logits, n_expert_used);                           // [T, k]
    value_id weights = b.softmax(b.gather_cols(logits, ids));                // [T, k]
    value_id xr = b.reshape(x, {T, 1, d});
    value_id up = b.add_id(b.mul_mat_id(xr, w.up_exps.in(b), ids), w.up_b.in(b), ids);        // [T, k, n_ff]
    value_id gate = b.add_id(b.mul_mat_id(xr, w.gate_exps.in(b), ids), w.gate_b.in(b), ids);  // [T, k, n_ff]
    value_id act = b.swiglu_oai(gate, up, swiglu_alpha, swiglu_limit);
    value_id down = b.add_id(b.mul_mat_id(act, w.down_exps.in(b), ids), w.down_b.in(b), ids);  // [T, k, n_embd]
    return b.weighted_sum(down, weights);
}

// llama.cpp's load_swa_pattern(ml, 2): a per-layer array in attention.sliding_window_pattern, else a period n
// (layer il slides when il % n < n - 1; 0: every layer), else period 2 (even layers slide, odd ones are full).
status read_swa_layers(const gguf::file& f, int64_t n_layer, std::vector<bool>& swa) {
    const std::string key = "gpt-oss.attention.sliding_window_pattern";
    swa.assign(static_cast<size_t>(n_layer), false);
    const gguf::value* v = f.find(key);
    if (v && v->type == gguf::value_type::array) {
        for (size_t il = 0; il < v->elems.size() && il < swa.size(); ++il) {
            const gguf::value& e = v->elems[il];
            if (e.type == gguf::value_type::array || e.type == gguf::value_type::string)
                return status(errc::bad_format, "metadata key '" + key + "' must hold booleans or integers");
            swa[il] = e.type == gguf::value_type::boolean ? e.num.b : e.num.u != 0;
        }
        return {};
    }
    uint64_t period = 2;
    if (v) {
        result<uint64_t> p = f.get_uint(key);
        if (!p) return p.error();
        period = *p;
    }
    for (int64_t il = 0; il < n_layer; ++il)
        swa[static_cast<size_t>(il)] = period == 0 || static_cast<uint64_t>(il) % period < period - 1;
    return {};
}

class gpt_oss_arch final : public architecture {
public:
    status load(const gguf::file& f) {
        MOE_TRY(read_decoder_hparams(f, "gpt-oss", rope_mode::neox, hp_));  // llama.cpp: LLAMA_ROPE_TYPE_NEOX
        const model_info& in = hp_.info;
        const attention_params& a = hp_.attn;
        if (in.n_expert == 0) return status(errc::bad_format, "gpt-oss.expert_count must be > 0");
        if (a.n_rot != a.head_dim_k || a.head_dim_v != a.head_dim_k)
            return status(errc::bad_format, "gpt-oss: rope.dimension_count (" + std::to_string(a.n_rot) +
                                                ") must equal the key and value head sizes (" +
                                                std::to_string(a.head_dim_k) + ", " + std::to_string(a.head_dim_v) +
                                                "): llama.cpp sizes the heads by it");
        hparam_reader h(f, "gpt-oss");
        const int64_t F = h.count("expert_feed_forward_length");
        const int64_t n_swa = h.count("attention.sliding_window");
        const float base_swa = h.real_or("rope.freq_base_swa", a.rope_base);
        MOE_TRY(h.error());
        if (n_swa == 0) return status(errc::bad_format, "gpt-oss.attention.sliding_window must be > 0");
        std::vector<bool> swa;
        MOE_TRY(read_swa_layers(f, in.n_layer, swa));
        attn_swa_ = a;
        attn_swa_.window = n_swa;
        attn_swa_.rope_base = base_swa;

        const int64_t E = in.n_embd, X = in.n_expert, H = in.n_head;
        weight_binder wb(f);
        out_ = bind_output_weights(wb, in, false);
        layers_.resize(static_cast<size_t>(in.n_layer));
        for (int64_t il = 0; il < in.n_layer; ++il) {
            gpt_oss_layer& L = layers_[static_cast<size_t>(il)];
            const std::string p = "blk." + std::to_string(il) + ".";
            L.swa = swa[static_cast<size_t>(il)];
            L.attn_norm = wb.require_f32(p + "attn_norm.weight", {E});
            L.post_attn_norm = wb.require_f32(p + "post_attention_norm.weight", {E});
            L.attn = bind_attention(wb, p, a, E);
            L.attn.bo = wb.require_f32(p + "attn_output.bias", {E});
            L.attn.sinks = wb.require_f32(p + "attn_sinks.weight", {H});
            L.moe.router = wb.require(p + "ffn_gate_inp.weight", {X, E});
            L.moe.router_b = wb.require_f32(p + "ffn_gate_inp.bias", {X});
            L.moe.gate_exps = wb.require(p + "ffn_gate_exps.weight", {X, F, E});
            L.moe.up_exps = wb.require(p + "ffn_up_exps.weight", {X, F, E});
            L.moe.down_exps = wb.require(p + "ffn_down_exps.weight", {X, E, F});
            L.moe.gate_b = wb.require_f32(p + "ffn_gate_exps.bias", {X, F});
            L.moe.up_b = wb.require_f32(p + "ffn_up_exps.bias", {X, F});
            L.moe.down_b = wb.require_f32(p + "ffn_down_exps.bias", {X, E});
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
        value_id x = g.x;
        for (size_t il = 0; il < layers_.size(); ++il) {
            const gpt_oss_layer& L = layers_[il];
            value_id h = b.rms_norm(x, L.attn_norm.in(b), hp_.rms_eps);
            const attention_params& ap = L.swa ? attn_swa_ : hp_.attn;
            x = b.add(attention_block(b, h, g.pos, g.seq, g.k_cache[il], g.v_cache[il], L.attn, ap), x);
            h = b.rms_norm(x, L.post_attn_norm.in(b), hp_.rms_eps);
            x = b.add(oai_moe_ffn(b, h, L.moe, hp_.info.n_expert_used), x);
        }
        return finish_decoder_graph(g, x, out_, hp_.rms_eps, req);
    }

private:
    decoder_hparams hp_;
    attention_params attn_swa_;  // hp_.attn with the sliding window and the SWA RoPE base
    output_weights out_;
    std::vector<gpt_oss_layer> layers_;
};

}  // namespace

result<std::unique_ptr<architecture>> make_gpt_oss(const gguf::file& f) {
    std::unique_ptr<gpt_oss_arch> a(new gpt_oss_arch());
    MOE_TRY(a->load(f));
    return std::unique_ptr<architecture>(std::move(a));
}

MOE_END_NAMESPACE
