// vec_dot.hpp — how a weight row meets an activation row: the activation is first converted to the weight type's
// "dot type" (f32 stays f32, f16/bf16 activations are rounded to f16/bf16, q4_0/q8_0 activations are quantized to
// q8_0 blocks), then a type-specific dot product runs. This mirrors llama.cpp's CPU numerics, so quantized files
// give the answers llama.cpp gives; the matmul kernels (matmul.cpp) are built on it.
#pragma once

#include <moe/dtype.hpp>

#include <cstddef>
#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {

// The activation format a weight type multiplies with.
dtype dot_type(dtype weight_type) noexcept;

// x (n floats) -> one row of dot_type(weight_type), row_bytes(dot_type, n) bytes. For q8_0 this is the activation
// quantizer llama.cpp uses on x86 (scale 127/amax, round half to even), not the reference weight quantizer.
void convert_activation(dtype weight_type, const float* x, void* out, int64_t n) noexcept;

// Dot product of one weight row (weight_type) with one converted activation row, n elements.
float vec_dot(dtype weight_type, const void* w, const void* a, int64_t n) noexcept;

}  // namespace cpu
MOE_END_NAMESPACE
