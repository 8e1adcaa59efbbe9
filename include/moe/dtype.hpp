// dtype.hpp — tensor element types, numbered exactly as GGUF/ggml numbers them, with their block layouts.
// The GGUF reader maps file type ids to dtype; quant.hpp and the kernels read block sizes from here.
#pragma once

#include <moe/config.hpp>

#include <cstddef>
#include <cstdint>

MOE_BEGIN_NAMESPACE

// Values are GGUF's ggml_type ids; a GGUF file stores these numbers. I32 is only used for activations (ids).
enum class dtype : uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q8_1 = 9,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    iq4_nl = 20,
    i8 = 24,
    i16 = 25,
    i32 = 26,
    i64 = 27,
    f64 = 28,
    iq4_xs = 23,
    bf16 = 30,
    mxfp4 = 39,
};

struct dtype_traits {
    const char* name;      // lower-case, as llama.cpp prints it ("q4_0")
    uint32_t block_size;   // elements per block (1 for plain types)
    uint32_t block_bytes;  // bytes per block
    bool supported;        // moe can read (dequantize / matmul) this type
};

// Traits for a dtype id; returns nullptr for ids GGUF does not define.
inline const dtype_traits* dtype_info(uint32_t id) noexcept {
    static const dtype_traits table[] = {
        /* 0 */ {"f32", 1, 4, true},
        /* 1 */ {"f16", 1, 2, true},
        /* 2 */ {"q4_0", 32, 18, true},
        /* 3 */ {"q4_1", 32, 20, true},
        /* 4 */ {nullptr, 0, 0, false},  // removed Q4_2
        /* 5 */ {nullptr, 0, 0, false},  // removed Q4_3
        /* 6 */ {"q5_0", 32, 22, true},
        /* 7 */ {"q5_1", 32, 24, true},
        /* 8 */ {"q8_0", 32, 34, true},
        /* 9 */ {"q8_1", 32, 36, false},
        /* 10 */ {"q2_k", 256, 84, true},
        /* 11 */ {"q3_k", 256, 110, true},
        /* 12 */ {"q4_k", 256, 144, true},
        /* 13 */ {"q5_k", 256, 176, true},
        /* 14 */ {"q6_k", 256, 210, true},
        /* 15 */ {"q8_k", 256, 292, false},
        /* 16 */ {"iq2_xxs", 256, 66, false},
        /* 17 */ {"iq2_xs", 256, 74, false},
        /* 18 */ {"iq3_xxs", 256, 98, false},
        /* 19 */ {"iq1_s", 256, 50, false},
        /* 20 */ {"iq4_nl", 32, 18, true},
        /* 21 */ {"iq3_s", 256, 110, false},
        /* 22 */ {"iq2_s", 256, 82, false},
        /* 23 */ {"iq4_xs", 256, 136, true},
        /* 24 */ {"i8", 1, 1, false},
        /* 25 */ {"i16", 1, 2, false},
        /* 26 */ {"i32", 1, 4, true},
        /* 27 */ {"i64", 1, 8, false},
        /* 28 */ {"f64", 1, 8, false},
        /* 29 */ {"iq1_m", 256, 56, false},
        /* 30 */ {"bf16", 1, 2, true},
        /* 31 */ {nullptr, 0, 0, false},
        /* 32 */ {nullptr, 0, 0, false},
        /* 33 */ {nullptr, 0, 0, false},
        /* 34 */ {"tq1_0", 256, 54, false},
        /* 35 */ {"tq2_0", 256, 66, false},
        /* 36 */ {nullptr, 0, 0, false},
        /* 37 */ {nullptr, 0, 0, false},
        /* 38 */ {nullptr, 0, 0, false},
        /* 39 */ {"mxfp4", 32, 17, true},
    };
    if (id >= sizeof(table) / sizeof(table[0]) || table[id].name == nullptr) return nullptr;
    return &table[id];
}

inline const dtype_traits& traits(dtype t) noexcept { return *dtype_info(static_cast<uint32_t>(t)); }
inline const char* dtype_name(dtype t) noexcept { return traits(t).name; }
inline bool is_quantized(dtype t) noexcept { return traits(t).block_size > 1; }

// Bytes needed for one row of n elements; n must be a multiple of the block size (checked by callers).
inline size_t row_bytes(dtype t, int64_t n) noexcept {
    const dtype_traits& tr = traits(t);
    return static_cast<size_t>(n / tr.block_size) * tr.block_bytes;
}

MOE_END_NAMESPACE
