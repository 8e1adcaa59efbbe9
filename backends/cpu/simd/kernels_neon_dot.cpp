// kernels_neon_dot.cpp — the aarch64 NEON kernel table with the dot-product instructions (sdot: Apple silicon, Jetson
// Orin, Cortex-A55/A76 and later). Only this file is built with -march=armv8.2-a+dotprod.
// Before: prims_neon.hpp, kernels_impl.hpp, quant_act.hpp. After: dispatch.cpp installs it when the CPU has dotprod.
#include "backends/cpu/simd/simd.hpp"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
#include "backends/cpu/simd/prims_neon.hpp"
#include "backends/cpu/simd/fill_table.hpp"

bool moe::cpu::simd::fill_neon_dot(kernel_table& t) noexcept {
    fill_kernels<neon_prims, xsimd::neon64>(t);
    return true;
}
#else
bool moe::cpu::simd::fill_neon_dot(kernel_table&) noexcept { return false; }
#endif
