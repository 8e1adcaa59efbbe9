// weight_packing.hpp — which model tensors the CPU kernels read in a layout of their own, and the repacking.
// Before: the model loader (src/model/pack_weights.cpp) with the file's tensors. After: the matmul kernels
// (ref/matmul.cpp) read tensor_view::packed where a weight has it.
#pragma once

#include "graph/ir.hpp"

#include <cstddef>
#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {

// The layout the CPU kernels prefer for a tensor of this type and GGUF shape (ne[0] innermost, n_dims of them), or
// packing::none: q4_0, q8_0, f16 and bf16 matrices and expert stacks whose matrices have a multiple of eight rows, when
// the CPU has a SIMD kernel for the packed layout.
packing preferred_packing(dtype type, const int64_t* ne, uint32_t n_dims) noexcept;

// A tensor repacks in independent units (groups of eight rows), so that several threads can share it.
int64_t pack_units(packing p, const int64_t* ne, uint32_t n_dims) noexcept;

// Writes units [u0, u1) of the tensor (src: its first byte) in layout p into dst (the packed tensor's first byte;
// the packed tensor has as many bytes as the original).
void pack_tensor_units(packing p, const int64_t* ne, const uint8_t* src, uint8_t* dst, int64_t u0, int64_t u1) noexcept;

}  // namespace cpu
MOE_END_NAMESPACE
