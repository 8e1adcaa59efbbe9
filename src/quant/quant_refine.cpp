// quant_refine.cpp — local search on a K-quant/IQ4_XS super-block (sub-scale codes, scale refit): error only drops.
// Before: llama.cpp's block from quant_k.cpp, quant_k_low.cpp, quant_iq.cpp. After: those files pack the result.
#include "quant/quant_refine.hpp"

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace quant_detail {

namespace {

constexpr int max_block = qk_k;  // largest super-block handled
constexpr int max_sub = 32;      // largest sub-block
constexpr int radius_first = 2;  // sub-block codes tried around llama.cpp's: current +- 2
constexpr int radius_refit = 1;  // and after each least-squares refit of the super-block scale(s)

// ---- affine: value = (d * sc) * L - (dmin * m) ---------------------------------------------------------------------

double affine_err(const float* x, int n, float dl, float ml, const uint8_t* L) noexcept {
    double s = 0.0;
    for (int i = 0; i < n; ++i) {
        const double e = static_cast<double>(dl * fl(L[i]) - ml) - static_cast<double>(x[i]);
        s += e * e;
    }
    return s;
}

// Nearest levels for scale dl and offset ml (any choice is safe: the caller measures the error it gives).
void affine_levels(const float* x, int n, float dl, float ml, int lmax, uint8_t* L) noexcept {
    const float inv = dl != 0.0f ? 1.0f / dl : 0.0f;
    for (int i = 0; i < n; ++i) L[i] = u8(clampi(nearest_int((x[i] + ml) * inv), 0, lmax));
}

// Levels and their error in one pass.
double affine_levels_err(const float* x, int n, float dl, float ml, int lmax, uint8_t* L) noexcept {
    const float inv = dl != 0.0f ? 1.0f / dl : 0.0f;
    double s = 0.0;
    for (int i = 0; i < n; ++i) {
        const int l = clampi(nearest_int((x[i] + ml) * inv), 0, lmax);
        L[i] = u8(l);
        const double e = static_cast<double>(dl * fl(l) - ml) - static_cast<double>(x[i]);
        s += e * e;
    }
    return s;
}

// Best (sc, m) codes within the radius for one sub-block; returns its error (never above the starting one).
double affine_search_sub(const affine_k& p, const float* x, float d, float dmin, uint8_t& sc, uint8_t& m,
                         uint8_t* L, int radius) noexcept {
    double best = affine_err(x, p.sub, d * fl(sc), dmin * fl(m), L);
    uint8_t trial[max_sub];
    const int sc0 = sc, m0 = m;
    for (int s = imax(0, sc0 - radius); s <= imin(p.smax, sc0 + radius); ++s) {
        for (int mm = imax(0, m0 - radius); mm <= imin(p.smax, m0 + radius); ++mm) {
            if (s == sc0 && mm == m0) continue;
            const float dl = d * fl(s), ml = dmin * fl(mm);
            const double e = affine_levels_err(x, p.sub, dl, ml, p.lmax, trial);
            if (e < best) {
                best = e;
                sc = u8(s);
                m = u8(mm);
                std::memcpy(L, trial, static_cast<size_t>(p.sub));
            }
        }
    }
    return best;
}

double affine_search_all(const affine_k& p, const float* x, float d, float dmin, uint8_t* sc, uint8_t* m,
                         uint8_t* L, int radius) noexcept {
    double total = 0.0;
    for (int j = 0; j < p.nsub; ++j) {
        total += affine_search_sub(p, x + j * p.sub, d, dmin, sc[j], m[j], L + j * p.sub, radius);
    }
    return total;
}

// ---- symmetric: value = (d * sc) * levels[L] -----------------------------------------------------------------------

double symmetric_err(const symmetric_k& p, const float* x, float dl, const uint8_t* L) noexcept {
    double s = 0.0;
    for (int i = 0; i < p.sub; ++i) {
        const double e = static_cast<double>(dl * fl(p.levels[L[i]])) - static_cast<double>(x[i]);
        s += e * e;
    }
    return s;
}

// Index of the level nearest t (levels ascending).
uint8_t nearest_level(const symmetric_k& p, float t) noexcept {
    if (p.uniform) return u8(clampi(nearest_int(t) - p.levels[0], 0, p.nlevels - 1));
    if (!(t > fl(p.levels[0]))) return 0;  // also NaN
    if (t >= fl(p.levels[p.nlevels - 1])) return u8(p.nlevels - 1);
    int lo = 0, hi = p.nlevels - 1;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (t < fl(p.levels[mid])) hi = mid; else lo = mid;
    }
    return u8(t - fl(p.levels[lo]) < fl(p.levels[hi]) - t ? lo : hi);
}

void symmetric_levels(const symmetric_k& p, const float* x, float dl, uint8_t* L) noexcept {
    const float inv = dl != 0.0f ? 1.0f / dl : 0.0f;
    for (int i = 0; i < p.sub; ++i) L[i] = nearest_level(p, x[i] * inv);
}

double symmetric_search_sub(const symmetric_k& p, const float* x, float d, int& sc, uint8_t* L, int radius) noexcept {
    double best = symmetric_err(p, x, d * fl(sc), L);
    uint8_t trial[max_sub];
    const int sc0 = sc;
    for (int s = imax(p.smin, sc0 - radius); s <= imin(p.smax, sc0 + radius); ++s) {
        if (s == sc0) continue;
        const float dl = d * fl(s);
        symmetric_levels(p, x, dl, trial);
        const double e = symmetric_err(p, x, dl, trial);
        if (e < best) {
            best = e;
            sc = s;
            std::memcpy(L, trial, static_cast<size_t>(p.sub));
        }
    }
    return best;
}

double symmetric_search_all(const symmetric_k& p, const float* x, float d, int* sc, uint8_t* L, int radius) noexcept {
    double total = 0.0;
    for (int j = 0; j < p.nsub; ++j) total += symmetric_search_sub(p, x + j * p.sub, d, sc[j], L + j * p.sub, radius);
    return total;
}

bool usable_scale(double v) noexcept { return std::isfinite(v) && std::fabs(v) < 65504.0; }

}  // namespace

void refine_affine(const affine_k& p, const float* x, uint16_t& d16, uint16_t& dmin16, uint8_t* sc, uint8_t* m,
                   uint8_t* L) noexcept {
    const int n = p.sub * p.nsub;
    for (int i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) return;  // keep llama.cpp's block for non-finite input
    }
    double cur = affine_search_all(p, x, fp16_to_f32(d16), fp16_to_f32(dmin16), sc, m, L, radius_first);
    for (int iter = 0; iter < 2; ++iter) {
        // least-squares (D, M) for the current codes: minimise sum (D a - M b - x)^2, a = sc * L, b = m
        double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
        for (int i = 0; i < n; ++i) {
            const double a = static_cast<double>(sc[i / p.sub]) * L[i], b = m[i / p.sub], xi = x[i];
            saa += a * a, sab += a * b, sbb += b * b, sax += a * xi, sbx += b * xi;
        }
        double D, M = fp16_to_f32(dmin16);
        const double det = sab * sab - saa * sbb;
        if (sbb > 0 && std::fabs(det) > 1e-12 * saa * sbb) {
            D = (sab * sbx - sax * sbb) / det;
            M = (saa * sbx - sab * sax) / det;
        } else {
            if (!(saa > 0)) return;
            D = (sax + M * sab) / saa;
        }
        if (!usable_scale(D) || !usable_scale(M) || D <= 0 || M < 0) return;
        const uint16_t nd = f32_to_fp16(static_cast<float>(D)), nm = f32_to_fp16(static_cast<float>(M));
        if (nd == d16 && nm == dmin16) return;
        uint8_t tsc[max_block / 16], tm[max_block / 16], tL[max_block];
        std::memcpy(tsc, sc, static_cast<size_t>(p.nsub));
        std::memcpy(tm, m, static_cast<size_t>(p.nsub));
        const float fd = fp16_to_f32(nd), fdm = fp16_to_f32(nm);
        for (int j = 0; j < p.nsub; ++j) {
            affine_levels(x + j * p.sub, p.sub, fd * fl(tsc[j]), fdm * fl(tm[j]), p.lmax, tL + j * p.sub);
        }
        const double e = affine_search_all(p, x, fd, fdm, tsc, tm, tL, radius_refit);
        if (!(e < cur)) return;
        cur = e;
        d16 = nd;
        dmin16 = nm;
        std::memcpy(sc, tsc, static_cast<size_t>(p.nsub));
        std::memcpy(m, tm, static_cast<size_t>(p.nsub));
        std::memcpy(L, tL, static_cast<size_t>(n));
    }
}

void refine_symmetric(const symmetric_k& p, const float* x, uint16_t& d16, int* sc, uint8_t* L) noexcept {
    const int n = p.sub * p.nsub;
    for (int i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) return;
    }
    double cur = symmetric_search_all(p, x, fp16_to_f32(d16), sc, L, radius_first);
    for (int iter = 0; iter < 2; ++iter) {
        double saa = 0, sax = 0;
        for (int i = 0; i < n; ++i) {
            const double a = static_cast<double>(sc[i / p.sub]) * p.levels[L[i]];
            saa += a * a, sax += a * x[i];
        }
        if (!(saa > 0)) return;
        const double D = sax / saa;
        if (!usable_scale(D) || D == 0) return;
        const uint16_t nd = f32_to_fp16(static_cast<float>(D));
        if (nd == d16) return;
        int tsc[max_block / 16];
        uint8_t tL[max_block];
        std::memcpy(tsc, sc, sizeof(int) * static_cast<size_t>(p.nsub));
        const float fd = fp16_to_f32(nd);
        for (int j = 0; j < p.nsub; ++j) symmetric_levels(p, x + j * p.sub, fd * fl(tsc[j]), tL + j * p.sub);
        const double e = symmetric_search_all(p, x, fd, tsc, tL, radius_refit);
        if (!(e < cur)) return;
        cur = e;
        d16 = nd;
        std::memcpy(sc, tsc, sizeof(int) * static_cast<size_t>(p.nsub));
        std::memcpy(L, tL, static_cast<size_t>(n));
    }
}

}  // namespace quant_detail
MOE_END_NAMESPACE
