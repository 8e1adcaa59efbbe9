// llama.cpp — the "llama" architecture: dense Llama, and Mixtral-style MoE when llama.expert_count > 0.
// GGUF metadata -> hyperparameters -> bound weights -> graph; shared blocks come from src/arch/blocks.
#include "arch/arch.hpp"
#include "arch/blocks.hpp"
#include "arch/hparams.hpp"

#include <cmath>

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
    const model_info& info() const noexcept override { return info_; }
    std::vector<kv_layer_shape> kv_shape() const override {
        return std::vector<kv_layer_shape>(static_cast<size_t>(info_.n_layer),
                                           kv_layer_shape{attn_.n_head_kv, attn_.head_dim_k, attn_.head_dim_v});
    }
    result<graph> build(const build_request& req) const override;

private:
    model_info info_;
    attention_params attn_;
    moe_params moe_;
    int64_t n_ff_ = 0;
    float rms_eps_ = 1e-5f;
    weight tok_embd_, output_norm_, output_;
    std::vector<llama_layer> layers_;
};

status llama_arch::load(const gguf::file& f) {
    hparam_reader h(f, "llama");
    model_info& in = info_;
    in.architecture = "llama";
    in.n_embd = h.count("embedding_length");
    in.n_layer = h.count("block_count", 4096);
    in.n_head = h.count("attention.head_count");
    in.n_head_kv = h.count_or("attention.head_count_kv", in.n_head);
    in.n_ctx_train = h.count_or("context_length", 4096);
    in.n_expert = h.count_or("expert_count", 0, 4096);
    in.n_expert_used = h.count_or("expert_used_count", 0, 4096);
    n_ff_ = h.count("feed_forward_length");
    rms_eps_ = h.real_or("attention.layer_norm_rms_epsilon", 1e-5f);
    MOE_TRY(h.error());
    if (in.n_head == 0 || in.n_head_kv == 0 || in.n_head % in.n_head_kv != 0)
        return status(errc::bad_format, "llama.attention.head_count (" + std::to_string(in.n_head) +
                                            ") must be a non-zero multiple of head_count_kv (" +
                                            std::to_string(in.n_head_kv) + ")");
    attn_.n_head = in.n_head;
    attn_.n_head_kv = in.n_head_kv;
    attn_.head_dim_k = h.count_or("attention.key_length", in.n_embd / in.n_head);
    attn_.head_dim_v = h.count_or("attention.value_length", in.n_embd / in.n_head);
    attn_.n_rot = h.count_or("rope.dimension_count", attn_.head_dim_k);
    attn_.rope_base = h.real_or("rope.freq_base", 10000.0f);
    const std::string scaling = h.string_or("rope.scaling.type", "none");
    if (scaling == "linear") attn_.rope_freq_scale = 1.0f / h.real_or("rope.scaling.factor", 1.0f);
    else if (scaling != "none")
        return status(errc::unsupported, "llama.rope.scaling.type '" + scaling + "' is not supported yet");
    MOE_TRY(h.error());
    if (attn_.head_dim_k == 0 || attn_.head_dim_v == 0 || attn_.n_rot == 0 || attn_.n_rot > attn_.head_dim_k ||
        attn_.n_rot % 2)
        return status(errc::bad_format, "llama: head size " + std::to_string(attn_.head_dim_k) + " / rope dims " +
                                            std::to_string(attn_.n_rot) + " are inconsistent");
    attn_.mode = rope_mode::norm;  // llama.cpp applies LLAMA_ROPE_TYPE_NORM for this architecture
    attn_.scale = 1.0f / std::sqrt(static_cast<float>(attn_.head_dim_k));
    if (in.n_expert > 0 && (in.n_expert_used == 0 || in.n_expert_used > in.n_expert))
        return status(errc::bad_format, "llama.expert_used_count (" + std::to_string(in.n_expert_used) +
                                            ") must be in 1.." + std::to_string(in.n_expert));
    moe_.n_expert_used = in.n_expert_used;
    moe_.normalize_weights = true;  // Mixtral renormalises the top-k probabilities

    const gguf::tensor_info* te = f.find_tensor("token_embd.weight");
    if (!te) return status(errc::shape_mismatch, "tensor 'token_embd.weight' is missing");
    in.n_vocab = te->n_dims == 2 ? te->ne[1] : 0;
    in.head_dim = attn_.head_dim_k;

    const int64_t E = in.n_embd, V = in.n_vocab, Hq = attn_.n_head * attn_.head_dim_k,
                  Hk = attn_.n_head_kv * attn_.head_dim_k, Hv = attn_.n_head_kv * attn_.head_dim_v;
    weight_binder wb(f);
    tok_embd_ = wb.require("token_embd.weight", {V, E});
    output_norm_ = wb.require_f32("output_norm.weight", {E});
    output_ = wb.optional("output.weight", {V, E});
    if (!output_) output_ = tok_embd_;  // tied embeddings
    layers_.resize(static_cast<size_t>(in.n_layer));
    for (int64_t il = 0; il < in.n_layer; ++il) {
        llama_layer& L = layers_[static_cast<size_t>(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        L.attn_norm = wb.require_f32(p + "attn_norm.weight", {E});
        L.attn.wq = wb.require(p + "attn_q.weight", {Hq, E});
        L.attn.wk = wb.require(p + "attn_k.weight", {Hk, E});
        L.attn.wv = wb.require(p + "attn_v.weight", {Hv, E});
        L.attn.wo = wb.require(p + "attn_output.weight", {E, attn_.n_head * attn_.head_dim_v});
        L.ffn_norm = wb.require_f32(p + "ffn_norm.weight", {E});
        if (in.n_expert > 0) {
            const int64_t X = in.n_expert;
            L.moe.router = wb.require(p + "ffn_gate_inp.weight", {X, E});
            L.moe.gate_exps = wb.require(p + "ffn_gate_exps.weight", {X, n_ff_, E});
            L.moe.up_exps = wb.require(p + "ffn_up_exps.weight", {X, n_ff_, E});
            L.moe.down_exps = wb.require(p + "ffn_down_exps.weight", {X, E, n_ff_});
        } else {
            L.ffn_gate = wb.require(p + "ffn_gate.weight", {n_ff_, E});
            L.ffn_up = wb.require(p + "ffn_up.weight", {n_ff_, E});
            L.ffn_down = wb.require(p + "ffn_down.weight", {E, n_ff_});
        }
    }
    MOE_TRY(wb.error());
    for (const gguf::tensor_info& t : f.tensors()) {
        in.n_params += static_cast<uint64_t>(t.n_elements());
        in.weight_bytes += t.nbytes;
    }
    return {};
}

result<graph> llama_arch::build(const build_request& req) const {
    const int64_t T = req.n_tokens;
    if (T < 1) return status(errc::invalid_argument, "a batch needs at least one token");
    if (req.k_cache.size() != layers_.size() || req.v_cache.size() != layers_.size())
        return status(errc::internal, "KV cache does not match the layer count");
    graph_builder b;
    value_id tokens = b.input("tokens", dtype::i32, {T});
    value_id pos = b.input("positions", dtype::i32, {T});
    value_id x = b.get_rows(tok_embd_.in(b), tokens);  // [T, n_embd]
    for (size_t il = 0; il < layers_.size(); ++il) {
        const llama_layer& L = layers_[il];
        const std::string n = std::to_string(il);
        value_id kc = b.state("cache_k." + n, dtype::f32, {req.n_ctx, attn_.n_head_kv, attn_.head_dim_k}, req.k_cache[il]);
        value_id vc = b.state("cache_v." + n, dtype::f32, {req.n_ctx, attn_.n_head_kv, attn_.head_dim_v}, req.v_cache[il]);
        value_id h = b.rms_norm(x, L.attn_norm.in(b), rms_eps_);
        x = b.add(attention_block(b, h, pos, kc, vc, L.attn, attn_), x);
        h = b.rms_norm(x, L.ffn_norm.in(b), rms_eps_);
        value_id f = info_.n_expert > 0 ? moe_ffn(b, h, L.moe, moe_) : swiglu_ffn(b, h, L.ffn_gate, L.ffn_up, L.ffn_down);
        x = b.add(f, x);
    }
    x = b.rms_norm(x, output_norm_.in(b), rms_eps_);
    if (!req.all_logits && T > 1) x = b.rows(x, T - 1, 1);
    value_id logits = b.mul_mat(x, output_.in(b));
    b.mark_output(logits);
    return b.finish();
}

}  // namespace

result<std::unique_ptr<architecture>> make_llama(const gguf::file& f) {
    std::unique_ptr<llama_arch> a(new llama_arch());
    MOE_TRY(a->load(f));
    return std::unique_ptr<architecture>(std::move(a));
}

MOE_END_NAMESPACE
