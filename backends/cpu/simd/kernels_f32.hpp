// kernels_f32.hpp — the float kernels, written once over an ISA's eight-lane primitives P: Eigen's dot order (the
// reference's f32 matmul and attention dots), attention's rows (dots over keys, axpy over values), and llama.cpp's
// ggml f32 orders (ref/ggml_f32_order.hpp: the MLA attention's scores and value sums), each bit-exact.
// Before: prims_*.hpp. After: fill_table.hpp puts them in the dispatch table; attention*.cpp call them.
//
// Included only by fill_table.hpp; all in an anonymous namespace, so every instantiation has internal linkage.
#pragma once

#include "backends/cpu/ref/expf_ref.hpp"
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/softmax_ref.hpp"
#include "backends/cpu/simd/kernels_impl.hpp"

#include <utility>

namespace {

// Attention's score dots over several queries: the eight-float chunks of `keys` key rows side by side in one
// register of PF (two with sixteen-lane primitives, which have fload2 / fbcast8 / half8), the query's chunk repeated
// as often; P: the eight-lane primitives. Each lane does what one()'s lane does for its key.
template <class P, class PF, class = void>
struct key_chunks {
    using fv = typename P::fv;
    static constexpr int keys = 1, queries = 2;  // queries per pass: 2 x 4 accumulators fit sixteen registers
    static fv rows(const float* p, int64_t) noexcept { return P::floadu(p); }
    static fv repeat(const float* p) noexcept { return P::floadu(p); }
    static fv half(fv v, int) noexcept { return v; }
    static fv mul(fv a, fv b) noexcept { return P::fmul(a, b); }
    static fv add(fv a, fv b) noexcept { return P::fadd(a, b); }
};
template <class P, class PF>
struct key_chunks<P, PF, std::void_t<decltype(static_cast<void>(PF::fbcast8(nullptr)))>> {
    using fv = typename PF::fv;
    static constexpr int keys = 2, queries = 4;
    static fv rows(const float* p, int64_t stride) noexcept { return PF::fload2(p, p + stride); }
    static fv repeat(const float* p) noexcept { return PF::fbcast8(p); }
    static typename P::fv half(fv v, int h) noexcept { return PF::half8(v, h); }
    static fv mul(fv a, fv b) noexcept { return PF::fmul(a, b); }
    static fv add(fv a, fv b) noexcept { return PF::fadd(a, b); }
};

// Whether primitives P have expf8_main / expf8_special (prims_x86.hpp).
template <class P, class = void>
struct has_expf8 : std::false_type {};
template <class P>
struct has_expf8<P, std::void_t<decltype(static_cast<void>(P::expf8_main(typename P::fv{})))>> : std::true_type {};

// Whether primitives P have ggml_silu8 (prims_x86.hpp).
template <class P, class = void>
struct has_ggml_silu8 : std::false_type {};
template <class P>
struct has_ggml_silu8<P, std::void_t<decltype(static_cast<void>(P::ggml_silu8(typename P::fv{}, true,
                                                                              std::declval<int&>())))>>
    : std::true_type {};

template <class P>
struct f32_kernels {
    using fv = typename P::fv;

    // y[i] = expf_ref(x[i]) (ref/expf_ref.hpp; x and y may be the same), eight at a time; lanes with |x| >= 88 or
    // NaN again one by one, through expf_ref's special cases. Only for P with has_expf8.
    static void exp_rows(const float* x, float* y, int64_t n) noexcept {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const fv v = P::floadu(x + i);
            const int special = P::expf8_special(v);
            alignas(32) float in[8];
            if (special) P::fstoreu(in, v);
            P::fstoreu(y + i, P::expf8_main(v));
            for (int l = 0; special && l < 8; ++l)
                if (special >> l & 1) y[i + l] = moe::cpu::expf_ref(in[l]);
        }
        for (; i < n; ++i) y[i] = moe::cpu::expf_ref(x[i]);
    }

    // softmax_ref (ref/softmax_ref.hpp) eight lanes at a time, bit for bit: the lanes' maxima, e^x as exp_rows, the
    // eight double lane sums in registers. Only for P with has_expf8.
    static void softmax(float* s, int64_t n, float scale, const float* sink) noexcept {
        const fv sc = P::fset1(scale);
        fv m = P::fset1(-INFINITY);
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const fv v = P::fmul(P::floadu(s + i), sc);
            P::fstoreu(s + i, v);
            m = P::fmax_keep(v, m);
        }
        alignas(32) float ml[8];
        P::fstoreu(ml, m);
        float mx = -INFINITY;  // the lanes' maxima hold no NaN; any order gives the maximum (a zero's sign aside,
        for (float x : ml) mx = x > mx ? x : mx;  // which s - max does not see)
        for (; i < n; ++i) {
            s[i] = s[i] * scale;
            mx = s[i] > mx ? s[i] : mx;
        }
        if (sink) mx = std::max(mx, *sink);
        const fv mv = P::fset1(mx);
        typename P::dv lo = P::dzero(), hi = P::dzero();
        for (i = 0; i + 8 <= n; i += 8) {
            const fv v = P::fsub(P::floadu(s + i), mv);
            const int special = P::expf8_special(v);
            P::fstoreu(s + i, P::expf8_main(v));
            if (special) {
                alignas(32) float in[8];
                P::fstoreu(in, v);
                for (int l = 0; l < 8; ++l)
                    if (special >> l & 1) s[i + l] = moe::cpu::expf_ref(in[l]);
            }
            P::dadd8(P::floadu(s + i), lo, hi);
        }
        alignas(32) double lane[8];
        P::dstore8(lane, lo, hi);
        for (; i < n; ++i) lane[i % 8] += static_cast<double>(s[i] = moe::cpu::expf_ref(s[i] - mx));
        double sum = moe::cpu::lanes8_sum(lane);
        if (sink) sum += static_cast<double>(moe::cpu::expf_ref(*sink - mx));
        const float inv = static_cast<float>(1.0 / sum);
        const fv iv = P::fset1(inv);
        for (i = 0; i + 8 <= n; i += 8) P::fstoreu(s + i, P::fmul(P::floadu(s + i), iv));
        for (; i < n; ++i) s[i] = s[i] * inv;
    }

    // ggml_f32::swiglu's vector form for all n elements (u == nullptr: silu alone), eight at a time; lanes whose
    // e^-x leaves ggml_silu8's range again one by one through the scalar form. out may be g or u. W: 16 or 8.
    static void ggml_swiglu(int W, const float* g, const float* u, float* out, int64_t n) noexcept {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const fv x = P::floadu(g + i);
            int special = 0;
            fv s = P::ggml_silu8(x, W == 16, special);
            if (u != nullptr) s = P::fmul(s, P::floadu(u + i));
            if (special == 0) {
                P::fstoreu(out + i, s);
                continue;
            }
            alignas(32) float xs[8], us[8], res[8];
            P::fstoreu(xs, x);
            P::fstoreu(res, s);
            if (u != nullptr) P::fstoreu(us, P::floadu(u + i));
            for (int l = 0; l < 8; ++l)
                if (special >> l & 1)
                    moe::cpu::ggml_f32::swiglu(W, xs + l, u != nullptr ? us + l : nullptr, res + l, 1, 1);
            P::fstoreu(out + i, P::floadu(res));
        }
        moe::cpu::ggml_f32::swiglu(W, g + i, u != nullptr ? u + i : nullptr, out + i, n - i, n - i);
    }

    // binary16 <-> float rows (the f16 KV cache): groups of eight by the prims, the rest one by one. Both directions
    // are those of half.hpp: exact widening, narrowing rounded to nearest even.
    static void f16_to_f32(const uint16_t* h, float* f, int64_t n) noexcept {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) P::fstoreu(f + i, P::h2f8c(h + i));
        for (; i < n; ++i) f[i] = P::h2f(h[i]);
    }
    // rows j < `rows` of d halves, `stride` halves apart -> dst rows d floats apart. The rows of one KV head sit a page
    // or more apart, where the hardware prefetchers do not follow: each row fetches the one `ahead` rows on, also
    // past the last (the caller's next block; prefetches never fault).
    static void f16_rows_to_f32(const uint16_t* h, int64_t stride, int64_t rows, int64_t d, float* f) noexcept {
        constexpr int64_t ahead = 16;
        const int64_t lines = (d * 2 + 63) / 64;
        for (int64_t j = 0; j < rows; ++j) {
            for (int64_t l = 0; l < lines; ++l)
                __builtin_prefetch(reinterpret_cast<const char*>(h + (j + ahead) * stride) + 64 * l);
            f16_to_f32(h + j * stride, f + j * d, d);
        }
    }
    static void f32_to_f16(const float* f, uint16_t* h, int64_t n) noexcept {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) P::f2h8c(P::floadu(f + i), h + i);
        for (; i < n; ++i) h[i] = P::f2h(f[i]);
    }

    // f32: Eigen's vectorised dot as the reference's baseline (SSE) build runs it: packets of 4 in two accumulators
    // (steps of 8, lanes 0-3 and 4-7 of one eight-lane register here), the two added, an odd packet added, the
    // pairwise packet sum, then the remaining scalars one by one. Products are rounded before they are added.
    struct f32 {
        template <int NA>
        static void dot(const uint8_t* wp, const uint8_t* const* a, int64_t k, float* res) noexcept {
            const float* x = reinterpret_cast<const float*>(wp);
            for (int j = 0; j < NA; ++j) res[j] = one(x, reinterpret_cast<const float*>(a[j]), k);
        }
        static float one(const float* x, const float* y, int64_t n) noexcept {
            const int64_t n4 = n / 4 * 4, n8 = n / 8 * 8;
            float r;
            int64_t i = n4;
            if (n4 == 0) {
                if (n == 0) return 0.0f;
                r = x[0] * y[0];
                i = 1;
            } else if (n4 == 4) {
                r = P::eigen4(x, y);
            } else {
                fv acc = P::fmul8(x, y);
                for (int64_t e = 8; e < n8; e += 8) acc = P::fadd(acc, P::fmul8(x + e, y + e));
                r = P::eigen_tail(acc, n4 > n8 ? x + n8 : nullptr, y + n8);
            }
            for (; i < n; ++i) r += x[i] * y[i];
            return r;
        }
    };

    // out[j] = f32::one(x, y + j * stride, n) for j < rows: four rows at a time, so that four sums' chains of
    // dependent additions overlap; each row's operations are one()'s.
    static void dot_rows(const float* x, const float* y, int64_t stride, int64_t rows, int64_t n, float* out) noexcept {
        const int64_t n4 = n / 4 * 4, n8 = n / 8 * 8;
        int64_t j = 0;
        if (n4 >= 8) {  // one()'s general case
            for (; j + 4 <= rows; j += 4) {
                const float* yr[4];
                fv acc[4];
                MOE_SIMD_UNROLL
                for (int i = 0; i < 4; ++i) yr[i] = y + (j + i) * stride, acc[i] = P::fmul8(x, yr[i]);
                for (int64_t e = 8; e < n8; e += 8)
                    MOE_SIMD_UNROLL
                    for (int i = 0; i < 4; ++i) acc[i] = P::fadd(acc[i], P::fmul8(x + e, yr[i] + e));
                MOE_SIMD_UNROLL
                for (int i = 0; i < 4; ++i) {
                    float r = P::eigen_tail(acc[i], n4 > n8 ? x + n8 : nullptr, yr[i] + n8);
                    for (int64_t e = n4; e < n; ++e) r += x[e] * yr[i][e];
                    out[j + i] = r;
                }
            }
        }
        for (; j < rows; ++j) out[j] = f32::one(x, y + j * stride, n);
    }

    // out[i][j] = f32::one(x[i], y + j * stride, n) for i < nx and j < rows: KC::queries queries and 4
    // registers of KC::keys keys per pass, so each chunk of a key is loaded once for several queries.
    template <class PF>
    static void dot_rows_multi(const float* const* x, int nx, const float* y, int64_t stride, int64_t rows, int64_t n,
                               float* const* out) noexcept {
        using KC = key_chunks<P, PF>;
        constexpr int NQ = KC::queries, NR = 4, NK = NR * KC::keys;
        int64_t j = 0;
        if (n / 4 * 4 >= 8) {  // one()'s general case
            for (; j + NK <= rows; j += NK) {
                int i = 0;
                for (; i + NQ <= nx; i += NQ) key_pass<KC, NQ, NR>(x + i, y + j * stride, stride, n, out + i, j);
                for (; i < nx; ++i) key_pass<KC, 1, NR>(x + i, y + j * stride, stride, n, out + i, j);
            }
        }
        for (int i = 0; i < nx && j < rows; ++i) dot_rows(x[i], y + j * stride, stride, rows - j, n, out[i] + j);
    }
    template <class KC, int NQ, int NR>
    static void key_pass(const float* const* x, const float* y, int64_t stride, int64_t n, float* const* out,
                         int64_t j) noexcept {
        using F = typename KC::fv;
        constexpr int KP = KC::keys;
        const int64_t n4 = n / 4 * 4, n8 = n / 8 * 8;
        F acc[NQ][NR];
        for (int64_t e = 0; e < n8; e += 8) {
            F kv[NR];
            MOE_SIMD_UNROLL
            for (int r = 0; r < NR; ++r) kv[r] = KC::rows(y + r * KP * stride + e, stride);
            MOE_SIMD_UNROLL
            for (int i = 0; i < NQ; ++i) {
                const F xv = KC::repeat(x[i] + e);
                MOE_SIMD_UNROLL
                for (int r = 0; r < NR; ++r)
                    acc[i][r] = e == 0 ? KC::mul(xv, kv[r]) : KC::add(acc[i][r], KC::mul(xv, kv[r]));
            }
        }
        for (int i = 0; i < NQ; ++i)
            for (int r = 0; r < NR; ++r)
                for (int h = 0; h < KP; ++h) {
                    const float* yr = y + (r * KP + h) * stride;
                    float s = P::eigen_tail(KC::half(acc[i][r], h), n4 > n8 ? x[i] + n8 : nullptr, yr + n8);
                    for (int64_t e = n4; e < n; ++e) s += x[i][e] * yr[e];
                    out[i][j + r * KP + h] = s;
                }
    }

    // out[d] = out[d] + p[j] * v[j * stride + d] for j = 0, 1, .. rows - 1 in turn: axpy row after row, with 8 (then
    // 4) vectors of PF's lanes of out held in registers across the rows instead of loaded and stored once per row
    // (PF: P, or sixteen-lane primitives where the ISA has them).
    template <class PF>
    static void axpy_rows(const float* p, const float* v, int64_t stride, int64_t rows, int64_t n, float* out) noexcept {
        constexpr int L = static_cast<int>(sizeof(typename PF::fv) / sizeof(float));
        int64_t d = 0;
        for (; d + 8 * L <= n; d += 8 * L) axpy_rows_pass<PF, 8>(p, v + d, stride, rows, out + d);
        for (; d + 4 * L <= n; d += 4 * L) axpy_rows_pass<PF, 4>(p, v + d, stride, rows, out + d);
        for (int64_t j = 0; j < rows && d < n; ++j) axpy(p[j], v + j * stride + d, out + d, n - d);
    }
    template <class PF, int V>
    static void axpy_rows_pass(const float* p, const float* v, int64_t stride, int64_t rows, float* out) noexcept {
        constexpr int L = static_cast<int>(sizeof(typename PF::fv) / sizeof(float));
        typename PF::fv acc[V];
        MOE_SIMD_UNROLL
        for (int c = 0; c < V; ++c) acc[c] = PF::floadu(out + L * c);
        for (int64_t j = 0; j < rows; ++j) {
            const typename PF::fv pv = PF::fset1(p[j]);
            const float* vr = v + j * stride;
            MOE_SIMD_UNROLL
            for (int c = 0; c < V; ++c) acc[c] = PF::fadd(acc[c], PF::fmul(pv, PF::floadu(vr + L * c)));
        }
        MOE_SIMD_UNROLL
        for (int c = 0; c < V; ++c) PF::fstoreu(out + L * c, acc[c]);
    }

    // y[i] = y[i] + a * x[i], eight lanes at a time (each lane rounds the product, then the sum, as the scalar loop).
    static void axpy(float a, const float* x, float* y, int64_t n) noexcept {
        const fv av = P::fset1(a);
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) P::fstoreu(y + i, P::fadd(P::floadu(y + i), P::fmul(av, P::floadu(x + i))));
        for (; i < n; ++i) y[i] += a * x[i];
    }
};

// Whether primitives P have a 16-lane tree16 (prims_x86_512.hpp).
template <class P, class = void>
struct has_tree16 : std::false_type {};
template <class P>
struct has_tree16<P, std::void_t<decltype(P::tree16(typename P::fv{}))>> : std::true_type {};
// Whether P can spread one lane of a register over all lanes (prims_x86_512.hpp's flane).
template <class P, class = void>
struct has_flane : std::false_type {};
template <class P>
struct has_flane<P, std::void_t<decltype(static_cast<void>(P::template flane<0>(typename P::fv{})))>>
    : std::true_type {};

// llama.cpp's ggml f32 orders (ref/ggml_f32_order.hpp) over float primitives PF of L = 8 or 16 lanes, for W (the
// ggml variant's width) a multiple of L: every ggml lane is one of this ISA's lanes, fused in the same order.
template <class PF>
struct ggml_f32_kernels {
    using fv = typename PF::fv;
    static constexpr int L = static_cast<int>(sizeof(fv) / sizeof(float));

    struct add_v {  // the lane trees' additions (function objects, so they inline)
        fv operator()(fv a, fv b) const noexcept { return PF::fadd(a, b); }
    };
    struct add_f {
        float operator()(float a, float b) const noexcept { return a + b; }
    };

    // The lane tree of one W-lane accumulator (W / L vectors), ggml_vec_dot_f32's or (Tile) tinyBLAS's: in
    // registers where the ISA has ggml's 16-lane reduction (both trees are that one for 16 lanes), else over the
    // stored lanes.
    template <int W, bool Tile>
    static float lanes_tree(const fv* s) noexcept {
        if constexpr (W == 16 && L == 16 && has_tree16<PF>::value) {
            return PF::tree16(s[0]);
        } else {
            alignas(64) float l[W];
            MOE_SIMD_UNROLL
            for (int g = 0; g < W / L; ++g) PF::fstoreu(l + L * g, s[g]);
            return Tile ? moe::cpu::ggml_f32::lanes_tile(W, l, add_f{}) : moe::cpu::ggml_f32::lanes_vec(W, l, add_f{});
        }
    }

    // ggml_vec_dot_f32: four W-lane accumulators (W / L vectors each) fused over steps of 4W, paired, the lane
    // tree, then the float tail (product rounded, then added).
    template <int W>
    static float dot(const float* x, const float* y, int64_t n) noexcept {
        constexpr int G = W / L;
        fv s[4 * G];
        MOE_SIMD_UNROLL
        for (int a = 0; a < 4 * G; ++a) s[a] = PF::fzero();
        const int64_t step = 4 * W, np = n / step * step;
        for (int64_t i = 0; i < np; i += step)
            MOE_SIMD_UNROLL
            for (int a = 0; a < 4 * G; ++a) s[a] = PF::ffma(PF::floadu(x + i + L * a), PF::floadu(y + i + L * a), s[a]);
        MOE_SIMD_UNROLL
        for (int g = 0; g < G; ++g) {  // pair_accumulators, L lanes at a time
            s[g] = PF::fadd(s[g], s[2 * G + g]), s[G + g] = PF::fadd(s[G + g], s[3 * G + g]);
            s[g] = PF::fadd(s[g], s[G + g]);
        }
        float r = lanes_tree<W, false>(s);
        for (int64_t i = np; i < n; ++i) r = r + std::fma(x[i], y[i], -0.0f);
        return r;
    }

    // dot<W>(x[i], y + j * stride, n) into out[i][j] for i < nx, j < rows: two queries and NK rows per pass, so
    // each loaded chunk serves several pairs (MLA: every head of a token reads the same cache rows).
    template <int W>
    static void dot_rows_multi(const float* const* x, int nx, const float* y, int64_t stride, int64_t rows, int64_t n,
                               float* const* out) noexcept {
        constexpr int NK = L == 16 ? 2 : 1;  // 2 x 2 x 4 sixteen-lane accumulators fill half of 32 registers
        int i = 0;
        for (; i + 2 <= nx; i += 2) {
            int64_t j = 0;
            for (; j + NK <= rows; j += NK) dot_pass<W, 2, NK>(x + i, y + j * stride, stride, n, out + i, j);
            for (; j < rows; ++j) dot_pass<W, 2, 1>(x + i, y + j * stride, stride, n, out + i, j);
        }
        for (; i < nx; ++i)
            for (int64_t j = 0; j < rows; ++j) out[i][j] = dot<W>(y + j * stride, x[i], n);
    }
    template <int W, int NQ, int NK>
    static void dot_pass(const float* const* x, const float* y, int64_t stride, int64_t n, float* const* out,
                         int64_t j0) noexcept {
        constexpr int G = W / L;
        fv s[NQ][NK][4 * G];
        MOE_SIMD_UNROLL
        for (int q = 0; q < NQ; ++q)
            MOE_SIMD_UNROLL
            for (int k = 0; k < NK; ++k)
                MOE_SIMD_UNROLL
                for (int a = 0; a < 4 * G; ++a) s[q][k][a] = PF::fzero();
        const int64_t step = 4 * W, np = n / step * step;
        for (int64_t e = 0; e < np; e += step)
            MOE_SIMD_UNROLL
            for (int a = 0; a < 4 * G; ++a) {
                fv yv[NK];
                MOE_SIMD_UNROLL
                for (int k = 0; k < NK; ++k) yv[k] = PF::floadu(y + k * stride + e + L * a);
                MOE_SIMD_UNROLL
                for (int q = 0; q < NQ; ++q) {
                    const fv xv = PF::floadu(x[q] + e + L * a);
                    MOE_SIMD_UNROLL
                    for (int k = 0; k < NK; ++k) s[q][k][a] = PF::ffma(yv[k], xv, s[q][k][a]);
                }
            }
        MOE_SIMD_UNROLL
        for (int q = 0; q < NQ; ++q)
            MOE_SIMD_UNROLL
            for (int k = 0; k < NK; ++k) {
                fv* sp = s[q][k];
                MOE_SIMD_UNROLL
                for (int g = 0; g < G; ++g) {  // as dot's pairing
                    sp[g] = PF::fadd(sp[g], sp[2 * G + g]), sp[G + g] = PF::fadd(sp[G + g], sp[3 * G + g]);
                    sp[g] = PF::fadd(sp[g], sp[G + g]);
                }
                const float* yr = y + k * stride;
                float r = lanes_tree<W, false>(sp);
                for (int64_t e = np; e < n; ++e) r = r + std::fma(yr[e], x[q][e], -0.0f);
                out[q][j0 + k] = r;
            }
    }

    // tinyBLAS's inner product: one W-lane accumulator over chunks of W (n a multiple of W), the lane tree.
    template <int W>
    static float dot_tile(const float* x, const float* y, int64_t n) noexcept {
        constexpr int G = W / L;
        fv s[G];
        MOE_SIMD_UNROLL
        for (int g = 0; g < G; ++g) s[g] = PF::fzero();
        for (int64_t i = 0; i < n; i += W)
            MOE_SIMD_UNROLL
            for (int g = 0; g < G; ++g) s[g] = PF::ffma(PF::floadu(x + i + L * g), PF::floadu(y + i + L * g), s[g]);
        return lanes_tree<W, true>(s);
    }

    // weighted_rows' tinyBLAS order for L outputs (v: their first column): lane l of each takes rows l, l + W, ..
    // in turn, held in W registers, then the lane tree across those registers.
    template <int W>
    static void out_tile(const float* p, const float* v, int64_t stride, int64_t n, float* out) noexcept {
        fv a[W];
        MOE_SIMD_UNROLL
        for (int l = 0; l < W; ++l) a[l] = PF::fzero();
        tile_rows<W>(p, v, stride, n, a);
        PF::fstoreu(out, moe::cpu::ggml_f32::lanes_tile(W, a, add_v{}));
    }
    // out_tile's sums over rows 0 .. n - 1 of v (rows `stride` floats apart) into a[W]: lane l of output d in a[l]
    // takes rows l, l + W, .. in turn, whole chunks of W rows first, then the rows of the last part-chunk.
    template <int W>
    MOE_SIMD_INLINE static void tile_rows(const float* p, const float* v, int64_t stride, int64_t n, fv* a) noexcept {
        int64_t j = 0;
        if constexpr (W == L && has_flane<PF>::value)  // the chunk's W weights in one register, spread by permutes
            for (; j + W <= n; j += W)
                chunk_into(PF::floadu(p + j), v + j * stride, stride, a, std::make_integer_sequence<int, W>{});
        for (; j + W <= n; j += W)
            MOE_SIMD_UNROLL
            for (int l = 0; l < W; ++l) a[l] = PF::ffma(PF::floadu(v + (j + l) * stride), PF::fset1(p[j + l]), a[l]);
        MOE_SIMD_UNROLL
        for (int l = 0; l < W; ++l)
            if (j + l < n) a[l] = PF::ffma(PF::floadu(v + (j + l) * stride), PF::fset1(p[j + l]), a[l]);
    }
    template <int... l>
    MOE_SIMD_INLINE static void chunk_into(fv pw, const float* v, int64_t stride, fv* a,
                                           std::integer_sequence<int, l...>) noexcept {
        ((a[l] = PF::ffma(PF::floadu(v + l * stride), PF::template flane<l>(pw), a[l])), ...);
    }

    // weighted_rows (tinyBLAS's order) for nq queries p[i] over rows 0 .. n[i] - 1 of the same values: L outputs at a
    // time, the rows in blocks copied contiguous (to acc's end) that every query then adds to its W accumulators
    // (carried in acc, nq * W * L floats, between blocks); each output's operations are out_tile's. acc: nq * W * L +
    // 256 * L floats, and at least 4 * W * L.
    template <int W>
    static void weighted_rows_multi(const float* const* p, const int64_t* n, int nq, const float* v, int64_t stride,
                                    int64_t dv, float* const* out, float* acc) noexcept {
        constexpr int64_t block = 256;  // a multiple of W: a block ends between two of out_tile's chunks
        int64_t hi = 0;
        for (int i = 0; i < nq; ++i) hi = n[i] > hi ? n[i] : hi;
        const int64_t dl = dv / L * L;
        float* rows = acc + nq * W * L;
        for (int64_t d = 0; d < dl; d += L) {
            for (int64_t i = 0; i < nq * W; ++i) PF::fstoreu(acc + i * L, PF::fzero());
            for (int64_t j0 = 0; j0 < hi; j0 += block) {
                const int64_t j1 = j0 + block < hi ? j0 + block : hi;
                for (int64_t j = j0; j < j1; ++j) PF::fstoreu(rows + (j - j0) * L, PF::floadu(v + j * stride + d));
                for (int i = 0; i < nq; ++i) {
                    const int64_t e = j0 + block < n[i] ? j0 + block : n[i];
                    if (e > j0) rows_into<W>(p[i] + j0, rows, e - j0, acc + i * W * L);
                }
            }
            for (int i = 0; i < nq; ++i) {
                fv a[W];
                MOE_SIMD_UNROLL
                for (int l = 0; l < W; ++l) a[l] = PF::floadu(acc + (i * W + l) * L);
                PF::fstoreu(out[i] + d, moe::cpu::ggml_f32::lanes_tile(W, a, add_v{}));
            }
        }
        if (dl < dv)  // the last dv % L outputs, one by one as weighted_rows does
            for (int i = 0; i < nq; ++i) weighted_rows<W>(true, p[i], v + dl, stride, n[i], dv - dl, out[i] + dl, acc);
    }
    // out_tile's chunks over e packed rows of L values (the block starts at a multiple of W), accumulators loaded
    // from and stored to acc.
    template <int W>
    static void rows_into(const float* p, const float* v, int64_t e, float* acc) noexcept {
        fv a[W];
        MOE_SIMD_UNROLL
        for (int l = 0; l < W; ++l) a[l] = PF::floadu(acc + l * L);
        tile_rows<W>(p, v, L, e, a);  // a constant stride: the rows at fixed offsets
        MOE_SIMD_UNROLL
        for (int l = 0; l < W; ++l) PF::fstoreu(acc + l * L, a[l]);
    }

    // weighted_rows' ggml_vec_dot_f32 order (out_vec's arithmetic) for nq queries p[i] over the same n rows of v:
    // floats, or (T = uint16_t) binary16 rows, widened exactly on the way. Lane j % 4W of each output takes rows j,
    // j + 4W, .. in turn. vec_chunks * L outputs at a time, the rows in blocks of vec_block: a block's chunks are
    // copied into acc once, lane after lane (lane l's rows next to each other); then for each lane the
    // accumulators of vec_queries queries x the chunks stay in registers over the lane's rows of the block (one
    // load of a row's chunk serves them all), in acc between blocks; at the end, out_vec's pairing and lane tree.
    // A last part-chunk of outputs runs with zero-filled lanes, whose sums are dropped. acc: simd.hpp's
    // ggml_weighted_vec_acc_floats(nq).
    static constexpr int vec_queries = 8, vec_chunks = 2;
    static constexpr int64_t vec_block = moe::cpu::simd::ggml_weighted_vec_block;
    template <int W, class T>
    static void weighted_rows_vec_multi(const float* const* p, int nq, const T* v, int64_t stride, int64_t n,
                                        int64_t dv, float* const* out, float* acc) noexcept {
        int64_t d = 0;
        for (; d + vec_chunks * L <= dv; d += vec_chunks * L)
            vec_cols<W, vec_chunks>(p, nq, v, stride, n, d, dv, out, acc);
        for (; d < dv; d += L) vec_cols<W, 1>(p, nq, v, stride, n, d, dv, out, acc);
    }
    static fv load_value(const float* p) noexcept { return PF::floadu(p); }
    static fv load_value(const uint16_t* p) noexcept {
        if constexpr (L == 16) return PF::h2f8c2(p, p + 8);
        else return PF::h2f8c(p);
    }
    static float value_at(const float* p) noexcept { return *p; }
    static float value_at(const uint16_t* p) noexcept { return moe::fp16_to_f32(*p); }
    // Outputs d .. d + C * L - 1 (those below dv) of every query.
    template <int W, int C, class T>
    static void vec_cols(const float* const* p, int nq, const T* v, int64_t stride, int64_t n, int64_t d, int64_t dv,
                         float* const* out, float* acc) noexcept {
        constexpr int per = 4 * W;
        constexpr int64_t tpl = vec_block / per;  // a block's rows per lane
        float* buf = acc;                          // the block: [lane][row of the lane][C * L]
        float* lanes = acc + vec_block * vec_chunks * L;  // [lane][query][chunk][L]: a lane's sums side by side
        const int64_t ls = nq * C * L;                     // (4 KiB strides would share one L1 set)
        const int64_t cnt = dv - d < C * L ? dv - d : C * L;
        for (int64_t j0 = 0; j0 < n; j0 += vec_block) {
            const int64_t j1 = j0 + vec_block < n ? j0 + vec_block : n;
            for (int64_t j = j0; j < j1; ++j) {
                const T* row = v + j * stride + d;
                // the rows sit stride apart: ask for the chunk 16 rows on (also past the block: prefetches never fault)
                __builtin_prefetch(row + 16 * stride);
                if (sizeof(T) * C * L > 64) __builtin_prefetch(reinterpret_cast<const char*>(row + 16 * stride) + 64);
                float* dst = buf + (((j - j0) % per) * tpl + (j - j0) / per) * (C * L);
                if (cnt == C * L) {
                    MOE_SIMD_UNROLL
                    for (int c = 0; c < C; ++c) PF::fstoreu(dst + c * L, load_value(row + c * L));
                } else {
                    for (int64_t e = 0; e < C * L; ++e) dst[e] = e < cnt ? value_at(row + e) : 0.0f;
                }
            }
            int q = 0;
            for (; q + vec_queries <= nq; q += vec_queries)
                vec_lanes<W, C, vec_queries>(p + q, j0, j1, buf, lanes + q * C * L, ls);
            for (; q + 2 <= nq; q += 2) vec_lanes<W, C, 2>(p + q, j0, j1, buf, lanes + q * C * L, ls);
            for (; q < nq; ++q) vec_lanes<W, C, 1>(p + q, j0, j1, buf, lanes + q * C * L, ls);
        }
        for (int q = 0; q < nq; ++q)
            for (int c = 0; c < C && c * L < cnt; ++c) {
                fv lv[per];
                const float* a = lanes + (q * C + c) * L;
                MOE_SIMD_UNROLL
                for (int l = 0; l < per; ++l) lv[l] = n == 0 ? PF::fzero() : PF::floadu(a + l * ls);
                moe::cpu::ggml_f32::pair_accumulators(W, lv, add_v{});
                const fv r = moe::cpu::ggml_f32::lanes_vec(W, lv, add_v{});
                if (cnt - c * L >= L) {
                    PF::fstoreu(out[q] + d + c * L, r);
                } else {
                    alignas(64) float t[L];
                    PF::fstoreu(t, r);
                    for (int64_t e = 0; e < cnt - c * L; ++e) out[q][d + c * L + e] = t[e];
                }
            }
    }
    // Rows j0 .. j1 - 1 (in buf, lane-major) into the lanes of Q queries (lane l's Q x C sums at lanes + l * ls,
    // carried from the previous block unless j0 is 0).
    template <int W, int C, int Q>
    static void vec_lanes(const float* const* p, int64_t j0, int64_t j1, const float* buf, float* lanes,
                          int64_t ls) noexcept {
        constexpr int per = 4 * W;
        constexpr int64_t tpl = vec_block / per;
        for (int l = 0; l < per; ++l) {
            fv a[Q][C];
            MOE_SIMD_UNROLL
            for (int q = 0; q < Q; ++q)
                MOE_SIMD_UNROLL
                for (int c = 0; c < C; ++c)
                    a[q][c] = j0 == 0 ? PF::fzero() : PF::floadu(lanes + l * ls + (q * C + c) * L);
            const float* x = buf + l * tpl * (C * L);
            for (int64_t j = j0 + l; j < j1; j += per, x += C * L) {
                fv xv[C];
                MOE_SIMD_UNROLL
                for (int c = 0; c < C; ++c) xv[c] = PF::floadu(x + c * L);
                MOE_SIMD_UNROLL
                for (int q = 0; q < Q; ++q) {
                    const fv pq = PF::fset1(p[q][j]);
                    MOE_SIMD_UNROLL
                    for (int c = 0; c < C; ++c) a[q][c] = PF::ffma(xv[c], pq, a[q][c]);
                }
            }
            MOE_SIMD_UNROLL
            for (int q = 0; q < Q; ++q)
                MOE_SIMD_UNROLL
                for (int c = 0; c < C; ++c) PF::fstoreu(lanes + l * ls + (q * C + c) * L, a[q][c]);
        }
    }

    // weighted_rows' ggml_vec_dot_f32 order (one query) for L outputs: 4W accumulator lanes per output, too many for
    // registers, kept in acc (4W x L floats, in L1): lane j % 4W of each takes row j, then the pairing and the tree.
    template <int W>
    static void out_vec(const float* p, const float* v, int64_t stride, int64_t n, float* out, float* acc) noexcept {
        constexpr int per = 4 * W;
        std::memset(acc, 0, static_cast<size_t>(per * L) * sizeof(float));
        for (int64_t j = 0; j < n; ++j) {
            float* a = acc + (j % per) * L;
            PF::fstoreu(a, PF::ffma(PF::floadu(v + j * stride), PF::fset1(p[j]), PF::floadu(a)));
        }
        fv lv[per];
        MOE_SIMD_UNROLL
        for (int l = 0; l < per; ++l) lv[l] = PF::floadu(acc + l * L);
        moe::cpu::ggml_f32::pair_accumulators(W, lv, add_v{});
        PF::fstoreu(out, moe::cpu::ggml_f32::lanes_vec(W, lv, add_v{}));
    }

    // ggml_f32::weighted_rows: out[d] = sum over j < n of p[j] * v[j * stride + d], each output's accumulator
    // lanes fused in j order (lane j % W for tinyBLAS, j % 4W for ggml_vec_dot_f32), then its lane tree: L outputs
    // at a time (out_tile / out_vec), the last dv % L one by one. acc: 4 * W * max(L, dv % L) floats.
    template <int W>
    static void weighted_rows(bool tile, const float* p, const float* v, int64_t stride, int64_t n, int64_t dv,
                              float* out, float* acc) noexcept {
        const int64_t per = tile ? W : 4 * W, dl = dv / L * L;
        for (int64_t d = 0; d < dl; d += L) {
            if (tile) out_tile<W>(p, v + d, stride, n, out + d);
            else out_vec<W>(p, v + d, stride, n, out + d, acc);
        }
        float lf[4 * W];
        for (int64_t d = dl; d < dv; ++d) {
            for (int64_t l = 0; l < per; ++l) lf[l] = 0.0f;
            for (int64_t j = 0; j < n; ++j) lf[j % per] = std::fma(v[j * stride + d], p[j], lf[j % per]);
            if (!tile) moe::cpu::ggml_f32::pair_accumulators(W, lf, add_f{});
            out[d] = tile ? moe::cpu::ggml_f32::lanes_tile(W, lf, add_f{})
                          : moe::cpu::ggml_f32::lanes_vec(W, lf, add_f{});
        }
    }
};

// The table's entries: W = 16 through P16's kernels (sixteen lanes where the ISA has them), W = 8 through P8's.
template <class P8, class P16>
struct ggml_f32_entries {
    using K8 = ggml_f32_kernels<P8>;
    using K16 = ggml_f32_kernels<P16>;
    static float dot(int W, const float* x, const float* y, int64_t n) noexcept {
        return W == 16 ? K16::template dot<16>(x, y, n) : K8::template dot<8>(x, y, n);
    }
    static float dot_tile(int W, const float* x, const float* y, int64_t n) noexcept {
        return W == 16 ? K16::template dot_tile<16>(x, y, n) : K8::template dot_tile<8>(x, y, n);
    }
    static void dot_rows_multi(int W, const float* const* x, int nx, const float* y, int64_t stride, int64_t rows,
                               int64_t n, float* const* out) noexcept {
        if (W == 16) K16::template dot_rows_multi<16>(x, nx, y, stride, rows, n, out);
        else K8::template dot_rows_multi<8>(x, nx, y, stride, rows, n, out);
    }
    static void weighted_rows_multi(int W, const float* const* p, const int64_t* n, int nq, const float* v,
                                    int64_t stride, int64_t dv, float* const* out, float* acc) noexcept {
        if (W == 16) K16::template weighted_rows_multi<16>(p, n, nq, v, stride, dv, out, acc);
        else K8::template weighted_rows_multi<8>(p, n, nq, v, stride, dv, out, acc);
    }
    template <class T>
    static void weighted_rows_vec_multi(int W, const float* const* p, int nq, const T* v, int64_t stride, int64_t n,
                                        int64_t dv, float* const* out, float* acc) noexcept {
        if (W == 16) K16::template weighted_rows_vec_multi<16>(p, nq, v, stride, n, dv, out, acc);
        else K8::template weighted_rows_vec_multi<8>(p, nq, v, stride, n, dv, out, acc);
    }
    static void weighted_rows(int W, bool tile, const float* p, const float* v, int64_t stride, int64_t n, int64_t dv,
                              float* out, float* acc) noexcept {
        if (W == 16) K16::template weighted_rows<16>(tile, p, v, stride, n, dv, out, acc);
        else K8::template weighted_rows<8>(tile, p, v, stride, n, dv, out, acc);
    }
};

}  // namespace
