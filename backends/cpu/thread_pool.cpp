// thread_pool.cpp — condition-variable worker pool: workers sleep between jobs, the caller works as thread 0.
// The CPU backend's kernels run on it; faster barriers belong to the CPU speed work.
#include "backends/cpu/thread_pool.hpp"

#include <system_error>

MOE_BEGIN_NAMESPACE

thread_pool::thread_pool(int n_threads) {
    if (n_threads <= 0) {
        unsigned hw = std::thread::hardware_concurrency();
        n_threads = hw ? static_cast<int>(hw) : 1;
    }
    for (int i = 1; i < n_threads; ++i) {
        try {
            workers_.emplace_back([this, i] { worker_loop(i); });
        } catch (const std::system_error&) {
            break;  // run with the threads we got
        }
    }
}

thread_pool::~thread_pool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
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
    {
        std::lock_guard<std::mutex> lk(mu_);
        job_ = fn, ctx_ = ctx;
        pending_ = nth - 1;
        ++generation_;
    }
    start_cv_.notify_all();
    fn(ctx, 0, nth);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
}

void thread_pool::worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
        job_fn fn;
        void* ctx;
        {
            std::unique_lock<std::mutex> lk(mu_);
            start_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            fn = job_, ctx = ctx_;
        }
        fn(ctx, index, size());
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (--pending_ == 0) done_cv_.notify_one();
        }
    }
}

MOE_END_NAMESPACE
