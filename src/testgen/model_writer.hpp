// model_writer.hpp — writes random-weight MoE GGUF files (any supported architecture, shape and weight type).
// Deterministic from a seed, with tokenizer metadata llama.cpp accepts; tests and the demo make their models here.
#pragma once

#include <moe/dtype.hpp>
#include <moe/status.hpp>

#include <cstdint>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace testgen {

struct model_spec {
    std::string arch = "llama";  // GGUF general.architecture: "llama" (Mixtral-style when n_expert > 0, dense
                                 // otherwise), "qwen3moe", "qwen2moe", "olmoe", "deepseek2", "gpt-oss" or
                                 // "granitemoe", with each family's own tensors
    int64_t n_vocab = 512;
    int64_t n_embd = 128;
    int64_t n_layer = 2;
    int64_t n_head = 4;
    int64_t n_head_kv = 2;
    int64_t head_dim = 0;        // 0: n_embd / n_head; otherwise written as attention.key_length/value_length
    int64_t n_ff = 256;          // expert FFN width (and dense FFN width when n_expert == 0)
    int64_t n_expert = 8;        // 0 writes a dense llama model
    int64_t n_expert_used = 2;
    int64_t n_ff_shexp = 0;      // qwen2moe shared-expert FFN width, 0: n_ff; granitemoe: > 0 adds shared experts
    // deepseek2 only (MLA attention and DeepSeek routing); head_dim is then the q/k head (no-RoPE + RoPE part)
    struct deepseek2_spec {
        int64_t q_lora_rank = 0;         // 0: attn_q (V2-Lite); > 0: attn_q_a, attn_q_a_norm, attn_q_b (V2, V3)
        int64_t kv_lora_rank = 64;       // compressed KV latent (attention.kv_lora_rank)
        int64_t rope_dim = 16;           // RoPE part of each q/k head (rope.dimension_count)
        int64_t v_head_dim = 0;          // value head size; 0: head_dim - rope_dim
        int64_t n_dense_lead = 1;        // leading_dense_block_count: dense SwiGLU layers first
        int64_t n_ff_dense = 0;          // their width (feed_forward_length); 0: 2 * n_ff
        int64_t n_expert_shared = 1;     // shared experts, n_ff wide each (expert_shared_count)
        int64_t n_group = 0;             // expert_group_count (written when > 0; > 1 limits routing to groups)
        int64_t n_group_used = 0;        // expert_group_used_count
        bool sigmoid = false;            // expert_gating_func 2 with exp_probs_b selection biases (V3); else 1 (V2)
        bool weights_norm = false;       // expert_weights_norm
        float weights_scale = 1.0f;      // expert_weights_scale
        float yarn_factor = 0.0f;        // > 0: rope.scaling.type "yarn" with this factor
        int64_t yarn_orig_ctx = 0;       //   rope.scaling.original_context_length; 0: n_ctx_train
        float yarn_mscale_all_dim = 0.0f;  //   > 0: rope.scaling.yarn_log_multiplier = 0.1 * this, as the converter
        bool legacy_kv_b = false;        // older files: attn_kv_b (same values as attn_k_b/attn_v_b), no *_mla keys
        bool fuse_gate_up = false;       // ffn_gate_up_exps [E, 2F, X] (convert_hf_to_gguf --fuse-gate-up-exps)
    } deepseek2;
    // gpt-oss only: attention sinks, q/k/v/o, router and expert biases, clamped SwiGLU (model_writer_gpt_oss.cpp)
    struct gpt_oss_spec {
        int64_t sliding_window = 128;  // attention.sliding_window: even layers slide, odd layers attend fully
        float yarn_factor = 32.0f;     // > 0: rope.scaling.type "yarn" with this factor (the real models: 32)
        int64_t yarn_orig_ctx = 4096;  //   rope.scaling.original_context_length
        bool mxfp4_experts = false;    // ffn_*_exps as MXFP4, the other matrices weight_type (llama.cpp's MXFP4_MOE)
    } gpt_oss;
    // granitemoe only: the multipliers; n_ff_shexp > 0 adds GraniteMoeShared's shared expert of that width
    struct granite_spec {
        float embedding_scale = 12.0f;    // embedding_scale (0: key not written)
        float residual_scale = 0.22f;     // residual_scale (0: key not written)
        float attention_scale = 0.0f;     // attention.scale; 0: 1 / head_dim, as the real models (not written if < 0)
        float logit_scale = 6.0f;         // logit_scale (required by llama.cpp)
    } granite;
    int64_t n_ctx_train = 2048;
    float rope_freq_base = 10000.0f;
    float rms_eps = 1e-5f;
    bool tie_output = false;     // omit output.weight: the head reuses token_embd
    uint64_t seed = 1;
    dtype weight_type = dtype::f32;  // type of every weight matrix; norms and the router stay f32
};

// The same seed and shape give the same float weights whatever weight_type is; only the storage differs.
MOE_API result<std::vector<uint8_t>> make_random_model(const model_spec& spec);
MOE_API status write_random_model(const std::string& path, const model_spec& spec);

}  // namespace testgen
MOE_END_NAMESPACE
