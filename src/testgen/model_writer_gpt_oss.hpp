// model_writer_gpt_oss.hpp — the gpt-oss part of the random-weight model writer: metadata keys (sliding window, YaRN)
// and layer tensors (sinks, biases). model_writer.cpp calls these for spec.arch == "gpt-oss"; not a public header.
#pragma once

#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <functional>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace testgen {

// Adds a tensor of GGUF shape ne (innermost first) with values mean + stddev * N(0, 1), stored as `type`.
using random_tensor_fn = std::function<status(const std::string& name, const std::vector<int64_t>& ne, dtype type,
                                              double mean, double stddev)>;

// Shape rules llama.cpp and the weight types impose (after the generic checks).
status check_gpt_oss_spec(const model_spec& s, int64_t head_dim);
// gpt-oss.* keys beyond the generic ones: expert width, sliding window, YaRN.
void write_gpt_oss_metadata(gguf::writer& w, const model_spec& s);
// Every tensor of gpt-oss layer il (the generic writer adds token_embd, output_norm and output).
status write_gpt_oss_layer(const model_spec& s, int64_t head_dim, int64_t il, const random_tensor_fn& add);

}  // namespace testgen
MOE_END_NAMESPACE
