// cuda_matmul.cu — activation quantization, the warp-per-row dp4a product, MUL_MAT, MUL_MAT_HEADS and GET_ROWS.
// Before: f32 activations and cached weights (cuda_memory.cu). After: f32 outputs; cuda_moe.cu reuses the kernels.
#include "backends/cuda/cuda_matmul.cuh"

#include <vector>

namespace moe_cuda {

namespace {

__global__ void k_quant_q8_0(const float* x, blk_q8_0* y, int64_t nblocks) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < nblocks) quantize_q8_0_block(x + i * qk32, y[i]);
}

__global__ void k_quant_q8_k(const float* x, blk_q8_k* y, int64_t nblocks) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < nblocks) quantize_q8_k_block(x + i * qk256, y[i]);
}

__global__ void k_round(uint32_t w, const float* x, float* y, int64_t n) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < n) y[i] = act_round(w, x[i]);
}

// Unit u of one weight block (a legacy quant block, a 32-value unit of a K-quant super-block, or one element of a
// float type) times the matching activation block.
template <uint32_t W>
__device__ __forceinline__ float udot(const uint8_t* wb, const uint8_t* ab, int u) {
    if constexpr (W == t_q4_0) return block_dot_q4_0(wb, *reinterpret_cast<const blk_q8_0*>(ab));
    else if constexpr (W == t_q8_0) return block_dot_q8_0(wb, *reinterpret_cast<const blk_q8_0*>(ab));
    else if constexpr (W == t_q4_k) return unit_dot_q4_k(wb, *reinterpret_cast<const blk_q8_k*>(ab), u);
    else if constexpr (W == t_q6_k) return unit_dot_q6_k(wb, *reinterpret_cast<const blk_q8_k*>(ab), u);
    else return mul_rn(dequant(W, wb, 0), *reinterpret_cast<const float*>(ab));
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// out row (z, r) [n] = act row (z, r) . w[z] rows. One warp per weight row, ROWS activation rows per warp (the
// weight block is read once for all of them); lanes take every 32nd unit and the warp sums at the end.
template <uint32_t W, int ROWS>
__global__ void k_mm(mm_args p) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int64_t row = blockIdx.x * static_cast<int64_t>(mm_warps) + warp;
    const int64_t r0 = blockIdx.y * static_cast<int64_t>(ROWS), z = blockIdx.z;
    if (row >= p.n) return;
    const int be = block_elems(W), bb = block_bytes(W);
    const int64_t ab = W == t_f32 || W == t_f16 || W == t_bf16 ? 4 : p.arb / (p.k / be);
    const int64_t nb = p.k / be;
    const uint8_t* wr = p.w + z * p.w_z + row * p.wrb;
    const uint8_t* ar[ROWS];
    int nr = 0;
    for (int i = 0; i < ROWS && r0 + i < p.R; ++i, ++nr) ar[i] = p.a + ((r0 + i) * p.a_r + z * p.a_z) * p.arb;
    float acc[ROWS];
    for (int i = 0; i < ROWS; ++i) acc[i] = 0.0f;
    constexpr int upb = W == t_q4_k || W == t_q6_k ? k_units : 1;
    for (int64_t u = lane; u < nb * upb; u += 32) {  // lanes take every 32nd unit (block, or K-quant sub-block)
        const int64_t b = u / upb;
        const uint8_t* wb = wr + b * bb;
        for (int i = 0; i < ROWS; ++i)
            if (i < nr) acc[i] += udot<W>(wb, ar[i] + b * ab, static_cast<int>(u % upb));
    }
    for (int i = 0; i < ROWS; ++i) {
        if (i >= nr) break;
        const float s = warp_sum(acc[i]);
        if (lane == 0) p.out[((r0 + i) * p.o_r + z * p.o_z) * p.n + row] = s;
    }
}

// MUL_MAT_ID: work item x is (expert, first slot in the expert-sorted list, count <= mm_rows); y picks weight rows.
template <uint32_t W>
__global__ void k_mm_id(mm_args p, const int32_t* items, const int32_t* n_items, const int32_t* list, int64_t U,
                        int64_t S) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int64_t row = blockIdx.y * static_cast<int64_t>(mm_warps) + warp, item = blockIdx.x;
    if (row >= p.n || item >= *n_items) return;
    const int32_t e = items[3 * item], first = items[3 * item + 1], cnt = items[3 * item + 2];
    const int be = block_elems(W), bb = block_bytes(W);
    const int64_t nb = p.k / be;
    const int64_t ab = W == t_f32 || W == t_f16 || W == t_bf16 ? 4 : p.arb / nb;
    const uint8_t* wr = p.w + e * p.w_z + row * p.wrb;
    const uint8_t* ar[mm_rows];
    int64_t slot[mm_rows];
    for (int i = 0; i < mm_rows; ++i) {
        slot[i] = i < cnt ? list[first + i] : 0;
        const int64_t t = slot[i] / U, j = slot[i] % U;
        ar[i] = p.a + (t * S + (S == 1 ? 0 : j)) * p.arb;
    }
    float acc[mm_rows];
    for (int i = 0; i < mm_rows; ++i) acc[i] = 0.0f;
    constexpr int upb = W == t_q4_k || W == t_q6_k ? k_units : 1;
    for (int64_t u = lane; u < nb * upb; u += 32) {
        const int64_t b = u / upb;
        const uint8_t* wb = wr + b * bb;
        for (int i = 0; i < mm_rows; ++i)
            if (i < cnt) acc[i] += udot<W>(wb, ar[i] + b * ab, static_cast<int>(u % upb));
    }
    for (int i = 0; i < mm_rows; ++i) {
        if (i >= cnt) break;
        const float s = warp_sum(acc[i]);
        if (lane == 0) p.out[slot[i] * p.n + row] = s;  // scatter to the slot's output row
    }
}

__global__ void k_get_rows(uint32_t t, const uint8_t* rows, int64_t rb, int64_t d, int64_t T, float* out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= T * d) return;
    out[i] = dequant_row_elem(t, rows + (i / d) * rb, i % d);
}

template <class F>
int32_t by_type(inst_t& inst, uint32_t t, F&& f) {
    switch (t) {
    case t_f32: f(std::integral_constant<uint32_t, t_f32>()); break;
    case t_f16: f(std::integral_constant<uint32_t, t_f16>()); break;
    case t_bf16: f(std::integral_constant<uint32_t, t_bf16>()); break;
    case t_q4_0: f(std::integral_constant<uint32_t, t_q4_0>()); break;
    case t_q8_0: f(std::integral_constant<uint32_t, t_q8_0>()); break;
    case t_q4_k: f(std::integral_constant<uint32_t, t_q4_k>()); break;
    case t_q6_k: f(std::integral_constant<uint32_t, t_q6_k>()); break;
    default: return fail(inst, MOE_BACKEND_ERR_UNSUPPORTED, "weight type " + std::to_string(t) + " has no CUDA kernel");
    }
    MOE_LAUNCHED(inst, "matmul kernel");
    return MOE_BACKEND_OK;
}

unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

}  // namespace

int32_t quantize_activations(inst_t& inst, uint32_t w, const float* x, int64_t rows_, int64_t k, const uint8_t** out) {
    const uint32_t a = act_type(w);
    if (a == t_f32 && w == t_f32) {
        *out = reinterpret_cast<const uint8_t*>(x);
        return MOE_BACKEND_OK;
    }
    void* buf = nullptr;
    MOE_TRY_RC(scratch_alloc(inst, static_cast<size_t>(act_row_bytes(w, k) * rows_), &buf));
    if (a == t_q8_0) {
        const int64_t nb = rows_ * (k / qk32);
        MOE_LAUNCH(k_quant_q8_0, blocks_for(nb, 128), 128, inst.stream, x, static_cast<blk_q8_0*>(buf), nb);
    } else if (a == t_q8_k) {
        const int64_t nb = rows_ * (k / qk256);
        MOE_LAUNCH(k_quant_q8_k, blocks_for(nb, 64), 64, inst.stream, x, static_cast<blk_q8_k*>(buf), nb);
    } else {
        const int64_t n = rows_ * k;
        MOE_LAUNCH(k_round, blocks_for(n, 256), 256, inst.stream, w, x, static_cast<float*>(buf), n);
    }
    MOE_LAUNCHED(inst, "activation quantization");
    *out = static_cast<const uint8_t*>(buf);
    return MOE_BACKEND_OK;
}

// Decoding (a few rows): 4 activation rows per warp. Prompts: 8, so each weight row is read R / 8 times.
int32_t launch_mm(inst_t& inst, uint32_t w, const mm_args& p, int64_t Z) {
    if (p.R <= 8) {
        const dim3 grid(blocks_for(p.n, mm_warps), blocks_for(p.R, mm_rows), static_cast<unsigned>(Z));
        return by_type(inst, w, [&](auto wt) {
            MOE_LAUNCH((k_mm<decltype(wt)::value, mm_rows>), grid, 32 * mm_warps, inst.stream, p);
        });
    }
    const dim3 grid(blocks_for(p.n, mm_warps), blocks_for(p.R, mm_rows_prompt), static_cast<unsigned>(Z));
    return by_type(inst, w, [&](auto wt) {
        MOE_LAUNCH((k_mm<decltype(wt)::value, mm_rows_prompt>), grid, 32 * mm_warps, inst.stream, p);
    });
}

int32_t launch_mm_id(inst_t& inst, uint32_t w, const mm_args& p, const int32_t* items, const int32_t* n_items,
                     const int32_t* list, int64_t max_items, int64_t U, int64_t S) {
    const dim3 grid(static_cast<unsigned>(max_items), blocks_for(p.n, mm_warps), 1);  // items in x: no 65535 limit
    return by_type(inst, w, [&](auto wt) {
        MOE_LAUNCH((k_mm_id<decltype(wt)::value>), grid, 32 * mm_warps, inst.stream, p, items, n_items, list, U, S);
    });
}

int32_t run_mul_mat(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor &x = n.inputs[0], &w = n.inputs[1];
    const int64_t R = rows(x), k = last(x), N = w.dims[0];
    mm_args p;
    MOE_TRY_RC(quantize_activations(inst, w.type, static_cast<const float*>(d.in[0]), R, k, &p.a));
    p.w = static_cast<const uint8_t*>(d.in[1]);
    p.wrb = row_bytes(w.type, k);
    p.n = N, p.k = k, p.R = R;
    p.arb = act_row_bytes(w.type, k);
    p.a_r = 1, p.a_z = 0, p.o_r = 1, p.o_z = 0, p.w_z = 0;
    p.out = static_cast<float*>(d.out);
    return launch_mm(inst, w.type, p, 1);
}

// x [T, H, k] with w [H, n, k]: batch z = head h; activation and output rows (t, h) are t * H + h.
int32_t run_mul_mat_heads(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor &x = n.inputs[0], &w = n.inputs[1];
    const int64_t T = x.dims[0], H = x.dims[1], k = x.dims[2], N = w.dims[1];
    mm_args p;
    MOE_TRY_RC(quantize_activations(inst, w.type, static_cast<const float*>(d.in[0]), T * H, k, &p.a));
    p.w = static_cast<const uint8_t*>(d.in[1]);
    p.wrb = row_bytes(w.type, k);
    p.w_z = p.wrb * N;
    p.n = N, p.k = k, p.R = T;
    p.arb = act_row_bytes(w.type, k);
    p.a_r = H, p.a_z = 1, p.o_r = H, p.o_z = 1;
    p.out = static_cast<float*>(d.out);
    return launch_mm(inst, w.type, p, H);
}

// Only the rows asked for go to the device (the table may be an activation, e.g. the output rows of a batch).
int32_t run_get_rows(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor &table = n.inputs[0], &ids = n.inputs[1];
    const int64_t dim = table.dims[1], T = elements(ids);
    const int64_t rb = row_bytes(table.type, dim);
    std::vector<uint8_t> gathered(static_cast<size_t>(rb * T));
    const int32_t* id = static_cast<const int32_t*>(ids.data);
    for (int64_t t = 0; t < T; ++t)
        std::memcpy(gathered.data() + t * rb, static_cast<const uint8_t*>(table.data) + id[t] * rb,
                    static_cast<size_t>(rb));
    void* dev = nullptr;
    MOE_TRY_RC(upload(inst, gathered.data(), gathered.size(), &dev));
    if (T * dim == 0) return MOE_BACKEND_OK;
    MOE_LAUNCH(k_get_rows, blocks_for(T * dim, 256), 256, inst.stream, table.type, static_cast<const uint8_t*>(dev), rb,
               dim, T, static_cast<float*>(d.out));
    MOE_LAUNCHED(inst, "get_rows");
    return MOE_BACKEND_OK;
}

}  // namespace moe_cuda
