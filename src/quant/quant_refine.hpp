// quant_refine.hpp — the search that keeps moe's K-quant/IQ4_XS blocks no worse than llama.cpp's (error only drops).
// Before: llama.cpp's block (quant_k*.cpp, quant_iq.cpp). After: the refined codes go back to those files to pack.
#pragma once

#include "quant/quant_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace quant_detail {

// Blocks with a scale and a min per sub-block: value = (d * sc[j]) * L[i] - (dmin * m[j])  (q2_k, q4_k, q5_k).
struct affine_k {
    int sub;   // elements per sub-block
    int nsub;  // sub-blocks per super-block
    int lmax;  // L in [0, lmax]
    int smax;  // sc[j], m[j] in [0, smax]
};

// Blocks with a signed scale per sub-block: value = (d * sc[j]) * levels[L[i]]  (q3_k, q6_k, iq4_xs).
struct symmetric_k {
    int sub;
    int nsub;
    int smin, smax;        // sc[j] in [smin, smax]
    const int8_t* levels;  // ascending
    int nlevels;
    bool uniform;  // levels[k] = levels[0] + k
};

// Improve one super-block in place; x holds its sub * nsub floats. d16/dmin16 are fp16 bits.
void refine_affine(const affine_k& p, const float* x, uint16_t& d16, uint16_t& dmin16, uint8_t* sc, uint8_t* m,
                   uint8_t* L) noexcept;
void refine_symmetric(const symmetric_k& p, const float* x, uint16_t& d16, int* sc, uint8_t* L) noexcept;

}  // namespace quant_detail
MOE_END_NAMESPACE
