// weight_packing.cpp — the CPU backend's choice of packed weight layouts and the repacking into them.
// Before: model load (src/model/pack_weights.cpp). After: matmul.cpp's packed paths (simd::tile_q4_0x8).
#include "backends/cpu/weight_packing.hpp"

#include "backends/cpu/simd/simd.hpp"

#include <moe/quant.hpp>

MOE_BEGIN_NAMESPACE
namespace cpu {

// Without a SIMD kernel for the layout (the reference level) the GGUF rows are read as fast: no packing.
packing preferred_packing(dtype type, const int64_t* ne, uint32_t n_dims) noexcept {
    if (n_dims < 2 || n_dims > 3 || ne[1] % 8 != 0) return packing::none;
    const simd::kernel_table& t = simd::active();
    if (type == dtype::q4_0 && ne[0] % qk4_0 == 0 && t.q4_0x8 != nullptr) return packing::q4_0x8;
    if (type == dtype::q8_0 && ne[0] % qk8_0 == 0 && t.q8_0x8 != nullptr) return packing::q8_0x8;
    if (type == dtype::f16 && t.f16x8 != nullptr) return packing::f16x8;
    if (type == dtype::bf16 && t.bf16x8 != nullptr) return packing::bf16x8;
    return packing::none;
}

int64_t pack_units(packing p, const int64_t* ne, uint32_t n_dims) noexcept {
    if (p == packing::none) return 0;
    int64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; ++d) rows *= ne[d];
    return rows / 8;  // every layout packs groups of eight rows
}

void pack_tensor_units(packing p, const int64_t* ne, const uint8_t* src, uint8_t* dst, int64_t u0, int64_t u1) noexcept {
    dtype type = dtype::f16;
    void (*repack)(const uint8_t*, uint8_t*, int64_t, int64_t) noexcept = simd::repack_h16x8;
    switch (p) {
    case packing::none: return;
    case packing::q4_0x8: type = dtype::q4_0, repack = simd::repack_q4_0x8; break;
    case packing::q8_0x8: type = dtype::q8_0, repack = simd::repack_q8_0x8; break;
    case packing::bf16x8: type = dtype::bf16; break;
    case packing::f16x8: break;
    }
    const size_t at = static_cast<size_t>(8 * u0) * row_bytes(type, ne[0]);
    repack(src + at, dst + at, 8 * (u1 - u0), ne[0]);
}

}  // namespace cpu
MOE_END_NAMESPACE
