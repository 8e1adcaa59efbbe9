// kernels_avx2.cpp — the AVX2 + FMA + F16C kernel table (this file alone is compiled with those flags).
// Before: prims_x86.hpp, kernels_impl.hpp, quant_act.hpp. After: dispatch.cpp installs the table when the CPU has AVX2.
#include "backends/cpu/simd/simd.hpp"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "backends/cpu/simd/prims_x86.hpp"
#include "backends/cpu/simd/fill_table.hpp"

bool moe::cpu::simd::fill_avx2(kernel_table& t) noexcept {
    fill_kernels<x86_prims<false>, xsimd::fma3<xsimd::avx2>>(t);
    return true;
}
#else
bool moe::cpu::simd::fill_avx2(kernel_table&) noexcept { return false; }
#endif
