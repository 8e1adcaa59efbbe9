// cuda_matmul.cuh — the weight-product kernels' arguments and launchers, shared by cuda_matmul.cu (MUL_MAT,
// MUL_MAT_HEADS) and cuda_moe.cu (MUL_MAT_ID). Before: cached weights, f32 activations. After: f32 output rows.
#pragma once

#include "backends/cuda/cuda_common.cuh"

#include <cstring>
#include <type_traits>

namespace moe_cuda {

constexpr int mm_warps = 4;  // weight rows per thread block (one warp each)
constexpr int mm_rows = 4;   // activation rows each warp multiplies with its weight row (decoding, MUL_MAT_ID)
constexpr int mm_rows_prompt = 8;  // the same for products with more than 8 rows

// out row (z, r) = a row (r * a_r + z * a_z) . every row of w + z * w_z; written at row (r * o_r + z * o_z).
struct mm_args {
    const uint8_t* w = nullptr;
    int64_t wrb = 0, w_z = 0;  // bytes per weight row, per batch
    const uint8_t* a = nullptr;
    int64_t arb = 0;           // bytes per activation row (quantized or rounded)
    int64_t n = 0, k = 0, R = 0;
    int64_t a_r = 1, a_z = 0, o_r = 1, o_z = 0;
    float* out = nullptr;
};

// x [rows, k] f32 on the device -> the weight type's activation rows (q8_0 / q8_k blocks, f16/bf16-rounded floats,
// or x itself for f32 weights), in scratch.
int32_t quantize_activations(inst_t& inst, uint32_t w, const float* x, int64_t rows, int64_t k, const uint8_t** out);
int32_t launch_mm(inst_t& inst, uint32_t w, const mm_args& p, int64_t Z);
// items: [max_items][3] (expert, first, count) over `list` (slots sorted by expert); n_items on the device.
int32_t launch_mm_id(inst_t& inst, uint32_t w, const mm_args& p, const int32_t* items, const int32_t* n_items,
                     const int32_t* list, int64_t max_items, int64_t U, int64_t S);

}  // namespace moe_cuda
