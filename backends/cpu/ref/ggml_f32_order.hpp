// ggml_f32_order.hpp — f32 reductions in the exact order of llama.cpp's x86 CPU kernels (ggml_vec_dot_f32, the
// soft_max with ggml_v_expf, tinyBLAS's sgemm), so attention over an f32 cache rounds bit for bit like llama.cpp's.
// Used by attention_mla.cpp (and by any kernel that wants llama.cpp's rounding); plain loops on other hosts.
#pragma once

#include <moe/config.hpp>

#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace ggml_f32 {

// The lane trees that end ggml's reductions, over any lane type T (float here, a vector of 8 or 16 outputs in the
// SIMD kernels) with add(a, b) = a + b. Internal linkage: the per-ISA kernel files instantiate their own.
namespace {
// _mm512_reduce_add_ps: the upper half onto the lower, then quarters, then lanes 0+2 and 1+3, then those two.
template <class T, class Add>
T tree16(const T* a, Add add) {
    T h[8], q[4];
    for (int i = 0; i < 8; ++i) h[i] = add(a[i + 8], a[i]);
    for (int i = 0; i < 4; ++i) q[i] = add(h[i + 4], h[i]);
    return add(add(q[0], q[2]), add(q[1], q[3]));
}
// A __m256 summed as tinyBLAS's hsum and the AVX2 soft_max do: hi + lo, then movehl, then movehdup.
template <class T, class Add>
T tree8_hsum(const T* a, Add add) {
    T q[4];
    for (int i = 0; i < 4; ++i) q[i] = add(a[i + 4], a[i]);
    return add(add(q[0], q[2]), add(q[1], q[3]));
}
// GGML_F32x8_REDUCE's end: lo + hi, then two horizontal adds.
template <class T, class Add>
T tree8_hadd(const T* a, Add add) {
    T q[4];
    for (int i = 0; i < 4; ++i) q[i] = add(a[i], a[i + 4]);
    return add(add(q[0], q[1]), add(q[2], q[3]));
}
// ggml_vec_dot_f32's end (W = 16 or 8) and tinyBLAS's / the soft_max's.
template <class T, class Add>
T lanes_vec(int W, const T* a, Add add) {
    return W == 16 ? tree16(a, add) : tree8_hadd(a, add);
}
template <class T, class Add>
T lanes_tile(int W, const T* a, Add add) {
    return W == 16 ? tree16(a, add) : tree8_hsum(a, add);
}
// ggml_vec_dot_f32's four W-lane accumulators (a: 4 * W lanes) paired as it pairs them: a[l] = (a0 + a2) + (a1 + a3).
template <class T, class Add>
void pair_accumulators(int W, T* a, Add add) {
    for (int l = 0; l < W; ++l) a[l] = add(a[l], a[2 * W + l]), a[W + l] = add(a[W + l], a[3 * W + l]);
    for (int l = 0; l < W; ++l) a[l] = add(a[l], a[W + l]);
}
}  // namespace

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
// The one-query order (!tile) over binary16 rows (an f16 KV cache), each value widened exactly: equal to
// weighted_rows over the widened rows.
void weighted_rows_f16(int W, const float* p, const uint16_t* v, int64_t stride, int64_t n, int64_t dv, float* out,
                       float* acc) noexcept;

// ggml_vec_swiglu_f32 (u != nullptr: out = silu(g) * u) and ggml_vec_silu_f32 (u == nullptr: out = silu(g)) over a
// row whose elements [0, n_vec) fall in ggml's W-lane chunks, g / (1 + ggml_v_expf(0 - g)), and the rest in its
// scalar tail, g / (1 + expf(-g)) with expf = expf_ref. A row of n elements has n_vec = n / W * W; with W = 0 (a host
// llama.cpp runs no x86 vector code on) n_vec is ignored and every element takes the scalar form.
void swiglu(int W, const float* g, const float* u, float* out, int64_t n_vec, int64_t n) noexcept;
// ggml's soft_max row (ggml_compute_forward_soft_max_f32 without mask or sinks): max in order, then
// ggml_vec_soft_max_f32 (exp_sum over the W-lane chunks, then expf = expf_ref per tail element, each added in double),
// then y *= float(1 / sum). W = 0: every element through the tail's form.
void soft_max_row(int W, const float* x, float* y, int64_t n) noexcept;
// ggml_v_expf of W lanes (16: its AVX-512 form, 2^n by scalef; 8: its AVX2 form), one lane: W = 16 or 8.
float v_expf(int W, float x) noexcept;

}  // namespace ggml_f32
}  // namespace cpu
MOE_END_NAMESPACE
