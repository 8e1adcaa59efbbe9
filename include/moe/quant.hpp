// quant.hpp — GGUF's quantized block layouts (Q4_0, Q8_0) and row conversions to and from float.
// The test-model writer quantizes with these; the loader and CPU kernels dequantize with them (src/quant/).
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

// Converts n floats (a multiple of the type's block size) to row_bytes(type, n) bytes of `type`.
// Bit-exact with llama.cpp's reference quantizers for q8_0 and q4_0. Supported: f32, f16, bf16, q8_0, q4_0.
MOE_API status quantize_row(dtype type, const float* src, void* dst, int64_t n);

// Converts one row of n elements of `type` to floats. Supported: f32, f16, bf16, q8_0, q4_0.
MOE_API status dequantize_row(dtype type, const void* src, float* dst, int64_t n);

// True for the types quantize_row/dequantize_row handle.
MOE_API bool can_convert(dtype type) noexcept;

MOE_END_NAMESPACE
