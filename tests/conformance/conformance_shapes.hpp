// conformance_shapes.hpp — the generated model shapes the conformance tests run: two or more per architecture.
// Before: src/testgen's model_spec. After: conformance_main.cpp (logits per type) and model_quant_conformance.cpp.
#pragma once

#include "testgen/model_writer.hpp"

#include <string>
#include <vector>

struct shape_case {
    std::string name;
    moe::testgen::model_spec spec;
    bool mxfp4_moe = false;  // also write and check an MXFP4_MOE file (gpt-oss)
};

inline moe::testgen::model_spec conformance_spec(const char* arch, int64_t vocab, int64_t embd, int64_t layers,
                                                 int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t ff,
                                                 int64_t experts, int64_t used, uint64_t seed) {
    moe::testgen::model_spec s;
    s.arch = arch, s.n_vocab = vocab, s.n_embd = embd, s.n_layer = layers, s.n_head = heads;
    s.n_head_kv = kv_heads, s.head_dim = head_dim, s.n_ff = ff, s.n_expert = experts, s.n_expert_used = used;
    s.seed = seed;
    return s;
}

// Two shapes per architecture (GQA / MHA, head sizes, expert counts), plus the dense llama path with tied
// embeddings.
inline std::vector<shape_case> conformance_shapes() {
    const auto spec = conformance_spec;
    std::vector<shape_case> cases = {
        {"llama-gqa-8x2", spec("llama", 1024, 256, 4, 8, 2, 0, 512, 8, 2, 11)},
        {"llama-mha-hd64-6x3", spec("llama", 800, 256, 3, 4, 4, 0, 384, 6, 3, 22)},
        {"llama-dense-tied", spec("llama", 512, 128, 2, 4, 1, 0, 256, 0, 0, 33)},
        {"qwen3moe-gqa-hd96-16x4", spec("qwen3moe", 1024, 256, 3, 4, 2, 96, 256, 16, 4, 44)},
        {"qwen3moe-mha-hd32-6x2-tied", spec("qwen3moe", 640, 192, 2, 6, 6, 32, 192, 6, 2, 55)},
        {"qwen2moe-gqa-8x2", spec("qwen2moe", 1024, 256, 3, 4, 2, 0, 256, 8, 2, 66)},
        {"qwen2moe-mha-4x1", spec("qwen2moe", 512, 192, 2, 6, 6, 0, 128, 4, 1, 77)},
        {"olmoe-16x4", spec("olmoe", 1024, 256, 3, 8, 8, 0, 256, 16, 4, 88)},
        {"olmoe-hd64-8x2", spec("olmoe", 512, 128, 2, 2, 2, 0, 256, 8, 2, 99)},
    };
    cases[4].spec.tie_output = true;
    cases[2].spec.tie_output = true;
    cases[5].spec.n_ff_shexp = 512;
    {  // deepseek2 (MLA): V2-Lite-like (no q LoRA, softmax routing, 2 shared experts, YaRN with mscale_all_dim 0.707)
       // and V3-like (q LoRA, sigmoid + selection bias, 4 groups of 4 with 2 used, normalised weights x 2.5, YaRN);
       // the third is the first's weights in the older attn_kv_b layout (full K/V in the cache).
        moe::testgen::model_spec lite = spec("deepseek2", 1024, 256, 3, 4, 1, 64, 64, 8, 2, 111);
        moe::testgen::model_spec::deepseek2_spec& l = lite.deepseek2;
        l.q_lora_rank = 0, l.kv_lora_rank = 64, l.rope_dim = 32, l.n_dense_lead = 1, l.n_ff_dense = 256;
        l.n_expert_shared = 2, l.n_group = 1, l.n_group_used = 1, l.weights_scale = 1.0f;
        l.yarn_factor = 40.0f, l.yarn_orig_ctx = 4096, l.yarn_mscale_all_dim = 0.707f;
        moe::testgen::model_spec v3 = spec("deepseek2", 1024, 256, 3, 4, 1, 48, 64, 16, 4, 123);
        moe::testgen::model_spec::deepseek2_spec& d = v3.deepseek2;
        d.q_lora_rank = 96, d.kv_lora_rank = 128, d.rope_dim = 16, d.n_dense_lead = 1, d.n_ff_dense = 256;
        d.n_expert_shared = 1, d.n_group = 4, d.n_group_used = 2, d.sigmoid = true, d.weights_norm = true;
        d.weights_scale = 2.5f, d.yarn_factor = 4.0f, d.yarn_orig_ctx = 256, d.yarn_mscale_all_dim = 1.0f;
        moe::testgen::model_spec legacy = lite;
        legacy.deepseek2.legacy_kv_b = true;
        cases.push_back({"deepseek2-lite-mla-8x2-2shexp", lite});
        cases.push_back({"deepseek2-v3-mla-qlora-16x4-groups", v3});
        cases.push_back({"deepseek2-lite-legacy-kv_b", legacy});
        // DeepSeek-V2-Lite's attention dimensions (q/k head 192 = 128 + RoPE 64, value head 128, latent 512: cache
        // rows of 576 floats, the SIMD value sums over 512 outputs) on a narrow model. Its Q4_0 file differs from
        // llama.cpp by ~1e-2 rel-L2 (our q4_0 dot keeps the engine core's order, not llama.cpp's repacked one:
        // ref/vec_dot.cpp), and with seeds 141 and 144 one of 64 positions was a near tie that flipped; 143 has none.
        moe::testgen::model_spec lite_dims = spec("deepseek2", 1024, 256, 2, 4, 1, 192, 64, 8, 2, 143);
        moe::testgen::model_spec::deepseek2_spec& ld = lite_dims.deepseek2;
        ld.kv_lora_rank = 512, ld.rope_dim = 64, ld.v_head_dim = 128, ld.n_dense_lead = 1, ld.n_ff_dense = 256;
        ld.n_expert_shared = 2;
        cases.push_back({"deepseek2-lite-dims-512-latent", lite_dims});
        // gate and up experts in one tensor (--fuse-gate-up-exps). Seed 7: with seed 131 a near-tie expert choice
        // flipped on float rounding (llama.cpp's own batch-vs-single differed by 0.25 rel-L2 on the F16 file).
        moe::testgen::model_spec fused = v3;
        fused.deepseek2.fuse_gate_up = true;
        fused.seed = 7;
        cases.push_back({"deepseek2-v3-fused-gate-up", fused});
    }
    {  // gpt-oss: sinks, sliding windows on even layers (16 and 32 < the 64-token prompt), q/k/v/o, router and
       // expert biases, clamped SwiGLU, YaRN (factor 32 over 4096, base 150000 as the real models; factor 4 over 256)
        moe::testgen::model_spec a = spec("gpt-oss", 1024, 256, 4, 8, 2, 64, 256, 8, 2, 133);
        a.rope_freq_base = 150000.0f;
        a.gpt_oss.sliding_window = 16;
        moe::testgen::model_spec b = spec("gpt-oss", 512, 192, 3, 4, 4, 32, 128, 16, 4, 145);
        b.gpt_oss.sliding_window = 32, b.gpt_oss.yarn_factor = 4.0f, b.gpt_oss.yarn_orig_ctx = 256;
        cases.push_back({"gpt-oss-gqa-hd64-swa16-8x2", a, true});
        cases.push_back({"gpt-oss-mha-hd32-swa32-16x4", b, true});
    }
    {  // granitemoe: embedding x12, residual x0.22, attention 1/head_dim, logits /6 (Granite 3.x MoE's values);
       // the second with GraniteMoeShared's shared expert and other multipliers
        moe::testgen::model_spec a = spec("granitemoe", 1024, 256, 3, 8, 2, 0, 256, 8, 2, 156);
        moe::testgen::model_spec b = spec("granitemoe", 640, 192, 2, 6, 6, 32, 128, 10, 3, 166);
        b.n_ff_shexp = 256;
        b.granite.embedding_scale = 6.0f, b.granite.residual_scale = 0.5f, b.granite.attention_scale = 0.05f;
        b.granite.logit_scale = 3.0f;
        cases.push_back({"granitemoe-gqa-8x2", a});
        cases.push_back({"granitemoe-shared-mha-hd32-10x3", b});
    }
    return cases;
}
