// quant_k_common.hpp — K-quant helpers: llama.cpp's sub-block scale searches and the 6-bit / 2-bit packings.
// Implemented in quant_k_search.cpp. After: used by quant_k.cpp and quant_k_low.cpp.
#pragma once

#include "quant/quant_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace quant_detail {

constexpr float group_max_eps = 1e-15f;  // ggml's GROUP_MAX_EPS: a sub-block below this magnitude is all zero

// Symmetric search (ggml make_qx_quants, rmse_type 1): L[i] = l + nmax with l in [-nmax, nmax-1], weights
// qw (or x^2 when qw is null); returns the scale.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw) noexcept;

// Symmetric 3-bit search with coordinate refinement (ggml make_q3_quants, do_rmse = true): L[i] = l + nmax.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) noexcept;

// Scale + min search over nstep+1 trial scales (ggml make_qkx2_quants): L[i] in [0, nmax], *the_min = -min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) noexcept;

// q4_k/q5_k: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes, and the packing itself.
void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) noexcept;
void pack_scale_min_k4(const uint8_t* sc, const uint8_t* m, uint8_t* q) noexcept;  // 8 + 8 values -> 12 bytes

// q2_k/q3_k/q6_k-style 2-bit packing of 256 values: byte 32g + l holds values 128g + l + 32k in bits 2k..2k+1.
void pack_2bit_k(const uint8_t* L, uint8_t* qs) noexcept;

// q3_k: the 16 signed 6-bit scales (stored + 32) from / to the 12 packed bytes.
void unpack_scales_q3_k(const uint8_t* packed, int* sc) noexcept;  // sc[j] = stored value - 32
void pack_scales_q3_k(const int* sc, uint8_t* packed) noexcept;     // sc[j] in [-32, 31]

}  // namespace quant_detail
MOE_END_NAMESPACE
