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
};

struct attention_params {
    int64_t n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
    int64_t n_rot = 0;
    rope_mode mode = rope_mode::norm;
    float rope_base = 10000.0f, rope_freq_scale = 1.0f;
    float scale = 1.0f;  // usually 1/sqrt(head_dim_k)
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
};

// x [T, n_embd] (already normed) -> [T, n_embd]: softmax router, top-k experts, SwiGLU experts, weighted sum.
value_id moe_ffn(graph_builder& b, value_id x, const moe_weights& w, const moe_params& p);

// x [T, n_embd] -> [T, n_embd]: down(silu(gate x) * up x).
value_id swiglu_ffn(graph_builder& b, value_id x, const weight& gate, const weight& up, const weight& down);

MOE_END_NAMESPACE
