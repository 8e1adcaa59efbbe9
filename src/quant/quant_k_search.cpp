// quant_k_search.cpp — llama.cpp's K-quant scale searches and scale packings, float ops in ggml's order (no FMA).
// Before: nothing but quant_impl.hpp. After: quant_k.cpp and quant_k_low.cpp build llama.cpp's exact blocks with it.
#include "quant/quant_k_common.hpp"

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw) noexcept {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < group_max_eps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.0f;
    }
    auto weight = [&](int i) { return qw != nullptr ? qw[i] : x[i] * x[i]; };
    float iscale = fl(-nmax) / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l + nmax);
        const float w = weight(i);
        sumlx += w * x[i] * fl(l);
        suml2 += w * fl(l) * fl(l);
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(fl(nmax) + 0.1f * fl(is)) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = weight(i);
            sumlx += w * x[i] * fl(l);
            suml2 += w * fl(l) * fl(l);
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                L[i] = static_cast<int8_t>(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

float make_q3_quants(int n, int nmax, const float* x, int8_t* L) noexcept {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < group_max_eps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.0f;
    }
    const float iscale = fl(-nmax) / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * fl(l);
        suml2 += w * fl(l) * fl(l);
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * fl(L[i]);
            if (slx > 0.0f) {
                float sl2 = suml2 - w * fl(L[i]) * fl(L[i]);
                const int new_l = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * fl(new_l);
                    sl2 += w * fl(new_l) * fl(new_l);
                    if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = static_cast<int8_t>(new_l);
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (n_changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) noexcept {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0.0f) min = 0.0f;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.0f;
    }
    auto err = [&](float diff) { return use_mad ? std::fabs(diff) : diff * diff; };
    float iscale = fl(nmax) / (max - min);
    float scale = 1.0f / iscale;
    float best_error = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = u8(imax(0, imin(nmax, l)));
        const float diff = scale * fl(L[i]) + min - x[i];
        best_error += weights[i] * err(diff);
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * fl(is) + fl(nmax)) / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = u8(l);
            const float w = weights[i];
            sum_l += w * fl(l);
            sum_l2 += w * fl(l) * fl(l);
            sum_xl += w * fl(l) * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0.0f) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0.0f;
            for (int i = 0; i < n; ++i) {
                const float diff = this_scale * fl(Laux[i]) + this_min - x[i];
                cur_error += weights[i] * err(diff);
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) noexcept {
    if (j < 4) {
        *sc = static_cast<uint8_t>(q[j] & 63);
        *m = static_cast<uint8_t>(q[j + 4] & 63);
    } else {
        *sc = static_cast<uint8_t>((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void pack_scale_min_k4(const uint8_t* sc, const uint8_t* m, uint8_t* q) noexcept {
    for (int j = 0; j < 8; ++j) {
        const int ls = sc[j], lm = m[j];
        if (j < 4) {
            q[j] = u8(ls);
            q[j + 4] = u8(lm);
        } else {
            q[j + 4] = u8((ls & 0xf) | ((lm & 0xf) << 4));
            q[j - 4] = u8(q[j - 4] | ((ls >> 4) << 6));
            q[j] = u8(q[j] | ((lm >> 4) << 6));
        }
    }
}

void pack_2bit_k(const uint8_t* L, uint8_t* qs) noexcept {
    for (int j = 0; j < qk_k; j += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[j / 4 + l] = u8(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }
}

void unpack_scales_q3_k(const uint8_t* p, int* sc) noexcept {
    for (int j = 0; j < 16; ++j) {
        int v = j < 8 ? (p[j] & 0xf) : (p[j - 8] >> 4);
        v |= ((p[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
        sc[j] = v - 32;
    }
}

void pack_scales_q3_k(const int* sc, uint8_t* p) noexcept {
    std::memset(p, 0, 12);
    for (int j = 0; j < 16; ++j) {
        int l = sc[j] + 32;
        if (j < 8) {
            p[j] = u8(l & 0xf);
        } else {
            p[j - 8] = u8(p[j - 8] | ((l & 0xf) << 4));
        }
        l >>= 4;
        p[j % 4 + 8] = u8(p[j % 4 + 8] | (l << (2 * (j / 4))));
    }
}

}  // namespace quant_detail
MOE_END_NAMESPACE
