// moe_route.cpp — reference kernels for expert routing: top-k selection, gathering the chosen probabilities,
// and the weighted sum of expert outputs. The MoE block (src/arch/blocks.cpp) strings them together.
#include "backends/cpu/ref/ref_kernels.hpp"

MOE_BEGIN_NAMESPACE
namespace cpu {

// Indices of the k largest values of each row, largest first; ties keep the lower index first.
status top_k(context&, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows(), k = n.i[0];
    const float* x = static_cast<const float*>(in[0].data);
    int32_t* o = static_cast<int32_t*>(out.data);
    for (int64_t r = 0; r < R; ++r) {
        const float* xr = x + r * d;
        int32_t* orow = o + r * k;
        int64_t filled = 0;
        for (int64_t i = 0; i < d; ++i) {  // insertion into a sorted list of at most k entries
            if (filled == k && !(xr[i] > xr[orow[k - 1]])) continue;
            int64_t p = filled < k ? filled++ : k - 1;
            while (p > 0 && xr[i] > xr[orow[p - 1]]) {
                orow[p] = orow[p - 1];
                --p;
            }
            orow[p] = static_cast<int32_t>(i);
        }
    }
    return {};
}

status gather_cols(context&, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows(), k = in[1].sh.last();
    const float* x = static_cast<const float*>(in[0].data);
    const int32_t* ids = static_cast<const int32_t*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < k; ++j) {
            const int32_t c = ids[r * k + j];
            if (c < 0 || c >= d) return status(errc::invalid_argument, "gather_cols: index out of range");
            o[r * k + j] = x[r * d + c];
        }
    return {};
}

// out[t] = sum_j w[t][j] * y[t][j], accumulated in slot order (as llama.cpp adds its expert views).
status weighted_sum(context&, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t T = in[0].sh[0], U = in[0].sh[1], d = in[0].sh[2];
    const float* y = static_cast<const float*>(in[0].data);
    const float* w = static_cast<const float*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    for (int64_t t = 0; t < T; ++t) {
        float* orow = o + t * d;
        for (int64_t i = 0; i < d; ++i) orow[i] = y[(t * U) * d + i] * w[t * U];
        for (int64_t j = 1; j < U; ++j)
            for (int64_t i = 0; i < d; ++i) orow[i] += y[(t * U + j) * d + i] * w[t * U + j];
    }
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
