// kernels_avx512.cpp — the AVX-512 (F/BW/VL/VNNI) kernel table: the same eight-lane float order as AVX2, integer
// products through vpdpbusd / vpdpwssd, activation quantizers on 512-bit batches, and the packed-weight tiles
// sixteen rows per register (two eight-row groups). Only this file has those flags.
// Before: prims_x86.hpp, kernels_impl.hpp, quant_act.hpp. After: dispatch.cpp installs it on AVX-512 VNNI CPUs.
#include "backends/cpu/simd/simd.hpp"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__) && defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h passes _mm512_undefined_epi32() to masked builtins: a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same, through _mm256_undefined_pd in _mm512_extractf64x4_pd
#endif
#include "backends/cpu/simd/prims_x86.hpp"
#include "backends/cpu/simd/prims_x86_512.hpp"
#include "backends/cpu/simd/fill_table.hpp"

bool moe::cpu::simd::fill_avx512(kernel_table& t) noexcept {
    fill_kernels<x86_prims<true>, xsimd::avx512bw, x86_prims16>(t);
    return true;
}
#else
bool moe::cpu::simd::fill_avx512(kernel_table&) noexcept { return false; }
#endif
