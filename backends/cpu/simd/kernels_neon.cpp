// kernels_neon.cpp — the aarch64 NEON kernel table for cores without the dot-product instructions (Cortex-A53/A72):
// int8 products by widening multiplies. Built with the baseline ARMv8-A flags; kernels_neon_dot.cpp is the sdot build.
// Before: prims_neon.hpp, kernels_impl.hpp, quant_act.hpp. After: dispatch.cpp installs it when the CPU lacks dotprod.
#include "backends/cpu/simd/simd.hpp"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include "backends/cpu/simd/prims_neon.hpp"
#include "backends/cpu/simd/fill_table.hpp"

bool moe::cpu::simd::fill_neon(kernel_table& t) noexcept {
    fill_kernels<neon_prims, xsimd::neon64>(t);
    return true;
}
#else
bool moe::cpu::simd::fill_neon(kernel_table&) noexcept { return false; }
#endif
