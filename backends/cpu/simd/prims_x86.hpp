// prims_x86.hpp — the x86 building blocks of the kernels: int8 dot products into llama.cpp's eight int32 lanes,
// eight-lane float accumulation in the reference's order. Included only by kernels_avx2.cpp and kernels_avx512.cpp
// (prims_neon.hpp is the aarch64 counterpart).
// Before: blocks in memory. After: kernels_impl.hpp builds every type's dot product from these.
//
// Everything here has internal linkage (anonymous namespace, intrinsics only): a function compiled for AVX-512 can
// never be picked by the linker for a caller in the AVX2 or baseline code.
#pragma once

#include "backends/cpu/ref/expf_ref.hpp"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace {

// VNNI: AVX-512 VNNI + VL (vpdpbusd / vpdpwssd on 256-bit registers); otherwise AVX2 maddubs / madd.
template <bool VNNI>
struct x86_prims {
    using iv = __m256i;  // 32 int8 values, or the eight int32 lanes
    using fv = __m256;   // eight float lanes

    // Register tile of the q8_0 kernel: weight rows x activation rows (AVX-512 builds have 32 vector registers).
    static constexpr int tile_rows = VNNI ? 4 : 2, tile_acts = 4;
    // Activation rows of the q4_0 GEMM with eight weight rows in the lanes (its accumulators: one register each).
    static constexpr int tile_acts_rows8 = VNNI ? 8 : 4;
    // dot_u exact for every u8 (vpdpbusd; AVX2's maddubs saturates its 16-bit pair sums): the q8_0x8 kernel
    static constexpr bool exact_dot_u = VNNI;

    static iv load(const void* p) noexcept { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
    static iv zero() noexcept { return _mm256_setzero_si256(); }
    static iv set8(int v) noexcept { return _mm256_set1_epi8(static_cast<char>(v)); }
    static iv set16(int v) noexcept { return _mm256_set1_epi16(static_cast<short>(v)); }
    // 16-bit lanes 0-7 (int32 lanes 0-3) get lo, 8-15 get hi.
    static iv set16x2(int lo, int hi) noexcept {
        return _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(hi)), _mm_set1_epi16(static_cast<short>(lo)));
    }
    static iv set32(int32_t v) noexcept { return _mm256_set1_epi32(v); }
    // The four bytes at p in every int32 lane.
    static iv bcast32(const int8_t* p) noexcept {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm256_set1_epi32(v);
    }
    // v[r] int32 lane m -> v[m] lane r (an 8 x 8 transpose of int32 lanes).
    static void transpose8x32(iv* v) noexcept {
        iv t[8], u[8];
        for (int h = 0; h < 8; h += 4) {
            t[h] = _mm256_unpacklo_epi32(v[h], v[h + 1]);
            t[h + 1] = _mm256_unpackhi_epi32(v[h], v[h + 1]);
            t[h + 2] = _mm256_unpacklo_epi32(v[h + 2], v[h + 3]);
            t[h + 3] = _mm256_unpackhi_epi32(v[h + 2], v[h + 3]);
            u[h] = _mm256_unpacklo_epi64(t[h], t[h + 2]);      // lanes 0 | 4 of rows h .. h + 3
            u[h + 1] = _mm256_unpackhi_epi64(t[h], t[h + 2]);  // 1 | 5
            u[h + 2] = _mm256_unpacklo_epi64(t[h + 1], t[h + 3]);  // 2 | 6
            u[h + 3] = _mm256_unpackhi_epi64(t[h + 1], t[h + 3]);  // 3 | 7
        }
        for (int m = 0; m < 4; ++m) {
            v[m] = _mm256_permute2x128_si256(u[m], u[m + 4], 0x20);
            v[m + 4] = _mm256_permute2x128_si256(u[m], u[m + 4], 0x31);
        }
    }
    static iv and_(iv a, iv b) noexcept { return _mm256_and_si256(a, b); }
    static iv or_(iv a, iv b) noexcept { return _mm256_or_si256(a, b); }
    static iv add32(iv a, iv b) noexcept { return _mm256_add_epi32(a, b); }
    static iv sub32(iv a, iv b) noexcept { return _mm256_sub_epi32(a, b); }
    static iv mullo32(iv a, iv b) noexcept { return _mm256_mullo_epi32(a, b); }
    static iv sub8(iv a, iv b) noexcept { return _mm256_sub_epi8(a, b); }
    static iv srl16(iv a, int s) noexcept { return _mm256_srl_epi16(a, _mm_cvtsi32_si128(s)); }
    static iv sll16(iv a, int s) noexcept { return _mm256_sll_epi16(a, _mm_cvtsi32_si128(s)); }
    static iv sll32(iv a, int s) noexcept { return _mm256_sll_epi32(a, _mm_cvtsi32_si128(s)); }

    // 16 bytes of nibbles -> 32 values: the low nibbles (values 0..15), then the high nibbles (16..31).
    static iv nibbles16(const uint8_t* p) noexcept {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0f));
    }
    static iv lo4(iv q) noexcept { return _mm256_and_si256(q, _mm256_set1_epi8(0x0f)); }
    static iv hi4(iv q) noexcept { return _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0f)); }
    // 16-entry int8 table lookup of values 0..15.
    static iv lut(const int8_t* table, iv idx) noexcept {
        const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(table));
        return _mm256_shuffle_epi8(_mm256_set_m128i(t, t), idx);
    }
    // 16 int8 -> 16 int16.
    static iv widen8(const int8_t* p) noexcept {
        return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    // 8 bytes 0..127 -> 16 int16 lanes, each byte twice: b0, b0, b1, b1, .. b7, b7.
    static iv dup_widen8(const uint8_t* p) noexcept {
        const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
    }
    static iv load16(const int16_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static iv madd16(iv a, iv b) noexcept { return _mm256_madd_epi16(a, b); }

    // ---- int8 products: int32 lane m = the products of elements 4m..4m+3 (exact) ----------------------------------

    // acc + u . y for u unsigned 0..127 (values from nibbles and bit fields), y any int8.
    static iv dot_u(iv acc, iv u, iv y) noexcept {
        if constexpr (VNNI) {
            return _mm256_dpbusd_epi32(acc, u, y);
        } else {
            return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1)));
        }
    }
    // AVX2's q4_0 lanes kernel sums a block's eight nibble dots in 16 bits: maddubs's pair sums of nibbles (0..15)
    // and int8 are at most 2 * 15 * 128 = 3840 in size, eight of them 30720 < 32768, so nothing saturates or wraps
    // and one widening per block gives the same int32 sum as dot_u eight times.
    static constexpr bool nibble_sums16 = !VNNI;
    static iv dot_u16(iv u, iv y) noexcept { return _mm256_maddubs_epi16(u, y); }  // u . y pairs, 16-bit lanes
    static iv add16(iv a, iv b) noexcept { return _mm256_add_epi16(a, b); }
    static iv widen16(iv acc, iv s16) noexcept {
        return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
    }
    // acc + scale * (u . y) per lane; s16: the scale in the 16-bit lanes (|u . y pair| <= 127 * 128 * 2).
    static iv dot_u_scaled(iv acc, iv u, iv y, iv s16) noexcept {
        if constexpr (VNNI) {
            return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, y), s16);
        } else {
            return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), s16));
        }
    }
    // acc + v . y for v in -127..127 (never -128), y any int8: |y| unsigned times v carrying y's sign, exact.
    static iv dot_small(iv acc, iv v, iv y) noexcept { return dot_u(acc, _mm256_abs_epi8(y), _mm256_sign_epi8(v, y)); }
    // acc + x . y for any int8 x and y (q8_0 weights may hold -128): sign-extended 16-bit products.
    static iv dot_any(iv acc, iv x, iv y) noexcept {
        if (_mm256_testz_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(-128)), _mm256_set1_epi8(-1)))
            return dot_small(acc, x, y);
        const iv lo = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(x)),
                                        _mm256_cvtepi8_epi16(_mm256_castsi256_si128(y)));
        const iv hi = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(x, 1)),
                                        _mm256_cvtepi8_epi16(_mm256_extracti128_si256(y, 1)));
        // hadd gives lanes (0, 1, 4, 5 | 2, 3, 6, 7); put them back in order
        return _mm256_add_epi32(acc, _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo, hi), 0xd8));
    }

    // The q8_0 tile's split of dot_any: prep8(y) once per activation block, then dot_prepped for every weight block
    // x without a -128 (has_min8 false): |y| unsigned times x carrying y's sign, exact (|y| <= 128, |x| <= 127).
    static iv prep8(iv y) noexcept { return _mm256_abs_epi8(y); }
    static bool has_min8(iv x) noexcept {
        return !_mm256_testz_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(-128)), _mm256_set1_epi8(-1));
    }
    static iv dot_prepped(iv acc, iv x, iv y, iv y_prep) noexcept { return dot_u(acc, y_prep, _mm256_sign_epi8(x, y)); }

    // ---- integer totals -------------------------------------------------------------------------------------------

    static int32_t hsum32(iv v) noexcept {
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        return _mm_cvtsi128_si32(s);
    }
    // Lane i of the result = the sum of the eight lanes of q[i].
    static iv totals8(const iv* q) noexcept {
        const iv a = _mm256_hadd_epi32(_mm256_hadd_epi32(q[0], q[1]), _mm256_hadd_epi32(q[2], q[3]));
        const iv b = _mm256_hadd_epi32(_mm256_hadd_epi32(q[4], q[5]), _mm256_hadd_epi32(q[6], q[7]));
        return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
    }

    // ---- floats ---------------------------------------------------------------------------------------------------

    // Vector forms: clang's scalar _cvtss_sh/_cvtsh_ss macros use compound literals, which -Wpedantic rejects in C++.
    static float h2f(uint16_t h) noexcept { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }
    static uint16_t f2h(float f) noexcept {
        return static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0));
    }
    static fv fzero() noexcept { return _mm256_setzero_ps(); }
    // acc = fma(d, float(s), acc) per lane.
    static fv fmadd(float d, iv s, fv acc) noexcept {
        return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc);
    }
    static fv fset1(float d) noexcept { return _mm256_set1_ps(d); }
    static fv floadu(const float* p) noexcept { return _mm256_loadu_ps(p); }
    static void fstoreu(float* p, fv v) noexcept { _mm256_storeu_ps(p, v); }
    static fv cvtf(iv s) noexcept { return _mm256_cvtepi32_ps(s); }
    // The eight halves *p[0] .. *p[7] -> eight floats (inserted one by one: eight narrow stores read back as one
    // vector would stall on store forwarding).
    static fv h2f8(const uint16_t* const* p) noexcept {
        __m128i v = _mm_cvtsi32_si128(*p[0]);
        v = _mm_insert_epi16(v, *p[1], 1);
        v = _mm_insert_epi16(v, *p[2], 2);
        v = _mm_insert_epi16(v, *p[3], 3);
        v = _mm_insert_epi16(v, *p[4], 4);
        v = _mm_insert_epi16(v, *p[5], 5);
        v = _mm_insert_epi16(v, *p[6], 6);
        v = _mm_insert_epi16(v, *p[7], 7);
        return _mm256_cvtph_ps(v);
    }
    // expf_main (ref/expf_ref.hpp) of eight floats, lane for lane: the same double operations, fused where it fuses;
    // expf8_special: the lanes (bit mask) where |x| >= 88 or x is NaN, which expf_ref treats apart.
    static fv expf8_main(fv x) noexcept {
        namespace d = moe::cpu::expf_data;
        const __m256d inv = _mm256_set1_pd(d::inv_ln2_32), sh = _mm256_set1_pd(d::shift), one = _mm256_set1_pd(1.0);
        const __m256d c0 = _mm256_set1_pd(d::c0), c1 = _mm256_set1_pd(d::c1), c2 = _mm256_set1_pd(d::c2);
        __m128 half[2];
        for (int h = 0; h < 2; ++h) {
            const __m256d xd = _mm256_cvtps_pd(h ? _mm256_extractf128_ps(x, 1) : _mm256_castps256_ps128(x));
            const __m256d z = _mm256_fmadd_pd(inv, xd, sh);
            const __m256i ki = _mm256_castpd_si256(z);
            const __m256d kd = _mm256_sub_pd(z, sh);
            const __m256d r = _mm256_fmsub_pd(inv, xd, kd);
            const __m256i t = _mm256_i64gather_epi64(reinterpret_cast<const long long*>(d::tab),
                                                     _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
            const __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
            const __m256d p = _mm256_fmadd_pd(r, c0, c1), r2 = _mm256_mul_pd(r, r), y = _mm256_fmadd_pd(r, c2, one);
            half[h] = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_fmadd_pd(p, r2, y), s));
        }
        return _mm256_insertf128_ps(_mm256_castps128_ps256(half[0]), half[1], 1);
    }
    // The softmax's double lanes (ref/softmax_ref.hpp): eight floats widened into two vectors of four doubles (lanes
    // 0-3 and 4-7) and added; and per-lane v > m ? v : m (maxps returns its second operand on NaN or equality).
    using dv = __m256d;
    static dv dzero() noexcept { return _mm256_setzero_pd(); }
    static void dadd8(fv v, dv& lo, dv& hi) noexcept {
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    static void dstore8(double* p, dv lo, dv hi) noexcept {
        _mm256_storeu_pd(p, lo);
        _mm256_storeu_pd(p + 4, hi);
    }
    static fv fmax_keep(fv v, fv m) noexcept { return _mm256_max_ps(v, m); }
    static int expf8_special(fv x) noexcept {
        const __m256i a = _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
        const __m256i big = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(static_cast<int>(moe::cpu::expf_data::big) - 1));
        return _mm256_movemask_ps(_mm256_castsi256_ps(big));
    }
    // ggml_v_silu of eight lanes, x / (1 + ggml_v_expf(0 - x)), ggml_v_expf in its AVX-512 form (scalef_form: 2^n
    // by scalef) or AVX2 form (ref/ggml_f32_order.hpp), bit for bit where the lane's power of two n has |n| <= 126
    // (there 2^n is a normal float, and j * 2^n rounds once as scalef does); special: the lanes (bit mask) where
    // |n| > 126 or NaN, which the caller takes through the scalar form.
    static fv ggml_silu8(fv x, bool scalef_form, int& special) noexcept {
        const fv r = _mm256_set1_ps(0x1.8p23f), one = _mm256_set1_ps(1.0f);
        const fv xn = _mm256_sub_ps(_mm256_setzero_ps(), x);
        const fv z = _mm256_fmadd_ps(xn, _mm256_set1_ps(0x1.715476p+0f), r);
        const fv n = _mm256_sub_ps(z, r);
        const fv b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), xn));
        const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
        const fv k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(one)));  // 2^n
        special = _mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n), _mm256_set1_ps(126.0f), _CMP_NLE_UQ));
        const fv u = _mm256_mul_ps(b, b);
        const fv p = _mm256_fmadd_ps(
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f)));
        const fv c1 = _mm256_set1_ps(0x1.ffffecp-1f);
        const fv ex = scalef_form ? _mm256_mul_ps(_mm256_fmadd_ps(p, u, _mm256_fmadd_ps(c1, b, one)), k)
                                  : _mm256_fmadd_ps(_mm256_fmadd_ps(p, u, _mm256_mul_ps(c1, b)), k, k);
        return _mm256_div_ps(x, _mm256_add_ps(one, ex));
    }
    // The eight contiguous halves at p -> eight floats.
    static fv h2f8c(const uint16_t* p) noexcept {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    // Eight floats -> the eight contiguous halves at p, rounded to nearest even (as f32_to_fp16).
    static void f2h8c(fv v, uint16_t* p) noexcept {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    // The eight contiguous bfloat16 at p -> eight floats (exact: the bits shifted into the high half).
    static fv bf2f8c(const uint16_t* p) noexcept {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    // The N floats at p repeated to fill eight lanes (N = 1, 2, 4).
    template <int N>
    static fv frepeat(const float* p) noexcept {
        if constexpr (N == 1) return _mm256_broadcast_ss(p);
        else if constexpr (N == 2) return _mm256_castpd_ps(_mm256_broadcast_sd(reinterpret_cast<const double*>(p)));
        else return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p));
    }
    static fv fmul(fv a, fv b) noexcept { return _mm256_mul_ps(a, b); }
    static fv ffma(fv a, fv b, fv c) noexcept { return _mm256_fmadd_ps(a, b, c); }  // a * b + c, rounded once
    static fv fsub(fv a, fv b) noexcept { return _mm256_sub_ps(a, b); }
    // acc = fma(d, float(s), acc) per lane, d already in every lane.
    static fv fmadd_v(fv d, iv s, fv acc) noexcept { return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc); }
    // (v0 + v4) + (v2 + v6) + ((v1 + v5) + (v3 + v7)): the reference's hsum.
    static float hsum(fv v) noexcept {
        const __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
        const __m128 t = _mm_add_ps(r, _mm_movehl_ps(r, r));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
    }
    static void cvt(iv t, float* out) noexcept { _mm256_storeu_ps(out, _mm256_cvtepi32_ps(t)); }

    // Eigen's SSE float dot (see kernels_impl.hpp): products of eight, and the 4-lane halves of an accumulator.
    static fv fmul8(const float* x, const float* y) noexcept {
        return _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(y));
    }
    static fv fadd(fv a, fv b) noexcept { return _mm256_add_ps(a, b); }
    // lanes 0-3 + lanes 4-7 (+ the products x[0..3] * y[0..3] when x is not null), then (r0 + r2) + (r1 + r3).
    static float eigen_tail(fv acc8, const float* x, const float* y) noexcept {
        __m128 r = _mm_add_ps(_mm256_castps256_ps128(acc8), _mm256_extractf128_ps(acc8, 1));
        if (x != nullptr) r = _mm_add_ps(r, _mm_mul_ps(_mm_loadu_ps(x), _mm_loadu_ps(y)));
        const __m128 t = _mm_add_ps(r, _mm_movehl_ps(r, r));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    static float eigen4(const float* x, const float* y) noexcept {
        const __m128 r = _mm_mul_ps(_mm_loadu_ps(x), _mm_loadu_ps(y));
        const __m128 t = _mm_add_ps(r, _mm_movehl_ps(r, r));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
};

}  // namespace
