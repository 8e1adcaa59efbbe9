// thread_pool.hpp — a fixed set of worker threads, sized by the caller, that runs one job on all threads at once.
// Owned by the CPU backend; kernels call parallel_for to split rows across threads. Created once per session.
#pragma once

#include <moe/config.hpp>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

MOE_BEGIN_NAMESPACE

class thread_pool {
public:
    // n_threads <= 0: one per hardware thread. If the OS refuses to start threads, the pool runs with fewer.
    explicit thread_pool(int n_threads);
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

    // Calls fn(thread_index, n_threads) once on every thread (the caller is thread 0); returns when all finished.
    template <class F>
    void run(F&& fn) {
        run_impl(&trampoline<typename std::remove_reference<F>::type>, static_cast<void*>(&fn));
    }

    // Splits [0, n) into contiguous chunks, one per thread, and calls fn(begin, end) for each non-empty chunk.
    template <class F>
    void parallel_for(int64_t n, F&& fn) {
        if (n <= 0) return;
        if (size() == 1 || n == 1) {
            fn(int64_t(0), n);
            return;
        }
        run([&](int ith, int nth) {
            int64_t per = (n + nth - 1) / nth;
            int64_t b = per * ith, e = b + per < n ? b + per : n;
            if (b < e) fn(b, e);
        });
    }

private:
    using job_fn = void (*)(void*, int, int);
    template <class F>
    static void trampoline(void* f, int ith, int nth) { (*static_cast<F*>(f))(ith, nth); }
    void run_impl(job_fn fn, void* ctx);
    void worker_loop(int index);

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    uint64_t generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
    job_fn job_ = nullptr;
    void* ctx_ = nullptr;
};

MOE_END_NAMESPACE
