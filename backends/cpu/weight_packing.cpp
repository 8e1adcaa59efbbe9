// weight_packing.cpp — the CPU backend's choice of packed weight layouts and the repacking into them.
// Before: model load (src/model/weight_packing_load.cpp). After: matmul.cpp's packed paths (simd::tile_q4_0x8).
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

void pack_tensor(packing p, dtype, const int64_t* ne, uint32_t n_dims, const uint8_t* src, uint8_t* dst) noexcept {
    int64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; ++d) rows *= ne[d];
    if (p == packing::q4_0x8) simd::repack_q4_0x8(src, dst, rows, ne[0]);
}

}  // namespace cpu
MOE_END_NAMESPACE
