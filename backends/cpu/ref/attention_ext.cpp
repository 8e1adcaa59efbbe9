// attention_ext.cpp — causal attention with a sliding window and per-head attention sinks (gpt-oss), f32 KV cache.
// Same cache layout and write as attention.cpp; the softmax follows ggml's soft_max_ext with sinks (ops.cpp).
#include "backends/cpu/ref/attend_row.hpp"
#include "backends/cpu/ref/kv_rows.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/simd/simd.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {

// Query t (position p = n_past + t, or pos[t] of slot seq[t] with several sequences: kv_rows.hpp) sees its slot's
// rows j with p - j < window (all rows <= p when the window is 0), as llama.cpp's LLAMA_SWA_TYPE_STANDARD mask. A
// sink s_h joins the softmax as one more logit with no value: the maximum becomes max(m, s_h) and the sum gains
// exp(s_h - max).
status attention_ext(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args& args) {
    const tensor_view &q = in[0], &k = in[1], &v = in[2], &kc = in[3], &vc = in[4];
    const int n_data = n.i[3] ? n.n_in - 2 : n.n_in;  // inputs before the positions / sequence ids
    const float* sinks = n_data > 5 ? static_cast<const float*>(in[5].data) : nullptr;
    const int64_t T = q.sh[0], Hq = q.sh[1], Dk = q.sh[2], Hkv = k.sh[1], Dv = v.sh[2];
    const int64_t window = n.i[0];
    kv_rows rows;
    MOE_TRY(rows.init(n, in, 3, T, args));
    const int64_t C = rows.C;
    const int64_t group = Hq / Hkv;
    const float scale = n.f[0];
    float* kcache = static_cast<float*>(kc.data);
    float* vcache = static_cast<float*>(vc.data);
    for (int64_t t = 0; t < T; ++t) {
        std::memcpy(kcache + rows.row(t) * Hkv * Dk, static_cast<const float*>(k.data) + t * Hkv * Dk,
                    static_cast<size_t>(Hkv * Dk) * sizeof(float));
        std::memcpy(vcache + rows.row(t) * Hkv * Dv, static_cast<const float*>(v.data) + t * Hkv * Dv,
                    static_cast<size_t>(Hkv * Dv) * sizeof(float));
    }

    const float* qp = static_cast<const float*>(q.data);
    float* o = static_cast<float*>(out.data);
    c.pool.run([&](int ith, int nth) {
        float* s = c.scratch(ith, static_cast<size_t>(C));  // sized for the whole cache: no growth while decoding
        for (int64_t th = ith; th < T * Hq; th += nth) {
            const int64_t t = th / Hq, h = th % Hq, hk = h / group, len = rows.position(t) + 1;
            const int64_t first = window > 0 ? std::max<int64_t>(0, len - window) : 0;
            const float* kslot = kcache + rows.first(t) * Hkv * Dk + hk * Dk;
            const float* vslot = vcache + rows.first(t) * Hkv * Dv + hk * Dv;
            attend_row(qp + (t * Hq + h) * Dk, kslot, Hkv * Dk, Dk, vslot, Hkv * Dv, Dv, first, len, scale,
                       sinks ? sinks + h : nullptr, s, o + t * Hq * Dv + h * Dv);
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
