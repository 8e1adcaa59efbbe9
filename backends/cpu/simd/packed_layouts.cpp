// packed_layouts.cpp — weights interleaved eight rows at a time (simd.hpp's q4_0x8 and f16/bf16 x8 layouts), q4_0
// back, and scalar tiles over those layouts in the reference's order. Before: the model loader's weight packing
// (backends/cpu/weight_packing.cpp). After: the matmul kernels read the packed bytes through tile_q4_0x8 and
// tile_h16x8 (the ISA's kernels, or the scalar tiles below).
#include "backends/cpu/simd/simd.hpp"

#include <moe/half.hpp>
#include <moe/quant.hpp>

#include <cmath>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace simd {

static_assert(sizeof(block_q4_0) == 18 && 8 * sizeof(block_q4_0) == q4_0x8_block_bytes, "8 blocks per packed block");

void repack_q4_0x8(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t k) noexcept {
    const int64_t nb = k / qk4_0;
    const size_t wrb = static_cast<size_t>(nb) * sizeof(block_q4_0);
    for (int64_t g = 0; g < rows / 8; ++g) {
        const auto* x = reinterpret_cast<const block_q4_0*>(src + static_cast<size_t>(8 * g) * wrb);
        uint8_t* p = dst + static_cast<size_t>(8 * g) * wrb;
        for (int64_t b = 0; b < nb; ++b, p += q4_0x8_block_bytes) {
            for (int r = 0; r < 8; ++r) {
                const block_q4_0& xb = x[static_cast<size_t>(r * nb + b)];
                for (int m = 0; m < 4; ++m) std::memcpy(p + 32 * m + 4 * r, xb.qs + 4 * m, 4);
                std::memcpy(p + 128 + 2 * r, &xb.d, 2);
            }
        }
    }
}

void unpack_q4_0x8(const uint8_t* packed, int64_t g, uint8_t* out, int64_t k) noexcept {
    const int64_t nb = k / qk4_0;
    const size_t wrb = static_cast<size_t>(nb) * sizeof(block_q4_0);
    const uint8_t* p = packed + static_cast<size_t>(8 * g) * wrb;
    auto* x = reinterpret_cast<block_q4_0*>(out);
    for (int64_t b = 0; b < nb; ++b, p += q4_0x8_block_bytes) {
        for (int r = 0; r < 8; ++r) {
            block_q4_0& xb = x[static_cast<size_t>(r * nb + b)];
            for (int m = 0; m < 4; ++m) std::memcpy(xb.qs + 4 * m, p + 32 * m + 4 * r, 4);
            std::memcpy(&xb.d, p + 128 + 2 * r, 2);
        }
    }
}

void ref_tile_q4_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                     float* const* out, int64_t k) noexcept {
    const int64_t nb = k / qk4_0;
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* grp = w + static_cast<size_t>(r / 8 * 8) * wrb;
        const int lane = static_cast<int>(r % 8);
        for (int i = 0; i < na; ++i) {
            const auto* y = reinterpret_cast<const block_q8_0*>(a[i]);
            float s = 0.0f;  // vec_dot's q4_0 order: per block, float(sumi) * (dx * dy) added in block order
            const uint8_t* p = grp;
            for (int64_t b = 0; b < nb; ++b, p += q4_0x8_block_bytes) {
                int32_t sumi = 0;
                for (int m = 0; m < 4; ++m)
                    for (int q = 0; q < 4; ++q) {
                        const uint8_t byte = p[32 * m + 4 * lane + q];
                        sumi += (int32_t(byte & 0x0f) - 8) * int32_t(y[b].qs[4 * m + q]);
                        sumi += (int32_t(byte >> 4) - 8) * int32_t(y[b].qs[16 + 4 * m + q]);
                    }
                uint16_t d;
                std::memcpy(&d, p + 128 + 2 * lane, 2);
                s += static_cast<float>(sumi) * (fp16_to_f32(d) * fp16_to_f32(y[b].d));
            }
            out[i][r] = s;
        }
    }
}

static_assert(8 * sizeof(block_q8_0) == q8_0x8_block_bytes, "8 blocks per packed block");

void repack_q8_0x8(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t k) noexcept {
    const int64_t nb = k / qk8_0;
    const size_t wrb = static_cast<size_t>(nb) * sizeof(block_q8_0);
    for (int64_t g = 0; g < rows / 8; ++g) {
        const auto* x = reinterpret_cast<const block_q8_0*>(src + static_cast<size_t>(8 * g) * wrb);
        uint8_t* p = dst + static_cast<size_t>(8 * g) * wrb;
        for (int64_t b = 0; b < nb; ++b, p += q8_0x8_block_bytes) {
            for (int r = 0; r < 8; ++r) {
                const block_q8_0& xb = x[static_cast<size_t>(r * nb + b)];
                for (int i = 0; i < qk8_0; ++i)
                    p[32 * (i / 4) + 4 * r + i % 4] = static_cast<uint8_t>(xb.qs[i]);
                std::memcpy(p + 256 + 2 * r, &xb.d, 2);
            }
        }
    }
}

void ref_tile_q8_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                     float* const* out, int64_t k) noexcept {
    const int64_t nb = k / qk8_0;
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* grp = w + static_cast<size_t>(r / 8 * 8) * wrb;
        const int lane = static_cast<int>(r % 8);
        for (int i = 0; i < na; ++i) {
            const auto* y = reinterpret_cast<const block_q8_0*>(a[i]);
            float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // vec_dot's q8_0 order: eight lanes of fma, then its hsum
            const uint8_t* p = grp;
            for (int64_t b = 0; b < nb; ++b, p += q8_0x8_block_bytes) {
                uint16_t dx;
                std::memcpy(&dx, p + 256 + 2 * lane, 2);
                const float d = fp16_to_f32(dx) * fp16_to_f32(y[b].d);
                for (int m = 0; m < 8; ++m) {
                    int32_t sumi = 0;
                    for (int q = 0; q < 4; ++q)
                        sumi += int32_t(static_cast<int8_t>(p[32 * m + 4 * lane + q])) * int32_t(y[b].qs[4 * m + q]);
                    l[m] = std::fma(d, static_cast<float>(sumi), l[m]);
                }
            }
            out[i][r] = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
        }
    }
}

void repack_h16x8(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t k) noexcept {
    const size_t wrb = static_cast<size_t>(k) * 2;
    for (int64_t g = 0; g < rows / 8; ++g) {
        const uint8_t* x = src + static_cast<size_t>(8 * g) * wrb;
        uint8_t* p = dst + static_cast<size_t>(8 * g) * wrb;
        for (int64_t e = 0; e < k; ++e, p += 16)
            for (int r = 0; r < 8; ++r) std::memcpy(p + 2 * r, x + static_cast<size_t>(r) * wrb + 2 * e, 2);
    }
}

void ref_tile_h16x8(dtype type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a,
                    int na, float* const* out, int64_t k) noexcept {
    const bool bf = type == dtype::bf16;
    auto to_f32 = [bf](uint16_t h) { return bf ? bf16_to_f32(h) : fp16_to_f32(h); };
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* grp = w + static_cast<size_t>(r / 8 * 8) * wrb;
        const int lane = static_cast<int>(r % 8);
        for (int i = 0; i < na; ++i) {
            const auto* y = reinterpret_cast<const uint16_t*>(a[i]);
            float s = 0.0f;  // vec_dot's f16 / bf16 order: element by element
            for (int64_t e = 0; e < k; ++e) {
                uint16_t x;
                std::memcpy(&x, grp + 16 * e + 2 * lane, 2);
                s += to_f32(x) * to_f32(y[e]);
            }
            out[i][r] = s;
        }
    }
}

}  // namespace simd
}  // namespace cpu
MOE_END_NAMESPACE
