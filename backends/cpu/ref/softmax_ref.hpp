// softmax_ref.hpp — the reference order of attention's softmax over one query row's scores (attend_cached.hpp): the
// scalar statement that simd::softmax_f32's kernels reproduce bit for bit. Before: the scores; after: the value sums.
#pragma once

#include "backends/cpu/ref/expf_ref.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {

// The eight double lanes' sum: ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)).
inline double lanes8_sum(const double* a) noexcept {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

// s[0 .. n) scores -> probabilities: s_j * scale; their maximum (and the sink's logit, if any); e_j =
// expf_ref(s_j - max); their sum in double, e_j added in j order into lane j % 8, the lanes then summed by
// lanes8_sum, the sink's e^x added last; p_j = e_j * float(1 / sum).
inline void softmax_ref(float* s, int64_t n, float scale, const float* sink) noexcept {
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = s[j] * scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    if (sink) mx = std::max(mx, *sink);
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = 0; j < n; ++j) lane[j % 8] += static_cast<double>(s[j] = expf_ref(s[j] - mx));
    double sum = lanes8_sum(lane);
    if (sink) sum += static_cast<double>(expf_ref(*sink - mx));
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) s[j] = s[j] * inv;
}

}  // namespace cpu
MOE_END_NAMESPACE
