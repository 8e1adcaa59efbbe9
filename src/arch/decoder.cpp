// decoder.cpp — shared hyperparameter reading, weight binding and graph frame for the decoder-only families.
// Before: the parsed GGUF (src/gguf). After: each family's builder adds its layers between begin and finish.
#include "arch/decoder.hpp"

#include <cmath>

MOE_BEGIN_NAMESPACE

status read_decoder_hparams(const gguf::file& f, const std::string& arch, rope_mode mode, decoder_hparams& out) {
    hparam_reader h(f, arch);
    model_info& in = out.info;
    in.architecture = arch;
    in.n_embd = h.count("embedding_length");
    in.n_layer = h.count("block_count", 4096);
    in.n_head = h.count("attention.head_count");
    in.n_head_kv = h.count_or("attention.head_count_kv", in.n_head);
    in.n_ctx_train = h.count_or("context_length", 4096);
    in.n_expert = h.count_or("expert_count", 0, 4096);
    in.n_expert_used = h.count_or("expert_used_count", 0, 4096);
    out.n_ff = h.count_or("feed_forward_length", 0);
    out.rms_eps = h.real_or("attention.layer_norm_rms_epsilon", 1e-5f);
    MOE_TRY(h.error());
    if (in.n_embd == 0 || in.n_layer == 0 || in.n_head == 0 || in.n_head_kv == 0 || in.n_head % in.n_head_kv != 0)
        return status(errc::bad_format, arch + ": embedding_length, block_count and head counts must be non-zero, and "
                                               "attention.head_count (" + std::to_string(in.n_head) +
                                               ") a multiple of head_count_kv (" + std::to_string(in.n_head_kv) + ")");
    attention_params& a = out.attn;
    a.n_head = in.n_head;
    a.n_head_kv = in.n_head_kv;
    a.head_dim_k = h.count_or("attention.key_length", in.n_embd / in.n_head);
    a.head_dim_v = h.count_or("attention.value_length", in.n_embd / in.n_head);
    a.n_rot = h.count_or("rope.dimension_count", a.head_dim_k);
    a.rope_base = h.real_or("rope.freq_base", 10000.0f);
    a.mode = mode;
    a.norm_eps = out.rms_eps;
    const std::string scaling = h.string_or("rope.scaling.type", "none");
    if (scaling == "linear") {
        const float factor = h.real_or("rope.scaling.factor", 1.0f);
        a.rope_freq_scale = factor > 0.0f ? 1.0f / factor : 1.0f;
    } else if (scaling == "yarn") {  // llama.cpp: ext_factor 1, beta_fast 32, beta_slow 1 (grok alone reads them)
        const float factor = h.real_or("rope.scaling.factor", 0.0f);
        a.rope_freq_scale = factor == 0.0f ? 1.0f : 1.0f / factor;
        a.yarn.ext_factor = 1.0f;
        a.yarn.n_ctx_orig = h.count_or("rope.scaling.original_context_length", in.n_ctx_train);
        a.yarn.attn_factor = yarn_attn_factor(a.rope_freq_scale, 1.0f, 0.0f);
    } else if (scaling != "none") {
        return status(errc::unsupported, arch + ".rope.scaling.type '" + scaling + "' is not supported yet");
    }
    a.yarn.attn_factor *= h.real_or("rope.scaling.attn_factor", 1.0f);
    MOE_TRY(h.error());
    if (a.head_dim_k == 0 || a.head_dim_v == 0 || a.n_rot == 0 || a.n_rot > a.head_dim_k || a.n_rot % 2)
        return status(errc::bad_format, arch + ": head size " + std::to_string(a.head_dim_k) + " and rope dimensions " +
                                            std::to_string(a.n_rot) + " are inconsistent");
    a.scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim_k));
    if (in.n_expert > 0 && (in.n_expert_used == 0 || in.n_expert_used > in.n_expert))
        return status(errc::bad_format, arch + ".expert_used_count (" + std::to_string(in.n_expert_used) +
                                            ") must be in 1.." + std::to_string(in.n_expert));
    const gguf::tensor_info* te = f.find_tensor("token_embd.weight");
    if (!te) return status(errc::shape_mismatch, "tensor 'token_embd.weight' is missing");
    in.n_vocab = te->n_dims == 2 ? te->ne[1] : 0;
    in.head_dim = a.head_dim_k;
    return {};
}

float yarn_attn_factor(float freq_scale, float mscale, float mscale_all_dims) {
    auto get_mscale = [](float scale, float m) { return scale <= 1.0f ? 1.0f : (0.1f * m * std::log(scale) + 1.0f); };
    const float factor = 1.0f / freq_scale;
    float f = mscale_all_dims != 0.0f ? get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dims)
                                      : get_mscale(factor, 1.0f);
    f *= 1.0f / (1.0f + 0.1f * std::log(factor));  // rope_yarn multiplies this back in
    return f;
}

output_weights bind_output_weights(weight_binder& wb, const model_info& in, bool allow_tied) {
    output_weights w;
    w.tok_embd = wb.require("token_embd.weight", {in.n_vocab, in.n_embd});
    w.output_norm = wb.require_f32("output_norm.weight", {in.n_embd});
    w.output = allow_tied ? wb.optional("output.weight", {in.n_vocab, in.n_embd})
                          : wb.require("output.weight", {in.n_vocab, in.n_embd});
    if (!w.output) w.output = w.tok_embd;  // tied embeddings
    return w;
}

attention_weights bind_attention(weight_binder& wb, const std::string& p, const attention_params& a, int64_t E) {
    const int64_t q = a.n_head * a.head_dim_k, k = a.n_head_kv * a.head_dim_k, v = a.n_head_kv * a.head_dim_v,
                  o = a.n_head * a.head_dim_v;
    attention_weights w;
    w.wq = wb.require(p + "attn_q.weight", {q, E});
    w.wk = wb.require(p + "attn_k.weight", {k, E});
    w.wv = wb.require(p + "attn_v.weight", {v, E});
    w.wo = wb.require(p + "attn_output.weight", {E, o});
    w.bq = wb.optional(p + "attn_q.bias", {q});
    w.bk = wb.optional(p + "attn_k.bias", {k});
    w.bv = wb.optional(p + "attn_v.bias", {v});
    w.bo = wb.optional(p + "attn_output.bias", {E});
    return w;
}

status begin_decoder_graph(decoder_graph& g, const build_request& req, const output_weights& w,
                           const attention_params& p, int64_t n_layer) {
    const int64_t T = req.n_tokens;
    if (T < 1) return status(errc::invalid_argument, "a batch needs at least one token");
    if (static_cast<int64_t>(req.k_cache.size()) != n_layer || static_cast<int64_t>(req.v_cache.size()) != n_layer)
        return status(errc::internal, "KV cache does not match the layer count");
    const bool multi = req.n_seq > 1;
    if (req.n_seq < 1 || (multi && (req.n_outputs < 1 || req.n_outputs > T)))
        return status(errc::invalid_argument, "a batch of several sequences needs 1.." + std::to_string(T) +
                                                  " output rows");
    graph_builder& b = g.b;
    // inputs first, so that their value ids are 0, 1 (2, 3): the session writes them by number
    g.tokens = b.input("tokens", dtype::i32, {T});
    g.pos = b.input("positions", dtype::i32, {T});
    if (multi) {
        g.seq = b.input("sequence ids", dtype::i32, {T});
        g.out_rows = b.input("output rows", dtype::i32, {req.n_outputs});
    }
    g.x = b.get_rows(w.tok_embd.in(b), g.tokens);
    auto cache_shape = [&](int64_t dim) {
        return multi ? shape{req.n_seq, req.n_ctx, p.n_head_kv, dim} : shape{req.n_ctx, p.n_head_kv, dim};
    };
    for (int64_t il = 0; il < n_layer; ++il) {
        const std::string n = std::to_string(il);
        const size_t l = static_cast<size_t>(il);
        g.k_cache.push_back(b.state("cache_k." + n, req.kv_type, cache_shape(p.head_dim_k), req.k_cache[l]));
        // head_dim_v 0: no V cache (MLA reads its values from the K rows, see kv_layer_shape)
        g.v_cache.push_back(p.head_dim_v > 0 ? b.state("cache_v." + n, req.kv_type, cache_shape(p.head_dim_v),
                                                       req.v_cache[l])
                                             : no_value);
    }
    return {};
}

value_id decoder_output_rows(decoder_graph& g, value_id x, const build_request& req) {
    if (g.out_rows != no_value) return g.b.get_rows(x, g.out_rows);
    if (!req.all_logits && req.n_tokens > 1) return g.b.rows(x, req.n_tokens - 1, 1);
    return x;
}

result<graph> finish_decoder_graph(decoder_graph& g, value_id x, const output_weights& w, float eps,
                                   const build_request& req) {
    graph_builder& b = g.b;
    x = decoder_output_rows(g, b.rms_norm(x, w.output_norm.in(b), eps), req);
    value_id logits = b.mul_mat(x, w.output.in(b));
    b.mark_output(logits);
    return b.finish();
}

MOE_END_NAMESPACE
