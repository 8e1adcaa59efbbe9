// cuda_moe.cu — MUL_MAT_ID (count, prefix sum, list, per-expert product, scatter) and the expert routing ops.
// Before: router logits and expert ids from earlier nodes. After: the MoE block's expert outputs and weights.
#include "backends/cuda/cuda_matmul.cuh"

namespace moe_cuda {

namespace {

unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

__global__ void k_count(const int32_t* ids, int64_t n, int32_t* cnt) {
    const int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (s < n) atomicAdd(&cnt[ids[s]], 1);
}

// One thread: exclusive prefix sum of the counts (E is at most a few hundred), each expert's first list position
// (cursor) and the work items of at most mm_rows slots.
__global__ void k_scan(const int32_t* cnt, int64_t E, int32_t* cursor, int32_t* items, int32_t* n_items) {
    int32_t off = 0, ni = 0;
    for (int64_t e = 0; e < E; ++e) {
        cursor[e] = off;
        for (int32_t p = 0; p < cnt[e]; p += mm_rows) {
            items[3 * ni] = static_cast<int32_t>(e);
            items[3 * ni + 1] = off + p;
            items[3 * ni + 2] = cnt[e] - p < mm_rows ? cnt[e] - p : mm_rows;
            ++ni;
        }
        off += cnt[e];
    }
    *n_items = ni;
}

// The slot list sorted by expert (order inside an expert is free: every slot is computed on its own).
__global__ void k_fill(const int32_t* ids, int64_t n, int32_t* cursor, int32_t* list) {
    const int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (s < n) list[atomicAdd(&cursor[ids[s]], 1)] = static_cast<int32_t>(s);
}

// Insertion into a sorted list of at most k entries, ties keep the lower index: the CPU reference's order.
__global__ void k_top_k(const float* x, int64_t R, int64_t d, int64_t k, int32_t* out) {
    const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (r >= R) return;
    const float* xr = x + r * d;
    int32_t* o = out + r * k;
    int64_t filled = 0;
    for (int64_t i = 0; i < d; ++i) {
        if (filled == k && !(xr[i] > xr[o[k - 1]])) continue;
        int64_t p = filled < k ? filled++ : k - 1;
        while (p > 0 && xr[i] > xr[o[p - 1]]) {
            o[p] = o[p - 1];
            --p;
        }
        o[p] = static_cast<int32_t>(i);
    }
}

__global__ void k_gather_cols(const float* x, const int32_t* ids, int64_t R, int64_t d, int64_t k, float* out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= R * k) return;
    out[i] = x[(i / k) * d + ids[i]];
}

// Sequential sum per row, as the reference (float, in order).
__global__ void k_normalize_sum(const float* x, int64_t R, int64_t d, float* out) {
    const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (r >= R) return;
    float s = 0.0f;
    for (int64_t i = 0; i < d; ++i) s = add_rn(s, x[r * d + i]);
    for (int64_t i = 0; i < d; ++i) out[r * d + i] = x[r * d + i] / s;
}

// out[t][i] = sum over slots j in order of y[t][j][i] * w[t][j] (the reference's order).
__global__ void k_weighted_sum(const float* y, const float* w, int64_t T, int64_t U, int64_t d, float* out) {
    const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (idx >= T * d) return;
    const int64_t t = idx / d, i = idx % d;
    float acc = mul_rn(y[(t * U) * d + i], w[t * U]);
    for (int64_t j = 1; j < U; ++j) acc = add_rn(acc, mul_rn(y[(t * U + j) * d + i], w[t * U + j]));
    out[idx] = acc;
}

__global__ void k_add_id(const float* x, const float* b, const int32_t* ids, int64_t S, int64_t d, float* out) {
    const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (idx >= S * d) return;
    const int64_t s = idx / d, i = idx % d;
    out[idx] = add_rn(x[idx], b[static_cast<int64_t>(ids[s]) * d + i]);
}

// One thread per row; G <= 64 groups (checked by the dispatcher).
__global__ void k_group_mask(const float* x, int64_t R, int64_t d, int64_t G, int64_t K, float* out) {
    const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (r >= R) return;
    const int64_t per = d / G;
    const float* xr = x + r * d;
    float* o = out + r * d;
    float score[64];
    int order[64];
    for (int64_t g = 0; g < G; ++g) {
        float a = -INFINITY, b = -INFINITY;
        for (int64_t i = g * per; i < (g + 1) * per; ++i) {
            if (xr[i] > a) b = a, a = xr[i];
            else if (xr[i] > b) b = xr[i];
        }
        score[g] = add_rn(a, b);
        order[g] = static_cast<int>(g);
    }
    for (int64_t g = 1; g < G; ++g) {
        const int v = order[g];
        int64_t p = g;
        for (; p > 0 && score[v] > score[order[p - 1]]; --p) order[p] = order[p - 1];
        order[p] = v;
    }
    for (int64_t i = 0; i < d; ++i) o[i] = -INFINITY;
    for (int64_t q = 0; q < K; ++q) {
        const int64_t g = order[q];
        for (int64_t i = g * per; i < (g + 1) * per; ++i) o[i] = xr[i];
    }
}

}  // namespace

int32_t run_mul_mat_id(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor &x = n.inputs[0], &w = n.inputs[1], &ids = n.inputs[2];
    const int64_t T = ids.dims[0], U = ids.dims[1], E = w.dims[0], N = w.dims[1], k = w.dims[2], S = x.dims[1];
    const int64_t slots = T * U, max_items = slots / mm_rows + E + 1;
    const int32_t* dids = static_cast<const int32_t*>(d.in[2]);
    void* buf = nullptr;
    const size_t ints = static_cast<size_t>(2 * E + slots + 3 * max_items + 1);
    MOE_TRY_RC(scratch_alloc(inst, ints * sizeof(int32_t), &buf));
    int32_t* cnt = static_cast<int32_t*>(buf);
    int32_t* cursor = cnt + E;
    int32_t* list = cursor + E;
    int32_t* items = list + slots;
    int32_t* n_items = items + 3 * max_items;
    MOE_CU(inst, cudaMemsetAsync(cnt, 0, static_cast<size_t>(E) * sizeof(int32_t), inst.stream));
    if (slots > 0) {
        MOE_LAUNCH(k_count, blocks_for(slots, 256), 256, inst.stream, dids, slots, cnt);
        MOE_LAUNCHED(inst, "mul_mat_id count");
    }
    MOE_LAUNCH(k_scan, 1, 1, inst.stream, cnt, E, cursor, items, n_items);
    MOE_LAUNCHED(inst, "mul_mat_id scan");
    if (slots > 0) {
        MOE_LAUNCH(k_fill, blocks_for(slots, 256), 256, inst.stream, dids, slots, cursor, list);
        MOE_LAUNCHED(inst, "mul_mat_id fill");
    }
    mm_args p;
    MOE_TRY_RC(quantize_activations(inst, w.type, static_cast<const float*>(d.in[0]), T * S, k, &p.a));
    p.w = static_cast<const uint8_t*>(d.in[1]);
    p.wrb = row_bytes(w.type, k);
    p.w_z = p.wrb * N;
    p.n = N, p.k = k, p.R = slots;
    p.arb = act_row_bytes(w.type, k);
    p.out = static_cast<float*>(d.out);
    return launch_mm_id(inst, w.type, p, items, n_items, list, max_items, U, S);
}

int32_t run_moe_route(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor* in = n.inputs;
    const float* x = static_cast<const float*>(d.in[0]);
    float* out = static_cast<float*>(d.out);
    const int64_t R = rows(in[0]), dim = last(in[0]);
    switch (n.op) {
    case MOE_BACKEND_OP_TOP_K:
        MOE_LAUNCH(k_top_k, blocks_for(R, 64), 64, inst.stream, x, R, dim, n.i[0], static_cast<int32_t*>(d.out));
        break;
    case MOE_BACKEND_OP_GATHER_COLS: {
        const int64_t k = last(in[1]);
        MOE_LAUNCH(k_gather_cols, blocks_for(R * k, 256), 256, inst.stream, x, static_cast<const int32_t*>(d.in[1]), R,
                   dim, k, out);
        break;
    }
    case MOE_BACKEND_OP_NORMALIZE_SUM:
        MOE_LAUNCH(k_normalize_sum, blocks_for(R, 64), 64, inst.stream, x, R, dim, out);
        break;
    case MOE_BACKEND_OP_WEIGHTED_SUM: {
        const int64_t T = in[0].dims[0], U = in[0].dims[1], D = in[0].dims[2];
        MOE_LAUNCH(k_weighted_sum, blocks_for(T * D, 256), 256, inst.stream, x, static_cast<const float*>(d.in[1]), T,
                   U, D, out);
        break;
    }
    case MOE_BACKEND_OP_ADD_ID:
        MOE_LAUNCH(k_add_id, blocks_for(R * dim, 256), 256, inst.stream, x, static_cast<const float*>(d.in[1]),
                   static_cast<const int32_t*>(d.in[2]), R, dim, out);
        break;
    case MOE_BACKEND_OP_EXPERT_GROUP_MASK:
        MOE_LAUNCH(k_group_mask, blocks_for(R, 32), 32, inst.stream, x, R, dim, n.i[0], n.i[1], out);
        break;
    default: return fail(inst, MOE_BACKEND_ERR_UNSUPPORTED, "not a routing op");
    }
    MOE_LAUNCHED(inst, "routing kernel");
    return MOE_BACKEND_OK;
}

}  // namespace moe_cuda
