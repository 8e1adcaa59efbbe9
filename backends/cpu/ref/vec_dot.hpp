// vec_dot.hpp — how a weight row meets an activation row: convert the activation to the weight's "dot type", then dot.
// Before: weight blocks (include/moe/quant.hpp). After: the matmul kernels (matmul.cpp) are built on it.
//
// The dot type is llama.cpp's vec_dot_type: f32 stays f32, f16/bf16 activations are rounded to f16/bf16; q4_0, q5_0,
// q8_0, iq4_nl, mxfp4 take q8_0 blocks; q4_1, q5_1 take q8_1; the K-quants and iq4_xs take q8_k. Conversions and dot
// products mirror llama.cpp's x86 CPU numerics, so quantized files give the answers llama.cpp gives.
#pragma once

#include <moe/dtype.hpp>

#include <cstddef>
#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {

// The activation format a weight type multiplies with.
dtype dot_type(dtype weight_type) noexcept;

// x (n floats) -> one row of dot_type(weight_type), row_bytes(dot_type, n) bytes. For q8_0/q8_1 this is the
// activation quantizer llama.cpp uses on x86 (scale 127/amax, round half to even), not the reference weight
// quantizer; for q8_k it is quantize_row_q8_K_ref (scale -127/max, ggml's nearest_int), which x86 uses too.
void convert_activation(dtype weight_type, const float* x, void* out, int64_t n) noexcept;

// Which of llama.cpp's x86 kernels a dot product mirrors. llama.cpp's CPU backend stores q4_0, q4_k, iq4_nl and mxfp4
// matrices (q2_k too where AVX-512 is available) interleaved in its CPU_REPACK buffer whenever their row count is a
// multiple of 8 (every model matrix) and multiplies them with GEMV/GEMM kernels that sum in another float order than
// its ggml_vec_dot_* kernels; everything else goes through ggml_vec_dot_*. `repacked` follows the GEMV, which
// llama.cpp runs for decoding and for every expert product (mul_mat_id); for prompts of 4+ rows its dense q4_k/q2_k
// GEMM adds per 64 values instead of per 256, a float-rounding difference (about 1e-6 relative).
// `repacked_gemm` is the GEMM's order (llama.cpp multiplies the prompt rows 4 at a time with it; the last R % 4 rows
// go through the GEMV): q4_k adds its scaled sums per 64 values; other types sum as `repacked`.
enum class dot_path { vec_dot, repacked, repacked_gemm };
dot_path llama_dot_path(dtype weight_type) noexcept;  // for a matrix whose row count is a multiple of 8
// For a matrix of n_rows rows (llama.cpp repacks only when n_rows % 8 == 0; 3-D broadcast weights: pass 1).
dot_path llama_dot_path(dtype weight_type, int64_t n_rows) noexcept;
// For activation row i of R in a dense product (ggml's mul_mat, not mul_mat_id) with a matrix of n_rows rows.
dot_path llama_dense_dot_path(dtype weight_type, int64_t n_rows, int64_t i, int64_t R) noexcept;

// Dot product of one weight row (weight_type) with one converted activation row, n elements, in the float order of
// llama_dot_path(weight_type) (q4_0: the engine core's block-by-block sum), or of the path given (the orders differ
// only by float rounding).
float vec_dot(dtype weight_type, const void* w, const void* a, int64_t n) noexcept;
float vec_dot(dtype weight_type, const void* w, const void* a, int64_t n, dot_path path) noexcept;

}  // namespace cpu
MOE_END_NAMESPACE
