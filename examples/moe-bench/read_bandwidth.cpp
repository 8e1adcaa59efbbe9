// read_bandwidth.cpp — a read-only STREAM-like test: n threads each sum a slice of a buffer far larger than the LLC.
// Before: moe-bench's option parsing (thread count). After: the "machine read GB/s" column of its report.
#include "read_bandwidth.hpp"

#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

namespace moe_bench {
namespace {

// 16-byte lanes (SSE2 on every x86-64); eight independent accumulators keep the loads in flight.
typedef uint64_t u64x2 __attribute__((vector_size(16)));

uint64_t sum_slice(const u64x2* p, size_t n) {
    u64x2 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 += p[i + 0], a1 += p[i + 1], a2 += p[i + 2], a3 += p[i + 3];
        a4 += p[i + 4], a5 += p[i + 5], a6 += p[i + 6], a7 += p[i + 7];
    }
    for (; i < n; ++i) a0 += p[i];
    const u64x2 s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    return s[0] + s[1];
}

// The test's buffer, in the memory the weights get: anonymous pages with transparent huge pages asked for (as the
// library's repacked weights and KV caches), so that the TLB costs the read test as little as it costs decode.
class read_buffer {
public:
    explicit read_buffer(size_t bytes) : bytes_(bytes) {
#if defined(__linux__)
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return;
#ifdef MADV_HUGEPAGE
        (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
        p_ = static_cast<u64x2*>(p);
#else
        p_ = new (std::nothrow) u64x2[bytes / sizeof(u64x2)];
#endif
    }
    ~read_buffer() {
#if defined(__linux__)
        if (p_ != nullptr) munmap(p_, bytes_);
#else
        delete[] p_;
#endif
    }
    read_buffer(const read_buffer&) = delete;
    read_buffer& operator=(const read_buffer&) = delete;
    u64x2* get() const { return p_; }

private:
    u64x2* p_ = nullptr;
    size_t bytes_;
};

size_t last_level_cache_bytes() {
    long llc = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0) llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return llc > 0 ? static_cast<size_t>(llc) : size_t{32} << 20;
}

}  // namespace

read_bandwidth measure_read_bandwidth(int n_threads, int passes) {
    read_bandwidth r;
    n_threads = std::max(1, n_threads);
    passes = std::max(1, passes);
    // Some hypervisors report odd cache sizes: at least 1 GiB, at most 4 GiB.
    const size_t bytes = std::min(size_t{4} << 30, std::max(size_t{1} << 30, 32 * last_level_cache_bytes()));
    const size_t n_vec = bytes / sizeof(u64x2);
    read_buffer buf(n_vec * sizeof(u64x2));
    if (!buf.get()) return r;
    std::memset(static_cast<void*>(buf.get()), 1, n_vec * sizeof(u64x2));  // fault every page in before timing

    std::atomic<uint64_t> sink{0};
    double sum_gbs = 0;
    for (int pass = 0; pass < passes; ++pass) {
        std::atomic<int> ready{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> threads;
        const size_t per = n_vec / static_cast<size_t>(n_threads);
        for (int t = 0; t < n_threads; ++t) {
            const size_t begin = per * static_cast<size_t>(t);
            const size_t count = t + 1 == n_threads ? n_vec - begin : per;
            threads.emplace_back([&, begin, count] {
                ready.fetch_add(1);
                while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
                sink.fetch_add(sum_slice(buf.get() + begin, count), std::memory_order_relaxed);
            });
        }
        while (ready.load() < n_threads) std::this_thread::yield();
        const auto t0 = std::chrono::steady_clock::now();
        go.store(true, std::memory_order_release);
        for (std::thread& th : threads) th.join();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double gbs = static_cast<double>(n_vec * sizeof(u64x2)) / s / 1e9;
        r.best_gbs = std::max(r.best_gbs, gbs);
        sum_gbs += gbs;
    }
    r.mean_gbs = sum_gbs / passes;
    r.buffer_bytes = n_vec * sizeof(u64x2);
    r.n_threads = n_threads;
    if (sink.load() == 42) r.best_gbs += 0;  // keeps the sums observable
    return r;
}

}  // namespace moe_bench
