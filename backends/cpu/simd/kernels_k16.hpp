// kernels_k16.hpp — K-quant prompt tiles with two halves per 512-bit register (AVX-512). q4_k: sixteen weight rows in
// the lanes (two transposed eight-row groups side by side), so each vpdpbusd, scale multiply and fused multiply-add
// serves sixteen rows, every lane doing one row's operations of kernels_impl.hpp's q4_k_grouped dot. q5_k, q6_k:
// their dots with two 32-value chunks per register, folded as exact int32 before the eight-lane float steps. The
// results are bit-identical to the eight-lane dots.
// Before: kernels_impl.hpp (dots<N>, the eight-lane kernels) and prims_x86_512.hpp. After: fill_table.hpp.
#pragma once

#include "backends/cpu/simd/kernels_impl.hpp"

namespace {

// W: the sixteen-lane primitives (x86_prims16); W::narrow: the eight-lane ones they pair.
template <class W>
struct k_wide {
    using N = typename W::narrow;
    using D = dots<N>;
    using iv = typename W::iv;
    using fv = typename W::fv;

    // Sixteen rows' super-blocks c0 .. c0 + n - 1 laid out for the inner loop, once for every activation that meets
    // them: each 32-value sub-block's nibbles transposed (register m, lane r: values 4m .. 4m + 3 of row r), each
    // row's 6-bit scales and mins per sub-block, d and dmin.
    struct prepared {
        static constexpr int max_sb = 8;  // super-blocks per chunk: ~41 KiB, in L1/L2 while the activations pass
        iv v[max_sb][8][8];                // [super-block][sub-block][register]
        alignas(64) int32_t sc[max_sb][8][16], mn[max_sb][8][16];  // [super-block][sub-block][row]; mn: both halves
        fv d[max_sb], dmin[max_sb];
    };
    static void prepare(const moe::block_q4_k* const* x, int64_t c0, int n, prepared& p) noexcept {
        for (int ii = 0; ii < n; ++ii) {
            const int64_t i = c0 + ii;
            const uint16_t* hd[16];
            const uint16_t* hm[16];
            for (int r = 0; r < 16; ++r) {
                alignas(16) uint8_t sc_m[16];
                D::scales_k4(x[r][i].scales, sc_m);
                for (int t = 0; t < 8; ++t) p.sc[ii][t][r] = sc_m[t], p.mn[ii][t][r] = sc_m[8 + t] * 0x10001;
                hd[r] = &x[r][i].d;
                hm[r] = &x[r][i].dmin;
            }
            p.d[ii] = W::fjoin(N::h2f8(hd), N::h2f8(hd + 8));
            p.dmin[ii] = W::fjoin(N::h2f8(hm), N::h2f8(hm + 8));
            for (int c = 0; c < 4; ++c) {  // 32 bytes per row: sub-blocks 2c (low nibbles) and 2c + 1 (high)
                iv lo[8], hi[8];
                MOE_SIMD_UNROLL
                for (int r = 0; r < 8; ++r) {
                    const iv q = W::load2(x[r][i].qs + 32 * c, x[r + 8][i].qs + 32 * c);
                    lo[r] = W::lo4(q), hi[r] = W::hi4(q);
                }
                W::transpose2x8x32(lo);
                W::transpose2x8x32(hi);
                MOE_SIMD_UNROLL
                for (int m = 0; m < 8; ++m) p.v[ii][2 * c][m] = lo[m], p.v[ii][2 * c + 1][m] = hi[m];
            }
        }
    }

    // q4_k_grouped<Pairs>'s arithmetic for the prepared rows against RN activation rows (super-blocks c0 ..
    // c0 + n - 1), continuing the accumulators acc / acc_m: products with broadcast activation values leave every
    // lane its row's sub-block sum; the scales multiply per lane; the min term is a 16-bit madd of each row's min
    // (twice per lane) against the activation's bsums pairs; Pairs sub-block pairs enter the floats together (4: the
    // GEMV order, 1: llama.cpp's GEMM order for dense prompts). The integer totals equal the reference's, and each
    // lane's fused multiply-adds are the reference's.
    template <int RN, int Pairs>
    static void run(const prepared& p, int64_t c0, int n, const moe::block_q8_k* const* y, fv* acc,
                    fv* acc_m) noexcept {
        for (int ii = 0; ii < n; ++ii) {
            const int64_t i = c0 + ii;
            for (int g = 0; g < 8; g += 2 * Pairs) {  // sub-blocks g .. g + 2 Pairs - 1 enter the floats together
                iv isum[RN];
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j) isum[j] = W::zero();
                for (int sb = g; sb < g + 2 * Pairs; ++sb) {
                    const iv scale = W::load(p.sc[ii][sb]);
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < RN; ++j) {
                        const int8_t* yq = y[j][i].qs + 32 * sb;
                        iv t = W::zero();
                        MOE_SIMD_UNROLL
                        for (int m = 0; m < 8; ++m) t = W::dot_u(t, p.v[ii][sb][m], W::bcast32(yq + 4 * m));
                        isum[j] = W::add32(isum[j], W::mullo32(t, scale));
                    }
                }
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j) {
                    iv summ = W::zero();
                    for (int t = g; t < g + 2 * Pairs; ++t) {
                        const int8_t* bs = reinterpret_cast<const int8_t*>(y[j][i].bsums + 2 * t);
                        summ = W::add32(summ, W::madd16(W::load(p.mn[ii][t]), W::bcast32(bs)));
                    }
                    const fv yd = W::fset1(y[j][i].d);
                    acc[j] = W::fmadd_v(W::fmul(p.d[ii], yd), isum[j], acc[j]);
                    acc_m[j] = W::fmadd_v(W::fmul(p.dmin[ii], yd), summ, acc_m[j]);
                }
            }
        }
    }

    // Up to act_chunk activation rows at a time, sixteen weight rows at a time (a short last group padded with its
    // last row), the super-blocks in chunks prepared once and met by every activation of the chunk in groups of RN;
    // the accumulators wait in `accs` between super-block chunks, so each output's operations stay in order.
    template <int RN, int Pairs>
    static void tile_rows16(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                            float* const* out, int64_t k) noexcept {
        constexpr int act_chunk = 64;
        const int64_t nb = k / moe::qk_k;
        prepared p;
        fv accs[act_chunk][2];
        for (int a0 = 0; a0 < na; a0 += act_chunk) {
            const int an = na - a0 < act_chunk ? na - a0 : act_chunk;
            for (int64_t r = r0; r < r1; r += 16) {
                const int rm = r1 - r < 16 ? static_cast<int>(r1 - r) : 16;
                const uint8_t* wp[16];
                D::template pad_rows<16>(w, wrb, r, rm, wp);
                const moe::block_q4_k* x[16];
                for (int q = 0; q < 16; ++q) x[q] = reinterpret_cast<const moe::block_q4_k*>(wp[q]);
                for (int j = 0; j < an; ++j) accs[j][0] = accs[j][1] = W::fzero();
                for (int64_t c0 = 0; c0 < nb; c0 += prepared::max_sb) {
                    const int n = nb - c0 < prepared::max_sb ? static_cast<int>(nb - c0) : prepared::max_sb;
                    prepare(x, c0, n, p);
                    for (int i = 0; i < an; i += RN) {
                        const int rn = an - i < RN ? an - i : RN;
                        const uint8_t* ap[RN];
                        D::template pad_acts<RN>(a + a0 + i, rn, ap);
                        const moe::block_q8_k* y[RN];
                        fv acc[RN], acc_m[RN];
                        MOE_SIMD_UNROLL
                        for (int j = 0; j < RN; ++j) {
                            y[j] = D::template rows<moe::block_q8_k>(ap, j);
                            const int jj = i + (j < rn ? j : rn - 1);
                            acc[j] = accs[jj][0], acc_m[j] = accs[jj][1];
                        }
                        run<RN, Pairs>(p, c0, n, y, acc, acc_m);
                        for (int j = 0; j < rn; ++j) accs[i + j][0] = acc[j], accs[i + j][1] = acc_m[j];
                    }
                }
                for (int j = 0; j < an; ++j) {
                    alignas(64) float res[16];
                    W::fstoreu(res, W::fsub(accs[j][0], accs[j][1]));
                    for (int ii = 0; ii < rm; ++ii) out[a0 + j][r + ii] = res[ii];
                }
            }
        }
    }

    // dots<N>::q6_k's arithmetic with two of its 32-value chunks per 512-bit register: the low half takes chunk c's
    // lanes, the high half chunk c + 1's, and the halves are added (int32, exact) before the super-block's float
    // step, which is the eight-lane one. maddubs saturates per byte pair exactly as the eight-lane kernel's does.
    struct q6_k {
        template <int NA>
        static void dot(const uint8_t* wp, const uint8_t* const* a, int64_t k, float* res) noexcept {
            using niv = typename N::iv;
            using nfv = typename N::fv;
            const auto* x = reinterpret_cast<const moe::block_q6_k*>(wp);
            nfv acc[NA];
            MOE_SIMD_UNROLL
            for (int j = 0; j < NA; ++j) acc[j] = N::fzero();
            const iv m4 = W::set8(0x0f), m30 = W::set8(0x30);
            for (int64_t i = 0; i < k / moe::qk_k; ++i) {
                const niv sc16 = N::widen8(x[i].scales);
                iv isum[NA];
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) isum[j] = W::zero();
                for (int h = 0; h < 2; ++h) {
                    const iv ql = W::load(x[i].ql + 64 * h);  // chunk 4h's low nibbles | chunk 4h + 1's
                    const iv qh = W::bcast256(x[i].qh + 32 * h);
                    iv v[2];
                    // the two high bits of each value to bits 4-5: qh bits 0-1 | 2-3, then bits 4-5 | 6-7
                    const iv qh_lo = W::and_(W::shift_halves_left(qh, 4, 2), m30);
                    const iv qh_hi = W::and_(W::shift_halves_right(qh, 0, 2), m30);
                    v[0] = W::or_(W::and_(ql, m4), qh_lo);
                    v[1] = W::or_(W::hi4(ql), qh_hi);
                    MOE_SIMD_UNROLL
                    for (int t = 0; t < 2; ++t) {  // chunks 4h + 2t, 4h + 2t + 1: scales 2c .. 2c + 3
                        const int c = 4 * h + 2 * t;
                        const iv s = W::spread16(sc16, 2 * c);  // 16-bit lanes 8q .. 8q + 7: scale 2c + q
                        MOE_SIMD_UNROLL
                        for (int j = 0; j < NA; ++j) {
                            const int8_t* yq = D::template rows<moe::block_q8_k>(a, j)[i].qs + 32 * c;
                            isum[j] = W::dot_u_scaled(isum[j], v[t], W::load(yq), s);
                        }
                    }
                }
                const float dx = N::h2f(x[i].d);
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) {
                    const moe::block_q8_k& y = D::template rows<moe::block_q8_k>(a, j)[i];
                    const niv folded = N::add32(W::half(isum[j], 0), W::half(isum[j], 1));
                    const niv sub = N::sll32(N::madd16(N::load16(y.bsums), sc16), 5);
                    acc[j] = N::fmadd(y.d * dx, N::sub32(folded, sub), acc[j]);
                }
            }
            MOE_SIMD_UNROLL
            for (int j = 0; j < NA; ++j) res[j] = N::hsum(acc[j]);
        }
    };
    // dots<N>::q5_k's arithmetic with chunks c and c + 1 (the low and high nibbles of the same 32 bytes) in the two
    // halves of a register, folded as exact int32 before the super-block's float step, which is the eight-lane one.
    struct q5_k {
        template <int NA>
        static void dot(const uint8_t* wp, const uint8_t* const* a, int64_t k, float* res) noexcept {
            using niv = typename N::iv;
            using nfv = typename N::fv;
            const auto* x = reinterpret_cast<const moe::block_q5_k*>(wp);
            nfv acc[NA];
            float summs[NA];
            MOE_SIMD_UNROLL
            for (int j = 0; j < NA; ++j) acc[j] = N::fzero(), summs[j] = 0.0f;
            const iv m4 = W::set8(0x0f), m10 = W::set8(0x10);
            for (int64_t i = 0; i < k / moe::qk_k; ++i) {
                int sc[8], m[8];
                D::scales_k4(x[i].scales, sc, m);
                const iv qh = W::bcast256(x[i].qh);
                iv isum[NA];
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) isum[j] = W::zero();
                for (int c = 0; c < 8; c += 2) {
                    const iv q = W::bcast256(x[i].qs + 16 * c);  // the 32 bytes of chunks c (low) and c + 1 (high)
                    const iv h = W::and_(W::shift_halves_left(W::shift_halves_right(qh, c, c + 1), 4, 4), m10);
                    const iv v = W::or_(W::and_(W::shift_halves_right(q, 0, 4), m4), h);
                    const iv s = W::set16w(sc[c], sc[c + 1]);
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < NA; ++j) {
                        const int8_t* yq = D::template rows<moe::block_q8_k>(a, j)[i].qs + 32 * c;
                        isum[j] = W::dot_u_scaled(isum[j], v, W::load(yq), s);
                    }
                }
                const float dx = N::h2f(x[i].d), dmx = N::h2f(x[i].dmin);
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) {
                    const moe::block_q8_k& y = D::template rows<moe::block_q8_k>(a, j)[i];
                    const int32_t prod = W::pair_sums_dot(y.bsums, m);  // the eight-lane kernel's prod
                    summs[j] = std::fma(-y.d * dmx, static_cast<float>(prod), summs[j]);
                    const niv folded = N::add32(W::half(isum[j], 0), W::half(isum[j], 1));
                    acc[j] = N::fmadd(y.d * dx, folded, acc[j]);
                }
            }
            MOE_SIMD_UNROLL
            for (int j = 0; j < NA; ++j) res[j] = N::hsum(acc[j]) + summs[j];
        }
    };
    static void tile_q5_k(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                          float* const* out, int64_t k) noexcept {
        if (na == 1) D::template tile<typename D::q5_k>(w, wrb, r0, r1, a, na, out, k);  // decode: memory-bound
        else D::template tile<q5_k>(w, wrb, r0, r1, a, na, out, k);
    }
    static void tile_q6_k(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                          float* const* out, int64_t k) noexcept {
        if (na == 1) D::template tile<typename D::q6_k>(w, wrb, r0, r1, a, na, out, k);  // decode: memory-bound
        else D::template tile<q6_k>(w, wrb, r0, r1, a, na, out, k);
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
