// elementwise.cpp — reference kernels that work row by row: RMSNorm, add/mul with broadcast, scale, SwiGLU,
// softmax and sum-normalisation. Sums run in double where llama.cpp's ggml sums in double, to round alike.
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/simd/simd.hpp"

#include <cmath>

MOE_BEGIN_NAMESPACE
namespace cpu {

namespace {
template <class F>
void rows_parallel(context& c, int64_t rows, F&& f) {
    // Small tensors are not worth waking the pool for.
    if (rows < 4) {
        for (int64_t r = 0; r < rows; ++r) f(r);
        return;
    }
    c.pool.parallel_for(rows, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) f(r);
    });
}
}  // namespace

status rms_norm(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
    const float* x = static_cast<const float*>(in[0].data);
    const float* w = static_cast<const float*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    const float eps = n.f[0];
    rows_parallel(c, R, [&](int64_t r) {
        const float* xr = x + r * d;
        double sum = 0.0;
        for (int64_t i = 0; i < d; ++i) sum += static_cast<double>(xr[i]) * static_cast<double>(xr[i]);
        const float mean = static_cast<float>(sum / static_cast<double>(d));
        const float s = 1.0f / std::sqrt(mean + eps);
        for (int64_t i = 0; i < d; ++i) o[r * d + i] = (xr[i] * s) * w[i];
    });
    return {};
}

namespace {
template <class Op>
status binary(context& c, const tensor_view& out, const tensor_view* in, Op op) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
    const bool same = in[1].sh.elements() == in[0].sh.elements();
    const bool column = !same && in[1].sh.last() == 1 && in[1].sh.rows() == R;  // one value per row
    const float* a = static_cast<const float*>(in[0].data);
    const float* b = static_cast<const float*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    rows_parallel(c, R, [&](int64_t r) {
        if (column) {
            for (int64_t i = 0; i < d; ++i) o[r * d + i] = op(a[r * d + i], b[r]);
            return;
        }
        const float* br = same ? b + r * d : b;
        for (int64_t i = 0; i < d; ++i) o[r * d + i] = op(a[r * d + i], br[i]);
    });
    return {};
}
}  // namespace

status add(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    return binary(c, out, in, [](float a, float b) { return a + b; });
}

status mul(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    return binary(c, out, in, [](float a, float b) { return a * b; });
}

status div(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    return binary(c, out, in, [](float a, float b) { return a / b; });
}

status silu(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
    const float* x = static_cast<const float*>(in[0].data);
    float* o = static_cast<float*>(out.data);
    const int W = ggml_f32::lanes();
    rows_parallel(c, R, [&](int64_t r) { simd::ggml_swiglu(W, x + r * d, nullptr, o + r * d, W ? d / W * W : 0, d); });
    return {};
}

// ggml_vec_sigmoid_f32: 1 / (1 + exp(-x)) in float.
status sigmoid(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
    const float* x = static_cast<const float*>(in[0].data);
    float* o = static_cast<float*>(out.data);
    rows_parallel(c, R, [&](int64_t r) {
        for (int64_t i = r * d; i < (r + 1) * d; ++i) o[i] = 1.0f / (1.0f + std::exp(-x[i]));
    });
    return {};
}

status scale(context&, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t N = in[0].sh.elements();
    const float* x = static_cast<const float*>(in[0].data);
    float* o = static_cast<float*>(out.data);
    for (int64_t i = 0; i < N; ++i) o[i] = x[i] * n.f[0];
    return {};
}

status swiglu(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
    const float* g = static_cast<const float*>(in[0].data);
    const float* u = static_cast<const float*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    const int W = ggml_f32::lanes();
    rows_parallel(c, R, [&](int64_t r) {
        simd::ggml_swiglu(W, g + r * d, u + r * d, o + r * d, W ? d / W * W : 0, d);  // ggml_vec_swiglu_f32's order
    });
    return {};
}

status softmax(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
    const float* x = static_cast<const float*>(in[0].data);
    float* o = static_cast<float*>(out.data);
    const int W = ggml_f32::lanes();  // ggml's soft_max on this host (the router's probabilities)
    rows_parallel(c, R, [&](int64_t r) { ggml_f32::soft_max_row(W, x + r * d, o + r * d, d); });
    return {};
}

status normalize_sum(context&, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
    const float* x = static_cast<const float*>(in[0].data);
    float* o = static_cast<float*>(out.data);
    for (int64_t r = 0; r < R; ++r) {
        float sum = 0.0f;
        for (int64_t i = 0; i < d; ++i) sum += x[r * d + i];
        for (int64_t i = 0; i < d; ++i) o[r * d + i] = x[r * d + i] / sum;
    }
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
