// model_writer_deepseek2.hpp — the deepseek2 part of the random-weight model writer: MLA tensors, DeepSeek routing
// metadata and YaRN keys. model_writer.cpp calls these for spec.arch == "deepseek2"; not a public header.
#pragma once

#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <functional>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace testgen {

// n values of mean + stddev * N(0, 1), deterministic per tensor name (model_writer.cpp's generator).
using gaussian_fn = std::function<std::vector<float>(const std::string& name, size_t n, double mean, double stddev)>;
// Stores a tensor of GGUF shape ne (innermost first) from floats, converted to `type`.
using put_fn = std::function<status(const std::string& name, const std::vector<int64_t>& ne, dtype type,
                                    const std::vector<float>& values)>;

// Shape rules llama.cpp and the weight types impose; head_dim is the q/k head (no-RoPE + RoPE parts).
status check_deepseek2_spec(const model_spec& s, int64_t head_dim);
// deepseek2.* keys; overrides the generic head_count_kv, rope.dimension_count, key/value_length, feed_forward_length.
void write_deepseek2_metadata(gguf::writer& w, const model_spec& s, int64_t head_dim);
// Every tensor of layer il (the generic writer adds token_embd, output_norm and output).
status write_deepseek2_layer(const model_spec& s, int64_t head_dim, int64_t il, const gaussian_fn& gaussian,
                             const put_fn& put);

}  // namespace testgen
MOE_END_NAMESPACE
