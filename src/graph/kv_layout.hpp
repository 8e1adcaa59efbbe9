// kv_layout.hpp — where one KV head's row of a layer's KV cache lives. Before: the session's cache buffers and the
// graph's cache states [S x C rows, Hkv, D]. After: the CPU attention kernels and the session's state blob use it.
//
// An f32 cache is row-major, as the state's shape reads ([rows, Hkv, D]: the CUDA module's layout). An f16 cache is
// head-major ([Hkv, rows, D]): each KV head's rows lie together, so decoding streams a head's keys and values
// instead of reading a head's 256 bytes out of every 4 KiB row (a page apart, where hardware prefetchers stop).
// The state blob stays row-major either way.
#pragma once

#include <moe/dtype.hpp>

#include <cstdint>

MOE_BEGIN_NAMESPACE

struct kv_layout {
    int64_t rows = 0, heads = 0, dim = 0;  // the cache's rows (all sequence slots), KV heads, elements per head
    bool head_major = false;

    static kv_layout of(dtype type, int64_t rows, int64_t heads, int64_t dim) noexcept {
        return {rows, heads, dim, type == dtype::f16 && heads > 1};
    }
    // Element offset of head h of row r, and between rows r and r + 1 of one head.
    int64_t offset(int64_t r, int64_t h) const noexcept {
        return head_major ? (h * rows + r) * dim : (r * heads + h) * dim;
    }
    int64_t row_stride() const noexcept { return head_major ? dim : heads * dim; }
};

MOE_END_NAMESPACE
