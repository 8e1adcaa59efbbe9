// quant.hpp — GGUF's quantized block layouts (32-blocks, K-quants, IQ4, MXFP4) and row conversions to/from float.
// The test-model writer and moe-quantize quantize with these; the loader and CPU kernels dequantize with them.
#pragma once

#include <moe/dtype.hpp>
#include <moe/status.hpp>

#include <cstddef>
#include <cstdint>

MOE_BEGIN_NAMESPACE

constexpr int qk4_0 = 32;
constexpr int qk8_0 = 32;

// 32 weights: fp16 scale d, then 16 bytes; byte j holds value j in its low nibble and value j+16 in its high
// nibble, both stored as q+8 (value = (q - 8) * d).
struct block_q4_0 {
    uint16_t d;
    uint8_t qs[qk4_0 / 2];
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 must match GGUF's 18-byte layout");

// 32 weights: fp16 scale d, then 32 signed bytes (value = q * d).
struct block_q8_0 {
    uint16_t d;
    int8_t qs[qk8_0];
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 must match GGUF's 34-byte layout");

// ---- legacy 32-element blocks with a minimum, or a fifth bit (value = q * d [+ m]) ------------------------------

constexpr int qk4_1 = 32;
constexpr int qk5_0 = 32;
constexpr int qk5_1 = 32;
constexpr int qk8_1 = 32;

// 32 weights: fp16 scale d and minimum m, then nibbles as in q4_0 (value = q * d + m, q in 0..15).
struct block_q4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[qk4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 must match GGUF's 20-byte layout");

// 32 weights: fp16 d; qh bit j (little-endian u32) is bit 4 of value j; nibbles as in q4_0 (value = (q - 16) * d).
struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[qk5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 must match GGUF's 22-byte layout");

// 32 weights: fp16 d and m, fifth bits and nibbles as in q5_0 (value = q * d + m, q in 0..31).
struct block_q5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[qk5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 must match GGUF's 24-byte layout");

// Activation blocks for q4_1/q5_1 weights: fp16 d, fp16 s = d * sum(qs), 32 signed bytes (value = q * d).
struct block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[qk8_1];
};
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 must match GGUF's 36-byte layout");

// ---- K-quants: 256-element super-blocks of 16 or 32-element sub-blocks with quantized sub-scales -----------------

constexpr int qk_k = 256;
constexpr int k_scale_size = 12;

// 16 sub-blocks of 16: scales[j] = scale (low nibble) | min (high nibble); 2-bit q, qs byte 32g + l holding
// elements 128g + l + 32k in bits 2k..2k+1 (k = 0..3). value = d * (sc & 15) * q - dmin * (sc >> 4).
struct block_q2_k {
    uint8_t scales[qk_k / 16];
    uint8_t qs[qk_k / 4];
    uint16_t d;
    uint16_t dmin;
};
static_assert(sizeof(block_q2_k) == 84, "block_q2_k must match GGUF's 84-byte layout");

// 16 sub-blocks of 16: 2 low bits in qs (as q2_k), the third bit in hmask (bit k of hmask[l] for element 32k + l;
// set means +0, clear means -4), 6-bit signed sub-scales packed in 12 bytes. value = d * (sc - 32) * (q - 4*!h).
struct block_q3_k {
    uint8_t hmask[qk_k / 8];
    uint8_t qs[qk_k / 4];
    uint8_t scales[12];
    uint16_t d;
};
static_assert(sizeof(block_q3_k) == 110, "block_q3_k must match GGUF's 110-byte layout");

// 8 sub-blocks of 32 with 6-bit scale and 6-bit min packed in 12 bytes; qs: each 32 bytes hold two sub-blocks
// (low nibbles the first, high nibbles the second). value = d * sc * q - dmin * m.
struct block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[k_scale_size];
    uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q4_k) == 144, "block_q4_k must match GGUF's 144-byte layout");

// As q4_k plus a fifth bit: bit 2i (first sub-block of pair i) / 2i+1 (second) of qh[l] is bit 4 of element l.
struct block_q5_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[k_scale_size];
    uint8_t qh[qk_k / 8];
    uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q5_k) == 176, "block_q5_k must match GGUF's 176-byte layout");

// 16 sub-blocks of 16 with int8 scales; 6-bit q = low nibble | 2 high bits, value = d * sc * (q - 32). For half h
// (elements 128h..) and l < 32: ql[64h + l] holds elements l (low) and l + 64 (high nibble), ql[64h + 32 + l] holds
// l + 32 and l + 96; qh[32h + l] holds the high bits of l, l + 32, l + 64, l + 96 in bits 0-1, 2-3, 4-5, 6-7.
struct block_q6_k {
    uint8_t ql[qk_k / 2];
    uint8_t qh[qk_k / 4];
    int8_t scales[qk_k / 16];
    uint16_t d;
};
static_assert(sizeof(block_q6_k) == 210, "block_q6_k must match GGUF's 210-byte layout");

// Activation blocks for K-quant and iq4_xs weights: float d, 256 signed bytes, sums of each 16 (value = q * d).
struct block_q8_k {
    float d;
    int8_t qs[qk_k];
    int16_t bsums[qk_k / 16];
};
static_assert(sizeof(block_q8_k) == 292, "block_q8_k must match GGUF's 292-byte layout");

// ---- non-linear 4-bit (IQ4) and microscaling FP4 ------------------------------------------------------------------

constexpr int qk4_nl = 32;
constexpr int qk_mxfp4 = 32;

// The 16 levels of iq4_nl/iq4_xs (value = d * iq4nl_values[q]).
inline constexpr int8_t iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
// E2M1 values doubled (value = e8m0_half(e) * mxfp4_values[q]).
inline constexpr int8_t mxfp4_values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 32 weights: fp16 d, nibbles as in q4_0 indexing iq4nl_values.
struct block_iq4_nl {
    uint16_t d;
    uint8_t qs[qk4_nl / 2];
};
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl must match GGUF's 18-byte layout");

// 8 sub-blocks of 32 with 6-bit scales (low 4 bits in scales_l, nibble per sub-block; high 2 bits in scales_h);
// value = d * (ls - 32) * iq4nl_values[q]; qs as in q4_0 per sub-block.
struct block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[qk_k / 64];
    uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs must match GGUF's 136-byte layout");

// 32 weights: E8M0 shared exponent e, nibbles as in q4_0 indexing mxfp4_values (value = 2^(e-128) * values[q]).
struct block_mxfp4 {
    uint8_t e;
    uint8_t qs[qk_mxfp4 / 2];
};
static_assert(sizeof(block_mxfp4) == 17, "block_mxfp4 must match GGUF's 17-byte layout");

// ---- row conversions -----------------------------------------------------------------------------------------------

// Converts n floats (a multiple of the type's block size) to row_bytes(type, n) bytes of `type`.
// q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl: bit-exact with llama.cpp's quantizer (ggml_quantize_chunk, no imatrix).
// q2_k..q6_k, iq4_xs, mxfp4: start from llama.cpp's result and keep a block only where a local search lowers its
// squared error, so a tensor's error is never above llama.cpp's. Supported: every type can_convert accepts.
MOE_API status quantize_row(dtype type, const float* src, void* dst, int64_t n);

// As quantize_row, but always llama.cpp's exact bytes (ggml_quantize_chunk without an imatrix), refinement off.
// For reproducing llama-quantize's output and for conformance tests.
MOE_API status quantize_row_reference(dtype type, const float* src, void* dst, int64_t n);

// Converts one row of n elements of `type` to floats, bit-exact with llama.cpp's dequantize_row_*.
MOE_API status dequantize_row(dtype type, const void* src, float* dst, int64_t n);

// True for the types quantize_row/dequantize_row handle (the weight types moe computes with): f32, f16, bf16,
// q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, mxfp4.
MOE_API bool can_convert(dtype type) noexcept;

MOE_END_NAMESPACE
