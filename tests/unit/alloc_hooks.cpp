// alloc_hooks.cpp — every form of global operator new/delete (plain, array, nothrow, aligned) over malloc and
// aligned_alloc, so all of them pair with free(); see alloc_hooks.hpp for the counting and failure injection.
#include "alloc_hooks.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

// GCC flags free() on memory from operator new even when our own operator new got it from malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#if defined(__SANITIZE_THREAD__)
#define MOE_ALLOC_HOOKS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MOE_ALLOC_HOOKS 0
#endif
#endif
#ifndef MOE_ALLOC_HOOKS
#define MOE_ALLOC_HOOKS 1
#endif

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_count{0};
std::atomic<long> g_countdown{-1};  // < 0: disarmed
std::atomic<bool> g_injected{false};
thread_local int t_paused = 0;

// True when this allocation is the one to fail.
bool should_fail() noexcept {
    if (t_paused > 0) return false;
    if (g_counting.load(std::memory_order_relaxed)) g_count.fetch_add(1, std::memory_order_relaxed);
    if (g_countdown.load(std::memory_order_relaxed) < 0) return false;
    if (g_countdown.fetch_sub(1, std::memory_order_acq_rel) != 0) return false;
    g_injected.store(true);
    return true;
}

void* allocate(std::size_t n, std::size_t align) noexcept {
    if (should_fail()) return nullptr;
    if (n == 0) n = 1;
    if (align <= alignof(std::max_align_t)) return std::malloc(n);
    return std::aligned_alloc(align, (n + align - 1) / align * align);
}

void* allocate_or_throw(std::size_t n, std::size_t align) {
    if (void* p = allocate(n, align)) return p;
    throw std::bad_alloc();
}
}  // namespace

namespace alloc_hooks {
bool active() noexcept { return MOE_ALLOC_HOOKS != 0; }
void start_counting() noexcept {
    g_count = 0;
    g_counting = true;
}
long stop_counting() noexcept {
    g_counting = false;
    return g_count.load();
}
void fail_after(long n) noexcept {
    g_injected = false;
    g_countdown = n;
}
void disarm() noexcept { g_countdown = -1; }
bool failure_injected() noexcept { return g_injected.load(); }
paused::paused() noexcept { ++t_paused; }
paused::~paused() { --t_paused; }
}  // namespace alloc_hooks

#if MOE_ALLOC_HOOKS
void* operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#else
// Keeps the helpers referenced so the build stays warning-free.
[[maybe_unused]] static void* (*const g_unused_allocate)(std::size_t, std::size_t) = allocate_or_throw;
#endif
