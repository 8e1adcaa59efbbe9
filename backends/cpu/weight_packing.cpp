// weight_packing.cpp — the CPU backend's choice of packed weight layouts and the repacking into them.
// Before: model load (src/model/pack_weights.cpp). After: matmul.cpp's packed paths (simd::tile_q4_0x8).
#include "backends/cpu/weight_packing.hpp"

#include "backends/cpu/simd/simd.hpp"

#include <moe/quant.hpp>

MOE_BEGIN_NAMESPACE
namespace cpu {

packing preferred_packing(dtype type, const int64_t* ne, uint32_t n_dims) noexcept {
    if (type != dtype::q4_0 || n_dims < 2 || n_dims > 3 || ne[1] % 8 != 0 || ne[0] % qk4_0 != 0) return packing::none;
    if (simd::active().q4_0x8 == nullptr) return packing::none;  // the reference reads GGUF rows as fast
    return packing::q4_0x8;
}

int64_t pack_units(packing p, const int64_t* ne, uint32_t n_dims) noexcept {
    if (p != packing::q4_0x8) return 0;
    int64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; ++d) rows *= ne[d];
    return rows / 8;
}

void pack_tensor_units(packing p, const int64_t* ne, const uint8_t* src, uint8_t* dst, int64_t u0, int64_t u1) noexcept {
    if (p != packing::q4_0x8) return;
    const size_t at = static_cast<size_t>(8 * u0) * row_bytes(dtype::q4_0, ne[0]);
    simd::repack_q4_0x8(src + at, dst + at, 8 * (u1 - u0), ne[0]);
}

}  // namespace cpu
MOE_END_NAMESPACE
