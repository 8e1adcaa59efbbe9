// mla.hpp — Multi-head Latent Attention (DeepSeek-V2/V3 and the families built on them), as llama.cpp runs it:
// q from x (directly or through a low-rank q_a/q_b pair), one compressed KV latent per token plus a shared RoPE key.
// The builder (src/arch/deepseek2.cpp) binds the weights; the graph ops are in src/graph/ir.hpp.
#pragma once

#include "arch/arch.hpp"
#include "arch/blocks.hpp"

#include <string>

MOE_BEGIN_NAMESPACE

struct mla_weights {
    weight wq;         // [n_head * qk_dim, n_embd]          without a q LoRA (V2-Lite); else unbound
    weight wq_a;       // [q_lora_rank, n_embd]               with a q LoRA (V2, V3)
    weight q_a_norm;   // [q_lora_rank] f32
    weight wq_b;       // [n_head * qk_dim, q_lora_rank]
    weight wkv_a_mqa;  // [kv_lora_rank + n_rot, n_embd]     the latent, then the shared RoPE key
    weight kv_a_norm;  // [kv_lora_rank] f32
    weight wk_b;       // [n_head, kv_lora_rank, qk_nope]     absorbed into q (current files)
    weight wv_b;       // [n_head, v_dim, kv_lora_rank]       decompresses the attended latent
    weight wkv_b;      // [n_head * (qk_nope + v_dim), kv_lora_rank]   older files: K/V decompressed before the cache
    weight wo;         // [n_embd, n_head * v_dim]
};

struct mla_params {
    int64_t n_head = 0;
    int64_t q_lora_rank = 0;   // 0: wq
    int64_t kv_lora_rank = 0;
    int64_t qk_nope = 0;       // no-RoPE part of each q/k head; qk_dim = qk_nope + n_rot
    int64_t n_rot = 0;         // RoPE part (rope.dimension_count)
    int64_t v_dim = 0;         // value head size after decompression
    bool absorbed = true;      // wk_b/wv_b (cache holds the latent) rather than wkv_b (cache holds full K/V)
    rope_mode mode = rope_mode::norm;
    float rope_base = 10000.0f, rope_freq_scale = 1.0f;
    yarn_params yarn;          // llama_context's ext_factor / attn_factor / n_ctx_orig for the RoPE parts
    float kq_scale = 1.0f;     // softmax scale, YaRN's mscale^2 / sqrt(qk_dim) (llama.cpp's deepseek2 graph)
    float norm_eps = 1e-6f;    // q_a_norm and kv_a_norm
};

// Binds blk.N.attn_{q | q_a, q_a_norm, q_b}, attn_kv_a_mqa, attn_kv_a_norm, attn_{k_b, v_b | kv_b}, attn_output.
mla_weights bind_mla(weight_binder& wb, const std::string& prefix, const mla_params& p, int64_t n_embd);

// The KV cache one layer needs: the latent and RoPE key in one shared head (absorbed), or full K/V per head.
kv_layer_shape mla_kv_shape(const mla_params& p);

// x [T, n_embd] (already normed) -> [T, n_embd]. Absorbed: kcache [C, 1, kv_lora_rank + n_rot] and no V cache
// (vcache is no_value); older files: kcache [C, n_head, qk_dim], vcache [C, n_head, v_dim]. seq: "sequence ids"
// of a several-sequence graph (caches with a leading slot dim), else no_value.
value_id mla_attention(graph_builder& b, value_id x, value_id pos, value_id seq, value_id kcache, value_id vcache,
                       const mla_weights& w, const mla_params& p);

MOE_END_NAMESPACE
