// rope.cpp — rotary position embedding, "norm" (adjacent pairs) and "neox" (half-split pairs) layouts.
// Angles follow ggml's CPU recipe (float theta, multiplied by base^(-2/n_rot) per pair) so results round alike.
#include "backends/cpu/ref/ref_kernels.hpp"

#include <cmath>

MOE_BEGIN_NAMESPACE
namespace cpu {

status rope(context& c, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t T = in[0].sh[0], H = in[0].sh[1], D = in[0].sh[2];
    const int64_t n_rot = n.i[0];
    const bool neox = n.i[1] == static_cast<int64_t>(rope_mode::neox);
    const float base = n.f[0], freq_scale = n.f[1];
    const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
    const float* x = static_cast<const float*>(in[0].data);
    const int32_t* pos = static_cast<const int32_t*>(in[1].data);
    float* o = static_cast<float*>(out.data);
    c.pool.run([&](int ith, int nth) {
        float* cs = c.scratch(ith, static_cast<size_t>(n_rot));  // cos, sin per pair
        for (int64_t t = ith; t < T; t += nth) {
            float theta = static_cast<float>(pos[t]);
            for (int64_t i = 0; i < n_rot / 2; ++i) {
                const float th = freq_scale * theta;
                cs[2 * i] = std::cos(th);
                cs[2 * i + 1] = std::sin(th);
                theta *= theta_scale;
            }
            for (int64_t h = 0; h < H; ++h) {
                const float* xr = x + (t * H + h) * D;
                float* orow = o + (t * H + h) * D;
                for (int64_t i = 0; i < n_rot / 2; ++i) {
                    const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + n_rot / 2 : 2 * i + 1;
                    const float x0 = xr[i0], x1 = xr[i1], cth = cs[2 * i], sth = cs[2 * i + 1];
                    orow[i0] = std::fma(x0, cth, -(x1 * sth));
                    orow[i1] = std::fma(x0, sth, x1 * cth);
                }
                for (int64_t i = n_rot; i < D; ++i) orow[i] = xr[i];
            }
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
