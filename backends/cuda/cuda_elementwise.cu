// cuda_elementwise.cu — RMS_NORM, ADD/MUL/DIV, SCALE, SILU, SIGMOID, SWIGLU(_OAI), SOFTMAX, ROPE(_YARN), COLS, CONCAT.
// Before: activations uploaded by cuda_dispatch.cu. After: the node's output, copied back to the host arena.
//
// Math as backends/cpu/ref/elementwise.cpp, rope.cpp, rope_yarn.cpp, oai_moe.cpp and layout.cpp (per-element formulas
// from cuda_math.hpp).
#include "backends/cuda/cuda_common.cuh"

namespace moe_cuda {

namespace {

unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }
constexpr int row_threads = 256;

// Block-wide sum in double (the reference sums these rows in double, so the order hardly matters after rounding).
__device__ double block_sum(double v, double* sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    double t = 0.0;
    for (int i = 0; i < static_cast<int>(blockDim.x >> 5); ++i) t += sh[i];
    return t;
}

__device__ float block_max(float v, float* sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float t = sh[0];
    for (int i = 1; i < static_cast<int>(blockDim.x >> 5); ++i) t = fmaxf(t, sh[i]);
    return t;
}

__global__ void k_rms_norm(const float* x, const float* w, int64_t d, float eps, float* out) {
    __shared__ double sh[32];
    const float* xr = x + blockIdx.x * d;
    float* o = out + blockIdx.x * d;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += static_cast<double>(xr[i]) * static_cast<double>(xr[i]);
    s = block_sum(s, sh);
    const float mean = static_cast<float>(s / static_cast<double>(d));
    const float sc = 1.0f / sqrtf(add_rn(mean, eps));
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = mul_rn(mul_rn(xr[i], sc), w[i]);
}

// Max first, then exp(x - max) summed in double, then one multiplication by the float reciprocal: the reference.
__global__ void k_softmax(const float* x, int64_t d, float* out) {
    __shared__ double shd[32];
    __shared__ float shf[32];
    const float* xr = x + blockIdx.x * d;
    float* o = out + blockIdx.x * d;
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) mx = fmaxf(mx, xr[i]);
    mx = block_max(mx, shf);
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        o[i] = expf(sub_rn(xr[i], mx));
        s += o[i];
    }
    s = block_sum(s, shd);
    const float inv = static_cast<float>(1.0 / s);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = mul_rn(o[i], inv);
}

// kind: 0 add, 1 mul, 2 div; bmode: 0 same shape, 1 one value per row, 2 one row for all
__global__ void k_binary(int kind, int bmode, const float* a, const float* b, int64_t R, int64_t d, float* out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= R * d) return;
    const float bv = bmode == 0 ? b[i] : bmode == 1 ? b[i / d] : b[i % d];
    out[i] = kind == 0 ? add_rn(a[i], bv) : kind == 1 ? mul_rn(a[i], bv) : a[i] / bv;
}

// kind: 0 scale, 1 silu, 2 sigmoid, 3 swiglu, 4 swiglu_oai
__global__ void k_unary(int kind, const float* x, const float* y, int64_t n, float f0, float f1, float* out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    switch (kind) {
    case 0: out[i] = mul_rn(x[i], f0); break;
    case 1: out[i] = silu(x[i]); break;
    case 2: out[i] = sigmoid(x[i]); break;
    case 3: out[i] = swiglu(x[i], y[i]); break;
    default: out[i] = swiglu_oai(x[i], y[i], f0, f1); break;
    }
}

// One thread per (token, head, pair), plus copying the unrotated tail. yarn: ROPE_YARN (no fma, magnitude factor);
// otherwise ROPE (the reference rotates with fma).
__global__ void k_rope(const float* x, const int32_t* pos, int64_t T, int64_t H, int64_t D, int64_t n_rot, bool neox,
                       bool yarn, float theta_scale, float freq_scale, float ext_factor, float corr_low,
                       float corr_high, float mscale, float* out) {
    const int64_t half = n_rot / 2, per_row = half + (D - n_rot);
    const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (idx >= T * H * per_row) return;
    const int64_t th = idx / per_row, i = idx % per_row, t = th / H;
    const float* xr = x + th * D;
    float* o = out + th * D;
    if (i >= half) {  // the columns past n_rot pass through
        const int64_t c = n_rot + (i - half);
        o[c] = xr[c];
        return;
    }
    const float extrap = rope_theta_extrap(static_cast<float>(pos[t]), i, theta_scale);
    const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
    const float x0 = xr[i0], x1 = xr[i1];
    if (!yarn) {
        const float th_ = mul_rn(freq_scale, extrap);
        const float c = cosf(th_), s = sinf(th_);
        o[i0] = fmaf(x0, c, -mul_rn(x1, s));
        o[i1] = fmaf(x0, s, mul_rn(x1, c));
        return;
    }
    const float theta = yarn_theta(extrap, freq_scale, ext_factor, corr_low, corr_high, i);
    const float c = mul_rn(cosf(theta), mscale), s = mul_rn(sinf(theta), mscale);
    o[i0] = sub_rn(mul_rn(x0, c), mul_rn(x1, s));
    o[i1] = add_rn(mul_rn(x0, s), mul_rn(x1, c));
}

__global__ void k_cols(const float* x, int64_t R, int64_t D, int64_t first, int64_t count, float* out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= R * count) return;
    out[i] = x[(i / count) * D + first + i % count];
}

__global__ void k_concat(const float* a, const float* b, int64_t R, int64_t A, int64_t B, int64_t H, bool repeat,
                         float* out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= R * (A + B)) return;
    const int64_t r = i / (A + B), c = i % (A + B);
    out[i] = c < A ? a[r * A + c] : b[(repeat ? r / H : r) * B + (c - A)];
}

}  // namespace

int32_t run_elementwise(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor* in = n.inputs;
    const float* x = static_cast<const float*>(d.in[0]);
    const float* y = n.n_inputs > 1 ? static_cast<const float*>(d.in[1]) : nullptr;
    float* out = static_cast<float*>(d.out);
    const int64_t R = rows(in[0]), dim = last(in[0]), N = elements(in[0]);
    switch (n.op) {
    case MOE_BACKEND_OP_RMS_NORM:
        MOE_LAUNCH(k_rms_norm, static_cast<unsigned>(R), row_threads, inst.stream, x, y, dim, n.f[0], out);
        break;
    case MOE_BACKEND_OP_SOFTMAX:
        MOE_LAUNCH(k_softmax, static_cast<unsigned>(R), row_threads, inst.stream, x, dim, out);
        break;
    case MOE_BACKEND_OP_ADD:
    case MOE_BACKEND_OP_MUL:
    case MOE_BACKEND_OP_DIV: {
        const bool same = elements(in[1]) == N;
        const bool column = !same && last(in[1]) == 1 && rows(in[1]) == R;
        const int kind = n.op == MOE_BACKEND_OP_ADD ? 0 : n.op == MOE_BACKEND_OP_MUL ? 1 : 2;
        MOE_LAUNCH(k_binary, blocks_for(N, 256), 256, inst.stream, kind, same ? 0 : column ? 1 : 2, x, y, R, dim, out);
        break;
    }
    default: {
        int kind = 0;
        switch (n.op) {
        case MOE_BACKEND_OP_SCALE: kind = 0; break;
        case MOE_BACKEND_OP_SILU: kind = 1; break;
        case MOE_BACKEND_OP_SIGMOID: kind = 2; break;
        case MOE_BACKEND_OP_SWIGLU: kind = 3; break;
        case MOE_BACKEND_OP_SWIGLU_OAI: kind = 4; break;
        default: return fail(inst, MOE_BACKEND_ERR_UNSUPPORTED, "not an element-wise op");
        }
        MOE_LAUNCH(k_unary, blocks_for(N, 256), 256, inst.stream, kind, x, y, N, n.f[0], n.f[1], out);
    }
    }
    MOE_LAUNCHED(inst, "element-wise kernel");
    return MOE_BACKEND_OK;
}

int32_t run_rope(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor& x = n.inputs[0];
    const int64_t T = x.dims[0], H = x.dims[1], D = x.dims[2], n_rot = n.i[0];
    const bool yarn = n.op == MOE_BACKEND_OP_ROPE_YARN;
    // computed on the host exactly as the reference computes them
    const float theta_scale = std::pow(n.f[0], -2.0f / static_cast<float>(n_rot));
    const float mscale = yarn ? yarn_mscale(n.f[1], n.f[2], n.f[3]) : 1.0f;
    const int64_t per_row = n_rot / 2 + (D - n_rot);
    MOE_LAUNCH(k_rope, blocks_for(T * H * per_row, 128), 128, inst.stream, static_cast<const float*>(d.in[0]),
               static_cast<const int32_t*>(d.in[1]), T, H, D, n_rot, n.i[1] == 2, yarn, theta_scale, n.f[1],
               yarn ? n.f[2] : 0.0f, static_cast<float>(n.i[2]), static_cast<float>(n.i[3]), mscale,
               static_cast<float*>(d.out));
    MOE_LAUNCHED(inst, "rope");
    return MOE_BACKEND_OK;
}

int32_t run_layout(inst_t& inst, const dnode& d) {
    const moe_backend_node& n = *d.n;
    const moe_backend_tensor &a = n.inputs[0];
    float* out = static_cast<float*>(d.out);
    if (n.op == MOE_BACKEND_OP_COLS) {
        const int64_t R = rows(a), D = last(a);
        MOE_LAUNCH(k_cols, blocks_for(R * n.i[1], 256), 256, inst.stream, static_cast<const float*>(d.in[0]), R, D,
                   n.i[0], n.i[1], out);
    } else {
        const moe_backend_tensor& b = n.inputs[1];
        const int64_t A = last(a), B = last(b), R = rows(a);
        const bool repeat = rows(b) != R;
        const int64_t H = a.rank == 3 ? a.dims[1] : 1;
        if (repeat && (a.rank != 3 || b.rank != 3 || b.dims[1] != 1 || b.dims[0] != a.dims[0]))
            return fail(inst, MOE_BACKEND_ERR_INVALID_ARGUMENT, "concat: shapes do not fit");
        MOE_LAUNCH(k_concat, blocks_for(R * (A + B), 256), 256, inst.stream, static_cast<const float*>(d.in[0]),
                   static_cast<const float*>(d.in[1]), R, A, B, H, repeat, out);
    }
    MOE_LAUNCHED(inst, "layout kernel");
    return MOE_BACKEND_OK;
}

}  // namespace moe_cuda
