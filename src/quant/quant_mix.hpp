// quant_mix.hpp — which tensor type each tensor of a model gets under a file type (Q4_K_M's mix of Q4_K/Q6_K, ...).
// Before: the input GGUF's tensor list and hyperparameters (model_quantizer.cpp). After: the quantizer writes them.
#pragma once

#include <moe/quantize.hpp>

#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace quant_mix {

// What the rules need to know about the model (from its GGUF metadata).
struct model_facts {
    std::string arch;     // general.architecture
    int64_t n_layer = 0;  // {arch}.block_count
    int64_t n_expert = 0; // {arch}.expert_count (0 for dense models)
    int64_t n_head = 0;   // {arch}.attention.head_count (of layer 0)
    int64_t n_head_kv = 0;
};

struct tensor_desc {
    std::string name;
    int64_t ne[4] = {1, 1, 1, 1};  // GGUF order
    dtype type = dtype::f32;
};

// The type each matrix's rows use under a file type with no quantization of its own, and for the quantized ones the
// "base" type of the mix (Q4_K for Q4_K_M).
dtype base_type(file_type t) noexcept;

// llama.cpp's order of a model's tensors (llama_model_loader's weights_map): tensors outside blocks first, then
// block by block (blk.N.), each group by name. Returns indices into `tensors`.
std::vector<size_t> file_order(const std::vector<tensor_desc>& tensors);

// The target type of every tensor, visited in file_order (the per-layer counters depend on it), following
// llama.cpp's llama_tensor_get_type without an importance matrix. Index i of the result belongs to tensors[i].
result<std::vector<dtype>> choose_types(const model_facts& facts, const std::vector<tensor_desc>& tensors,
                                        const quantize_params& params);

}  // namespace quant_mix
MOE_END_NAMESPACE
