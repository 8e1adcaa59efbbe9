// alloc_hooks.hpp — the unit tests' replacement of every global operator new/delete: counts allocations while armed
// and can make the Nth allocation fail. Used by test_session.cpp (no allocation per token) and test_alloc_failure.cpp.
#pragma once

#include <cstdint>

namespace alloc_hooks {

// False where the global operators cannot be replaced (ThreadSanitizer's runtime defines them itself): counting
// then reports 0 and no failure is injected, so tests that need the hooks skip themselves.
bool active() noexcept;

// Counting: allocations made while counting is on, from any thread.
void start_counting() noexcept;
long stop_counting() noexcept;  // the count since start_counting()

// Failure injection: the allocation `n` allocations from now (0 = the next one) fails once — operator new throws
// std::bad_alloc, the nothrow forms return nullptr — then allocations succeed again.
void fail_after(long n) noexcept;
void disarm() noexcept;
bool failure_injected() noexcept;  // whether the armed failure has happened

// While one exists, this thread's allocations are neither counted nor failed (the test's own bookkeeping).
struct paused {
    paused() noexcept;
    ~paused();
    paused(const paused&) = delete;
    paused& operator=(const paused&) = delete;
};

}  // namespace alloc_hooks
