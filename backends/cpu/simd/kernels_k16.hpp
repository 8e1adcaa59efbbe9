// kernels_k16.hpp — q4_k prompt tiles with sixteen weight rows per register (AVX-512): kernels_impl.hpp's q4_k_rows8
// with two eight-row groups side by side, lanes 0-7 one group's rows and 8-15 the next's, so each vpdpbusd, scale
// multiply and fused multiply-add serves sixteen rows. Each lane does exactly what an eight-lane lane does (the same
// integer sums, the same floats in the same order), so the results are bit-identical to the eight-lane tiles.
// Before: kernels_impl.hpp (dots<N>, the eight-lane kernels) and prims_x86_512.hpp. After: fill_table.hpp.
#pragma once

#include "backends/cpu/simd/kernels_impl.hpp"

namespace {

// W: the sixteen-lane primitives (x86_prims16); W::narrow: the eight-lane ones they pair.
template <class W>
struct q4_k_wide {
    using N = typename W::narrow;
    using D = dots<N>;
    using iv = typename W::iv;
    using fv = typename W::fv;

    // q4_k_rows8<RN, Pairs> for sixteen weight rows w[0 .. 15]: each group of eight is transposed as there, then the
    // two are joined lane-wise.
    template <int RN, int Pairs>
    static void rows16(const uint8_t* const* w, const uint8_t* const* a, int64_t nb, fv* acc, fv* acc_m) noexcept {
        const moe::block_q4_k* x[16];
        const moe::block_q8_k* y[RN];
        MOE_SIMD_UNROLL
        for (int r = 0; r < 16; ++r) x[r] = reinterpret_cast<const moe::block_q4_k*>(w[r]);
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j) y[j] = D::template rows<moe::block_q8_k>(a, j);
        for (int64_t i = 0; i < nb; ++i) {
            alignas(64) int32_t sc[8][16], mn[8][16];  // [sub-block][row]; mn: the min in both 16-bit halves
            const uint16_t* hd[16];
            const uint16_t* hm[16];
            for (int r = 0; r < 16; ++r) {
                alignas(16) uint8_t sc_m[16];
                D::scales_k4(x[r][i].scales, sc_m);
                for (int t = 0; t < 8; ++t) sc[t][r] = sc_m[t], mn[t][r] = sc_m[8 + t] * 0x10001;
                hd[r] = &x[r][i].d;
                hm[r] = &x[r][i].dmin;
            }
            const fv d = W::fjoin(N::h2f8(hd), N::h2f8(hd + 8)), dmin = W::fjoin(N::h2f8(hm), N::h2f8(hm + 8));
            for (int g = 0; g < 8; g += 2 * Pairs) {
                iv isum[RN];
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j) isum[j] = W::zero();
                for (int sb = g; sb < g + 2 * Pairs; ++sb) {
                    typename N::iv lo[8], hi[8];
                    MOE_SIMD_UNROLL
                    for (int r = 0; r < 8; ++r) {
                        const typename N::iv ql = N::load(x[r][i].qs + 32 * (sb / 2));
                        const typename N::iv qh = N::load(x[r + 8][i].qs + 32 * (sb / 2));
                        lo[r] = sb % 2 == 0 ? N::lo4(ql) : N::hi4(ql);
                        hi[r] = sb % 2 == 0 ? N::lo4(qh) : N::hi4(qh);
                    }
                    N::transpose8x32(lo);
                    N::transpose8x32(hi);
                    iv v[8];
                    MOE_SIMD_UNROLL
                    for (int m = 0; m < 8; ++m) v[m] = W::join(lo[m], hi[m]);
                    const iv scale = W::load(sc[sb]);
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < RN; ++j) {
                        const int8_t* yq = y[j][i].qs + 32 * sb;
                        iv t = W::zero();
                        MOE_SIMD_UNROLL
                        for (int m = 0; m < 8; ++m) t = W::dot_u(t, v[m], W::bcast32(yq + 4 * m));
                        isum[j] = W::add32(isum[j], W::mullo32(t, scale));
                    }
                }
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j) {
                    iv summ = W::zero();
                    for (int t = g; t < g + 2 * Pairs; ++t)
                        summ = W::add32(summ, W::madd16(W::load(mn[t]), W::bcast32(reinterpret_cast<const int8_t*>(
                                                                            y[j][i].bsums + 2 * t))));
                    const fv yd = W::fset1(y[j][i].d);
                    acc[j] = W::fmadd_v(W::fmul(d, yd), isum[j], acc[j]);
                    acc_m[j] = W::fmadd_v(W::fmul(dmin, yd), summ, acc_m[j]);
                }
            }
        }
    }

    // tile_q4_k_rows8's loops with sixteen rows at a time (a short last group padded with its last row).
    template <int RN, int Pairs>
    static void tile_rows16(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                            float* const* out, int64_t k) noexcept {
        constexpr int64_t row_block = 64;
        const int64_t nb = k / moe::qk_k;
        for (int64_t rb = r0; rb < r1; rb += row_block) {
            const int64_t re = rb + row_block < r1 ? rb + row_block : r1;
            for (int i = 0; i < na; i += RN) {
                const int rn = na - i < RN ? na - i : RN;
                const uint8_t* ap[RN];
                D::template pad_acts<RN>(a + i, rn, ap);
                for (int64_t r = rb; r < re; r += 16) {
                    const int rm = re - r < 16 ? static_cast<int>(re - r) : 16;
                    const uint8_t* wp[16];
                    D::template pad_rows<16>(w, wrb, r, rm, wp);
                    fv acc[RN], acc_m[RN];
                    for (int j = 0; j < RN; ++j) acc[j] = acc_m[j] = W::fzero();
                    rows16<RN, Pairs>(wp, ap, nb, acc, acc_m);
                    for (int j = 0; j < rn; ++j) {
                        alignas(64) float res[16];
                        W::fstoreu(res, W::fsub(acc[j], acc_m[j]));
                        for (int ii = 0; ii < rm; ++ii) out[i + j][r + ii] = res[ii];
                    }
                }
            }
        }
    }

    // The table's q4_k entries: fewer than four activation rows keep the eight-lane GEMV tiles.
    static void tile_q4_k(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                          float* const* out, int64_t k) noexcept {
        if (na < 4) D::tile_q4_k(w, wrb, r0, r1, a, na, out, k);
        else if (na < 8) tile_rows16<4, 4>(w, wrb, r0, r1, a, na, out, k);
        else tile_rows16<N::tile_acts_rows8, 4>(w, wrb, r0, r1, a, na, out, k);
    }
    static void tile_q4_k_gemm(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                               float* const* out, int64_t k) noexcept {
        if (na < 4) D::tile_q4_k_gemm(w, wrb, r0, r1, a, na, out, k);
        else if (na < 8) tile_rows16<4, 1>(w, wrb, r0, r1, a, na, out, k);
        else tile_rows16<N::tile_acts_rows8, 1>(w, wrb, r0, r1, a, na, out, k);
    }
};

}  // namespace
