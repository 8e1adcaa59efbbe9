// attend_row.hpp — one query row's softmax attention over a range of one KV head's cache rows, in the reference's
// order. Used by attention.cpp and attention_ext.cpp once they have placed this batch's K/V (kv_rows.hpp).
#pragma once

#include "backends/cpu/simd/simd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

MOE_BEGIN_NAMESPACE
namespace cpu {

// Rows j in [first, len) of the keys k and values v (row j at k + j * k_stride, v + j * v_stride): scores
// dot(q, k_j) * scale, their maximum (and the sink logit's, if sink is not null), exp(s - max) summed in double
// (the sink's term too), then out = sum over j in order of (s_j / sum) * v_j. s: scratch of at least len floats.
inline void attend_row(const float* q, const float* k, int64_t k_stride, int64_t dk, const float* v, int64_t v_stride,
                       int64_t dv, int64_t first, int64_t len, float scale, const float* sink, float* s, float* out) {
    const int64_t n = len - first;
    s += first;
    simd::dot_f32_rows(q, k + first * k_stride, k_stride, n, dk, s);
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = s[j] * scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    if (sink) mx = std::max(mx, *sink);
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
    }
    if (sink) sum += static_cast<double>(std::exp(*sink - mx));
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) s[j] = s[j] * inv;
    for (int64_t d = 0; d < dv; ++d) out[d] = 0.0f;
    simd::axpy_f32_rows(s, v + first * v_stride, v_stride, n, dv, out);
}

}  // namespace cpu
MOE_END_NAMESPACE
