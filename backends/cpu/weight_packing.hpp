// weight_packing.hpp — which model tensors the CPU kernels read in a layout of their own, and the repacking.
// Before: the model loader (src/model/weight_packing_load.cpp) with the file's tensors. After: the matmul kernels
// (ref/matmul.cpp) read tensor_view::packed where a weight has it.
#pragma once

#include "graph/ir.hpp"

#include <cstddef>
#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {

// The layout the CPU kernels prefer for a tensor of this type and GGUF shape (ne[0] innermost, n_dims of them), or
// packing::none: q4_0 matrices and expert stacks whose matrices have a multiple of eight rows, when the CPU has a
// SIMD kernel for the packed layout.
packing preferred_packing(dtype type, const int64_t* ne, uint32_t n_dims) noexcept;

// Writes the tensor's bytes (nbytes of them) in layout p to dst, which holds as many bytes.
void pack_tensor(packing p, dtype type, const int64_t* ne, uint32_t n_dims, const uint8_t* src, uint8_t* dst) noexcept;

}  // namespace cpu
MOE_END_NAMESPACE
