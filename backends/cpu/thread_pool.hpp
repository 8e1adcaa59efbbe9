// thread_pool.hpp — a fixed set of worker threads, sized by the caller, that runs one job on all threads at once.
// Owned by the CPU backend; kernels call parallel_for to split rows across threads. Created once per session.
// Workers spin briefly between jobs (a decoded token runs hundreds of short jobs), then sleep.
#pragma once

#include <moe/config.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
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
    // An exception thrown on any thread is rethrown here, on the caller's thread, once all threads are done.
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
    void keep_first_error() noexcept;  // inside a catch: remember the exception unless one is already kept
    bool wait_for_job(uint64_t seen);  // false: the pool is stopping

    // A job is published by writing job_/ctx_ and pending_, then bumping generation_ (release); workers spin on
    // generation_ for a short while before sleeping on start_cv_ (counted in sleepers_, so the caller only takes
    // the mutex when someone sleeps), and count pending_ down when done; the caller spins on pending_ for a short
    // while, then sleeps on done_cv_ (caller_waiting_, set and read under mu_, tells the last worker to wake it;
    // the last worker takes mu_ for that once per job). Bounded spins on both
    // sides keep a loaded machine usable: a thread whose partner was descheduled gives its core back. When a
    // worker had not even started a job by the end of the caller's spin (more runnable threads than cores),
    // spinning is off for the next
    // backoff_jobs jobs: spinners lose the scheduler's wake-up preference and wait out whole time slices.
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<int> started_{0};  // workers that picked up the current job
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::atomic<bool> caller_waiting_{false};
    std::atomic<bool> spin_{true};  // read by workers; written by the caller
    int no_spin_jobs_ = 0;          // caller only: jobs left before spinning is tried again
    std::atomic<bool> failed_{false};  // error_ holds the current job's first exception
    std::exception_ptr error_;
    job_fn job_ = nullptr;
    void* ctx_ = nullptr;
};

MOE_END_NAMESPACE
