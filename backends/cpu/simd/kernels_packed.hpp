// kernels_packed.hpp — the tiles over weights the loader repacked (simd.hpp's q4_0x8, q8_0x8 and f16 / bf16 x8
// layouts), written once over an ISA's primitives P with dots<P>'s helpers (q4_0x8 shares kernels_impl.hpp's
// q4_0 lanes driver).
// Before: kernels_impl.hpp. After: fill_table.hpp puts packed_dots<P>'s tiles into the dispatch table.
//
// Included only by fill_table.hpp; all in an anonymous namespace, so every instantiation has internal linkage.
#pragma once

#include "backends/cpu/simd/kernels_impl.hpp"

namespace {

template <class P>
struct packed_dots : dots<P> {
    using base = dots<P>;
    using iv = typename P::iv;
    using fv = typename P::fv;
    using N = typename base::N;
    static constexpr int lanes = base::lanes;

    // Decode's software prefetch: Lines cache lines `ahead` blocks (of bb bytes) on from p, in the stream of the
    // eight-lane tiles (decode never runs sixteen lanes: see tile_q4_0x8).
    template <int Lines>
    static void prefetch_ahead(const uint8_t* p, int64_t ahead, size_t bb) noexcept {
        MOE_SIMD_UNROLL
        for (int l = 0; l < Lines; ++l) __builtin_prefetch(p + static_cast<size_t>(ahead) * bb + 64 * l);
    }

    // Decode's first bytes of a thread's rows (from p): the in-loop prefetch runs `ahead` blocks on, so without
    // this the stretch's first blocks are demand misses while the hardware prefetcher finds the new stream (a
    // synthetic two-thread GEMV over 128-row stretches: 57-58 -> 61-62 GB/s in the fast memory mode).
    static void prefetch_head(const uint8_t* p, size_t bytes) noexcept {
        for (size_t l = 0; l < bytes; l += 64) __builtin_prefetch(p + l);
    }

    // The same over eight rows repacked by repack_q4_0x8 (grp: the group's first block; with sixteen lanes also the
    // group `next` bytes on): the layout already is the lanes' order, so each block is four loads, their low and
    // high nibbles, and one load of the eight scales.
    // pf .. stop: bytes to bring into L2 meanwhile (base::next_block_prefetch).
    template <int RN>
    static void q4_0x8_rows(const uint8_t* grp, size_t next, const uint8_t* const* a, int64_t b0, int64_t b1,
                            const float* tab, fv* s_io, const uint8_t*& pf, const uint8_t* stop) noexcept {
        const moe::block_q8_0* y[RN];
        fv s[RN];  // the sums in registers for the whole pass
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j) y[j] = base::template rows<moe::block_q8_0>(a, j), s[j] = s_io[j];
        const uint8_t* p = grp + static_cast<size_t>(b0) * moe::cpu::simd::q4_0x8_block_bytes;
        for (int64_t b = b0; b < b1; ++b, tab += 2 * RN, p += moe::cpu::simd::q4_0x8_block_bytes) {
            if constexpr (RN <= 2) {
                // decode reads each weight byte once: asking 32 blocks (4.5 KiB) ahead keeps more of the memory's
                // parallelism busy than the hardware prefetcher does on its own (olmoe tg +15-30 % at 2 threads)
                prefetch_ahead<3>(p, 32, moe::cpu::simd::q4_0x8_block_bytes);
            }
            base::prefetch_l2(pf, stop);
            iv v[8];
            MOE_SIMD_UNROLL
            for (int m = 0; m < 4; ++m) {
                const iv q = base::load_groups(p + 32 * m, next);
                v[m] = P::lo4(q);
                v[m + 4] = P::hi4(q);
            }
            base::template q4_0_lanes_block<RN>(v, base::halves_groups(p + 128, next), y, b, tab, s);
        }
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j) s_io[j] = s[j];
    }

    // Decode's q4_0x8_rows with sixteen-lane registers over one eight-row group (lanes == 16 only; the sums and
    // the stream are the eight-lane kernel's): a 64-byte load holds vectors m and m + 1 of a block, so a block is
    // two loads whose nibbles make four registers of two vectors each, met by the activation's matching quads side
    // by side (P::quad_pair). The halves' int32 sums add up to q4_0_lanes_block's block sum exactly, and its float
    // steps follow on eight lanes: half the dot instructions and broadcasts per block, and shorter chains.
    struct decode_wide {
        // Lanes 2h and 2h + 1 of v side by side (P::quad_pair).
        static iv quad_pair(iv v, int h) noexcept {
            switch (h) {
                case 0: return P::template quad_pair<0>(v);
                case 1: return P::template quad_pair<2>(v);
                case 2: return P::template quad_pair<4>(v);
                default: return P::template quad_pair<6>(v);
            }
        }
        template <int RN>
        static void q4_0x8_rows(const uint8_t* grp, size_t, const uint8_t* const* a, int64_t b0, int64_t b1,
                                const float* tab, typename N::fv* s_io, const uint8_t*& pf,
                                const uint8_t* stop) noexcept {
            using nfv = typename N::fv;
            using niv = typename N::iv;
            const moe::block_q8_0* y[RN];
            nfv s[RN];
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) y[j] = base::template rows<moe::block_q8_0>(a, j), s[j] = s_io[j];
            constexpr size_t bb = moe::cpu::simd::q4_0x8_block_bytes;
            const uint8_t* p = grp + static_cast<size_t>(b0) * bb;
            for (int64_t b = b0; b < b1; ++b, tab += 2 * RN, p += bb) {
                prefetch_ahead<3>(p, 32, bb);  // as q4_0x8_rows
                base::prefetch_l2(pf, stop);
                const iv q01 = P::load(p), q23 = P::load(p + 64);
                const iv v01 = P::lo4(q01), v45 = P::hi4(q01), v23 = P::lo4(q23), v67 = P::hi4(q23);
                const nfv dx = N::h2f8c(reinterpret_cast<const uint16_t*>(p + 128));
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j) {
                    const iv yq = P::bcast256(y[j][b].qs);
                    const iv lo = P::dot_u(P::dot_u(P::zero(), v01, P::template quad_pair<0>(yq)), v23,
                                           P::template quad_pair<2>(yq));
                    const iv hi = P::dot_u(P::dot_u(P::zero(), v45, P::template quad_pair<4>(yq)), v67,
                                           P::template quad_pair<6>(yq));
                    const iv t = P::add32(lo, hi);
                    const niv sumi = N::add32(N::bcast32(reinterpret_cast<const int8_t*>(tab + RN + j)),
                                              N::add32(P::half(t, 0), P::half(t, 1)));
                    s[j] = N::fadd(s[j], N::fmul(N::cvtf(sumi), N::fmul(dx, N::fset1(tab[j]))));
                }
            }
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) s_io[j] = s[j];
        }

        // q8_0x8_rows the same way: register h holds the reference's lanes 2h (low half) and 2h + 1 (high half)
        // of every row, each doing exactly q8_0x8_rows's steps for its lane; split back into eight-lane
        // accumulators at the end of the pass.
        template <int RN>
        static void q8_0x8_rows(const uint8_t* grp, size_t, int64_t b0, int64_t b1, const float* tab,
                                typename N::fv (*acc_io)[8], const uint8_t*& pf, const uint8_t* stop) noexcept {
            fv acc[RN][4];
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j)
                MOE_SIMD_UNROLL
                for (int h = 0; h < 4; ++h) acc[j][h] = P::fjoin(acc_io[j][2 * h], acc_io[j][2 * h + 1]);
            constexpr size_t bb = moe::cpu::simd::q8_0x8_block_bytes;
            const iv b128 = P::set8(-128);  // 0x80: 128 as unsigned bytes
            const uint8_t* p = grp + static_cast<size_t>(b0) * bb;
            for (int64_t b = b0; b < b1; ++b, tab += 9 * RN, p += bb) {
                prefetch_ahead<5>(p, 16, bb);  // as the eight-lane decode
                base::prefetch_l2(pf, stop);
                const typename N::fv dx8 = N::h2f8c(reinterpret_cast<const uint16_t*>(p + 256));
                const fv dx = P::fjoin(dx8, dx8);
                fv d[RN];
                iv yq[RN];
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j)
                    d[j] = P::fmul(dx, P::fset1(tab[j])), yq[j] = P::bcast256(tab + RN + 8 * j);
                MOE_SIMD_UNROLL
                for (int h = 0; h < 4; ++h) {
                    const iv v = P::load(p + 64 * h);
                    const iv init = P::sub32(P::zero(), P::dot_u(P::zero(), b128, v));
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < RN; ++j)
                        acc[j][h] = P::fmadd_v(d[j], P::dot_u(init, quad_pair(yq[j], h), v), acc[j][h]);
                }
            }
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j)
                MOE_SIMD_UNROLL
                for (int h = 0; h < 4; ++h)
                    acc_io[j][2 * h] = P::half8(acc[j][h], 0), acc_io[j][2 * h + 1] = P::half8(acc[j][h], 1);
        }
    };

    // The tile_fn over repack_q4_0x8's layout: every activation count goes through the lanes kernel (group g of
    // the rows starts 8 * g row-lengths in, as GGUF's row 8g does).
    static void tile_q4_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                            float* const* out, int64_t k) noexcept {
        // One or two activation rows (decode) stream the weights from memory: there one eight-row group at a time
        // (one sequential stream per thread) measured faster than two groups read side by side (qwen3moe-shape
        // Q4_0 tg 79-94 vs 65-84 t/s, alternating runs), so with sixteen lanes decode_wide runs the eight-lane
        // tile's loops; every prompt size gains from two groups side by side.
        if (na <= 2) prefetch_head(w + static_cast<size_t>(r0) * wrb, 32 * moe::cpu::simd::q4_0x8_block_bytes);
        if constexpr (lanes == 16) {
            if (na == 1) return dots<N>::template tile_q4_0_lanes<1, true, decode_wide>(w, wrb, r0, r1, a, na, out, k);
            if (na == 2) return dots<N>::template tile_q4_0_lanes<2, true, decode_wide>(w, wrb, r0, r1, a, na, out, k);
        }
        if (na == 1) base::template tile_q4_0_lanes<1, true>(w, wrb, r0, r1, a, na, out, k);
        else if (na == 2) base::template tile_q4_0_lanes<2, true>(w, wrb, r0, r1, a, na, out, k);
        else if (na < 8) base::template tile_q4_0_lanes<4, true>(w, wrb, r0, r1, a, na, out, k);
        else base::template tile_q4_0_lanes<P::tile_acts_rows8, true>(w, wrb, r0, r1, a, na, out, k);
    }

    // q8_0 weights repacked by repack_q8_0x8 (rows in the lanes, quants as in the file): vector m of a block holds
    // values 4m..4m+3 of the rows. Per block and m, init = -128 * each row's sum of those four values (one dot with
    // bytes 128, shared by the RN activations); then init + (y + 128) . w, four products per lane, is each row's
    // reference lane m (the sum of products 4m..4m+3), exactly, and acc[j][m] takes the reference's
    // fma(dx * dy, float(lane m)) per row lane. tab per block: RN activation scales (float), then RN x 32 bytes
    // y + 128 (unsigned). The weights are loaded once per block for RN activations and no per-activation constant
    // is broadcast from memory but the activation's own four bytes.
    // pf .. stop: bytes to bring into L2 meanwhile (base::next_block_prefetch).
    template <int RN>
    static void q8_0x8_rows(const uint8_t* grp, size_t next, int64_t b0, int64_t b1, const float* tab,
                            fv (*acc_io)[8], const uint8_t*& pf, const uint8_t* stop) noexcept {
        fv acc[RN][8];
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j)
            MOE_SIMD_UNROLL
            for (int m = 0; m < 8; ++m) acc[j][m] = acc_io[j][m];
        constexpr size_t bb = moe::cpu::simd::q8_0x8_block_bytes;
        const iv b128 = P::set8(-128);  // 0x80: 128 as unsigned bytes
        const uint8_t* p = grp + static_cast<size_t>(b0) * bb;
        for (int64_t b = b0; b < b1; ++b, tab += 9 * RN, p += bb) {
            if constexpr (RN == 1) prefetch_ahead<5>(p, 16, bb);  // decode, as the q4_0x8 kernel
            base::prefetch_l2(pf, stop);
            const fv dx = base::halves_groups(p + 256, next);
            fv d[RN];
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) d[j] = P::fmul(dx, P::fset1(tab[j]));
            const auto* yu = reinterpret_cast<const int8_t*>(tab + RN);
            MOE_SIMD_UNROLL
            for (int m = 0; m < 8; ++m) {
                const iv v = base::load_groups(p + 32 * m, next);
                const iv init = P::sub32(P::zero(), P::dot_u(P::zero(), b128, v));
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j)
                    acc[j][m] = P::fmadd_v(d[j], P::dot_u(init, P::bcast32(yu + 32 * j + 4 * m), v), acc[j][m]);
            }
        }
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j)
            MOE_SIMD_UNROLL
            for (int m = 0; m < 8; ++m) acc_io[j][m] = acc[j][m];
    }

    // The tile_fn over repack_q8_0x8's layout (r0, r1 multiples of 8) in lanes_tile's loops, activations RN (1 to 3)
    // at a time; each row's eight lanes are summed at the end as the reference's hsum.
    template <int RN, class Kern = packed_dots>
    static void tile_q8_0x8_n(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                              float* const* out, int64_t k) noexcept {
        fv acc[64 / lanes][RN][8];
        for (auto& g : acc)
            for (auto& j : g)
                for (fv& v : j) v = P::fzero();
        auto fill = [](const uint8_t* const* ap, int64_t c0, int64_t c1, float* tab) {
            for (int64_t b = c0; b < c1; ++b, tab += 9 * RN)
                for (int j = 0; j < RN; ++j) {
                    const moe::block_q8_0& yb = base::template rows<moe::block_q8_0>(ap, j)[b];
                    tab[j] = N::h2f(yb.d);
                    const auto yu = N::sub8(N::load(yb.qs), N::set8(-128));  // y + 128, wrapping as bytes
                    std::memcpy(tab + RN + 8 * j, &yu, 32);
                }
        };
        typename base::next_block_prefetch pf{w, wrb, r1};
        auto run = [&](int64_t rb, int64_t re, const uint8_t* const*, int64_t c0, int64_t c1, const float* tab) {
            const uint8_t* stop = pf.stop(rb, re);
            for (int64_t r = rb, g = 0; r < re; r += lanes, ++g)
                Kern::template q8_0x8_rows<RN>(w + static_cast<size_t>(r) * wrb, base::next_group(r, re, 8 * wrb),
                                               c0, c1, tab, acc[g], pf.at, stop);
        };
        auto done = [&](int64_t rb, int64_t re, int i, int rn) {
            for (int64_t r = rb, g = 0; r < re; r += lanes, ++g)
                for (int j = 0; j < RN; ++j) {
                    fv(&l)[8] = acc[g][j];  // the reference's hsum, lane by lane
                    fv sum = P::fadd(P::fadd(P::fadd(l[0], l[4]), P::fadd(l[2], l[6])),
                                     P::fadd(P::fadd(l[1], l[5]), P::fadd(l[3], l[7])));
                    if (j < rn) base::store_lanes(sum, out[i + j], r, base::lanes_left(r, re));
                    for (fv& v : l) v = P::fzero();
                }
            pf.pass_done();
        };
        base::template lanes_tile<RN, 224 / RN, 9>(r0, r1, a, na, k / moe::qk8_0, fill, run, done);
    }
    static void tile_q8_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                            float* const* out, int64_t k) noexcept {
        if (na <= 2) prefetch_head(w + static_cast<size_t>(r0) * wrb, 16 * moe::cpu::simd::q8_0x8_block_bytes);
        if constexpr (lanes == 16) {  // decode: eight lanes, as tile_q4_0x8; prompts three activations a pass
            if (na == 1) return packed_dots<N>::template tile_q8_0x8_n<1, decode_wide>(w, wrb, r0, r1, a, na, out, k);
            if (na == 2) return packed_dots<N>::template tile_q8_0x8_n<2, decode_wide>(w, wrb, r0, r1, a, na, out, k);
            if (na == 4) return tile_q8_0x8_n<2>(w, wrb, r0, r1, a, na, out, k);
            return tile_q8_0x8_n<3>(w, wrb, r0, r1, a, na, out, k);
        }
        if (na == 1) tile_q8_0x8_n<1>(w, wrb, r0, r1, a, na, out, k);
        else tile_q8_0x8_n<2>(w, wrb, r0, r1, a, na, out, k);
    }

    // f16 / bf16 weights repacked by repack_h16x8 (element e of eight rows in 16 bytes): each row's reference sum,
    // s += float(x[e]) * float(y[e]) with e in order, runs in the row's lane. G units of `lanes` rows (unit_bytes
    // apart; with sixteen lanes a unit's second group is `next` bytes on) meet RN activation rows at once, so G * RN
    // chains of dependent additions overlap. ya: the activations' elements as floats, RN per element from e0 on.
    template <bool BF, int G, int RN>
    static void h16x8_rows(const uint8_t* grp, size_t unit_bytes, size_t next, const float* ya, int64_t e0,
                           int64_t e1, fv (*acc)[RN]) noexcept {
        const uint8_t* p = grp + static_cast<size_t>(e0) * 16;
        for (int64_t e = e0; e < e1; ++e, ya += RN, p += 16) {
            fv x[G];
            MOE_SIMD_UNROLL
            for (int g = 0; g < G; ++g) x[g] = base::template halves_groups<BF>(p + g * unit_bytes, next);
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) {
                const fv y = P::fset1(ya[j]);
                MOE_SIMD_UNROLL
                for (int g = 0; g < G; ++g) acc[g][j] = P::fadd(acc[g][j], P::fmul(x[g], y));
            }
        }
    }

    // The tile_fn over repack_h16x8's layout (r0, r1 multiples of 8) in lanes_tile's loops (k's "blocks" are its
    // elements), 8 / RN units of `lanes` rows per pass (at most a 64-row block's; one at a time for a block's last
    // short run); tab: the activations' elements as floats.
    template <bool BF, int RN>
    static void tile_h16x8_n(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                             float* const* out, int64_t k) noexcept {
        constexpr int G = 8 / RN < 64 / lanes ? 8 / RN : 64 / lanes;
        const size_t gb = 8 * wrb, ub = lanes / 8 * gb;
        fv acc[8][RN];
        for (auto& g : acc)
            for (fv& v : g) v = P::fzero();
        auto fill = [](const uint8_t* const* ap, int64_t c0, int64_t c1, float* tab) {
            for (int j = 0; j < RN; ++j) {
                const auto* y = reinterpret_cast<const uint16_t*>(ap[j]);
                for (int64_t e = c0; e < c1; ++e) tab[(e - c0) * RN + j] = BF ? moe::bf16_to_f32(y[e]) : N::h2f(y[e]);
            }
        };
        auto run = [&](int64_t rb, int64_t re, const uint8_t* const*, int64_t c0, int64_t c1, const float* tab) {
            int64_t r = rb, g = 0;
            for (; r + lanes * G <= re; r += lanes * G, g += G)
                h16x8_rows<BF, G, RN>(w + static_cast<size_t>(r) * wrb, ub, gb, tab, c0, c1, acc + g);
            for (; r < re; r += lanes, ++g)
                h16x8_rows<BF, 1, RN>(w + static_cast<size_t>(r) * wrb, ub, base::next_group(r, re, gb), tab, c0, c1,
                                      acc + g);
        };
        auto done = [&](int64_t rb, int64_t re, int i, int rn) {
            for (int64_t r = rb, g = 0; r < re; r += lanes, ++g)
                for (int j = 0; j < RN; ++j)
                    if (j < rn) base::store_lanes(acc[g][j], out[i + j], r, base::lanes_left(r, re));
                    else acc[g][j] = P::fzero();
        };
        base::template lanes_tile<RN, 2048 / RN, 1>(r0, r1, a, na, k, fill, run, done);
    }
    template <bool BF>
    static void tile_h16x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                           float* const* out, int64_t k) noexcept {
        if constexpr (lanes == 16)  // decode: eight lanes, as tile_q4_0x8
            if (na <= 2) return packed_dots<N>::template tile_h16x8<BF>(w, wrb, r0, r1, a, na, out, k);
        if (na == 1) tile_h16x8_n<BF, 1>(w, wrb, r0, r1, a, na, out, k);
        else if (na == 2) tile_h16x8_n<BF, 2>(w, wrb, r0, r1, a, na, out, k);
        else if (na < 8) tile_h16x8_n<BF, 4>(w, wrb, r0, r1, a, na, out, k);
        else tile_h16x8_n<BF, 8>(w, wrb, r0, r1, a, na, out, k);
    }
};

}  // namespace
