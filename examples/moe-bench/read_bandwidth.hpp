// read_bandwidth.hpp — the machine's sustained memory read bandwidth, measured by streaming a large buffer.
// Before: nothing (moe-bench calls it once per thread count). After: printed next to decode's achieved bandwidth.
#pragma once

#include <cstddef>

namespace moe_bench {

struct read_bandwidth {
    double best_gbs = 0;    // best pass, 1e9 bytes/s (STREAM convention)
    double mean_gbs = 0;    // mean over passes
    size_t buffer_bytes = 0;
    int n_threads = 0;
};

// Streams a buffer of 32 x the last-level cache (clamped to [1 GiB, 4 GiB]) with n_threads threads, each summing
// its own contiguous slice, `passes` times. Returns zeros when the buffer cannot be allocated.
read_bandwidth measure_read_bandwidth(int n_threads, int passes = 5);

}  // namespace moe_bench
