// rope_yarn.cpp — rotary position embedding with YaRN scaling (ggml's rope_yarn / ggml_rope_cache_init), both
// layouts. Before: the q/k projections; after: attention. Angles and magnitudes are computed in float as ggml does.
#include "backends/cpu/ref/ref_kernels.hpp"

#include <algorithm>
#include <cmath>

MOE_BEGIN_NAMESPACE
namespace cpu {

namespace {
// 1 below pair `low`, 0 above pair `high`, linear in between (ggml's rope_yarn_ramp; i0 / 2 is the pair index).
float yarn_ramp(float low, float high, int64_t pair) {
    const float y = (static_cast<float>(pair) - low) / std::max(0.001f, high - low);
    return 1.0f - std::min(1.0f, std::max(0.0f, y));
}
}  // namespace

status rope_yarn(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t T = in[0].sh[0], H = in[0].sh[1], D = in[0].sh[2];
    const int64_t n_rot = n.i[0];
    const bool neox = n.i[1] == static_cast<int64_t>(rope_mode::neox);
    const float base = n.f[0], freq_scale = n.f[1], ext_factor = n.f[2], attn_factor = n.f[3];
    const float corr_low = static_cast<float>(n.i[2]), corr_high = static_cast<float>(n.i[3]);
    const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
    // the magnitude correction does not depend on the pair (ggml recomputes it per pair with the same result)
    const float mscale = ext_factor != 0.0f ? attn_factor * (1.0f + 0.1f * std::log(1.0f / freq_scale)) : attn_factor;
    const float* x = static_cast<const float*>(in[0].data);
    const int32_t* pos = static_cast<const int32_t*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    c.pool.run([&](int ith, int nth) {
        float* cs = c.scratch(ith, static_cast<size_t>(n_rot));  // cos, sin per pair
        for (int64_t t = ith; t < T; t += nth) {
            float theta_extrap = static_cast<float>(pos[t]);
            for (int64_t i = 0; i < n_rot / 2; ++i) {
                const float theta_interp = freq_scale * theta_extrap;
                float theta = theta_interp;
                if (ext_factor != 0.0f) {
                    const float mix = yarn_ramp(corr_low, corr_high, i) * ext_factor;
                    theta = theta_interp * (1 - mix) + theta_extrap * mix;
                }
                cs[2 * i] = std::cos(theta) * mscale;
                cs[2 * i + 1] = std::sin(theta) * mscale;
                theta_extrap *= theta_scale;
            }
            for (int64_t h = 0; h < H; ++h) {
                const float* xr = x + (t * H + h) * D;
                float* orow = o + (t * H + h) * D;
                for (int64_t i = 0; i < n_rot / 2; ++i) {
                    const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + n_rot / 2 : 2 * i + 1;
                    const float x0 = xr[i0], x1 = xr[i1], cth = cs[2 * i], sth = cs[2 * i + 1];
                    orow[i0] = x0 * cth - x1 * sth;
                    orow[i1] = x0 * sth + x1 * cth;
                }
                for (int64_t i = n_rot; i < D; ++i) orow[i] = xr[i];
            }
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
