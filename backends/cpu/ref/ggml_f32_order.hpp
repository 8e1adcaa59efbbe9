// ggml_f32_order.hpp — f32 reductions in the exact order of llama.cpp's x86 CPU kernels (ggml_vec_dot_f32, the
// soft_max with ggml_v_expf, tinyBLAS's sgemm), so attention over an f32 cache rounds bit for bit like llama.cpp's.
// Used by attention_mla.cpp (and by any kernel that wants llama.cpp's rounding); plain loops on other hosts.
#pragma once

#include <moe/config.hpp>

#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace ggml_f32 {

// The f32 SIMD width of the ggml CPU variant llama.cpp loads on this host: 16 (an AVX-512 build), 8 (AVX2 + FMA),
// or 0 (anything else; the functions below then sum plainly).
int lanes() noexcept;

// ggml_vec_dot_f32: 4 accumulators of W lanes over steps of 4W (fused multiply-add), the lane tree, then a float tail.
float dot(int W, const float* x, const float* y, int64_t n) noexcept;

// tinyBLAS's inner product (llamafile sgemm, used for contiguous batches): one W-lane accumulator over chunks of W,
// then the lane tree. n must be a multiple of W (else this is dot()).
float dot_tile(int W, const float* x, const float* y, int64_t n) noexcept;

// ggml_vec_soft_max_f32: y = exp(x - max) (ggml_v_expf) over chunks of W, each chunk's lane-tree sum added in double;
// returns the sum. n must be a multiple of W (pad with -inf: those lanes give exactly 0).
double exp_sum(int W, const float* x, float max, float* y, int64_t n) noexcept;

// out[d] = sum over j < n of p[j] * v[j * stride + d], d < dv: the product of ggml_mul_mat(v^T, p), summed as tinyBLAS
// does (tile: one W-lane fused accumulator per output over chunks of W, then the lane tree) or as ggml_vec_dot_f32
// (!tile). Rows past n count as zeros, as llama.cpp's masked cache rows do. acc: scratch of 4 * W * dv floats.
void weighted_rows(int W, bool tile, const float* p, const float* v, int64_t stride, int64_t n, int64_t dv, float* out,
                   float* acc) noexcept;

}  // namespace ggml_f32
}  // namespace cpu
MOE_END_NAMESPACE
