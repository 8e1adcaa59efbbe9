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
                                 // otherwise), "qwen3moe", "qwen2moe" or "olmoe", with each family's own tensors
    int64_t n_vocab = 512;
    int64_t n_embd = 128;
    int64_t n_layer = 2;
    int64_t n_head = 4;
    int64_t n_head_kv = 2;
    int64_t head_dim = 0;        // 0: n_embd / n_head; otherwise written as attention.key_length/value_length
    int64_t n_ff = 256;          // expert FFN width (and dense FFN width when n_expert == 0)
    int64_t n_expert = 8;        // 0 writes a dense llama model
    int64_t n_expert_used = 2;
    int64_t n_ff_shexp = 0;      // qwen2moe shared-expert FFN width; 0: n_ff
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
