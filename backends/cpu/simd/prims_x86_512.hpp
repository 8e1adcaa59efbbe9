// prims_x86_512.hpp — the 512-bit building blocks of the AVX-512 table's packed tiles (sixteen int32 / float lanes:
// two of the loader's eight-row groups side by side, rows 0-7 from one group, 8-15 from the next) and of llama.cpp's
// 16-wide f32 orders (kernels_f32.hpp).
// Before: prims_x86.hpp (the eight-lane primitives, used for everything else). After: kernels_packed.hpp's tiles.
//
// Only the operations those kernels use are here; each lane does exactly what an eight-lane kernel's lane
// does, so results stay bit-identical. Included only by kernels_avx512.cpp (internal linkage, as prims_x86.hpp).
#pragma once

#include "backends/cpu/simd/prims_x86.hpp"

namespace {

struct x86_prims16 {
    using iv = __m512i;  // sixteen int32 lanes (64 int8 values)
    using fv = __m512;   // sixteen float lanes
    using narrow = x86_prims<true>;  // per-activation tables and anything over one 32-byte block
    static constexpr int tile_acts_rows8 = narrow::tile_acts_rows8;
    static constexpr bool exact_dot_u = true;

    // 32 bytes at p in lanes 0-7 and 32 bytes at q in lanes 8-15.
    static iv load2(const void* p, const void* q) noexcept {
        return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(p))),
                                  _mm256_loadu_si256(static_cast<const __m256i*>(q)), 1);
    }
    static iv lo4(iv q) noexcept { return _mm512_and_si512(q, _mm512_set1_epi8(0x0f)); }
    static iv hi4(iv q) noexcept { return _mm512_and_si512(_mm512_srli_epi16(q, 4), _mm512_set1_epi8(0x0f)); }
    // The four bytes at p in every int32 lane.
    static iv bcast32(const int8_t* p) noexcept {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm512_set1_epi32(v);
    }
    // acc + u . y per int32 lane (u unsigned, y signed: vpdpbusd, exact).
    static iv dot_u(iv acc, iv u, iv y) noexcept { return _mm512_dpbusd_epi32(acc, u, y); }
    static iv zero() noexcept { return _mm512_setzero_si512(); }
    static iv load(const void* p) noexcept { return _mm512_loadu_si512(p); }  // 64 bytes
    static iv add32(iv a, iv b) noexcept { return _mm512_add_epi32(a, b); }
    static iv sub32(iv a, iv b) noexcept { return _mm512_sub_epi32(a, b); }
    static iv mullo32(iv a, iv b) noexcept { return _mm512_mullo_epi32(a, b); }
    static iv madd16(iv a, iv b) noexcept { return _mm512_madd_epi16(a, b); }
    // An eight-lane register of the first group in lanes 0-7 and one of the next group in lanes 8-15.
    static iv join(__m256i lo, __m256i hi) noexcept { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
    static fv fjoin(__m256 lo, __m256 hi) noexcept { return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1); }
    static fv fsub(fv a, fv b) noexcept { return _mm512_sub_ps(a, b); }
    // 32 bytes at p in both halves; half h (0: lanes 0-7) as an eight-lane register.
    static iv bcast256(const void* p) noexcept {
        return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
    }
    // Int32 lane m of v in lanes 0-7 and lane m + 1 in lanes 8-15 (an activation's quads for two vectors of a
    // block side by side).
    template <int m>
    static iv quad_pair(iv v) noexcept {
        return _mm512_permutexvar_epi32(_mm512_setr_epi32(m, m, m, m, m, m, m, m, m + 1, m + 1, m + 1, m + 1, m + 1,
                                                          m + 1, m + 1, m + 1),
                                        v);
    }
    static __m256i half(iv v, int h) noexcept {
        return h ? _mm512_extracti64x4_epi64(v, 1) : _mm512_castsi512_si256(v);
    }
    // q6_k's two-chunk registers: bytes, masks, per-half shifts (64-bit lanes), the 16-bit lane spread of its scales.
    static iv set8(int v) noexcept { return _mm512_set1_epi8(static_cast<char>(v)); }
    static iv and_(iv a, iv b) noexcept { return _mm512_and_si512(a, b); }
    static iv or_(iv a, iv b) noexcept { return _mm512_or_si512(a, b); }
    static iv shift_halves_left(iv v, int lo, int hi) noexcept {
        return _mm512_sllv_epi64(v, _mm512_setr_epi64(lo, lo, lo, lo, hi, hi, hi, hi));
    }
    static iv shift_halves_right(iv v, int lo, int hi) noexcept {
        return _mm512_srlv_epi64(v, _mm512_setr_epi64(lo, lo, lo, lo, hi, hi, hi, hi));
    }
    // sum over t < 8 of m[t] * int16(b[2t] + b[2t + 1]): the 16-bit pair sums wrap as int16 casts do, the products
    // and their total are exact int32 (q5_k's min term).
    static int32_t pair_sums_dot(const int16_t* b, const int* m) noexcept {
        const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)),
                                             _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 8)));
        const __m128i mm = _mm_packs_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m)),
                                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(m + 4)));
        __m128i p = _mm_madd_epi16(pairs, mm);
        p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4e));
        p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xb1));
        return _mm_cvtsi128_si32(p);
    }
    // 16-bit lanes 0-15 get a, 16-31 get b.
    static iv set16w(int a, int b) noexcept {
        return join(_mm256_set1_epi16(static_cast<short>(a)), _mm256_set1_epi16(static_cast<short>(b)));
    }
    // 16-bit lanes 8q .. 8q + 7 (q < 4) of the result: lane s + q of the sixteen 16-bit lanes v.
    static iv spread16(__m256i v, int s) noexcept {
        const long long q1 = 0x0001000100010001LL, q2 = 2 * q1, q3 = 3 * q1;
        const __m512i quarter = _mm512_setr_epi64(0, 0, q1, q1, q2, q2, q3, q3);
        const __m512i idx = _mm512_add_epi16(quarter, _mm512_set1_epi16(static_cast<short>(s)));
        return _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(v));
    }
    // narrow::dot_u_scaled on both halves: acc + madd(maddubs(u, y), s16), each byte pair's saturation as there.
    static iv dot_u_scaled(iv acc, iv u, iv y, iv s16) noexcept {
        return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, y), s16);
    }
    // narrow::transpose8x32 on both halves at once: v[r]'s half h holds row 8h + r; afterwards v[m]'s half h holds
    // int32 lane m of rows 8h .. 8h + 7 (the unpacks work within 128-bit lanes; one two-source permute per output
    // replaces permute2x128 within each half).
    static void transpose2x8x32(iv* v) noexcept {
        iv t[8], u[8];
        for (int h = 0; h < 8; h += 4) {
            t[h] = _mm512_unpacklo_epi32(v[h], v[h + 1]);
            t[h + 1] = _mm512_unpackhi_epi32(v[h], v[h + 1]);
            t[h + 2] = _mm512_unpacklo_epi32(v[h + 2], v[h + 3]);
            t[h + 3] = _mm512_unpackhi_epi32(v[h + 2], v[h + 3]);
            u[h] = _mm512_unpacklo_epi64(t[h], t[h + 2]);
            u[h + 1] = _mm512_unpackhi_epi64(t[h], t[h + 2]);
            u[h + 2] = _mm512_unpacklo_epi64(t[h + 1], t[h + 3]);
            u[h + 3] = _mm512_unpackhi_epi64(t[h + 1], t[h + 3]);
        }
        const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
        const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
        for (int m = 0; m < 4; ++m) {
            v[m] = _mm512_permutex2var_epi64(u[m], lo, u[m + 4]);
            v[m + 4] = _mm512_permutex2var_epi64(u[m], hi, u[m + 4]);
        }
    }

    static fv fzero() noexcept { return _mm512_setzero_ps(); }
    static fv fset1(float d) noexcept { return _mm512_set1_ps(d); }
    static fv cvtf(iv s) noexcept { return _mm512_cvtepi32_ps(s); }
    static fv fadd(fv a, fv b) noexcept { return _mm512_add_ps(a, b); }
    static fv fmul(fv a, fv b) noexcept { return _mm512_mul_ps(a, b); }
    // acc = fma(d, float(s), acc) per lane.
    static fv fmadd_v(fv d, iv s, fv acc) noexcept { return _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc); }
    static void fstoreu(float* p, fv v) noexcept { _mm512_storeu_ps(p, v); }
    static fv floadu(const float* p) noexcept { return _mm512_loadu_ps(p); }
    // Eight floats at p in lanes 0-7 and eight at q in lanes 8-15; the eight at p in both halves; half h (0: lanes
    // 0-7) as an eight-lane register. Attention's score dots hold two keys per register with them.
    static fv fload2(const float* p, const float* q) noexcept {
        return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(p)), _mm256_loadu_ps(q), 1);
    }
    static fv fbcast8(const float* p) noexcept { return _mm512_broadcast_f32x8(_mm256_loadu_ps(p)); }
    // Lane l of v in every lane: a permute where a broadcast would be one more load (the value sums are load-bound).
    template <int l>
    static fv flane(fv v) noexcept { return _mm512_permutexvar_ps(_mm512_set1_epi32(l), v); }
    static __m256 half8(fv v, int h) noexcept { return h ? _mm512_extractf32x8_ps(v, 1) : _mm512_castps512_ps256(v); }
    // ggml's 16-lane tree (_mm512_reduce_add_ps: upper half onto the lower, quarters, then (0 + 2) + (1 + 3)).
    static float tree16(fv v) noexcept {
        const __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
        const __m128 q = _mm_add_ps(_mm256_extractf128_ps(h, 1), _mm256_castps256_ps128(h));
        const __m128 t = _mm_add_ps(q, _mm_movehl_ps(q, q));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
    }
    static fv ffma(fv a, fv b, fv c) noexcept { return _mm512_fmadd_ps(a, b, c); }  // a * b + c, rounded once
    // Eight halves at p (lanes 0-7) and eight at q (lanes 8-15) -> sixteen floats.
    static fv h2f8c2(const uint16_t* p, const uint16_t* q) noexcept {
        return _mm512_cvtph_ps(_mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), 1));
    }
    // The same for bfloat16 (exact: the bits shifted into the high half).
    static fv bf2f8c2(const uint16_t* p, const uint16_t* q) noexcept {
        const __m256i h = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), 1);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
};

}  // namespace
