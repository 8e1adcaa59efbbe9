// cuda_math.hpp — the kernels' per-element math as __host__ __device__ functions, also compiled for host tests.
// Before: GGUF weight blocks, f32 activations. After: backends/cuda/*.cu kernels and tests/unit/test_cuda_math.cpp.
//
// Covered: block dequantization, activation quantization, block dot products, rope angles, YaRN ramp, gated
// activations; checked on the host against the CPU reference (src/quant dequantizers, backends/cpu/ref).
//
// Rules that keep GPU and CPU results equal: no fused multiply-add unless the CPU reference uses one (products and
// sums go through mul_rn/add_rn/sub_rn, which are __fmul_rn/__fadd_rn on the device and plain operators on the host,
// where ISO C++ does not contract), the same rounding functions (rintf = round half to even), and the same order of
// operations inside a block. Sums across blocks may run in another order on the GPU (warp reductions); the op tests
// state the tolerance that allows.
#pragma once

#include <stdint.h>
#include <string.h>

#include <cmath>

#if defined(__CUDACC__)
#define MOE_HD __host__ __device__ __forceinline__
#else
#define MOE_HD inline
#endif

namespace moe_cuda {

// ---- element types (GGUF numbers, as backend_module.h) -------------------------------------------------------------

enum : uint32_t {
    t_f32 = 0,
    t_f16 = 1,
    t_q4_0 = 2,
    t_q8_0 = 8,
    t_q4_k = 12,
    t_q6_k = 14,
    t_i32 = 26,
    t_bf16 = 30,
};

constexpr int qk32 = 32;    // elements of a q4_0 / q8_0 block
constexpr int qk256 = 256;  // elements of a K-quant super-block

// GGUF block layouts (the same bytes as include/moe/quant.hpp; test_cuda_math.cpp checks the sizes and offsets).
struct blk_q4_0 {
    uint16_t d;
    uint8_t qs[16];
};
struct blk_q8_0 {
    uint16_t d;
    int8_t qs[32];
};
struct blk_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[128];
};
struct blk_q6_k {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
struct blk_q8_k {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
};
static_assert(sizeof(blk_q4_0) == 18 && sizeof(blk_q8_0) == 34, "legacy block sizes");
static_assert(sizeof(blk_q4_k) == 144 && sizeof(blk_q6_k) == 210 && sizeof(blk_q8_k) == 292, "K block sizes");

// Elements per block and bytes per block of a weight type; 0 for a type this module does not handle.
MOE_HD int block_elems(uint32_t t) {
    switch (t) {
    case t_f32:
    case t_f16:
    case t_bf16:
    case t_i32: return 1;
    case t_q4_0:
    case t_q8_0: return qk32;
    case t_q4_k:
    case t_q6_k: return qk256;
    default: return 0;
    }
}
MOE_HD int block_bytes(uint32_t t) {
    switch (t) {
    case t_f32:
    case t_i32: return 4;
    case t_f16:
    case t_bf16: return 2;
    case t_q4_0: return 18;
    case t_q8_0: return 34;
    case t_q4_k: return 144;
    case t_q6_k: return 210;
    default: return 0;
    }
}
// Bytes of one row of n elements (n a multiple of the block size).
MOE_HD int64_t row_bytes(uint32_t t, int64_t n) {
    const int be = block_elems(t);
    return be ? n / be * block_bytes(t) : 0;
}
// The activation format a weight type is multiplied with: q8_0 blocks for q4_0/q8_0, q8_k for the K-quants, f32
// otherwise (f16/bf16 weights meet f16/bf16-rounded activations, see act_round).
MOE_HD uint32_t act_type(uint32_t w) {
    switch (w) {
    case t_q4_0:
    case t_q8_0: return t_q8_0;
    case t_q4_k:
    case t_q6_k: return 100;  // q8_k (not a weight type of the ABI; internal number)
    default: return t_f32;
    }
}
constexpr uint32_t t_q8_k = 100;
MOE_HD int64_t act_row_bytes(uint32_t w, int64_t k) {
    const uint32_t a = act_type(w);
    if (a == t_q8_0) return k / qk32 * static_cast<int64_t>(sizeof(blk_q8_0));
    if (a == t_q8_k) return k / qk256 * static_cast<int64_t>(sizeof(blk_q8_k));
    return k * 4;
}

// ---- exact float helpers -------------------------------------------------------------------------------------------

MOE_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
MOE_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}
MOE_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}
MOE_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
#endif
}
MOE_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

// binary16 -> float, exact for every input (subnormals, Inf, NaN).
MOE_HD float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return bits_float(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0) return bits_float(sign);
        const float v = mul_rn(static_cast<float>(m), 1.0f / 16777216.0f);  // m * 2^-24, exact
        return sign ? -v : v;
    }
    return bits_float(sign | ((e + 112u) << 23) | (m << 13));
}
// float -> binary16, round to nearest even (F16C's rounding).
MOE_HD uint16_t f32_to_f16(float f) {
    const uint32_t x = float_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
    if (ax < 0x38800000u) {
        if (ax < 0x33000000u) return static_cast<uint16_t>(sign);
        const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u, shift = 126u - e;
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return static_cast<uint16_t>(sign | r);
    }
    uint32_t r = ax - 0x38000000u;
    const uint32_t rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
}
MOE_HD float bf16_to_f32(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }
MOE_HD uint16_t f32_to_bf16(float f) {
    const uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64u);
    return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Unaligned little-endian loads (blocks of 18 or 210 bytes leave fields only 2-byte aligned).
MOE_HD uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// ---- dequantization: element e of one block ------------------------------------------------------------------------

// q4_k: scale and min of sub-block j (0..7) from the 12 packed bytes.
MOE_HD void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// q6_k: the signed 6-bit value (-32 .. 31) of element e of a super-block.
MOE_HD int dequant_q6_k_int(const uint8_t* b, int e) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int h = e >> 7, r = e & 127, quad = r >> 5, l = r & 31;
    const uint8_t lo = ql[64 * h + l + (quad & 1) * 32];
    const int low = quad < 2 ? (lo & 0xf) : (lo >> 4);
    const int high = (qh[32 * h + l] >> (2 * quad)) & 3;
    return (low | (high << 4)) - 32;
}

// Value of element e of a block (e < block_elems(t)); `b` points at the block. Bit-exact with dequantize_row.
MOE_HD float dequant(uint32_t t, const uint8_t* b, int e) {
    switch (t) {
    case t_f32: return bits_float(static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
                                  (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24));
    case t_f16: return f16_to_f32(load_u16(b));
    case t_bf16: return bf16_to_f32(load_u16(b));
    case t_q4_0: {
        const float d = f16_to_f32(load_u16(b));
        const uint8_t q = b[2 + (e & 15)];
        const int v = (e < 16 ? (q & 0x0f) : (q >> 4)) - 8;
        return mul_rn(static_cast<float>(v), d);
    }
    case t_q8_0: return mul_rn(static_cast<float>(static_cast<int8_t>(b[2 + e])), f16_to_f32(load_u16(b)));
    case t_q4_k: {
        const float d = f16_to_f32(load_u16(b)), dmin = f16_to_f32(load_u16(b + 2));
        const uint8_t* scales = b + 4;
        const uint8_t* qs = b + 16;
        const int chunk = e >> 6, within = e & 63, l = within & 31, sub = 2 * chunk + (within >> 5);
        int sc, m;
        scale_min_k4(sub, scales, sc, m);
        const uint8_t q = qs[32 * chunk + l];
        const int v = within < 32 ? (q & 0xf) : (q >> 4);
        return sub_rn(mul_rn(mul_rn(d, static_cast<float>(sc)), static_cast<float>(v)),
                      mul_rn(dmin, static_cast<float>(m)));
    }
    case t_q6_k: {
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
        const float d = f16_to_f32(load_u16(b + 208));
        const int h = e >> 7, quad = (e & 127) >> 5, l = e & 31;
        return mul_rn(mul_rn(d, static_cast<float>(sc[8 * h + l / 16 + 2 * quad])),
                      static_cast<float>(dequant_q6_k_int(b, e)));
    }
    default: return 0.0f;
    }
}

// Element i of a row of type t (the block holding it, then its place in the block).
MOE_HD float dequant_row_elem(uint32_t t, const uint8_t* row, int64_t i) {
    const int be = block_elems(t);
    return dequant(t, row + (i / be) * block_bytes(t), static_cast<int>(i % be));
}

// ---- activation quantization ---------------------------------------------------------------------------------------

// _mm256_cvtps_epi32 after rounding: round half to even, INT32_MIN for NaN and values out of range.
MOE_HD int32_t round_i32(float x) {
    const float r = rintf(x);
    if (r >= -2147483648.0f && r < 2147483648.0f) return static_cast<int32_t>(r);
    return INT32_MIN;
}
MOE_HD int8_t sat_i8(int32_t v) { return static_cast<int8_t>(v < -128 ? -128 : v > 127 ? 127 : v); }
// ggml's nearest_int: x + 1.5 * 2^23, low mantissa bits (round half to even).
MOE_HD int nearest_int(float x) {
    const float v = add_rn(x, 12582912.0f);
    return static_cast<int>(float_bits(v) & 0x007fffffu) - 0x00400000;
}

// 32 floats -> one q8_0 activation block: d = amax / 127 (fp16), q = round(x * 127 / amax), as the CPU backend's
// quantize_act_q8_0 (llama.cpp's x86 quantize_row_q8_0).
MOE_HD void quantize_q8_0_block(const float* x, blk_q8_0& y) {
    float amax = 0.0f;
    for (int j = 0; j < qk32; ++j) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y.d = f32_to_f16(d);
    for (int j = 0; j < qk32; ++j) y.qs[j] = sat_i8(round_i32(mul_rn(x[j], id)));
}

// 256 floats -> one q8_k block: d = max / -127 (max = the value of largest magnitude), q = min(127,
// nearest_int(-127 x / max)), sums of each 16 (quantize_row_q8_K_ref).
MOE_HD void quantize_q8_k_block(const float* x, blk_q8_k& y) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < qk256; ++j) {
        const float ax = fabsf(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    if (amax == 0.0f) {
        y.d = 0.0f;
        for (int j = 0; j < qk256; ++j) y.qs[j] = 0;
        for (int j = 0; j < 16; ++j) y.bsums[j] = 0;
        return;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < qk256; ++j) {
        const int v = nearest_int(mul_rn(iscale, x[j]));
        y.qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int j = 0; j < 16; ++j) {
        int s = 0;
        for (int i = 0; i < 16; ++i) s += y.qs[16 * j + i];
        y.bsums[j] = static_cast<int16_t>(s);
    }
    y.d = 1.0f / iscale;
}

// Block `blk` of an activation row for weight type w: the q8 block, or nothing (float types use the row as is;
// f16/bf16 weights round each activation value first: act_round).
MOE_HD float act_round(uint32_t w, float x) {
    if (w == t_f16) return f16_to_f32(f32_to_f16(x));
    if (w == t_bf16) return bf16_to_f32(f32_to_bf16(x));
    return x;
}

// ---- block dot products ---------------------------------------------------------------------------------------------

// Four signed bytes dotted with four signed bytes, added to c (__dp4a on the device).
MOE_HD int32_t dp4(int32_t a, int32_t b, int32_t c) {
#if defined(__CUDA_ARCH__)
    return __dp4a(a, b, c);
#else
    for (int i = 0; i < 4; ++i)
        c += static_cast<int32_t>(static_cast<int8_t>(a >> (8 * i))) *
             static_cast<int32_t>(static_cast<int8_t>(b >> (8 * i)));
    return c;
#endif
}
MOE_HD int32_t pack4(const int8_t* p) {
    return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint8_t>(p[0])) |
                                (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 8) |
                                (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 16) |
                                (static_cast<uint32_t>(static_cast<uint8_t>(p[3])) << 24));
}
// Four 4-bit values (low or high nibbles of q[0..3]) minus `off`, packed as signed bytes.
MOE_HD int32_t pack4_nibbles(const uint8_t* q, int shift, int off) {
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i)
        r |= static_cast<uint32_t>(static_cast<uint8_t>(((q[i] >> shift) & 0xf) - off)) << (8 * i);
    return static_cast<int32_t>(r);
}

// One q4_0 weight block times one q8_0 activation block: sumi * (dx * dy), the CPU reference's per-block term.
MOE_HD float block_dot_q4_0(const uint8_t* w, const blk_q8_0& a) {
    const uint8_t* qs = w + 2;
    int32_t s = 0;
    for (int j = 0; j < 16; j += 4) {
        s = dp4(pack4_nibbles(qs + j, 0, 8), pack4(a.qs + j), s);
        s = dp4(pack4_nibbles(qs + j, 4, 8), pack4(a.qs + 16 + j), s);
    }
    return mul_rn(static_cast<float>(s), mul_rn(f16_to_f32(load_u16(w)), f16_to_f32(a.d)));
}
// One q8_0 weight block times one q8_0 activation block.
MOE_HD float block_dot_q8_0(const uint8_t* w, const blk_q8_0& a) {
    const int8_t* qs = reinterpret_cast<const int8_t*>(w + 2);
    int32_t s = 0;
    for (int j = 0; j < 32; j += 4) s = dp4(pack4(qs + j), pack4(a.qs + j), s);
    return mul_rn(static_cast<float>(s), mul_rn(f16_to_f32(load_u16(w)), f16_to_f32(a.d)));
}
// K-quant super-blocks are split into 8 "units" of 32 values so that a warp's 32 lanes have work even when a row
// has fewer than 32 super-blocks (k = 2048 is 8 of them); a unit's term is its scaled integer sum in float.
constexpr int k_units = 8;
MOE_HD int units_per_block(uint32_t t) { return t == t_q4_k || t == t_q6_k ? k_units : 1; }

// Unit u (32 values, sub-block u) of a q4_k super-block times the q8_k block: d * sc_u * dot_u - dmin * m_u * bsums_u.
MOE_HD float unit_dot_q4_k(const uint8_t* w, const blk_q8_k& a, int u) {
    int sc, m;
    scale_min_k4(u, w + 4, sc, m);
    const uint8_t* q = w + 16 + 32 * (u >> 1);
    const int shift = (u & 1) * 4;
    int32_t s = 0;
    for (int l = 0; l < 32; l += 4) s = dp4(pack4_nibbles(q + l, shift, 0), pack4(a.qs + 32 * u + l), s);
    const float d = mul_rn(f16_to_f32(load_u16(w)), a.d), dmin = mul_rn(f16_to_f32(load_u16(w + 2)), a.d);
    return sub_rn(mul_rn(d, static_cast<float>(sc * s)),
                  mul_rn(dmin, static_cast<float>(m * (a.bsums[2 * u] + a.bsums[2 * u + 1]))));
}
// Unit u (values 32u .. 32u + 31: two 16-value sub-blocks) of a q6_k super-block: d * sum of scale * dot(q - 32, a).
MOE_HD float unit_dot_q6_k(const uint8_t* w, const blk_q8_k& a, int u) {
    const int8_t* sc = reinterpret_cast<const int8_t*>(w + 192);
    int32_t sumi = 0;
    for (int sub = 2 * u; sub < 2 * u + 2; ++sub) {
        int32_t s = 0;
        for (int l = 0; l < 16; l += 4) {
            int8_t v[4];
            for (int i = 0; i < 4; ++i) v[i] = static_cast<int8_t>(dequant_q6_k_int(w, 16 * sub + l + i));
            s = dp4(pack4(v), pack4(a.qs + 16 * sub + l), s);
        }
        sumi += sc[sub] * s;
    }
    return mul_rn(mul_rn(f16_to_f32(load_u16(w + 208)), a.d), static_cast<float>(sumi));
}
// Whole super-blocks: the units' terms added in order (what a lane computes when it owns all eight).
MOE_HD float block_dot_q4_k(const uint8_t* w, const blk_q8_k& a) {
    float s = 0.0f;
    for (int u = 0; u < k_units; ++u) s = add_rn(s, unit_dot_q4_k(w, a, u));
    return s;
}
MOE_HD float block_dot_q6_k(const uint8_t* w, const blk_q8_k& a) {
    float s = 0.0f;
    for (int u = 0; u < k_units; ++u) s = add_rn(s, unit_dot_q6_k(w, a, u));
    return s;
}

// ---- rope -----------------------------------------------------------------------------------------------------------

// Angle of rotation pair i at position pos: theta = pos * theta_scale^i by repeated float multiplication (the CPU
// reference's order), times freq_scale.
MOE_HD float rope_theta_extrap(float pos, int64_t i, float theta_scale) {
    float theta = pos;
    for (int64_t j = 0; j < i; ++j) theta = mul_rn(theta, theta_scale);
    return theta;
}
// 1 below pair `low`, 0 above pair `high`, linear in between (ggml's rope_yarn_ramp).
MOE_HD float yarn_ramp(float low, float high, int64_t pair) {
    const float y = (static_cast<float>(pair) - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}
// The YaRN angle of pair i: interpolated and extrapolated angles mixed by the ramp.
MOE_HD float yarn_theta(float theta_extrap, float freq_scale, float ext_factor, float corr_low, float corr_high,
                        int64_t i) {
    const float theta_interp = mul_rn(freq_scale, theta_extrap);
    if (ext_factor == 0.0f) return theta_interp;
    const float mix = mul_rn(yarn_ramp(corr_low, corr_high, i), ext_factor);
    return add_rn(mul_rn(theta_interp, sub_rn(1.0f, mix)), mul_rn(theta_extrap, mix));
}
// The YaRN magnitude factor.
MOE_HD float yarn_mscale(float freq_scale, float ext_factor, float attn_factor) {
    return ext_factor != 0.0f ? mul_rn(attn_factor, add_rn(1.0f, mul_rn(0.1f, logf(1.0f / freq_scale)))) : attn_factor;
}

// ---- gated activations ----------------------------------------------------------------------------------------------

MOE_HD float silu(float x) { return x / add_rn(1.0f, expf(-x)); }
MOE_HD float sigmoid(float x) { return 1.0f / add_rn(1.0f, expf(-x)); }
MOE_HD float swiglu(float g, float u) { return mul_rn(g / add_rn(1.0f, expf(-g)), u); }
// gpt-oss's clamped SwiGLU: g = min(gate, limit), u = clamp(up, -limit, limit), g * sigmoid(alpha g) * (u + 1).
MOE_HD float swiglu_oai(float gate, float up, float alpha, float limit) {
    const float g = fminf(gate, limit);
    const float u = fminf(fmaxf(up, -limit), limit);
    return mul_rn(g / add_rn(1.0f, expf(mul_rn(alpha, -g))), add_rn(u, 1.0f));
}

}  // namespace moe_cuda
