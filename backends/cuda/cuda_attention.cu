// cuda_attention.cu — ATTENTION, ATTENTION_EXT (sliding window) and ATTENTION_MLA on the GPU, reference softmax.
// Before: q/k/v from the projections and rope, the host KV cache. After: [T, Hq * Dv] for the output projection.
//
// The batch's K/V rows go into the host cache first (so the CPU sees them), then the rows the batch attends to go up;
// one thread block per (query row, head): scores, max, exp, double sum, float reciprocal, weighted values.
#include "backends/cuda/cuda_common.cuh"

#include <algorithm>
#include <cstring>
#include <vector>

namespace moe_cuda {

namespace {

constexpr int att_threads = 128;

struct att_args {
    const float* q = nullptr;  // [T, Hq, Dk]
    const float* kc = nullptr;  // device cache, row stride k_row floats
    const float* vc = nullptr;
    int64_t Hq = 0, Hkv = 1, Dk = 0, Dv = 0, k_row = 0, v_row = 0;
    int64_t C = 0, n_past = 0, window = 0, t0 = 0, L = 0;  // t0: first query row of this launch; L: score row length
    const int32_t* pos = nullptr;  // several sequences (device)
    const int32_t* seq = nullptr;
    float scale = 1.0f;
    float* scores = nullptr;  // [rows of this launch, L]
    float* out = nullptr;     // [T, Hq, Dv]
};

__global__ void k_attention(att_args a) {
    __shared__ float qs[1024];
    __shared__ double shd[32];
    __shared__ float shf[32];
    const int64_t t = a.t0 + blockIdx.x / a.Hq, h = blockIdx.x % a.Hq, hk = h / (a.Hq / a.Hkv);
    const int64_t p = a.pos ? a.pos[t] : a.n_past + t, len = p + 1;
    const int64_t first_row = a.seq ? static_cast<int64_t>(a.seq[t]) * a.C : 0;
    const int64_t j0 = a.window > 0 ? (len - a.window > 0 ? len - a.window : 0) : 0;
    const float* qr = a.q + (t * a.Hq + h) * a.Dk;
    for (int64_t i = threadIdx.x; i < a.Dk; i += blockDim.x) qs[i] = qr[i];
    __syncthreads();
    float* s = a.scores + static_cast<int64_t>(blockIdx.x) * a.L;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int64_t j = j0 + warp; j < len; j += warps) {
        const float* kr = a.kc + (first_row + j) * a.k_row + hk * a.Dk;
        float acc = 0.0f;
        for (int64_t i = lane; i < a.Dk; i += 32) acc = add_rn(acc, mul_rn(qs[i], kr[i]));
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
        if (lane == 0) s[j] = mul_rn(acc, a.scale);
    }
    __syncthreads();
    float mx = -INFINITY;
    for (int64_t j = j0 + threadIdx.x; j < len; j += blockDim.x) mx = fmaxf(mx, s[j]);
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if (lane == 0) shf[warp] = mx;
    __syncthreads();
    mx = shf[0];
    for (int i = 1; i < warps; ++i) mx = fmaxf(mx, shf[i]);
    double sum = 0.0;
    for (int64_t j = j0 + threadIdx.x; j < len; j += blockDim.x) {
        s[j] = expf(sub_rn(s[j], mx));
        sum += s[j];
    }
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0) shd[warp] = sum;
    __syncthreads();
    double total = 0.0;
    for (int i = 0; i < warps; ++i) total += shd[i];
    const float inv = static_cast<float>(1.0 / total);
    float* o = a.out + (t * a.Hq + h) * a.Dv;
    for (int64_t dd = threadIdx.x; dd < a.Dv; dd += blockDim.x) {
        float acc = 0.0f;
        for (int64_t j = j0; j < len; ++j)
            acc = add_rn(acc, mul_rn(mul_rn(s[j], inv), a.vc[(first_row + j) * a.v_row + hk * a.Dv + dd]));
        o[dd] = acc;
    }
}

// Copies the batch's rows into a host cache: row(t) = seq[t] * C + pos[t], or n_past + t.
void write_rows(float* cache, const float* src, int64_t T, int64_t row_floats, const int32_t* pos, const int32_t* seq,
                int64_t C, int64_t n_past) {
    for (int64_t t = 0; t < T; ++t) {
        const int64_t r = seq ? static_cast<int64_t>(seq[t]) * C + pos[t] : n_past + t;
        std::memcpy(cache + r * row_floats, src + t * row_floats, static_cast<size_t>(row_floats) * sizeof(float));
    }
}

// Device copy of the cache rows the batch reads: rows 0 .. n_past + T, or each used slot's rows 0 .. its largest
// position (at the slot's place in a buffer shaped like the whole cache).
int32_t upload_rows(inst_t& inst, const float* cache, int64_t row_floats, int64_t T, const int32_t* pos,
                    const int32_t* seq, int64_t S, int64_t C, int64_t n_past, const float** dev) {
    if (!seq) {
        void* p = nullptr;
        MOE_TRY_RC(upload(inst, cache, static_cast<size_t>((n_past + T) * row_floats) * sizeof(float), &p));
        *dev = static_cast<const float*>(p);
        return MOE_BACKEND_OK;
    }
    void* base = nullptr;
    MOE_TRY_RC(scratch_alloc(inst, static_cast<size_t>(S * C * row_floats) * sizeof(float), &base));
    std::vector<int64_t> used(static_cast<size_t>(S), -1);
    for (int64_t t = 0; t < T; ++t)
        used[static_cast<size_t>(seq[t])] = std::max<int64_t>(used[static_cast<size_t>(seq[t])], pos[t]);
    for (int64_t s = 0; s < S; ++s) {
        if (used[static_cast<size_t>(s)] < 0) continue;
        const size_t bytes = static_cast<size_t>((used[static_cast<size_t>(s)] + 1) * row_floats) * sizeof(float);
        void* p = nullptr;
        MOE_TRY_RC(upload(inst, cache + s * C * row_floats, bytes, &p));
        MOE_CU(inst, cudaMemcpyAsync(static_cast<float*>(base) + s * C * row_floats, p, bytes,
                                     cudaMemcpyDeviceToDevice, inst.stream));
    }
    *dev = static_cast<const float*>(base);
    return MOE_BACKEND_OK;
}

}  // namespace

int32_t run_attention(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const bool mla = n.op == MOE_BACKEND_OP_ATTENTION_MLA;
    const moe_backend_tensor* in = n.inputs;
    const int64_t T = in[0].dims[0], Hq = in[0].dims[1], Dk = in[0].dims[2];
    const bool several = n.i[3] == 1;
    const int cache_in = mla ? 2 : 3;
    const moe_backend_tensor& kc = in[cache_in];
    const int64_t S = several ? kc.dims[0] : 1, C = several ? kc.dims[1] : kc.dims[0];
    const int32_t* pos = several ? static_cast<const int32_t*>(in[n.n_inputs - 2].data) : nullptr;
    const int32_t* seq = several ? static_cast<const int32_t*>(in[n.n_inputs - 1].data) : nullptr;
    // the reference's checks and messages (backends/cpu/ref/kv_rows.hpp)
    if (!several && (d.n_past < 0 || d.n_past + T > C))
        return fail(inst, MOE_BACKEND_ERR_CONTEXT_FULL,
                    "KV cache holds " + std::to_string(C) + " positions; " + std::to_string(d.n_past) + " used, " +
                        std::to_string(T) + " more asked");
    int64_t max_len = several ? 0 : d.n_past + T;
    for (int64_t t = 0; several && t < T; ++t) {
        if (seq[t] < 0 || seq[t] >= S)
            return fail(inst, MOE_BACKEND_ERR_INVALID_ARGUMENT, "sequence id " + std::to_string(seq[t]) + " of token " +
                                                                    std::to_string(t) + " outside 0.." +
                                                                    std::to_string(S - 1));
        if (pos[t] < 0 || pos[t] >= C)
            return fail(inst, MOE_BACKEND_ERR_CONTEXT_FULL,
                        "position " + std::to_string(pos[t]) + " of token " + std::to_string(t) + " outside the " +
                            std::to_string(C) + " rows of a sequence's KV cache");
        max_len = std::max<int64_t>(max_len, pos[t] + 1);
    }
    att_args a;
    a.q = static_cast<const float*>(d.in[0]);
    a.Hq = Hq, a.Dk = Dk, a.C = C, a.n_past = d.n_past, a.scale = n.f[0];
    a.pos = several ? static_cast<const int32_t*>(d.in[n.n_inputs - 2]) : nullptr;
    a.seq = several ? static_cast<const int32_t*>(d.in[n.n_inputs - 1]) : nullptr;
    a.out = static_cast<float*>(d.out);
    if (mla) {
        // one shared cache head [latent | rope key]; values are its first i[0] columns
        write_rows(static_cast<float*>(kc.data), static_cast<const float*>(in[1].data), T, Dk, pos, seq, C, d.n_past);
        MOE_TRY_RC(upload_rows(inst, static_cast<const float*>(kc.data), Dk, T, pos, seq, S, C, d.n_past, &a.kc));
        a.vc = a.kc;
        a.Hkv = 1, a.Dv = n.i[0], a.k_row = Dk, a.v_row = Dk;
    } else {
        const int64_t Hkv = in[1].dims[1], Dv = in[2].dims[2];
        const moe_backend_tensor& vc = in[4];
        write_rows(static_cast<float*>(kc.data), static_cast<const float*>(in[1].data), T, Hkv * Dk, pos, seq, C,
                   d.n_past);
        write_rows(static_cast<float*>(vc.data), static_cast<const float*>(in[2].data), T, Hkv * Dv, pos, seq, C,
                   d.n_past);
        MOE_TRY_RC(upload_rows(inst, static_cast<const float*>(kc.data), Hkv * Dk, T, pos, seq, S, C, d.n_past, &a.kc));
        MOE_TRY_RC(upload_rows(inst, static_cast<const float*>(vc.data), Hkv * Dv, T, pos, seq, S, C, d.n_past, &a.vc));
        a.Hkv = Hkv, a.Dv = Dv, a.k_row = Hkv * Dk, a.v_row = Hkv * Dv;
        a.window = n.op == MOE_BACKEND_OP_ATTENTION_EXT ? n.i[0] : 0;
    }
    a.L = max_len;
    // scores for a chunk of query rows at a time, at most 64 MiB of scratch
    const int64_t per_row = Hq * std::max<int64_t>(a.L, 1) * static_cast<int64_t>(sizeof(float));
    const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(T, (int64_t(64) << 20) / per_row));
    void* sc = nullptr;
    MOE_TRY_RC(scratch_alloc(inst, static_cast<size_t>(chunk * per_row), &sc));
    a.scores = static_cast<float*>(sc);
    for (int64_t t0 = 0; t0 < T; t0 += chunk) {
        a.t0 = t0;
        const int64_t nt = std::min(chunk, T - t0);
        MOE_LAUNCH(k_attention, static_cast<unsigned>(nt * Hq), att_threads, inst.stream, a);
        MOE_LAUNCHED(inst, "attention");
    }
    return MOE_BACKEND_OK;
}

}  // namespace moe_cuda
