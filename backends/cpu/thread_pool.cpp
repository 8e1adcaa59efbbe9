// thread_pool.cpp — spin-then-sleep worker pool: idle workers poll an atomic job counter ~100 us, then sleep;
// the caller works as thread 0, then polls the pending count ~100 us and sleeps. Used by the CPU kernels.
#include "backends/cpu/thread_pool.hpp"

#include <chrono>
#include <exception>

MOE_BEGIN_NAMESPACE

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// How long an idle worker polls before sleeping: longer than the gap between two kernels of one token (and than
// the sampling between decoded tokens), short enough that an idle session gives its cores back quickly.
constexpr std::chrono::microseconds spin_time{100};
// Jobs run without spinning after the caller found a worker late (roughly a few decoded tokens).
constexpr int backoff_jobs = 1024;

}  // namespace

thread_pool::thread_pool(int n_threads) {
    if (n_threads <= 0) {
        unsigned hw = std::thread::hardware_concurrency();
        n_threads = hw ? static_cast<int>(hw) : 1;
    }
    for (int i = 1; i < n_threads; ++i) {
        try {
            workers_.emplace_back([this, i] { worker_loop(i); });
        } catch (const std::exception&) {  // std::system_error from the OS, std::bad_alloc for the thread's state
            break;                           // run with the threads we got
        }
    }
}

thread_pool::~thread_pool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_.store(true);
    }
    start_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void thread_pool::run_impl(job_fn fn, void* ctx) {
    const int nth = size();
    if (nth == 1) {
        fn(ctx, 0, 1);
        return;
    }
    // Every worker finished the previous job (pending_ reached 0), so nobody reads job_/ctx_ now.
    job_ = fn, ctx_ = ctx;
    pending_.store(nth - 1, std::memory_order_relaxed);
    started_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1);  // seq_cst: publishes the job; ordered before the sleepers_ check below
    if (sleepers_.load() > 0) {
        // A sleeper holds mu_ from its sleepers_ increment until it waits, so this notify cannot be lost.
        std::lock_guard<std::mutex> lk(mu_);
        start_cv_.notify_all();
    }
    try {
        fn(ctx, 0, nth);
    } catch (...) {
        keep_first_error();
    }
    const bool spin = no_spin_jobs_ == 0;
    if (!spin && --no_spin_jobs_ == 0) spin_.store(true, std::memory_order_relaxed);
    const auto deadline = std::chrono::steady_clock::now() + spin_time;
    for (unsigned i = 1; pending_.load(std::memory_order_acquire) != 0; ++i) {
        cpu_relax();
        if (!spin || ((i & 255u) == 0 && std::chrono::steady_clock::now() >= deadline)) {
            if (spin && started_.load(std::memory_order_relaxed) < nth - 1) {
                // A worker never got a core during the spin: more runnable threads than cores. Stop spinning
                // for a while.
                no_spin_jobs_ = backoff_jobs;
                spin_.store(false, std::memory_order_relaxed);
            }
            // A worker is late (descheduled, or a longer share): sleep, so it can have this core.
            std::unique_lock<std::mutex> lk(mu_);
            caller_waiting_.store(true);  // seq_cst: ordered before the pending_ check in the predicate
            done_cv_.wait(lk, [&] { return pending_.load() == 0; });
            caller_waiting_.store(false);
            break;
        }
    }
    // Every thread is done with the job now: hand its first exception (std::bad_alloc from a scratch buffer) to
    // the caller, whose own caller turns it into a status.
    if (failed_.load(std::memory_order_acquire)) {
        std::exception_ptr e = std::move(error_);
        error_ = nullptr;
        failed_.store(false, std::memory_order_relaxed);
        std::rethrow_exception(e);
    }
}

void thread_pool::keep_first_error() noexcept {
    if (!failed_.exchange(true)) error_ = std::current_exception();
}

bool thread_pool::wait_for_job(uint64_t seen) {
    const auto deadline = std::chrono::steady_clock::now() + spin_time;
    for (unsigned i = 1;; ++i) {
        if (stop_.load(std::memory_order_acquire)) return false;
        if (generation_.load(std::memory_order_acquire) != seen) return true;
        if (!spin_.load(std::memory_order_relaxed)) break;
        cpu_relax();
        if ((i & 255u) == 0 && std::chrono::steady_clock::now() >= deadline) break;
    }
    std::unique_lock<std::mutex> lk(mu_);
    sleepers_.fetch_add(1);  // seq_cst: ordered before the generation_ check in the wait predicate
    start_cv_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
    sleepers_.fetch_sub(1);
    return !stop_.load();
}

void thread_pool::worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
        if (!wait_for_job(seen)) return;
        seen = generation_.load(std::memory_order_acquire);
        started_.fetch_add(1, std::memory_order_relaxed);
        const job_fn fn = job_;
        void* const ctx = ctx_;
        try {
            fn(ctx, index, size());
        } catch (...) {
            keep_first_error();
        }
        if (pending_.fetch_sub(1) == 1) {
            // The caller sets caller_waiting_ and checks pending_ holding mu_, until it waits; deciding here under
            // mu_ too means no wake-up is lost without relying on the store-load order of two seq_cst atomics
            // (which qemu-user's aarch64-on-x86 translation did not keep: the thread pool test deadlocked there).
            std::lock_guard<std::mutex> lk(mu_);
            if (caller_waiting_.load()) done_cv_.notify_one();
        }
    }
}

MOE_END_NAMESPACE
