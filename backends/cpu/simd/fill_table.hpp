// fill_table.hpp — puts an ISA's kernels into the dispatch table: one tile per weight type that has a kernel.
// Before: prims_<isa>.hpp (included first by the caller; prims_x86_512.hpp too on AVX-512), kernels_impl.hpp,
// kernels_f32.hpp, kernels_k16.hpp, kernels_packed.hpp, quant_act.hpp.
// After: kernels_avx2.cpp, kernels_avx512.cpp and kernels_neon.cpp call fill_kernels, each with its own ISA flags.
#pragma once

#include "backends/cpu/simd/kernels_f32.hpp"
#include "backends/cpu/simd/kernels_k16.hpp"
#include "backends/cpu/simd/kernels_packed.hpp"
#include "backends/cpu/simd/quant_act.hpp"

#include <type_traits>

namespace {

// P: the eight-lane primitives; PK: those of the tiles over packed weights and of llama.cpp's 16-wide f32 orders
// (prims_x86_512.hpp's sixteen lanes on AVX-512, where two eight-row groups fit one register; otherwise P).
template <class P, class A, class PK = P>
void fill_kernels(moe::cpu::simd::kernel_table& t) noexcept {
    using D = dots<P>;
    using K = packed_dots<PK>;
    using F = f32_kernels<P>;
    using Q = quant_act<A, P>;
    using moe::dtype;
    t.q8_0 = &Q::q8_0;
    t.q8_1 = &Q::q8_1;
    t.q8_k = &Q::q8_k;
    auto set = [&](dtype type, moe::cpu::simd::tile_fn f) { t.tile[static_cast<int>(type)] = f; };
    set(dtype::q8_0, &D::tile_q8_0);
    set(dtype::q4_0, &D::tile_q4_0);
    t.q4_0x8 = &K::tile_q4_0x8;
    if constexpr (PK::exact_dot_u) t.q8_0x8 = &K::tile_q8_0x8;
    t.f16x8 = &K::template tile_h16x8<false>;
    t.bf16x8 = &K::template tile_h16x8<true>;
    set(dtype::iq4_nl, &D::template tile<typename D::iq4_nl>);
    set(dtype::mxfp4, &D::template tile<typename D::mxfp4>);
    set(dtype::q4_k, &D::tile_q4_k);
    t.q4_k_gemm = &D::tile_q4_k_gemm;
    set(dtype::q5_k, &D::template tile<typename D::q5_k>);
    set(dtype::q6_k, &D::template tile<typename D::q6_k>);
    if constexpr (!std::is_same<P, PK>::value) {  // sixteen lanes: K-quant prompts, two halves per register
        set(dtype::q4_k, &k_wide<PK>::tile_q4_k);
        t.q4_k_gemm = &k_wide<PK>::tile_q4_k_gemm;
        set(dtype::q5_k, &k_wide<PK>::tile_q5_k);
        set(dtype::q6_k, &k_wide<PK>::tile_q6_k);
    }
    set(dtype::f32, &D::template tile<typename F::f32>);  // dispatch.cpp drops it unless Eigen runs 4-wide
    t.dot_f32 = &F::f32::one;                              // likewise
    t.axpy_f32 = &F::axpy;
    if constexpr (has_expf8<P>::value) t.exp_f32 = &F::exp_rows, t.softmax_f32 = &F::softmax;
    if constexpr (has_ggml_silu8<P>::value) t.ggml_swiglu = &F::ggml_swiglu;
    t.f16_to_f32 = &F::f16_to_f32;
    t.f16_rows_to_f32 = &F::f16_rows_to_f32;
    t.f32_to_f16 = &F::f32_to_f16;
    t.dot_f32_rows = &F::dot_rows;  // dispatch.cpp drops these two with dot_f32
    t.dot_f32_rows_multi = &F::template dot_rows_multi<PK>;
    t.axpy_f32_rows = &F::template axpy_rows<PK>;
    using G = ggml_f32_entries<P, PK>;
    t.ggml_dot = &G::dot;
    t.ggml_dot_tile = &G::dot_tile;
    t.ggml_dot_rows_multi = &G::dot_rows_multi;
    t.ggml_weighted_rows_multi = &G::weighted_rows_multi;
    t.ggml_weighted_rows = &G::weighted_rows;
    t.ggml_weighted_rows_vec_multi = &G::template weighted_rows_vec_multi<float>;
    t.ggml_weighted_rows_vec_multi_f16 = &G::template weighted_rows_vec_multi<uint16_t>;
}

}  // namespace
