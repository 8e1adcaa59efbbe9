// test_thread_pool.cpp — checks backends/cpu/thread_pool: parallel_for covers every index once, run() hands out
// thread indices, a pool of one runs inline, back-to-back jobs lose no work, a worker's exception reaches the caller.
#include "backends/cpu/thread_pool.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

using namespace moe;

TEST_CASE("thread_pool: parallel_for covers every index exactly once") {
    for (int threads : {1, 2, 3, 4, 7}) {
        thread_pool pool(threads);
        CHECK(pool.size() == threads);
        for (int64_t n : {int64_t(0), int64_t(1), int64_t(2), int64_t(3), int64_t(5), int64_t(7), int64_t(16),
                          int64_t(100), int64_t(1001)}) {
            CAPTURE(threads);
            CAPTURE(n);
            std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[static_cast<size_t>(n) + 1]);
            for (int64_t i = 0; i <= n; ++i) hits[static_cast<size_t>(i)] = 0;
            std::atomic<int> calls{0}, bad_chunks{0};
            pool.parallel_for(n, [&](int64_t b, int64_t e) {
                ++calls;
                if (!(0 <= b && b < e && e <= n)) ++bad_chunks;
                for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
            });
            CHECK(bad_chunks == 0);
            CHECK(calls <= threads);
            if (n > 0) CHECK(calls >= 1);
            int wrong = 0;
            for (int64_t i = 0; i < n; ++i) wrong += hits[static_cast<size_t>(i)] != 1;
            CHECK(wrong == 0);
            CHECK(hits[static_cast<size_t>(n)] == 0);  // nothing past the end
        }
    }
}

TEST_CASE("thread_pool: parallel_for chunks are contiguous and ordered by thread") {
    thread_pool pool(4);
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    pool.parallel_for(10, [&](int64_t b, int64_t e) {
        std::lock_guard<std::mutex> lk(mu);
        chunks.emplace_back(b, e);
    });
    std::sort(chunks.begin(), chunks.end());
    REQUIRE(!chunks.empty());
    CHECK(chunks.front().first == 0);
    CHECK(chunks.back().second == 10);
    for (size_t i = 1; i < chunks.size(); ++i) CHECK(chunks[i].first == chunks[i - 1].second);
}

TEST_CASE("thread_pool: run gives each thread its own index") {
    for (int threads : {1, 2, 4, 8}) {
        CAPTURE(threads);
        thread_pool pool(threads);
        std::vector<std::atomic<int>> seen(static_cast<size_t>(threads));
        for (auto& s : seen) s = 0;
        std::atomic<int> wrong_nth{0}, caller_is_zero{0};
        const std::thread::id caller = std::this_thread::get_id();
        std::mutex mu;
        std::vector<std::thread::id> ids;
        pool.run([&](int ith, int nth) {
            if (nth != threads) ++wrong_nth;
            if (ith >= 0 && ith < threads) ++seen[static_cast<size_t>(ith)];
            if (ith == 0 && std::this_thread::get_id() == caller) ++caller_is_zero;
            std::lock_guard<std::mutex> lk(mu);
            ids.push_back(std::this_thread::get_id());
        });
        CHECK(wrong_nth == 0);
        CHECK(caller_is_zero == 1);  // the caller works as thread 0
        for (int i = 0; i < threads; ++i) CHECK(seen[static_cast<size_t>(i)] == 1);
        std::sort(ids.begin(), ids.end());
        CHECK(std::unique(ids.begin(), ids.end()) == ids.end());  // distinct OS threads
    }
}

TEST_CASE("thread_pool: a pool of one runs inline") {
    thread_pool pool(1);
    CHECK(pool.size() == 1);
    const std::thread::id caller = std::this_thread::get_id();
    int calls = 0;
    bool same_thread = true;
    pool.run([&](int ith, int nth) {
        ++calls;
        same_thread = same_thread && ith == 0 && nth == 1 && std::this_thread::get_id() == caller;
    });
    pool.parallel_for(50, [&](int64_t b, int64_t e) {
        ++calls;
        same_thread = same_thread && b == 0 && e == 50 && std::this_thread::get_id() == caller;
    });
    CHECK(calls == 2);
    CHECK(same_thread);
}

TEST_CASE("thread_pool: zero or negative asks for the hardware thread count") {
    thread_pool pool(0);
    const unsigned hw = std::thread::hardware_concurrency();
    CHECK(pool.size() >= 1);
    if (hw > 0) CHECK(pool.size() <= static_cast<int>(hw));
    std::atomic<int> n{0};
    pool.run([&](int, int) { ++n; });
    CHECK(n == pool.size());
}

TEST_CASE("thread_pool: 10k back-to-back jobs do not deadlock or lose work") {
    for (int threads : {2, 3}) {
        CAPTURE(threads);
        thread_pool pool(threads);
        std::atomic<int64_t> total{0};
        const int rounds = 10000;
        for (int r = 0; r < rounds; ++r) {
            if (r % 2)
                pool.run([&](int ith, int) { total += ith + 1; });
            else
                pool.parallel_for(threads, [&](int64_t b, int64_t e) { total += e - b; });
        }
        const int64_t per_run = int64_t(threads) * (threads + 1) / 2;
        CHECK(total == int64_t(rounds / 2) * per_run + int64_t(rounds / 2) * threads);
    }
}

TEST_CASE("thread_pool: construction and destruction without jobs") {
    for (int i = 0; i < 50; ++i) {
        thread_pool pool(3);
        if (i % 2) pool.run([](int, int) {});
    }
    CHECK(true);
}

TEST_CASE("thread_pool: an exception on any thread reaches the caller after all threads finished") {
    thread_pool pool(3);
    for (int thrower = 0; thrower < pool.size(); ++thrower) {
        CAPTURE(thrower);
        std::atomic<int> finished{0};
        bool caught = false;
        try {
            pool.run([&](int ith, int) {
                if (ith == thrower) throw std::bad_alloc();
                finished.fetch_add(1);
            });
        } catch (const std::bad_alloc&) {
            caught = true;
        }
        CHECK(caught);
        CHECK(finished.load() == pool.size() - 1);  // the others ran to the end before run() returned
        // The pool is still whole: the next job runs on every thread and throws nothing.
        std::atomic<int> ran{0};
        pool.run([&](int, int) { ran.fetch_add(1); });
        CHECK(ran.load() == pool.size());
    }
}
