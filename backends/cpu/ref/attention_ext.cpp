// attention_ext.cpp — causal attention with a sliding window and per-head attention sinks (gpt-oss), f32/f16 cache.
// Same cache layout and write as attention.cpp; the softmax follows ggml's soft_max_ext with sinks (ops.cpp).
#include "backends/cpu/ref/attend_cached.hpp"

MOE_BEGIN_NAMESPACE
namespace cpu {

// Query t (position p = n_past + t, or pos[t] of slot seq[t] with several sequences: kv_rows.hpp) sees its slot's
// rows j with p - j < window (all rows <= p when the window is 0), as llama.cpp's LLAMA_SWA_TYPE_STANDARD mask. A
// sink s_h joins the softmax as one more logit with no value: the maximum becomes max(m, s_h) and the sum gains
// exp(s_h - max).
status attention_ext(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args& args) {
    const tensor_view &q = in[0], &k = in[1], &v = in[2];
    const int n_data = n.i[3] ? n.n_in - 2 : n.n_in;  // inputs before the positions / sequence ids
    cached_attention a;
    a.T = q.sh[0], a.Hq = q.sh[1], a.Dk = q.sh[2], a.Hkv = k.sh[1], a.Dv = v.sh[2], a.scale = n.f[0];
    a.window = n.i[0];
    a.sinks = n_data > 5 ? static_cast<const float*>(in[5].data) : nullptr;
    kv_rows rows;
    MOE_TRY(rows.init(n, in, 3, a.T, args));
    const kv_cache cache = cache_inputs(in, 3, 4);
    write_kv(rows, a, static_cast<const float*>(k.data), static_cast<const float*>(v.data), cache);
    attend_cached(c, rows, a, static_cast<const float*>(q.data), cache, static_cast<float*>(out.data));
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
