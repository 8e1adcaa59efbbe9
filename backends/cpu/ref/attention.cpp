// attention.cpp — causal multi-head attention with grouped KV heads over an f32 or f16 KV cache.
// Appends this batch's K/V at rows n_past.. (or, for several sequences, at each token's slot and position; see
// kv_rows.hpp), then each query row attends to its slot's rows 0 .. its position.
#include "backends/cpu/ref/attend_cached.hpp"

MOE_BEGIN_NAMESPACE
namespace cpu {

status attention(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args& args) {
    const tensor_view &q = in[0], &k = in[1], &v = in[2];
    cached_attention a;
    a.T = q.sh[0], a.Hq = q.sh[1], a.Dk = q.sh[2], a.Hkv = k.sh[1], a.Dv = v.sh[2], a.scale = n.f[0];
    kv_rows rows;
    MOE_TRY(rows.init(n, in, 3, a.T, args));
    const kv_cache cache = cache_inputs(in, 3, 4);
    write_kv(rows, a, static_cast<const float*>(k.data), static_cast<const float*>(v.data), cache);
    attend_cached(c, rows, a, static_cast<const float*>(q.data), cache, static_cast<float*>(out.data));
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
