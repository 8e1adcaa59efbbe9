// kernels_neon.cpp — the aarch64 NEON (+dotprod) kernel table; built with -march=armv8.2-a+dotprod on aarch64 only.
// Before: the reference kernels. After: dispatch.cpp installs the table on aarch64 CPUs.
// Not written yet: aarch64 runs the reference kernels (fill_neon reports false) until NEON primitives exist.
#include "backends/cpu/simd/simd.hpp"

bool moe::cpu::simd::fill_neon(kernel_table&) noexcept { return false; }
