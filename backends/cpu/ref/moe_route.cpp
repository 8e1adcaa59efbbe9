// moe_route.cpp — reference kernels for expert routing: top-k selection, gathering the chosen probabilities,
// and the weighted sum of expert outputs. The MoE block (src/arch/blocks.cpp) strings them together.
#include "backends/cpu/ref/ref_kernels.hpp"

#include <cmath>

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

// Group-limited routing (DeepSeek-V3's "noaux_tc", as llama.cpp's build_moe_ffn does it): each group of n / G
// consecutive experts is scored by the sum of its two largest values; the experts of all but the K best groups get
// -inf so top_k cannot pick them. Ties between groups keep the lower group first.
status expert_group_mask(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t d = in[0].sh.last(), R = in[0].sh.rows(), G = n.i[0], K = n.i[1];
    const int64_t per = G > 0 ? d / G : 0;
    if (G < 1 || K < 1 || K > G || per < 2 || per * G != d)
        return status(errc::invalid_argument, "expert_group_mask: bad group counts");
    const float* x = static_cast<const float*>(in[0].data);
    float* o = static_cast<float*>(out.data);
    float* score = c.scratch(0, static_cast<size_t>(G));  // single-threaded kernel: thread 0's scratch
    std::vector<int32_t>& order = c.index_scratch;         // grows only: no allocation per decoded token
    if (order.size() < static_cast<size_t>(G)) order.resize(static_cast<size_t>(G));
    for (int64_t r = 0; r < R; ++r) {
        const float* xr = x + r * d;
        float* orow = o + r * d;
        for (int64_t g = 0; g < G; ++g) {
            float a = -INFINITY, b = -INFINITY;  // largest, second largest
            for (int64_t i = g * per; i < (g + 1) * per; ++i) {
                if (xr[i] > a) b = a, a = xr[i];
                else if (xr[i] > b) b = xr[i];
            }
            score[g] = a + b;
            order[static_cast<size_t>(g)] = static_cast<int32_t>(g);
        }
        for (int64_t g = 1; g < G; ++g) {  // stable insertion sort by score, best first (G is small)
            const int32_t v = order[static_cast<size_t>(g)];
            int64_t p = g;
            for (; p > 0 && score[v] > score[order[static_cast<size_t>(p - 1)]]; --p)
                order[static_cast<size_t>(p)] = order[static_cast<size_t>(p - 1)];
            order[static_cast<size_t>(p)] = v;
        }
        for (int64_t i = 0; i < d; ++i) orow[i] = -INFINITY;
        for (int64_t k = 0; k < K; ++k) {
            const int64_t g = order[static_cast<size_t>(k)];
            for (int64_t i = g * per; i < (g + 1) * per; ++i) orow[i] = xr[i];
        }
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
