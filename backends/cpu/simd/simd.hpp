// simd.hpp — the CPU backend's per-ISA kernel table: activation quantizers and matmul tiles, chosen once at startup.
// Before: the per-ISA kernels (kernels_avx2/avx512/neon/neon_dot.cpp). After: the matmul kernels (ref/matmul.cpp).
//
// Every SIMD kernel is bit-exact with the reference (ref/vec_dot.cpp) for the same inputs: integer block sums are
// exact and the float accumulation repeats the reference's order lane for lane. Types without a kernel run the
// reference. MOE_CPU_ISA=ref|avx2|avx512|neon (or set_isa) forces a level at or below what the CPU supports.
#pragma once

#include <moe/dtype.hpp>

#include <cstddef>
#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace simd {

enum class isa { ref = 0, avx2 = 1, avx512 = 2, neon = 3 };
constexpr int isa_count = 4;
const char* isa_name(isa i) noexcept;
// Parses "ref", "avx2", "avx512", "neon"; false for anything else.
bool parse_isa(const char* s, isa& out) noexcept;

// x (n floats, n a multiple of the block size) -> n / block activation blocks, bytes identical to convert_activation.
using quantize_fn = void (*)(const float* x, void* out, int64_t n);

// For r in [r0, r1) and i < na: out[i][r] = vec_dot(type, w + r * wrb, a[i], k), the reference's default dot path.
using tile_fn = void (*)(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                         float* const* out, int64_t k);

constexpr int n_dtype_slots = 40;  // dtype ids are below 40 (mxfp4 = 39)

struct kernel_table {
    isa level = isa::ref;
    quantize_fn q8_0 = nullptr, q8_1 = nullptr, q8_k = nullptr;  // by dot type; nullptr: reference converter
    tile_fn tile[n_dtype_slots] = {};                                // by weight dtype; nullptr: reference vec_dot
    tile_fn q4_k_gemm = nullptr;  // q4_k in llama.cpp's GEMM order (dot_path::repacked_gemm), for prompt rows
    float (*dot_f32)(const float* x, const float* y, int64_t n) = nullptr;  // Eigen's dot order; nullptr: Eigen
    void (*axpy_f32)(float a, const float* x, float* y, int64_t n) = nullptr;  // y[i] += a * x[i], each rounded
    // y[i] = expf_ref(x[i]) (ref/expf_ref.hpp), x and y may be the same; nullptr: expf_ref one by one
    void (*exp_f32)(const float* x, float* y, int64_t n) = nullptr;
    // softmax_ref (ref/softmax_ref.hpp) over one row of scores; nullptr: that function
    void (*softmax_f32)(float* s, int64_t n, float scale, const float* sink) = nullptr;
    // ggml_f32::swiglu's vector form over all n elements (u == nullptr: silu), W = 16 or 8; nullptr: that function
    void (*ggml_swiglu)(int W, const float* g, const float* u, float* out, int64_t n) = nullptr;
    // binary16 rows <-> float rows, as half.hpp converts (the f16 KV cache); nullptr: half.hpp element by element
    void (*f16_to_f32)(const uint16_t* h, float* f, int64_t n) = nullptr;
    void (*f32_to_f16)(const float* f, uint16_t* h, int64_t n) = nullptr;
    // f16_to_f32 of `rows` rows of d halves, `stride` halves apart, into rows d floats apart (prefetching ahead)
    void (*f16_rows_to_f32)(const uint16_t* h, int64_t stride, int64_t rows, int64_t d, float* f) = nullptr;
    // out[j] = dot_f32(x, y + j * stride, n) for j < rows; nullptr: the reference dot row by row
    void (*dot_f32_rows)(const float* x, const float* y, int64_t stride, int64_t rows, int64_t n, float* out) = nullptr;
    // out[i][j] = dot_f32(x[i], y + j * stride, n) for i < nx, j < rows; nullptr: dot_f32_rows per query
    void (*dot_f32_rows_multi)(const float* const* x, int nx, const float* y, int64_t stride, int64_t rows, int64_t n,
                               float* const* out) = nullptr;
    // axpy_f32(p[j], v + j * stride, out, n) for j = 0 .. rows - 1 in turn; nullptr: axpy_f32 row by row
    void (*axpy_f32_rows)(const float* p, const float* v, int64_t stride, int64_t rows, int64_t n, float* out) = nullptr;
    // llama.cpp's f32 orders (ref/ggml_f32_order.hpp) for W = 8 or 16; nullptr: the scalar re-enactments there
    float (*ggml_dot)(int W, const float* x, const float* y, int64_t n) = nullptr;
    // out[i][j] = ggml_dot(W, y + j * stride, x[i], n) for i < nx, j < rows
    void (*ggml_dot_rows_multi)(int W, const float* const* x, int nx, const float* y, int64_t stride, int64_t rows,
                                int64_t n, float* const* out) = nullptr;
    float (*ggml_dot_tile)(int W, const float* x, const float* y, int64_t n) = nullptr;
    void (*ggml_weighted_rows)(int W, bool tile, const float* p, const float* v, int64_t stride, int64_t n, int64_t dv,
                               float* out, float* acc) = nullptr;
    // ggml_weighted_rows(W, true, p[i], v, stride, n[i], dv, out[i], acc) for i < nq; acc: (max(nq, 4) * W + 256) * 16
    // floats
    void (*ggml_weighted_rows_multi)(int W, const float* const* p, const int64_t* n, int nq, const float* v,
                                     int64_t stride, int64_t dv, float* const* out, float* acc) = nullptr;
    // ggml_weighted_rows(W, false, p[i], v, stride, n, dv, out[i], acc) for i < nq, over float or binary16 rows
    void (*ggml_weighted_rows_vec_multi)(int W, const float* const* p, int nq, const float* v, int64_t stride,
                                         int64_t n, int64_t dv, float* const* out, float* acc) = nullptr;
    void (*ggml_weighted_rows_vec_multi_f16)(int W, const float* const* p, int nq, const uint16_t* v, int64_t stride,
                                             int64_t n, int64_t dv, float* const* out, float* acc) = nullptr;
    tile_fn q4_0x8 = nullptr;  // q4_0 weights repacked by repack_q4_0x8; nullptr: the scalar ref_tile_q4_0x8
    tile_fn q8_0x8 = nullptr;  // repack_q8_0x8's layout (AVX-512 VNNI only); nullptr: the scalar ref_tile_q8_0x8
    tile_fn f16x8 = nullptr, bf16x8 = nullptr;  // repack_h16x8's layout; nullptr: the scalar ref_tile_h16x8
};

// The table of one level, or nullptr when this build or this CPU lacks it (isa::ref always exists, all nullptr).
const kernel_table* table_for(isa level) noexcept;
// The best level this build and this CPU support.
isa best_isa() noexcept;
// The table in use: chosen on first use from MOE_CPU_ISA (if set and supported) or best_isa().
const kernel_table& active() noexcept;
// Forces a level for the whole process (tests, benchmarks, the cpu backend's setting). False when unsupported.
bool set_isa(isa level) noexcept;

// The per-ISA fillers, each defined in its own translation unit with its own compiler flags (false: not built).
bool fill_avx2(kernel_table& t) noexcept;
bool fill_avx512(kernel_table& t) noexcept;
bool fill_neon(kernel_table& t) noexcept;      // ARMv8-A NEON
bool fill_neon_dot(kernel_table& t) noexcept;  // NEON + dotprod; isa::neon uses it where the CPU has dotprod

// ---- what the matmul kernels call ----------------------------------------------------------------------------------

// convert_activation through the active table.
void convert_activation(dtype weight_type, const float* x, void* out, int64_t n) noexcept;
// The tile_fn contract through the active table's tile for weight_type, or the reference tile where it has none.
void tile(dtype weight_type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
          float* const* out, int64_t k) noexcept;
// q4_k weights in dot_path::repacked_gemm's order (llama.cpp's prompt GEMM), through the active table or the reference.
void tile_q4_k_gemm(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                    float* const* out, int64_t k) noexcept;
// x . y for floats, bit-identical to the reference's Eigen dot (cpu::dot), through the active table.
float dot_f32(const float* x, const float* y, int64_t n) noexcept;
// y[i] = y[i] + a * x[i] (product rounded, then the sum: no fused multiply-add), through the active table.
void axpy_f32(float a, const float* x, float* y, int64_t n) noexcept;
// ggml_f32::dot, dot_tile and weighted_rows (ref/ggml_f32_order.hpp: llama.cpp's f32 kernel orders, W its SIMD
// width), bit for bit, through the active table.
float ggml_dot(int W, const float* x, const float* y, int64_t n) noexcept;
// ggml_dot(W, y + j * stride, x[i], n) into out[i][j] for nx queries x[i] and `rows` rows (several pairs per pass).
void ggml_dot_rows_multi(int W, const float* const* x, int nx, const float* y, int64_t stride, int64_t rows, int64_t n,
                         float* const* out) noexcept;
float ggml_dot_tile(int W, const float* x, const float* y, int64_t n) noexcept;
void ggml_weighted_rows(int W, bool tile, const float* p, const float* v, int64_t stride, int64_t n, int64_t dv,
                        float* out, float* acc) noexcept;
// The tile order's value sums for nq queries p[i] over rows 0 .. n[i] - 1 of the same values (each value row read
// once per block for all of them); acc: (max(nq, 4) * W + 256) * 16 floats.
void ggml_weighted_rows_multi(int W, const float* const* p, const int64_t* n, int nq, const float* v, int64_t stride,
                              int64_t dv, float* const* out, float* acc) noexcept;
// The one-query (ggml_vec_dot_f32) order's value sums for nq queries p[i] over the same n rows of v, each output's
// arithmetic that of ggml_weighted_rows(W, false, p[i], ..): decoding's MLA, every head of the token over the same
// latent rows. The _f16 form reads binary16 rows (an f16 KV cache) and widens them exactly, so it equals the float
// form over the widened rows. acc: ggml_weighted_vec_acc_floats(nq, dv) floats.
constexpr int64_t ggml_weighted_vec_block = 512;  // rows per block (a multiple of 4W)
constexpr int64_t ggml_weighted_vec_acc_floats(int nq, int64_t dv) noexcept {
    // a block of two 16-float chunks, then 2 x 64 lanes of 16 floats per query; the reference's 64 lanes per output
    const int64_t simd_floats = ggml_weighted_vec_block * 2 * 16 + int64_t(nq) * 2 * 64 * 16;
    return simd_floats > 64 * dv ? simd_floats : 64 * dv;
}
void ggml_weighted_rows_vec_multi(int W, const float* const* p, int nq, const float* v, int64_t stride, int64_t n,
                                  int64_t dv, float* const* out, float* acc) noexcept;
void ggml_weighted_rows_vec_multi_f16(int W, const float* const* p, int nq, const uint16_t* v, int64_t stride,
                                      int64_t n, int64_t dv, float* const* out, float* acc) noexcept;
// q4_0 weights repacked eight rows at a time (the model loader repacks, backends/cpu/weight_packing.cpp), so that
// one pass of the kernel yields eight rows' results with no transposes or scale gathers. Group g (rows 8g..8g+7)
// starts at g * 8 * row_bytes(q4_0, k); its block b (q4_0x8_block_bytes) holds the eight rows' quant bytes, then
// their eight f16 scales: byte 32m + 4r + q is byte 4m + q of row r's qs (m < 4), so the low nibbles of 32 bytes
// are values 4m..4m+3 of all eight rows and the high nibbles values 16 + 4m..16 + 4m + 3. Same size as the input.
constexpr size_t q4_0x8_block_bytes = 144;
// src: rows (a multiple of 8) q4_0 rows of k values; dst: the same number of bytes, repacked.
void repack_q4_0x8(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t k) noexcept;
// The eight q4_0 rows of group g of repacked weights, back in GGUF layout (out: 8 * row_bytes(q4_0, k) bytes).
void unpack_q4_0x8(const uint8_t* packed, int64_t g, uint8_t* out, int64_t k) noexcept;
// The tile_fn contract over repacked q4_0 weights (wrb: the q4_0 row bytes; r0 and r1 multiples of 8), results
// bit-identical to tile(dtype::q4_0, ...) on the rows before repacking.
void tile_q4_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                 float* const* out, int64_t k) noexcept;
// The same as a scalar loop in the reference's q4_0 order (the fallback where the active table has no kernel).
void ref_tile_q4_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                     float* const* out, int64_t k) noexcept;
// Attention's rows (keys, values) of one KV head, rows `stride` floats apart: dot_f32 of x with each, bit for bit,
// and axpy_f32 of each in turn, bit for bit, through the active table.
// h[0 .. n) -> f[0 .. n) and back, bit for bit as fp16_to_f32 / f32_to_fp16 (half.hpp), through the active table.
void f16_to_f32(const uint16_t* h, float* f, int64_t n) noexcept;
void f32_to_f16(const float* f, uint16_t* h, int64_t n) noexcept;
// f16_to_f32 of `rows` rows of d halves, `stride` halves apart, into rows d floats apart: one call for a block.
void f16_rows_to_f32(const uint16_t* h, int64_t stride, int64_t rows, int64_t d, float* f) noexcept;
// y[i] = expf_ref(x[i]) for i < n (the reference's expf, ref/expf_ref.hpp), bit for bit; x and y may be the same.
void exp_f32(const float* x, float* y, int64_t n) noexcept;
// softmax_ref (ref/softmax_ref.hpp) bit for bit through the active table: attention's scores -> probabilities.
void softmax_f32(float* s, int64_t n, float scale, const float* sink) noexcept;
// ggml_f32::swiglu (ref/ggml_f32_order.hpp) bit for bit through the active table: out = silu(g) * u (u == nullptr:
// silu(g)) in llama.cpp's order for a row whose first n_vec elements fall in its W-lane chunks. out may be g or u.
void ggml_swiglu(int W, const float* g, const float* u, float* out, int64_t n_vec, int64_t n) noexcept;
void dot_f32_rows(const float* x, const float* y, int64_t stride, int64_t rows, int64_t n, float* out) noexcept;
void axpy_f32_rows(const float* p, const float* v, int64_t stride, int64_t rows, int64_t n, float* out) noexcept;
// dot_f32_rows for nx queries x[i] over the same rows, results at out[i], each key row read once per few queries.
void dot_f32_rows_multi(const float* const* x, int nx, const float* y, int64_t stride, int64_t rows, int64_t n,
                        float* const* out) noexcept;
// q8_0 weights repacked eight rows at a time: group g starts at g * 8 * row_bytes(q8_0, k); its block b
// (q8_0x8_block_bytes) holds byte 4m + q of row r's qs at 32m + 4r + q (as in the file, signed), then the eight rows'
// f16 scales. Same size as the input.
constexpr size_t q8_0x8_block_bytes = 272;
void repack_q8_0x8(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t k) noexcept;
// The tile_fn contract over that layout (wrb: the q8_0 row bytes; r0, r1 multiples of 8), bit-identical to
// tile(dtype::q8_0, ...) on the rows before repacking; and the same as a scalar loop in the reference's order.
void tile_q8_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                 float* const* out, int64_t k) noexcept;
void ref_tile_q8_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                     float* const* out, int64_t k) noexcept;
// f16 or bf16 weights repacked eight rows at a time: group g (rows 8g..8g+7) starts at g * 8 * row bytes and holds
// element e of its eight rows in bytes 16e..16e+15 (row r at 16e + 2r), so each element of eight rows is one load.
void repack_h16x8(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t k) noexcept;
// The tile_fn contract over that layout (r0, r1 multiples of 8), bit-identical to tile(type, ...) on the rows
// before repacking; type is f16 or bf16.
void tile_h16x8(dtype type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                float* const* out, int64_t k) noexcept;
// The same as the reference's serial loop (the fallback where the active table has no kernel).
void ref_tile_h16x8(dtype type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a,
                    int na, float* const* out, int64_t k) noexcept;
// The reference tile: the tile_fn contract as a loop over the reference vec_dot (ground truth for the tests).
void ref_tile(dtype weight_type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a,
              int na, float* const* out, int64_t k) noexcept;

}  // namespace simd
}  // namespace cpu
MOE_END_NAMESPACE
