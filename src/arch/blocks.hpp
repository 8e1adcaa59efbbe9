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
};

struct attention_params {
    int64_t n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
    int64_t n_rot = 0;
    rope_mode mode = rope_mode::norm;
    float rope_base = 10000.0f, rope_freq_scale = 1.0f;
    float scale = 1.0f;  // usually 1/sqrt(head_dim_k)
    float norm_eps = 1e-6f;  // for q_norm / k_norm
};

// x [T, n_embd] (already normed) -> [T, n_embd]. Stores this batch's K/V in the caches.
value_id attention_block(graph_builder& b, value_id x, value_id pos, value_id kcache, value_id vcache,
                         const attention_weights& w, const attention_params& p);

struct moe_weights {
    weight router;     // ffn_gate_inp [n_expert, n_embd]
    weight gate_exps;  // [n_expert, n_ff, n_embd]
    weight up_exps;    // [n_expert, n_ff, n_embd]
    weight down_exps;  // [n_expert, n_embd, n_ff]
};

struct moe_params {
    int64_t n_expert_used = 2;
    bool normalize_weights = true;  // divide the chosen experts' probabilities by their sum
    float weights_scale = 0.0f;     // multiplies the expert weights when not 0 or 1 (expert_weights_scale)
};

// x [T, n_embd] (already normed) -> [T, n_embd]: softmax router, top-k experts, SwiGLU experts, weighted sum.
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
