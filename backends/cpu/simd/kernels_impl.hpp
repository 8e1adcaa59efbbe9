// kernels_impl.hpp — every SIMD dot product and tile, written once over an ISA's primitives P (prims_x86.hpp,
// prims_neon.hpp: 32-byte registers of eight int32 / float lanes), each repeating the reference's lane split and
// float order (backends/cpu/ref/vec_dot*.cpp) so results are bit-exact.
// Before: prims_*.hpp. After: kernels_<isa>.cpp instantiate fill_kernels<P, Arch>() into the dispatch table.
//
// Included only by fill_table.hpp; all in an anonymous namespace, so every instantiation has internal linkage.
#pragma once

#include "backends/cpu/simd/simd.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <cmath>
#include <cstring>
#include <type_traits>

// Fully unrolls a loop of compile-time trip count, so the register tiles' arrays stay in registers.
#if defined(__clang__)
#define MOE_SIMD_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define MOE_SIMD_UNROLL _Pragma("GCC unroll 16")
#else
#define MOE_SIMD_UNROLL
#endif
// Inlines a small kernel step into its loop even where the compiler's size heuristics would not.
#if defined(__GNUC__)
#define MOE_SIMD_INLINE inline __attribute__((always_inline))
#else
#define MOE_SIMD_INLINE inline
#endif

namespace {

template <class P>
struct packed_dots;  // kernels_packed.hpp: the tiles over repacked weights

// The eight-lane primitives of P: P itself, or P::narrow for the sixteen-lane ones (prims_x86_512.hpp), which only
// the packed tiles use; per-activation tables and single 32-byte blocks are always done eight lanes wide.
template <class P, class = void>
struct narrow_of {
    using type = P;
};
template <class P>
struct narrow_of<P, std::void_t<typename P::narrow>> {
    using type = typename P::narrow;
};

// P::nibble_sums16 where P declares it (prims_x86.hpp without VNNI), else false.
template <class P, class = void>
struct nibble_sums16 : std::false_type {};
template <class P>
struct nibble_sums16<P, std::enable_if_t<P::nibble_sums16>> : std::true_type {};

// Each dot<NA> computes NA activation rows against one weight row, so the weight bytes are unpacked once for NA
// tokens; every row's own arithmetic is exactly that of a single-row dot.
template <class P>
struct dots {
    using iv = typename P::iv;
    using fv = typename P::fv;
    using N = typename narrow_of<P>::type;
    // Lanes per vector: 8, or 16 where P holds two of the loader's eight-row groups side by side (rows-in-lanes
    // tiles over packed weights only).
    static constexpr int lanes = static_cast<int>(sizeof(fv) / sizeof(float));

    // 32 bytes of a packed eight-row group at p, and with sixteen lanes the same bytes of the group `next` bytes on.
    static iv load_groups(const uint8_t* p, size_t next) noexcept {
        if constexpr (lanes == 16) return P::load2(p, p + next);
        else return (void)next, P::load(p);
    }
    // The eight f16 (BF: bfloat16) scales or values at p as floats, and with sixteen lanes the eight `next` bytes on.
    template <bool BF = false>
    static fv halves_groups(const uint8_t* p, size_t next) noexcept {
        const auto* h = reinterpret_cast<const uint16_t*>(p);
        if constexpr (lanes == 16) {
            const auto* h2 = reinterpret_cast<const uint16_t*>(p + next);
            return BF ? P::bf2f8c2(h, h2) : P::h2f8c2(h, h2);
        } else {
            return (void)next, BF ? P::bf2f8c(h) : P::h2f8c(h);
        }
    }
    // With sixteen lanes, where the second group of rows r .. starts (none left: the first again, its lanes dropped).
    static size_t next_group(int64_t r, int64_t re, size_t group_bytes) noexcept {
        return lanes == 16 && re - r >= 16 ? group_bytes : 0;
    }
    static int lanes_left(int64_t r, int64_t re) noexcept { return re - r < lanes ? static_cast<int>(re - r) : lanes; }

    template <class B>
    static const B* rows(const uint8_t* const* a, int j) noexcept {
        return reinterpret_cast<const B*>(a[j]);
    }

    // The register tiles' inputs: N weight rows from row r / N activation rows; a short group (rm / rn valid) repeats
    // its last valid one, whose extra lanes are computed and dropped.
    template <int N>
    static void pad_rows(const uint8_t* w, size_t wrb, int64_t r, int rm, const uint8_t** out) noexcept {
        for (int i = 0; i < N; ++i) out[i] = w + static_cast<size_t>(r + (i < rm ? i : rm - 1)) * wrb;
    }
    template <int N>
    static void pad_acts(const uint8_t* const* a, int rn, const uint8_t** out) noexcept {
        for (int j = 0; j < N; ++j) out[j] = a[j < rn ? j : rn - 1];
    }

    // q8_0 (the reference: eight lanes, fma(dx * dy, lanes) per block, then its hsum), register-blocked: RM weight
    // rows x RN activation rows per pass over the blocks, so each weight block is loaded (and checked for -128)
    // once for RN rows and each activation block (its prep8 and scale) once for RM rows. Every (row, activation)
    // pair keeps its own eight lanes and does a single-row dot's operations.
    template <int RM, int RN>
    static void q8_0_rect(const uint8_t* w, size_t wrb, const uint8_t* const* a, int64_t nb, float (*res)[4]) noexcept {
        const moe::block_q8_0* x[RM];
        const moe::block_q8_0* y[RN];
        MOE_SIMD_UNROLL
        for (int i = 0; i < RM; ++i) x[i] = reinterpret_cast<const moe::block_q8_0*>(w + static_cast<size_t>(i) * wrb);
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j) y[j] = rows<moe::block_q8_0>(a, j);
        fv acc[RM][RN];
        MOE_SIMD_UNROLL
        for (int i = 0; i < RM; ++i)
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) acc[i][j] = P::fzero();
        for (int64_t b = 0; b < nb; ++b) {
            iv yq[RN], yp[RN];
            fv dy[RN];
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) {
                yq[j] = P::load(y[j][b].qs);
                yp[j] = P::prep8(yq[j]);
                dy[j] = P::fset1(P::h2f(y[j][b].d));
            }
            MOE_SIMD_UNROLL
            for (int i = 0; i < RM; ++i) {
                if (RM > 1)  // as in q4_0_pairs: the same block of the row RM further on
                    __builtin_prefetch(reinterpret_cast<const uint8_t*>(x[i] + b) + RM * wrb);
                else  // one row (decode): 4 KiB ahead in its stream, as the q4_0x8 decode kernel
                    __builtin_prefetch(reinterpret_cast<const uint8_t*>(x[i] + b) + 4096);
                const iv xq = P::load(x[i][b].qs);
                const float dx = P::h2f(x[i][b].d);
                if (P::has_min8(xq)) {  // a -128 weight: the exact widening path
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < RN; ++j)
                        acc[i][j] = P::fmadd(dx * P::h2f(y[j][b].d), P::dot_any(P::zero(), xq, yq[j]), acc[i][j]);
                } else {
                    const fv dxv = P::fset1(dx);
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < RN; ++j)
                        acc[i][j] = P::fmadd_v(P::fmul(dxv, dy[j]), P::dot_prepped(P::zero(), xq, yq[j], yp[j]),
                                               acc[i][j]);
                }
            }
        }
        MOE_SIMD_UNROLL
        for (int i = 0; i < RM; ++i)
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) res[i][j] = P::hsum(acc[i][j]);
    }

    template <int RM, int RN>
    static void q8_0_rect_n(int rm, int rn, const uint8_t* w, size_t wrb, const uint8_t* const* a, int64_t nb,
                            float (*res)[4]) noexcept {
        if constexpr (RN > 1) {
            if (rn < RN) return q8_0_rect_n<RM, RN - 1>(rm, rn, w, wrb, a, nb, res);
        }
        if constexpr (RM > 1) {
            if (rm < RM) return q8_0_rect_n<RM - 1, RN>(rm, rn, w, wrb, a, nb, res);
        }
        q8_0_rect<RM, RN>(w, wrb, a, nb, res);
    }

    // The tile_fn for q8_0 weights: 16-row blocks as tile() below, each covered by RM x RN rectangles.
    static void tile_q8_0(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                          float* const* out, int64_t k) noexcept {
        constexpr int RM = P::tile_rows, RN = P::tile_acts;
        constexpr int64_t row_block = 16;
        const int64_t nb = k / moe::qk8_0;
        for (int64_t rb = r0; rb < r1; rb += row_block) {
            const int64_t re = rb + row_block < r1 ? rb + row_block : r1;
            for (int i = 0; i < na; i += RN) {
                const int rn = na - i < RN ? na - i : RN;
                const int64_t step = rn == 1 ? 1 : RM;
                for (int64_t r = rb; r < re; r += step) {
                    const int rm = re - r < step ? static_cast<int>(re - r) : static_cast<int>(step);
                    float res[4][4] = {};
                    q8_0_rect_n<RM, RN>(rm, rn, w + static_cast<size_t>(r) * wrb, wrb, a + i, nb, res);
                    for (int ii = 0; ii < rm; ++ii)
                        for (int j = 0; j < rn; ++j) out[i + j][r + ii] = res[ii][j];
                }
            }
        }
    }

    // 32-element blocks whose reference sums block by block (iq4_nl / mxfp4 repacked: acc = fma(float(sumi), dx * dy,
    // acc)). Eight blocks' integer sums come out of one transpose; the float steps then run in block order.
    template <class B, class Values, class Scale>
    static void dot_blocks(const uint8_t* wp, const uint8_t* const* a, int64_t k, float* res, int NA) noexcept {
        const auto* x = reinterpret_cast<const B*>(wp);
        const int64_t nb = k / 32;
        float acc[4] = {0, 0, 0, 0};
        int64_t b = 0;
        for (; b + 8 <= nb; b += 8) {
            iv v[8];
            float dx[8];
            for (int i = 0; i < 8; ++i) {
                v[i] = Values::get(x[b + i]);
                dx[i] = Scale::get(x[b + i]);
            }
            for (int j = 0; j < NA; ++j) {
                const moe::block_q8_0* y = rows<moe::block_q8_0>(a, j) + b;
                iv q[8];
                float d[8], f[8];
                for (int i = 0; i < 8; ++i) {
                    q[i] = P::dot_small(P::zero(), v[i], P::load(y[i].qs));
                    d[i] = dx[i] * P::h2f(y[i].d);
                }
                float s = acc[j];
                P::cvt(P::totals8(q), f);
                for (int i = 0; i < 8; ++i) s = std::fma(f[i], d[i], s);
                acc[j] = s;
            }
        }
        for (; b < nb; ++b) {
            const iv v = Values::get(x[b]);
            const float dx = Scale::get(x[b]);
            for (int j = 0; j < NA; ++j) {
                const moe::block_q8_0& y = rows<moe::block_q8_0>(a, j)[b];
                const float f = static_cast<float>(P::hsum32(P::dot_small(P::zero(), v, P::load(y.qs))));
                const float d = dx * P::h2f(y.d);
                acc[j] = std::fma(f, d, acc[j]);
            }
        }
        for (int j = 0; j < NA; ++j) res[j] = acc[j];
    }

    // q4_0 (the reference: per block s += float(sumi) * (dx * dy), blocks in order) eight (row, activation) pairs at
    // a time: pair p = i * RN + j owns lane p of every vector, so one transpose gives the eight block sums and the
    // float steps run as vector lanes, each lane in the reference's block order. RM * RN == 8; callers pad short
    // groups by repeating a row or an activation (the extra lanes are computed and dropped). Blocks [b0, b1) are
    // added to s; dyt holds the activations' scales as floats, RN per block from block b0 on.
    template <int RM, int RN>
    static fv q4_0_pairs(const uint8_t* const* w, size_t wrb, const uint8_t* const* a, int64_t b0, int64_t b1,
                         const float* dyt, fv s) noexcept {
        static_assert(RM * RN == 8, "eight pairs");
        const moe::block_q4_0* x[RM];
        const moe::block_q8_0* y[RN];
        MOE_SIMD_UNROLL
        for (int i = 0; i < RM; ++i) x[i] = reinterpret_cast<const moe::block_q4_0*>(w[i]);
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j) y[j] = rows<moe::block_q8_0>(a, j);
        for (int64_t b = b0; b < b1; ++b, dyt += RN) {
            iv yq[RN], yp[RN];
            MOE_SIMD_UNROLL
            for (int j = 0; j < RN; ++j) {
                yq[j] = P::load(y[j][b].qs);
                yp[j] = P::prep8(yq[j]);
            }
            iv q[8];
            const uint16_t* hx[8];
            MOE_SIMD_UNROLL
            for (int i = 0; i < RM; ++i) {
                // RM short row streams at once train the hardware prefetcher poorly (expert rows are ~1 KB), so
                // each row asks for the same block of the row RM further on: the next group's data arrives while
                // this group computes (prefetches never fault, also past the matrix's end)
                __builtin_prefetch(reinterpret_cast<const uint8_t*>(x[i] + b) + RM * wrb);
                const iv v = P::sub8(P::nibbles16(x[i][b].qs), P::set8(8));  // -8 .. 7
                MOE_SIMD_UNROLL
                for (int j = 0; j < RN; ++j) {
                    q[i * RN + j] = P::dot_prepped(P::zero(), v, yq[j], yp[j]);
                    hx[i * RN + j] = &x[i][b].d;
                }
            }
            // dx * dy per lane, rounded as the reference rounds it
            const fv d = P::fmul(P::h2f8(hx), P::template frepeat<RN>(dyt));
            s = P::fadd(s, P::fmul(P::cvtf(P::totals8(q)), d));
        }
        return s;
    }

    // The tile_fn for q4_0 weights in lanes_tile's loops with 16-row blocks: one activation row meets eight weight
    // rows at a time, two meet four, three or more go four at a time against two rows; the table holds the
    // activations' scales.
    template <int RN>
    static void tile_q4_0_n(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                            float* const* out, int64_t k) noexcept {
        constexpr int RM = 8 / RN;
        constexpr int64_t row_block = 16;
        fv part[row_block / RM];
        for (fv& v : part) v = P::fzero();
        auto fill = [](const uint8_t* const* ap, int64_t c0, int64_t c1, float* dyt) {  // the activations' scales
            for (int64_t b = c0; b < c1; ++b)
                for (int j = 0; j < RN; ++j) dyt[(b - c0) * RN + j] = P::h2f(rows<moe::block_q8_0>(ap, j)[b].d);
        };
        auto run = [&](int64_t rb, int64_t re, const uint8_t* const* ap, int64_t c0, int64_t c1, const float* dyt) {
            for (int64_t r = rb, g = 0; r < re; r += RM, ++g) {
                const int rm = re - r < RM ? static_cast<int>(re - r) : RM;
                const uint8_t* wp[RM];
                pad_rows<RM>(w, wrb, r, rm, wp);
                part[g] = q4_0_pairs<RM, RN>(wp, wrb, ap, c0, c1, dyt, part[g]);
            }
        };
        auto done = [&](int64_t rb, int64_t re, int i, int rn) {
            for (int64_t r = rb, g = 0; r < re; r += RM, ++g) {
                const int rm = re - r < RM ? static_cast<int>(re - r) : RM;
                alignas(32) float res[8];
                P::fstoreu(res, part[g]);
                part[g] = P::fzero();
                for (int ii = 0; ii < rm; ++ii)
                    for (int j = 0; j < rn; ++j) out[i + j][r + ii] = res[ii * RN + j];
            }
        };
        lanes_tile<RN, 2048 / RN, 1, row_block>(r0, r1, a, na, k / moe::qk4_0, fill, run, done);
    }
    // q4_0 against RN activation rows with the eight weight rows in the lanes: vector m holds values 4m..4m+3 of
    // all eight rows (nibbles, 0..15), so a product with the activation's values 4m..4m+3 broadcast adds into each
    // row's own lane, and eight of them leave each lane holding its row's block sum, with no horizontal reduction.
    // Started from -8 * sum(y), that is the reference's integer sum; the float steps per lane are those of
    // q4_0_pairs. tab: this block's RN activation scales (float) then RN values -8 * sum(y) (int32); dx: the rows'
    // scales.
    template <int RN>
    static void q4_0_lanes_block(const iv* v, fv dx, const moe::block_q8_0* const* y, int64_t b, const float* tab,
                                 fv* s) noexcept {
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j) {
            iv sumi = P::bcast32(reinterpret_cast<const int8_t*>(tab + RN + j));  // -8 * sum(y) in every lane
            if constexpr (nibble_sums16<P>::value) {
                iv s16[2];  // two chains of four
                MOE_SIMD_UNROLL
                for (int h = 0; h < 2; ++h) {
                    s16[h] = P::dot_u16(v[h], P::bcast32(y[j][b].qs + 4 * h));
                    MOE_SIMD_UNROLL
                    for (int m = h + 2; m < 8; m += 2)
                        s16[h] = P::add16(s16[h], P::dot_u16(v[m], P::bcast32(y[j][b].qs + 4 * m)));
                }
                sumi = P::widen16(sumi, P::add16(s16[0], s16[1]));
            } else {
                MOE_SIMD_UNROLL
                for (int m = 0; m < 8; ++m) sumi = P::dot_u(sumi, v[m], P::bcast32(y[j][b].qs + 4 * m));
            }
            s[j] = P::fadd(s[j], P::fmul(P::cvtf(sumi), P::fmul(dx, P::fset1(tab[j]))));
        }
    }

    // Blocks [b0, b1) of eight q4_0 rows in GGUF layout (w: the rows) into s: each row's 32 values are transposed
    // in registers into the lanes' order of q4_0_lanes_block. tab from block b0 on.
    template <int RN>
    static void q4_0_rows8(const uint8_t* const* w, size_t wrb, const uint8_t* const* a, int64_t b0, int64_t b1,
                           const float* tab, fv* s) noexcept {
        const moe::block_q4_0* x[8];
        const moe::block_q8_0* y[RN];
        MOE_SIMD_UNROLL
        for (int i = 0; i < 8; ++i) x[i] = reinterpret_cast<const moe::block_q4_0*>(w[i]);
        MOE_SIMD_UNROLL
        for (int j = 0; j < RN; ++j) y[j] = rows<moe::block_q8_0>(a, j);
        for (int64_t b = b0; b < b1; ++b, tab += 2 * RN) {
            iv v[8];
            const uint16_t* hx[8];
            MOE_SIMD_UNROLL
            for (int i = 0; i < 8; ++i) {
                __builtin_prefetch(reinterpret_cast<const uint8_t*>(x[i] + b) + 8 * wrb);  // as in q4_0_pairs
                v[i] = P::nibbles16(x[i][b].qs);
                hx[i] = &x[i][b].d;
            }
            P::transpose8x32(v);
            q4_0_lanes_block<RN>(v, P::h2f8(hx), y, b, tab, s);
        }
    }

    // The loops of the register tiles: row_block-row blocks (64 by default: the rows' bytes stay in L2 while every
    // group of RN activations passes), RN activation rows at a time (a short group repeats its last row), and the
    // blocks of k in chunks of Chunk whose per-activation table (Tab floats per block, filled by fill(ap, c0, c1,
    // tab)) fits 8 KiB of stack. run(rb, re, ap, c0, c1, tab) accumulates rows [rb, re) over blocks [c0, c1);
    // done(rb, re, i, rn) stores activations i .. i + rn - 1 of those rows and clears the accumulators.
    template <int RN, int64_t Chunk, int64_t Tab, int64_t row_block = 64, class Fill, class Run, class Done>
    static void lanes_tile(int64_t r0, int64_t r1, const uint8_t* const* a, int na, int64_t nb, Fill fill, Run run,
                           Done done) noexcept {
        static_assert(Chunk * Tab * RN * sizeof(float) <= 8192, "8 KiB of stack: a host thread's may be small");
        alignas(32) float tab[Chunk * Tab * RN];
        // One group of activations and one chunk (decode): the table is the same for every row block, filled once.
        const bool fill_once = na <= RN && nb <= Chunk;
        bool filled = false;
        for (int64_t rb = r0; rb < r1; rb += row_block) {
            const int64_t re = rb + row_block < r1 ? rb + row_block : r1;
            for (int i = 0; i < na; i += RN) {
                const int rn = na - i < RN ? na - i : RN;
                const uint8_t* ap[RN];
                pad_acts<RN>(a + i, rn, ap);
                for (int64_t c0 = 0; c0 < nb; c0 += Chunk) {
                    const int64_t c1 = c0 + Chunk < nb ? c0 + Chunk : nb;
                    if (!filled) fill(ap, c0, c1, tab);
                    filled = fill_once;
                    run(rb, re, ap, c0, c1, static_cast<const float*>(tab));
                }
                done(rb, re, i, rn);
            }
        }
    }

    // For prompt tiles in lanes_tile's loops over w (rows r0 .. r1, wrb bytes each): a row block's first pass (its
    // first RN activations) reads the weights from memory, the passes of the other activations from L2, and those
    // also bring the next row block into L2, two lines per weight block (prefetch_l2), so that its first pass finds
    // it there. stop(rb, re) at each run(): the end of what this pass may prefetch; pass_done() at each done().
    struct next_block_prefetch {
        const uint8_t* w;
        size_t wrb;
        int64_t r1;
        int64_t seen = -1;
        bool first = true;
        const uint8_t *at = nullptr, *end = nullptr;
        const uint8_t* stop(int64_t rb, int64_t re) noexcept {
            if (rb != seen) {
                seen = rb, first = true;
                at = w + static_cast<size_t>(re) * wrb;
                end = w + static_cast<size_t>(re + (re - rb) < r1 ? re + (re - rb) : r1) * wrb;
            }
            return first ? at : end;
        }
        void pass_done() noexcept { first = false; }
    };
    static void prefetch_l2(const uint8_t*& at, const uint8_t* stop) noexcept {
        if (at < stop) {
            __builtin_prefetch(at, 0, 2);  // locality 2: prefetcht1, into L2
            __builtin_prefetch(at + 64, 0, 2);
            at += 128;
        }
    }

    // Stores lanes 0 .. rm - 1 of v as rows r .. r + rm - 1 of out row `o`, and clears v.
    static void store_lanes(fv& v, float* o, int64_t r, int rm) noexcept {
        alignas(64) float res[lanes];
        P::fstoreu(res, v);
        for (int ii = 0; ii < rm; ++ii) o[r + ii] = res[ii];
        v = P::fzero();
    }

    // q4_0 with the eight weight rows in the lanes (lanes_tile's loops; short row groups padded as in tile_q4_0_n).
    // tab per block: RN activation scales, then RN values -8 * sum(y). Packed: w holds repack_q4_0x8's layout (r0,
    // r1 multiples of 8), else GGUF rows. Kern: whose q4_0x8_rows<RN> runs a packed group (packed_dots<P>'s, or
    // with eight lanes on AVX-512 its decode_wide).
    template <int RN, bool Packed, class Kern = packed_dots<P>>
    static void tile_q4_0_lanes(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a,
                                int na, float* const* out, int64_t k) noexcept {
        fv part[8][RN];
        for (auto& g : part)
            for (fv& v : g) v = P::fzero();
        auto fill = [](const uint8_t* const* ap, int64_t c0, int64_t c1, float* tab) {
            for (int64_t b = c0; b < c1; ++b, tab += 2 * RN)
                for (int j = 0; j < RN; ++j) {
                    const moe::block_q8_0& yb = rows<moe::block_q8_0>(ap, j)[b];
                    tab[j] = N::h2f(yb.d);
                    const int32_t sy8 = -8 * N::hsum32(N::dot_u(N::zero(), N::set8(1), N::load(yb.qs)));
                    std::memcpy(tab + RN + j, &sy8, sizeof sy8);
                }
        };
        next_block_prefetch pf{w, wrb, r1};
        auto run = [&](int64_t rb, int64_t re, const uint8_t* const* ap, int64_t c0, int64_t c1, const float* tab) {
            const uint8_t* stop = pf.stop(rb, re);
            for (int64_t r = rb, g = 0; r < re; r += lanes, ++g) {
                if constexpr (Packed) {
                    Kern::template q4_0x8_rows<RN>(w + static_cast<size_t>(r) * wrb, next_group(r, re, 8 * wrb), ap,
                                                   c0, c1, tab, part[g], pf.at, stop);
                } else {
                    const uint8_t* wp[8];
                    pad_rows<8>(w, wrb, r, re - r < 8 ? static_cast<int>(re - r) : 8, wp);
                    q4_0_rows8<RN>(wp, wrb, ap, c0, c1, tab, part[g]);
                }
            }
        };
        auto done = [&](int64_t rb, int64_t re, int i, int rn) {
            for (int64_t r = rb, g = 0; r < re; r += lanes, ++g)
                for (int j = 0; j < RN; ++j)
                    if (j < rn) store_lanes(part[g][j], out[i + j], r, lanes_left(r, re));
                    else part[g][j] = P::fzero();
            pf.pass_done();
        };
        lanes_tile<RN, 1024 / RN, 2>(r0, r1, a, na, k / moe::qk4_0, fill, run, done);
    }

    static void tile_q4_0(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                          float* const* out, int64_t k) noexcept {
        if (na == 1) tile_q4_0_n<1>(w, wrb, r0, r1, a, na, out, k);
        else if (na == 2) tile_q4_0_n<2>(w, wrb, r0, r1, a, na, out, k);
        else if (na == 3) tile_q4_0_n<4>(w, wrb, r0, r1, a, na, out, k);
        else if (na < 8) tile_q4_0_lanes<4, false>(w, wrb, r0, r1, a, na, out, k);
        else tile_q4_0_lanes<P::tile_acts_rows8, false>(w, wrb, r0, r1, a, na, out, k);
    }
    struct iq4_nl_values {
        static iv get(const moe::block_iq4_nl& b) noexcept { return P::lut(moe::iq4nl_values, P::nibbles16(b.qs)); }
    };
    struct iq4_nl_scale {
        static float get(const moe::block_iq4_nl& b) noexcept { return P::h2f(b.d); }
    };
    struct iq4_nl {
        template <int NA>
        static void dot(const uint8_t* w, const uint8_t* const* a, int64_t k, float* res) noexcept {
            dot_blocks<moe::block_iq4_nl, iq4_nl_values, iq4_nl_scale>(w, a, k, res, NA);
        }
    };

    struct mxfp4_values {
        static iv get(const moe::block_mxfp4& b) noexcept { return P::lut(moe::mxfp4_values, P::nibbles16(b.qs)); }
    };
    struct mxfp4_scale {
        // e8m0 exponent as a float, halved (the table holds doubled values).
        static float get(const moe::block_mxfp4& b) noexcept {
            const uint32_t bits = b.e < 2 ? (0x00200000u << b.e) : (static_cast<uint32_t>(b.e - 1) << 23);
            float f;
            std::memcpy(&f, &bits, sizeof f);
            return f;
        }
    };
    struct mxfp4 {
        template <int NA>
        static void dot(const uint8_t* w, const uint8_t* const* a, int64_t k, float* res) noexcept {
            dot_blocks<moe::block_mxfp4, mxfp4_values, mxfp4_scale>(w, a, k, res, NA);
        }
    };

    // q4_k/q5_k's 6-bit scales and mins of the 8 sub-blocks, unpacked four at a time in 32-bit words: the low six
    // bits of bytes 0-3 / 4-7 are scales / mins 0-3; bytes 8-11 hold the low four bits of scales / mins 4-7 (low /
    // high nibble) and the top two bits of bytes 0-3 / 4-7 their high two. sc_m: scales 0-7, then mins 0-7.
    static void scales_k4(const uint8_t* q, uint8_t* sc_m) noexcept {
        uint32_t w[3];
        std::memcpy(w, q, 12);
        const uint32_t low6 = 0x3f3f3f3fu, low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
        const uint32_t out[4] = {w[0] & low6, (w[2] & low4) | (((w[0] >> 6) & low2) << 4), w[1] & low6,
                                 ((w[2] >> 4) & low4) | (((w[1] >> 6) & low2) << 4)};
        std::memcpy(sc_m, out, 16);
    }
    static void scales_k4(const uint8_t* q, int* sc, int* m) noexcept {
        uint8_t sc_m[16];
        scales_k4(q, sc_m);
        for (int j = 0; j < 8; ++j) sc[j] = sc_m[j], m[j] = sc_m[8 + j];
    }

    // q4_k in the reference's repacked orders: the scaled sum and the min term of each group of Pairs pairs of
    // 32-element sub-blocks enter acc / acc_m on their own (Pairs 4: the GEMV, per super-block; Pairs 1: the prompt
    // GEMM, per 64 values); the result is acc - acc_m.
    template <int Pairs>
    struct q4_k_grouped {
        template <int NA>
        static void dot(const uint8_t* wp, const uint8_t* const* a, int64_t k, float* res) noexcept {
            const auto* x = reinterpret_cast<const moe::block_q4_k*>(wp);
            float acc[NA], acc_m[NA];
            MOE_SIMD_UNROLL
            for (int j = 0; j < NA; ++j) acc[j] = acc_m[j] = 0.0f;
            for (int64_t i = 0; i < k / moe::qk_k; ++i) {
                if (NA == 1) {  // decode streams short rows one by one: stay ~4 KiB ahead of the hardware prefetcher
                    const uint8_t* ahead = reinterpret_cast<const uint8_t*>(x + i) + 4096;
                    for (int l = 0; l < 3; ++l) __builtin_prefetch(ahead + 64 * l);
                }
                alignas(16) uint8_t sc_m[16];
                scales_k4(x[i].scales, sc_m);
                const float d = P::h2f(x[i].d), dmin = P::h2f(x[i].dmin);
                // mins 0-7 each twice in 16-bit lanes: madd with the 16 bsums gives min t * (bsums 2t + 2t + 1)
                const iv mins = P::dup_widen8(sc_m + 8);
                for (int g = 0; g < 4; g += Pairs) {
                    iv isum[NA];
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < NA; ++j) isum[j] = P::zero();
                    for (int c = g; c < g + Pairs; ++c) {
                        const iv q = P::load(x[i].qs + 32 * c);
                        const iv lo = P::lo4(q), hi = P::hi4(q);
                        const iv s_lo = P::set16(sc_m[2 * c]), s_hi = P::set16(sc_m[2 * c + 1]);
                        MOE_SIMD_UNROLL
                        for (int j = 0; j < NA; ++j) {
                            const int8_t* yq = rows<moe::block_q8_k>(a, j)[i].qs + 64 * c;
                            isum[j] = P::dot_u_scaled(isum[j], lo, P::load(yq), s_lo);
                            isum[j] = P::dot_u_scaled(isum[j], hi, P::load(yq + 32), s_hi);
                        }
                    }
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < NA; ++j) {
                        const moe::block_q8_k& y = rows<moe::block_q8_k>(a, j)[i];
                        int32_t summ = 0;
                        if (Pairs == 4) {
                            summ = P::hsum32(P::madd16(P::load16(y.bsums), mins));
                        } else {
                            for (int t = 2 * g; t < 2 * (g + Pairs); ++t)
                                summ += sc_m[8 + t] * (y.bsums[2 * t] + y.bsums[2 * t + 1]);
                        }
                        acc[j] = std::fma(static_cast<float>(P::hsum32(isum[j])), d * y.d, acc[j]);
                        acc_m[j] = std::fma(static_cast<float>(summ), dmin * y.d, acc_m[j]);
                    }
                }
            }
            for (int j = 0; j < NA; ++j) res[j] = acc[j] - acc_m[j];
        }
    };
    // q4_k's tiles in the GEMV and the GEMM order, row by row (the AVX-512 table puts sixteen rows in the lanes for
    // prompts: kernels_k16.hpp; AVX2's emulated vpdpbusd makes rows in the lanes slower than this, measured).
    static void tile_q4_k(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                          float* const* out, int64_t k) noexcept;
    static void tile_q4_k_gemm(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                               float* const* out, int64_t k) noexcept;

    using q4_k = q4_k_grouped<4>;
    using q4_k_gemm = q4_k_grouped<1>;

    // q5_k: eight lanes with fma(dy * d, lanes) per super-block, the min term in its own fused accumulator.
    struct q5_k {
        template <int NA>
        static void dot(const uint8_t* wp, const uint8_t* const* a, int64_t k, float* res) noexcept {
            const auto* x = reinterpret_cast<const moe::block_q5_k*>(wp);
            fv acc[NA];
            float summs[NA];
            MOE_SIMD_UNROLL
            for (int j = 0; j < NA; ++j) acc[j] = P::fzero(), summs[j] = 0.0f;
            for (int64_t i = 0; i < k / moe::qk_k; ++i) {
                if (NA == 1) {  // decode: ~4 KiB ahead in the row stream, as q4_k
                    const uint8_t* ahead = reinterpret_cast<const uint8_t*>(x + i) + 4096;
                    for (int l = 0; l < 3; ++l) __builtin_prefetch(ahead + 64 * l);
                }
                int sc[8], m[8];
                scales_k4(x[i].scales, sc, m);
                const iv qh = P::load(x[i].qh);
                iv isum[NA];
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) isum[j] = P::zero();
                for (int c = 0; c < 8; ++c) {
                    const iv q = P::load(x[i].qs + 32 * (c / 2));
                    const iv h = P::and_(P::sll16(P::srl16(qh, c), 4), P::set8(0x10));
                    const iv v = P::or_(c % 2 == 0 ? P::lo4(q) : P::hi4(q), h);
                    const iv s = P::set16(sc[c]);
                    MOE_SIMD_UNROLL
                    for (int j = 0; j < NA; ++j)
                        isum[j] = P::dot_u_scaled(isum[j], v, P::load(rows<moe::block_q8_k>(a, j)[i].qs + 32 * c), s);
                }
                const float dx = P::h2f(x[i].d), dmx = P::h2f(x[i].dmin);
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) {
                    const moe::block_q8_k& y = rows<moe::block_q8_k>(a, j)[i];
                    int32_t prod = 0;
                    for (int t = 0; t < 4; ++t) {
                        const int s0 = static_cast<int16_t>(y.bsums[4 * t] + y.bsums[4 * t + 1]);
                        const int s1 = static_cast<int16_t>(y.bsums[4 * t + 2] + y.bsums[4 * t + 3]);
                        prod += m[2 * t] * s0 + m[2 * t + 1] * s1;
                    }
                    summs[j] = std::fma(-y.d * dmx, static_cast<float>(prod), summs[j]);
                    acc[j] = P::fmadd(y.d * dx, isum[j], acc[j]);
                }
            }
            for (int j = 0; j < NA; ++j) res[j] = P::hsum(acc[j]) + summs[j];
        }
    };

    // q6_k: unsigned 6-bit values, per-lane int8 scales, the -32 offset taken off per lane as 32 * (bsums . scales).
    struct q6_k {
        template <int NA>
        static void dot(const uint8_t* wp, const uint8_t* const* a, int64_t k, float* res) noexcept {
            const auto* x = reinterpret_cast<const moe::block_q6_k*>(wp);
            fv acc[NA];
            MOE_SIMD_UNROLL
            for (int j = 0; j < NA; ++j) acc[j] = P::fzero();
            const iv m4 = P::set8(0x0f), m3 = P::set8(0x03), m30 = P::set8(0x30);
            for (int64_t i = 0; i < k / moe::qk_k; ++i) {
                if (NA == 1) {  // decode: ~4 KiB ahead in the row stream, as q4_k
                    const uint8_t* ahead = reinterpret_cast<const uint8_t*>(x + i) + 4096;
                    for (int l = 0; l < 4; ++l) __builtin_prefetch(ahead + 64 * l);
                }
                iv isum[NA];
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) isum[j] = P::zero();
                for (int h = 0; h < 2; ++h) {
                    const iv ql0 = P::load(x[i].ql + 64 * h), ql1 = P::load(x[i].ql + 64 * h + 32);
                    const iv qh = P::load(x[i].qh + 32 * h);
                    iv v[4];
                    v[0] = P::or_(P::and_(ql0, m4), P::sll16(P::and_(qh, m3), 4));
                    v[1] = P::or_(P::and_(ql1, m4), P::and_(P::sll16(qh, 2), m30));
                    v[2] = P::or_(P::hi4(ql0), P::and_(qh, m30));
                    v[3] = P::or_(P::hi4(ql1), P::and_(P::srl16(qh, 2), m30));
                    MOE_SIMD_UNROLL
                    for (int t = 0; t < 4; ++t) {
                        const int c = 4 * h + t;
                        const iv s = P::set16x2(x[i].scales[2 * c], x[i].scales[2 * c + 1]);
                        MOE_SIMD_UNROLL
                        for (int j = 0; j < NA; ++j)
                            isum[j] =
                                P::dot_u_scaled(isum[j], v[t], P::load(rows<moe::block_q8_k>(a, j)[i].qs + 32 * c), s);
                    }
                }
                const iv sc16 = P::widen8(x[i].scales);
                const float dx = P::h2f(x[i].d);
                MOE_SIMD_UNROLL
                for (int j = 0; j < NA; ++j) {
                    const moe::block_q8_k& y = rows<moe::block_q8_k>(a, j)[i];
                    const iv sub = P::sll32(P::madd16(P::load16(y.bsums), sc16), 5);
                    acc[j] = P::fmadd(y.d * dx, P::sub32(isum[j], sub), acc[j]);
                }
            }
            for (int j = 0; j < NA; ++j) res[j] = P::hsum(acc[j]);
        }
    };

    // Runs D::dot over the rows [r0, r1) and activation rows in groups of four: 16 weight rows stay in cache while
    // every group passes, each group stays in L1 for the 16 rows.
    template <class D>
    static void tile(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                     float* const* out, int64_t k) noexcept {
        constexpr int64_t row_block = 16;
        for (int64_t rb = r0; rb < r1; rb += row_block) {
            const int64_t re = rb + row_block < r1 ? rb + row_block : r1;
            for (int i = 0; i < na; i += 4) {
                const int g = na - i < 4 ? na - i : 4;
                for (int64_t r = rb; r < re; ++r) {
                    const uint8_t* wr = w + static_cast<size_t>(r) * wrb;
                    float res[4];
                    switch (g) {
                    case 4: D::template dot<4>(wr, a + i, k, res); break;
                    case 3: D::template dot<3>(wr, a + i, k, res); break;
                    case 2: D::template dot<2>(wr, a + i, k, res); break;
                    default: D::template dot<1>(wr, a + i, k, res); break;
                    }
                    for (int j = 0; j < g; ++j) out[i + j][r] = res[j];
                }
            }
        }
    }
};

template <class P>
void dots<P>::tile_q4_k(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                        float* const* out, int64_t k) noexcept {
    tile<q4_k>(w, wrb, r0, r1, a, na, out, k);
}
template <class P>
void dots<P>::tile_q4_k_gemm(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                             float* const* out, int64_t k) noexcept {
    tile<q4_k_gemm>(w, wrb, r0, r1, a, na, out, k);
}

}  // namespace
