// quantize.hpp — converting a whole GGUF model to a quantized file type (Q4_K_M, Q8_0, MXFP4_MOE, ...), as
// llama-quantize does. Before: an F32/F16/BF16 GGUF (from a converter). After: a GGUF that model::load runs.
#pragma once

#include <moe/config.hpp>
#include <moe/dtype.hpp>
#include <moe/status.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

MOE_BEGIN_NAMESPACE

// GGUF's general.file_type values (llama.cpp's llama_ftype): which mix of tensor types a file holds.
enum class file_type : uint32_t {
    all_f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q8_0 = 7,
    q5_0 = 8,
    q5_1 = 9,
    q2_k = 10,
    q3_k_s = 11,
    q3_k_m = 12,
    q3_k_l = 13,
    q4_k_s = 14,
    q4_k_m = 15,
    q5_k_s = 16,
    q5_k_m = 17,
    q6_k = 18,
    iq4_nl = 25,
    iq4_xs = 30,
    bf16 = 32,
    mxfp4_moe = 38,
};

// "Q4_K_M", "q4_k_m", "Q4_K" (= Q4_K_M), "15", ... -> file type; unknown names list the supported ones.
MOE_API result<file_type> parse_file_type(std::string_view name);
MOE_API const char* file_type_name(file_type t) noexcept;  // "Q4_K_M"
// The file types moe can write, in llama-quantize's order.
MOE_API const std::vector<file_type>& supported_file_types() noexcept;

struct quantize_params {
    file_type type = file_type::q4_k_m;
    int n_threads = 0;               // 0: one per hardware thread
    bool pure = false;               // every quantizable matrix gets the mix's base type (llama-quantize --pure)
    bool reference_bytes = false;    // llama.cpp's exact bytes; default: moe's search, never worse than llama.cpp's
    bool allow_requantize = false;   // accept quantized inputs (dequantized first; loses accuracy twice)
    std::optional<dtype> output_type;           // override output.weight's type (unset: the mix decides)
    std::optional<dtype> token_embedding_type;  // override token_embd.weight's type
    // Called after each tensor with (tensors done, tensors in all); return false to stop (status errc::aborted).
    std::function<bool(size_t, size_t)> progress;
};

// One tensor of the quantized file: its name, shape (GGUF order) and type before and after.
struct tensor_plan_entry {
    std::string name;
    int64_t ne[4] = {1, 1, 1, 1};
    dtype from = dtype::f32;
    dtype to = dtype::f32;
    uint64_t bytes_from = 0;
    uint64_t bytes_to = 0;
};

// The tensor types a quantization would produce, without writing anything (llama-quantize --dry-run). The order is
// the output file's: tensors outside blocks first, then block by block, each group sorted by name.
MOE_API result<std::vector<tensor_plan_entry>> plan_quantization(const std::string& input_path,
                                                                  const quantize_params& params = {});

// Reads input_path, writes output_path with the tensor types plan_quantization gives and the input's metadata
// (general.file_type and general.quantization_version set). Errors name the file and tensor; a failed run removes
// the partial output.
MOE_API status quantize_model(const std::string& input_path, const std::string& output_path,
                              const quantize_params& params = {});

MOE_END_NAMESPACE
