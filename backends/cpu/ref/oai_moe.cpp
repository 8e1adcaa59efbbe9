// oai_moe.cpp — the two element-wise ops gpt-oss's expert FFN adds: per-expert bias rows (ggml_add_id) and the
// clamped SwiGLU (ggml_swiglu_oai). Before: mul_mat_id's per-slot outputs; after: the next mul_mat_id or weighted_sum.
#include "backends/cpu/ref/ref_kernels.hpp"

#include <algorithm>
#include <cmath>

MOE_BEGIN_NAMESPACE
namespace cpu {

// out[t][j] = x[t][j] + b[ids[t][j]]: each slot gets the bias row of the expert that produced it.
status add_id(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t S = in[0].sh.rows(), d = in[0].sh.last(), E = in[1].sh[0];
    const float* x = static_cast<const float*>(in[0].data);
    const float* b = static_cast<const float*>(in[1].data);
    const int32_t* ids = static_cast<const int32_t*>(in[2].data);
    for (int64_t s = 0; s < S; ++s)
        if (ids[s] < 0 || ids[s] >= E)
            return status(errc::invalid_argument, "add_id: expert id " + std::to_string(ids[s]) + " outside " +
                                                      std::to_string(E));
    float* o = static_cast<float*>(out.data);
    c.pool.parallel_for(S, [&](int64_t first, int64_t end) {
        for (int64_t s = first; s < end; ++s) {
            const float* br = b + static_cast<int64_t>(ids[s]) * d;
            for (int64_t i = 0; i < d; ++i) o[s * d + i] = x[s * d + i] + br[i];
        }
    });
    return {};
}

// g = min(gate, limit), u = clamp(up, -limit, limit), out = g * sigmoid(alpha g) * (u + 1), as ggml computes it.
status swiglu_oai(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t N = in[0].sh.elements();
    const float alpha = n.f[0], limit = n.f[1];
    const float* gate = static_cast<const float*>(in[0].data);
    const float* up = static_cast<const float*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    c.pool.parallel_for(N, [&](int64_t first, int64_t end) {
        for (int64_t i = first; i < end; ++i) {
            const float g = std::min(gate[i], limit);
            const float u = std::min(std::max(up[i], -limit), limit);
            o[i] = g / (1.0f + std::exp(alpha * (-g))) * (u + 1.0f);
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
