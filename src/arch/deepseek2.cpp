// deepseek2.cpp — DeepSeek-V2, V2-Lite, Coder-V2, V3, R1, Moonlight and Kimi-K2-style files ("deepseek2"): MLA
// attention (mla.cpp), leading dense layers, then routed experts (softmax, or sigmoid with a selection bias; optionally
// group-limited) plus shared experts. GGUF metadata -> weights -> graph, reading the keys as llama.cpp does.
#include "arch/decoder.hpp"
#include "arch/mla.hpp"

#include <cmath>

MOE_BEGIN_NAMESPACE

namespace {

struct deepseek2_layer {
    weight attn_norm, ffn_norm;          // [n_embd] f32
    mla_weights attn;
    weight ffn_gate, ffn_up, ffn_down;   // leading dense layers: [n_ff, n_embd], [n_ff, n_embd], [n_embd, n_ff]
    moe_weights moe;                     // the other layers: routed experts [n_expert, n_ff_exp, n_embd] ...
    shared_expert_weights shexp;         // ... plus the shared ones, one FFN [n_ff_exp * n_expert_shared, n_embd]
};

class deepseek2_arch final : public architecture {
public:
    status load(const gguf::file& f) {
        MOE_TRY(read_hparams(f));
        const model_info& in = hp_.info;
        const int64_t E = in.n_embd, X = in.n_expert, F = n_ff_exp_, S = n_ff_exp_ * n_shared_;
        weight_binder wb(f);
        out_ = bind_output_weights(wb, in, true);
        layers_.resize(static_cast<size_t>(in.n_layer));
        for (int64_t il = 0; il < in.n_layer; ++il) {
            deepseek2_layer& L = layers_[static_cast<size_t>(il)];
            const std::string p = "blk." + std::to_string(il) + ".";
            L.attn_norm = wb.require_f32(p + "attn_norm.weight", {E});
            L.attn = bind_mla(wb, p, mla_, E);
            L.ffn_norm = wb.require_f32(p + "ffn_norm.weight", {E});
            if (il < n_dense_) {
                L.ffn_gate = wb.require(p + "ffn_gate.weight", {hp_.n_ff, E});
                L.ffn_up = wb.require(p + "ffn_up.weight", {hp_.n_ff, E});
                L.ffn_down = wb.require(p + "ffn_down.weight", {E, hp_.n_ff});
                continue;
            }
            L.moe.router = wb.require(p + "ffn_gate_inp.weight", {X, E});
            L.moe.exp_probs_b = wb.optional(p + "exp_probs_b.bias", {X});
            if (L.moe.exp_probs_b && L.moe.exp_probs_b.t->type != dtype::f32)
                return status(errc::unsupported, "tensor '" + p + "exp_probs_b.bias' must be f32, found " +
                                                     dtype_name(L.moe.exp_probs_b.t->type));
            if (f.find_tensor(p + "ffn_gate_up_exps.weight") != nullptr) {  // --fuse-gate-up-exps files
                L.moe.gate_up_exps = wb.require(p + "ffn_gate_up_exps.weight", {X, 2 * F, E});
            } else {
                L.moe.gate_exps = wb.require(p + "ffn_gate_exps.weight", {X, F, E});
                L.moe.up_exps = wb.require(p + "ffn_up_exps.weight", {X, F, E});
            }
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
        return std::vector<kv_layer_shape>(static_cast<size_t>(hp_.info.n_layer), mla_kv_shape(mla_));
    }

    result<graph> build(const build_request& req) const override {
        const kv_layer_shape kv = mla_kv_shape(mla_);
        attention_params cache;  // only the cache shape: one latent head and no V cache, or full K/V
        cache.n_head_kv = kv.n_head_kv, cache.head_dim_k = kv.key_dim, cache.head_dim_v = kv.value_dim;
        decoder_graph g;
        MOE_TRY(begin_decoder_graph(g, req, out_, cache, hp_.info.n_layer));
        graph_builder& b = g.b;
        value_id x = g.x;
        for (size_t il = 0; il < layers_.size(); ++il) {
            const deepseek2_layer& L = layers_[il];
            value_id h = b.rms_norm(x, L.attn_norm.in(b), hp_.rms_eps);
            x = b.add(mla_attention(b, h, g.pos, g.seq, g.k_cache[il], g.v_cache[il], L.attn, mla_), x);
            h = b.rms_norm(x, L.ffn_norm.in(b), hp_.rms_eps);
            value_id f;
            if (static_cast<int64_t>(il) < n_dense_) {
                f = swiglu_ffn(b, h, L.ffn_gate, L.ffn_up, L.ffn_down);
            } else {
                f = moe_ffn(b, h, L.moe, moe_);
                if (L.shexp.gate) f = b.add(f, shared_expert_ffn(b, h, L.shexp));
            }
            x = b.add(f, x);
        }
        return finish_decoder_graph(g, x, out_, hp_.rms_eps, req);
    }

private:
    status read_hparams(const gguf::file& f);

    decoder_hparams hp_;
    mla_params mla_;
    moe_params moe_;
    int64_t n_dense_ = 0;   // leading_dense_block_count
    int64_t n_ff_exp_ = 0;  // expert_feed_forward_length
    int64_t n_shared_ = 0;  // expert_shared_count
    output_weights out_;
    std::vector<deepseek2_layer> layers_;
};

// The keys llama.cpp's llama_model_deepseek2::load_arch_hparams and llama_context read, with its defaults.
status deepseek2_arch::read_hparams(const gguf::file& f) {
    const std::string A = "deepseek2";
    MOE_TRY(read_decoder_hparams(f, A, rope_mode::norm, hp_));  // llama.cpp: LLAMA_ROPE_TYPE_NORM
    model_info& in = hp_.info;
    const attention_params& a = hp_.attn;
    hparam_reader h(f, A);
    const int64_t n_nextn = h.count_or("nextn_predict_layers", 0, 4096);  // MTP blocks after the main layers
    n_dense_ = h.count_or("leading_dense_block_count", 0, 4096);
    mla_.q_lora_rank = h.count_or("attention.q_lora_rank", 0);  // llama.cpp: required unless a "lite" layer count
    mla_.kv_lora_rank = h.count("attention.kv_lora_rank");
    const int64_t k_mla = h.count_or("attention.key_length_mla", 0);
    const int64_t v_mla = h.count_or("attention.value_length_mla", 0);
    n_ff_exp_ = h.count("expert_feed_forward_length");
    n_shared_ = h.count("expert_shared_count", 4096);
    moe_.weights_scale = h.real_or("expert_weights_scale", 0.0f);
    const int64_t gating = h.count_or("expert_gating_func", 0, 1 << 20);
    moe_.n_group = h.count_or("expert_group_count", 0, 4096);
    moe_.n_group_used = h.count_or("expert_group_used_count", 0, 4096);
    const bool has_log_mul = f.find(A + ".rope.scaling.yarn_log_multiplier") != nullptr;
    float log_mul = h.real_or("rope.scaling.yarn_log_multiplier", 0.0f);
    const float rope_attn_factor = h.real_or("rope.scaling.attn_factor", 1.0f);
    const float temp_scale = h.real_or("attention.temperature_scale", 0.0f);
    MOE_TRY(h.error());
    result<bool> norm = f.get_bool_or(A + ".expert_weights_norm", false);
    if (!norm) return norm.error();
    moe_.normalize_weights = *norm;
    moe_.n_expert_used = in.n_expert_used;
    auto bad = [&](const std::string& m) { return status(errc::bad_format, A + ": " + m); };

    // layers: MTP (nextn) blocks stored after the main layers are not run
    if (n_nextn >= in.n_layer) return bad("nextn_predict_layers must be below block_count");
    in.n_layer -= n_nextn;
    if (n_dense_ > in.n_layer) return bad("leading_dense_block_count exceeds the layer count");
    if (n_dense_ < in.n_layer && (in.n_expert == 0 || n_ff_exp_ == 0))
        return bad("MoE layers need expert_count, expert_used_count and expert_feed_forward_length > 0");
    if (n_dense_ > 0 && hp_.n_ff == 0) return bad("leading dense layers need feed_forward_length > 0");

    // routing, as llama.cpp's build_moe_ffn
    if (gating == 0) {  // absent: DeepSeek-V2/V2.5 files are softmax; llama.cpp makes GLM-4.7-Lite's shape sigmoid
        moe_.gating = (in.n_layer == 47 || in.n_layer == 48) && in.n_vocab == 154880
                          ? expert_gating::sigmoid
                          : expert_gating::softmax;
    } else if (gating == 1 || gating == 2) {
        moe_.gating = gating == 2 ? expert_gating::sigmoid : expert_gating::softmax;
    } else {
        return status(errc::unsupported, A + ".expert_gating_func = " + std::to_string(gating) +
                                             " is not supported (1 softmax and 2 sigmoid are)");
    }
    if (in.n_expert > 0 && moe_.n_group >= in.n_expert) return bad("expert_group_count must be below expert_count");
    if (moe_.n_group > 1) {
        if (in.n_expert % moe_.n_group != 0 || in.n_expert / moe_.n_group < 2 || moe_.n_group_used == 0 ||
            moe_.n_group_used >= moe_.n_group)
            return bad("expert_group_count " + std::to_string(moe_.n_group) + " must split expert_count " +
                       std::to_string(in.n_expert) + " into groups of two or more, and expert_group_used_count (" +
                       std::to_string(moe_.n_group_used) + ") must be in 1.." + std::to_string(moe_.n_group - 1));
    }
    if (temp_scale != 0.0f)
        return status(errc::unsupported, A + ".attention.temperature_scale (position-dependent query scaling, as in "
                                             "Mistral-Large-3 files) is not supported yet");

    // MLA shapes: current files carry key/value_length_mla and split wk_b/wv_b; older ones only the full head sizes
    if ((k_mla == 0) != (v_mla == 0)) return bad("attention.key_length_mla and value_length_mla come together");
    mla_.absorbed = k_mla != 0;
    const int64_t qk = mla_.absorbed ? k_mla : a.head_dim_k;
    mla_.v_dim = mla_.absorbed ? v_mla : a.head_dim_v;
    mla_.n_head = in.n_head;
    mla_.n_rot = a.n_rot;
    mla_.qk_nope = qk - a.n_rot;
    if (mla_.qk_nope < 1) return bad("the q/k head (" + std::to_string(qk) + ") must be longer than its RoPE part (" +
                                     std::to_string(a.n_rot) + ")");
    if (mla_.absorbed && (in.n_head_kv != 1 || a.head_dim_k != mla_.kv_lora_rank + a.n_rot ||
                          a.head_dim_v != mla_.kv_lora_rank))
        return bad("MLA files have head_count_kv 1, key_length kv_lora_rank + rope dims (" +
                   std::to_string(mla_.kv_lora_rank + a.n_rot) + ") and value_length kv_lora_rank (" +
                   std::to_string(mla_.kv_lora_rank) + "); found " + std::to_string(in.n_head_kv) + ", " +
                   std::to_string(a.head_dim_k) + ", " + std::to_string(a.head_dim_v));
    if (!mla_.absorbed && in.n_head_kv != in.n_head)
        return bad("files with attn_kv_b need head_count_kv == head_count");
    in.head_dim = qk;

    // RoPE and YaRN: llama_context's attn_factor with DeepSeek's yarn_log_multiplier (the file holds 0.1 x
    // mscale_all_dim), and the graph's pre-scaled softmax scale (llama.cpp's deepseek2 graph)
    mla_.mode = a.mode, mla_.rope_base = a.rope_base, mla_.rope_freq_scale = a.rope_freq_scale;
    mla_.yarn = a.yarn;
    mla_.norm_eps = hp_.rms_eps;
    if (has_log_mul) log_mul /= 0.1f;
    if (mla_.yarn.ext_factor != 0.0f && log_mul != 0.0f)
        mla_.yarn.attn_factor = yarn_attn_factor(a.rope_freq_scale, log_mul != 1.0f ? log_mul : 1.0f, log_mul) *
                                rope_attn_factor;
    const float attn_factor_org = mla_.yarn.attn_factor * (1.0f + 0.1f * std::log(1.0f / a.rope_freq_scale));
    const float mscale = attn_factor_org * (1.0f + 0.1f * log_mul * std::log(1.0f / a.rope_freq_scale));
    mla_.kq_scale = 1.0f * mscale * mscale / std::sqrt(static_cast<float>(qk));
    return {};
}

}  // namespace

result<std::unique_ptr<architecture>> make_deepseek2(const gguf::file& f) {
    std::unique_ptr<deepseek2_arch> a(new deepseek2_arch());
    MOE_TRY(a->load(f));
    return std::unique_ptr<architecture>(std::move(a));
}

MOE_END_NAMESPACE
