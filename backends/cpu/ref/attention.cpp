// attention.cpp — causal multi-head attention with grouped KV heads over an f32 KV cache.
// Appends this batch's K/V at rows n_past.. (or, for several sequences, at each token's slot and position; see
// kv_rows.hpp), then each query row attends to its slot's rows 0 .. its position.
#include "backends/cpu/ref/attend_row.hpp"
#include "backends/cpu/ref/kv_rows.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/simd/simd.hpp"

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {

status attention(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args& args) {
    const tensor_view &q = in[0], &k = in[1], &v = in[2], &kc = in[3], &vc = in[4];
    const int64_t T = q.sh[0], Hq = q.sh[1], Dk = q.sh[2], Hkv = k.sh[1], Dv = v.sh[2];
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
            const float* kslot = kcache + rows.first(t) * Hkv * Dk + hk * Dk;
            const float* vslot = vcache + rows.first(t) * Hkv * Dv + hk * Dv;
            attend_row(qp + (t * Hq + h) * Dk, kslot, Hkv * Dk, Dk, vslot, Hkv * Dv, Dv, 0, len, scale, nullptr, s,
                       o + t * Hq * Dv + h * Dv);
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
