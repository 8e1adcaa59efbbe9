// blocks.hpp — graph building blocks shared by the architecture builders: attention with RoPE and a KV cache,
// the routed-expert MoE FFN and the dense SwiGLU FFN. Each family's builder (src/arch/<family>.cpp) composes them.
#pragma once

#include "arch/weights.hpp"
#include "graph/ir.hpp"

MOE_BEGIN_NAMESPACE

struct attention_weights {
    weight wq;  // [n_head * head_dim_k, n_embd]
    weight wk;  // [n_head_kv * head_dim_k, n_embd]
    weight wv;  // [n_head_kv * head_dim_v, n_embd]
    weight wo;  // [n_embd, n_head * head_dim_v]
    weight bq, bk, bv, bo;  // optional biases, [rows of the matching weight]
    // Optional RMSNorm of q and k before RoPE: [head_dim_k] normalises each head (Qwen3), [n_head * head_dim_k]
    // the whole projection (OLMoE).
    weight q_norm, k_norm;
    weight sinks;  // optional [n_head] f32: a learned logit per head in every softmax sum (gpt-oss)
};

// YaRN RoPE scaling as llama.cpp applies it for a context (llama_context's yarn_* values): see decoder.hpp.
struct yarn_params {
    float ext_factor = 0.0f;   // 0: no YaRN ramp (plain or linear RoPE)
    float attn_factor = 1.0f;  // magnitude of cos/sin
    float beta_fast = 32.0f, beta_slow = 1.0f;
    int64_t n_ctx_orig = 0;    // training context the ramp is computed for
};

struct attention_params {
    int64_t n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
    int64_t n_rot = 0;
    rope_mode mode = rope_mode::norm;
    float rope_base = 10000.0f, rope_freq_scale = 1.0f;
    float scale = 1.0f;  // usually 1/sqrt(head_dim_k)
    float norm_eps = 1e-6f;  // for q_norm / k_norm
    yarn_params yarn;        // RoPE goes through rope_yarn when ext_factor != 0 or attn_factor != 1
    int64_t window = 0;      // sliding-window attention over the last `window` positions; 0: full causal
};

// ggml_rope_yarn_corr_dims: the rotation pairs YaRN's ramp runs over, for n_rot dims and a RoPE base.
rope_yarn_params yarn_rope_params(const yarn_params& y, int64_t n_rot, float base);

// x [T, n_embd] (already normed) -> [T, n_embd]. Stores this batch's K/V in the caches. seq: the "sequence ids"
// input of a several-sequence graph (caches [S, C, H, D]), else no_value.
value_id attention_block(graph_builder& b, value_id x, value_id pos, value_id seq, value_id kcache, value_id vcache,
                         const attention_weights& w, const attention_params& p);

struct moe_weights {
    weight router;     // ffn_gate_inp [n_expert, n_embd]
    weight gate_exps;  // [n_expert, n_ff, n_embd]
    weight up_exps;    // [n_expert, n_ff, n_embd]
    weight gate_up_exps;  // instead of the two: [n_expert, 2 n_ff, n_embd], gate rows then up rows (fused files)
    weight down_exps;  // [n_expert, n_embd, n_ff]
    weight exp_probs_b;  // optional [n_expert] f32: added to the scores for choosing experts only (DeepSeek-V3)
};

enum class expert_gating { softmax, sigmoid };  // llama.cpp's expert_gating_func 1 and 2

struct moe_params {
    int64_t n_expert_used = 2;
    bool normalize_weights = true;  // divide the chosen experts' probabilities by their sum
    float weights_scale = 0.0f;     // multiplies the expert weights when not 0 or 1 (expert_weights_scale)
    expert_gating gating = expert_gating::softmax;  // router logits -> expert scores
    int64_t n_group = 0, n_group_used = 0;  // n_group > 1: choose only among the n_group_used best expert groups
};

// x [T, n_embd] (already normed) -> [T, n_embd]: router scores (softmax or sigmoid), top-k experts (by the scores
// plus exp_probs_b, within the best groups), SwiGLU experts, weighted sum of their outputs by the unbiased scores.
value_id moe_ffn(graph_builder& b, value_id x, const moe_weights& w, const moe_params& p);

// x [T, n_embd] -> [T, n_embd]: down(silu(gate x) * up x).
value_id swiglu_ffn(graph_builder& b, value_id x, const weight& gate, const weight& up, const weight& down);

struct shared_expert_weights {
    weight gate_inp;          // optional [n_embd]: a sigmoid gate per token on the shared expert's output (Qwen2-MoE)
    weight gate, up, down;    // SwiGLU FFN: [n_ff_shexp, n_embd], [n_ff_shexp, n_embd], [n_embd, n_ff_shexp]
};

// x [T, n_embd] -> [T, n_embd]: the always-on expert, optionally scaled by sigmoid(gate_inp . x).
value_id shared_expert_ffn(graph_builder& b, value_id x, const shared_expert_weights& w);

MOE_END_NAMESPACE
