// prims_neon.hpp — the aarch64 building blocks of the kernels: the same 32-byte registers as prims_x86.hpp (two NEON
// registers, bytes 0-15 and 16-31), int8 dot products into the same eight int32 lanes (sdot where the file is built
// with +dotprod, widening multiplies and pairwise adds otherwise), the eight-lane float accumulation in the reference's
// order. Included only by kernels_neon.cpp (baseline ARMv8-A) and kernels_neon_dot.cpp (+dotprod).
// Before: blocks in memory. After: kernels_impl.hpp builds every type's dot product from these.
//
// Every operation gives the x86 primitive's exact result lane for lane (integer sums are exact; each float lane sees
// the same operations in the same order), so the one template in kernels_impl.hpp stays bit-exact with the reference.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace {

struct neon_prims {
    // 32 int8 values, the eight int32 lanes (0-3 in lo, 4-7 in hi) or 16 int16 values, as one AVX register holds them.
    struct iv {
        int8x16_t lo, hi;
    };
    struct fv {  // eight float lanes
        float32x4_t lo, hi;
    };

    static int32x4_t s32(int8x16_t v) noexcept { return vreinterpretq_s32_s8(v); }
    static int16x8_t s16(int8x16_t v) noexcept { return vreinterpretq_s16_s8(v); }
    static uint16x8_t u16(int8x16_t v) noexcept { return vreinterpretq_u16_s8(v); }
    static int8x16_t b(int32x4_t v) noexcept { return vreinterpretq_s8_s32(v); }
    static int8x16_t b(int16x8_t v) noexcept { return vreinterpretq_s8_s16(v); }
    static int8x16_t b(uint16x8_t v) noexcept { return vreinterpretq_s8_u16(v); }
    static int8x16_t b(uint8x16_t v) noexcept { return vreinterpretq_s8_u8(v); }
    static int8x16_t b(uint32x4_t v) noexcept { return vreinterpretq_s8_u32(v); }

    // Register tile of the q8_0 kernel: weight rows x activation rows (each iv/fv takes two of the 32 registers).
    static constexpr int tile_rows = 2, tile_acts = 4;
    // Activation rows of the q4_0 GEMM with eight weight rows in the lanes (its accumulators: one register pair each).
    static constexpr int tile_acts_rows8 = 4;
    static constexpr bool exact_dot_u = false;  // dot_u multiplies as signed: u8 values past 127 wrap

    static iv load(const void* p) noexcept {
        const int8_t* q = static_cast<const int8_t*>(p);
        return {vld1q_s8(q), vld1q_s8(q + 16)};
    }
    static iv zero() noexcept { return {vdupq_n_s8(0), vdupq_n_s8(0)}; }
    static iv set8(int v) noexcept { return {vdupq_n_s8(static_cast<int8_t>(v)), vdupq_n_s8(static_cast<int8_t>(v))}; }
    // Scales for dot_u_scaled, one per int32 lane (x86 keeps them in 16-bit lanes; only dot_u_scaled reads them).
    static iv set16(int v) noexcept { return {b(vdupq_n_s32(v)), b(vdupq_n_s32(v))}; }
    // int32 lanes 0-3 get lo, 4-7 get hi.
    static iv set16x2(int lo, int hi) noexcept { return {b(vdupq_n_s32(lo)), b(vdupq_n_s32(hi))}; }
    static iv set32(int32_t v) noexcept { return {b(vdupq_n_s32(v)), b(vdupq_n_s32(v))}; }
    // The four bytes at p in every int32 lane.
    static iv bcast32(const int8_t* p) noexcept {
        int32_t v;
        std::memcpy(&v, p, 4);
        return {b(vdupq_n_s32(v)), b(vdupq_n_s32(v))};
    }
    // 4 x 4 transpose of int32 lanes.
    static void transpose4(int32x4_t& a0, int32x4_t& a1, int32x4_t& a2, int32x4_t& a3) noexcept {
        const int32x4_t t0 = vtrn1q_s32(a0, a1), t1 = vtrn2q_s32(a0, a1), t2 = vtrn1q_s32(a2, a3),
                        t3 = vtrn2q_s32(a2, a3);
        const int64x2_t u0 = vreinterpretq_s64_s32(t0), u1 = vreinterpretq_s64_s32(t1),
                        u2 = vreinterpretq_s64_s32(t2), u3 = vreinterpretq_s64_s32(t3);
        a0 = vreinterpretq_s32_s64(vtrn1q_s64(u0, u2));
        a1 = vreinterpretq_s32_s64(vtrn1q_s64(u1, u3));
        a2 = vreinterpretq_s32_s64(vtrn2q_s64(u0, u2));
        a3 = vreinterpretq_s32_s64(vtrn2q_s64(u1, u3));
    }
    // v[r] int32 lane m -> v[m] lane r (an 8 x 8 transpose of int32 lanes).
    static void transpose8x32(iv* v) noexcept {
        int32x4_t q[8][2];
        for (int r = 0; r < 8; ++r) q[r][0] = s32(v[r].lo), q[r][1] = s32(v[r].hi);
        // block (rows 4R.., lanes 4C..) goes to (rows 4C.., lanes 4R..)
        int32x4_t o[8][2];
        for (int R = 0; R < 2; ++R) {
            for (int C = 0; C < 2; ++C) {
                int32x4_t a0 = q[4 * R][C], a1 = q[4 * R + 1][C], a2 = q[4 * R + 2][C], a3 = q[4 * R + 3][C];
                transpose4(a0, a1, a2, a3);
                o[4 * C][R] = a0, o[4 * C + 1][R] = a1, o[4 * C + 2][R] = a2, o[4 * C + 3][R] = a3;
            }
        }
        for (int m = 0; m < 8; ++m) v[m] = {b(o[m][0]), b(o[m][1])};
    }
    static iv and_(iv a, iv c) noexcept { return {vandq_s8(a.lo, c.lo), vandq_s8(a.hi, c.hi)}; }
    static iv or_(iv a, iv c) noexcept { return {vorrq_s8(a.lo, c.lo), vorrq_s8(a.hi, c.hi)}; }
    static iv add32(iv a, iv c) noexcept {
        return {b(vaddq_s32(s32(a.lo), s32(c.lo))), b(vaddq_s32(s32(a.hi), s32(c.hi)))};
    }
    static iv sub32(iv a, iv c) noexcept {
        return {b(vsubq_s32(s32(a.lo), s32(c.lo))), b(vsubq_s32(s32(a.hi), s32(c.hi)))};
    }
    static iv mullo32(iv a, iv c) noexcept {
        return {b(vmulq_s32(s32(a.lo), s32(c.lo))), b(vmulq_s32(s32(a.hi), s32(c.hi)))};
    }
    static iv sub8(iv a, iv c) noexcept { return {vsubq_s8(a.lo, c.lo), vsubq_s8(a.hi, c.hi)}; }
    // Logical shifts of the 16-bit / 32-bit lanes by s bits (vshl: a negative count shifts right).
    static iv srl16(iv a, int s) noexcept {
        const int16x8_t n = vdupq_n_s16(static_cast<int16_t>(-s));
        return {b(vshlq_u16(u16(a.lo), n)), b(vshlq_u16(u16(a.hi), n))};
    }
    static iv sll16(iv a, int s) noexcept {
        const int16x8_t n = vdupq_n_s16(static_cast<int16_t>(s));
        return {b(vshlq_u16(u16(a.lo), n)), b(vshlq_u16(u16(a.hi), n))};
    }
    static iv sll32(iv a, int s) noexcept {
        const int32x4_t n = vdupq_n_s32(s);
        return {b(vshlq_u32(vreinterpretq_u32_s8(a.lo), n)), b(vshlq_u32(vreinterpretq_u32_s8(a.hi), n))};
    }

    // 16 bytes of nibbles -> 32 values: the low nibbles (values 0..15), then the high nibbles (16..31).
    static iv nibbles16(const uint8_t* p) noexcept {
        const uint8x16_t q = vld1q_u8(p);
        return {b(vandq_u8(q, vdupq_n_u8(0x0f))), b(vshrq_n_u8(q, 4))};
    }
    static iv lo4(iv q) noexcept { return and_(q, set8(0x0f)); }
    static iv hi4(iv q) noexcept {
        return {b(vshrq_n_u8(vreinterpretq_u8_s8(q.lo), 4)), b(vshrq_n_u8(vreinterpretq_u8_s8(q.hi), 4))};
    }
    // 16-entry int8 table lookup of values 0..15.
    static iv lut(const int8_t* table, iv idx) noexcept {
        const int8x16_t t = vld1q_s8(table);
        return {vqtbl1q_s8(t, vreinterpretq_u8_s8(idx.lo)), vqtbl1q_s8(t, vreinterpretq_u8_s8(idx.hi))};
    }
    // 16 int8 -> 16 int16.
    static iv widen8(const int8_t* p) noexcept {
        const int8x16_t v = vld1q_s8(p);
        return {b(vmovl_s8(vget_low_s8(v))), b(vmovl_high_s8(v))};
    }
    // 8 bytes 0..127 -> 16 int16 lanes, each byte twice: b0, b0, b1, b1, .. b7, b7.
    static iv dup_widen8(const uint8_t* p) noexcept {
        const uint8x8_t v = vld1_u8(p);
        const uint8x16_t d = vcombine_u8(vzip1_u8(v, v), vzip2_u8(v, v));
        return {b(vmovl_u8(vget_low_u8(d))), b(vmovl_high_u8(d))};
    }
    static iv load16(const int16_t* p) noexcept { return {b(vld1q_s16(p)), b(vld1q_s16(p + 8))}; }
    // int32 lane m = a[2m] * c[2m] + a[2m + 1] * c[2m + 1] (16-bit lanes), as _mm256_madd_epi16.
    static int32x4_t madd_half(int16x8_t a, int16x8_t c) noexcept {
        return vpaddq_s32(vmull_s16(vget_low_s16(a), vget_low_s16(c)), vmull_high_s16(a, c));
    }
    static iv madd16(iv a, iv c) noexcept {
        return {b(madd_half(s16(a.lo), s16(c.lo))), b(madd_half(s16(a.hi), s16(c.hi)))};
    }

    // ---- int8 products: int32 lane m = the products of elements 4m..4m+3 (exact, no saturation) --------------------

    // acc lane m + x[4m..4m+3] . y[4m..4m+3] for 16 int8 values (int8 * int8 fits int16, -128 * -128 included).
    static int32x4_t dot4(int32x4_t acc, int8x16_t x, int8x16_t y) noexcept {
#if defined(__ARM_FEATURE_DOTPROD)
        return vdotq_s32(acc, x, y);
#else
        const int16x8_t lo = vmull_s8(vget_low_s8(x), vget_low_s8(y)), hi = vmull_high_s8(x, y);
        return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
#endif
    }
    static iv dot_any(iv acc, iv x, iv y) noexcept {
        return {b(dot4(s32(acc.lo), x.lo, y.lo)), b(dot4(s32(acc.hi), x.hi, y.hi))};
    }
    static iv dot_u(iv acc, iv u, iv y) noexcept { return dot_any(acc, u, y); }
    static iv dot_small(iv acc, iv v, iv y) noexcept { return dot_any(acc, v, y); }
    // acc + scale * (u . y) per lane; s: the scales from set16 / set16x2.
    static iv dot_u_scaled(iv acc, iv u, iv y, iv s) noexcept {
        const int32x4_t z = vdupq_n_s32(0);
        return {b(vmlaq_s32(s32(acc.lo), dot4(z, u.lo, y.lo), s32(s.lo))),
                b(vmlaq_s32(s32(acc.hi), dot4(z, u.hi, y.hi), s32(s.hi)))};
    }

    // The q8_0 tile's split of dot_any (prims_x86.hpp): NEON's signed dot is exact for every int8, so nothing to prep.
    static iv prep8(iv y) noexcept { return y; }
    static bool has_min8(iv) noexcept { return false; }
    static iv dot_prepped(iv acc, iv x, iv y, iv) noexcept { return dot_any(acc, x, y); }

    // ---- integer totals -------------------------------------------------------------------------------------------

    static int32_t hsum32(iv v) noexcept { return vaddvq_s32(vaddq_s32(s32(v.lo), s32(v.hi))); }
    // Lane i of the result = the sum of the eight lanes of q[i].
    static iv totals8(const iv* q) noexcept {
        int32x4_t s[8];
        for (int i = 0; i < 8; ++i) s[i] = vaddq_s32(s32(q[i].lo), s32(q[i].hi));
        const int32x4_t lo = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
        const int32x4_t hi = vpaddq_s32(vpaddq_s32(s[4], s[5]), vpaddq_s32(s[6], s[7]));
        return {b(lo), b(hi)};
    }

    // ---- floats ---------------------------------------------------------------------------------------------------

    static float h2f(uint16_t h) noexcept {
        return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
    }
    static uint16_t f2h(float f) noexcept {  // round to nearest even (FPCR's default), as vcvtps2ph
        return vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(vdupq_n_f32(f))), 0);
    }
    static fv fzero() noexcept { return {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}; }
    // acc = fma(d, float(s), acc) per lane.
    static fv fmadd(float d, iv s, fv acc) noexcept {
        const float32x4_t dv = vdupq_n_f32(d);
        return {vfmaq_f32(acc.lo, vcvtq_f32_s32(s32(s.lo)), dv), vfmaq_f32(acc.hi, vcvtq_f32_s32(s32(s.hi)), dv)};
    }
    static fv ffma(fv a, fv b, fv c) noexcept {  // a * b + c, rounded once
        return {vfmaq_f32(c.lo, a.lo, b.lo), vfmaq_f32(c.hi, a.hi, b.hi)};
    }
    static fv fset1(float d) noexcept { return {vdupq_n_f32(d), vdupq_n_f32(d)}; }
    static fv floadu(const float* p) noexcept { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
    static void fstoreu(float* p, fv v) noexcept {
        vst1q_f32(p, v.lo);
        vst1q_f32(p + 4, v.hi);
    }
    static fv cvtf(iv s) noexcept { return {vcvtq_f32_s32(s32(s.lo)), vcvtq_f32_s32(s32(s.hi))}; }
    // The eight halves *p[0] .. *p[7] -> eight floats.
    static fv h2f8(const uint16_t* const* p) noexcept {
        uint16x8_t v = vdupq_n_u16(0);
        v = vld1q_lane_u16(p[0], v, 0);
        v = vld1q_lane_u16(p[1], v, 1);
        v = vld1q_lane_u16(p[2], v, 2);
        v = vld1q_lane_u16(p[3], v, 3);
        v = vld1q_lane_u16(p[4], v, 4);
        v = vld1q_lane_u16(p[5], v, 5);
        v = vld1q_lane_u16(p[6], v, 6);
        v = vld1q_lane_u16(p[7], v, 7);
        return {vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(v))),
                vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(v)))};
    }
    // The eight contiguous halves at p -> eight floats.
    static fv h2f8c(const uint16_t* p) noexcept {
        const uint16x8_t v = vld1q_u16(p);
        return {vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(v))),
                vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(v)))};
    }
    // Eight floats -> the eight contiguous halves at p, rounded to nearest even (FPCR's default, as f32_to_fp16).
    static void f2h8c(fv v, uint16_t* p) noexcept {
        vst1q_u16(p, vcombine_u16(vreinterpret_u16_f16(vcvt_f16_f32(v.lo)), vreinterpret_u16_f16(vcvt_f16_f32(v.hi))));
    }
    // The eight contiguous bfloat16 at p -> eight floats (exact: the bits shifted into the high half).
    static fv bf2f8c(const uint16_t* p) noexcept {
        const uint16x8_t v = vld1q_u16(p);
        return {vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16)),
                vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(v), 16))};
    }
    // The N floats at p repeated to fill eight lanes (N = 1, 2, 4).
    template <int N>
    static fv frepeat(const float* p) noexcept {
        float32x4_t v;
        if constexpr (N == 1) v = vld1q_dup_f32(p);
        else if constexpr (N == 2) v = vcombine_f32(vld1_f32(p), vld1_f32(p));
        else v = vld1q_f32(p);
        return {v, v};
    }
    static fv fmul(fv a, fv c) noexcept { return {vmulq_f32(a.lo, c.lo), vmulq_f32(a.hi, c.hi)}; }
    static fv fsub(fv a, fv c) noexcept { return {vsubq_f32(a.lo, c.lo), vsubq_f32(a.hi, c.hi)}; }
    // acc = fma(d, float(s), acc) per lane, d already in every lane.
    static fv fmadd_v(fv d, iv s, fv acc) noexcept {
        return {vfmaq_f32(acc.lo, vcvtq_f32_s32(s32(s.lo)), d.lo), vfmaq_f32(acc.hi, vcvtq_f32_s32(s32(s.hi)), d.hi)};
    }
    // (r0 + r2) + (r1 + r3) of a four-lane register.
    static float tree4(float32x4_t r) noexcept {
        const float32x2_t t = vadd_f32(vget_low_f32(r), vget_high_f32(r));
        return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
    }
    // (v0 + v4) + (v2 + v6) + ((v1 + v5) + (v3 + v7)): the reference's hsum.
    static float hsum(fv v) noexcept { return tree4(vaddq_f32(v.hi, v.lo)); }
    static void cvt(iv t, float* out) noexcept {
        vst1q_f32(out, vcvtq_f32_s32(s32(t.lo)));
        vst1q_f32(out + 4, vcvtq_f32_s32(s32(t.hi)));
    }

    // Eigen's four-wide float dot (see kernels_impl.hpp; Eigen's NEON packets sum as its SSE ones do).
    static fv fmul8(const float* x, const float* y) noexcept {
        return {vmulq_f32(vld1q_f32(x), vld1q_f32(y)), vmulq_f32(vld1q_f32(x + 4), vld1q_f32(y + 4))};
    }
    static fv fadd(fv a, fv c) noexcept { return {vaddq_f32(a.lo, c.lo), vaddq_f32(a.hi, c.hi)}; }
    // lanes 0-3 + lanes 4-7 (+ the products x[0..3] * y[0..3] when x is not null), then (r0 + r2) + (r1 + r3).
    static float eigen_tail(fv acc8, const float* x, const float* y) noexcept {
        float32x4_t r = vaddq_f32(acc8.lo, acc8.hi);
        if (x != nullptr) r = vaddq_f32(r, vmulq_f32(vld1q_f32(x), vld1q_f32(y)));
        return tree4(r);
    }
    static float eigen4(const float* x, const float* y) noexcept {
        return tree4(vmulq_f32(vld1q_f32(x), vld1q_f32(y)));
    }
};

}  // namespace
