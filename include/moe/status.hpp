// status.hpp — error codes, status (code + message) and result<T>: how every fallible call reports failure.
// Used by every layer from the GGUF reader to the C API shim; library code never throws across the API or aborts.
#pragma once

#include <moe/config.hpp>

#include <new>
#include <string>
#include <type_traits>
#include <utility>

MOE_BEGIN_NAMESPACE

enum class errc : int {
    ok = 0,
    invalid_argument,     // caller passed something unusable
    io_error,             // open/read/mmap failed
    bad_format,           // the file is not a valid GGUF (truncated, overflowing, inconsistent)
    unsupported,          // valid, but something we do not implement (architecture, tensor type, op)
    shape_mismatch,       // a tensor or value has the wrong shape or type
    out_of_memory,        // an allocation failed
    context_full,         // no room left in the KV cache
    backend_unavailable,  // requested backend missing (no GPU, no module)
    aborted,              // a user callback asked to stop
    internal,             // a bug in moe: an invariant failed
};

inline const char* errc_name(errc c) noexcept {
    switch (c) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid argument";
    case errc::io_error: return "I/O error";
    case errc::bad_format: return "bad format";
    case errc::unsupported: return "unsupported";
    case errc::shape_mismatch: return "shape mismatch";
    case errc::out_of_memory: return "out of memory";
    case errc::context_full: return "context full";
    case errc::backend_unavailable: return "backend unavailable";
    case errc::aborted: return "aborted";
    case errc::internal: return "internal error";
    }
    return "unknown error";
}

// A status is ok, or an error code with a human-readable message.
class [[nodiscard]] status {
public:
    status() = default;
    status(errc code, std::string message) : code_(code), message_(std::move(message)) {}

    bool ok() const noexcept { return code_ == errc::ok; }
    explicit operator bool() const noexcept { return ok(); }
    errc code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    // "bad format: tensor 'x' ..." — code name plus message, for printing.
    std::string to_string() const { return ok() ? "ok" : std::string(errc_name(code_)) + ": " + message_; }

private:
    errc code_ = errc::ok;
    std::string message_;
};

inline status ok_status() { return {}; }

// result<T> holds a T or a non-ok status. T must be movable.
template <class T>
class [[nodiscard]] result {
public:
    result(T value) : has_(true) { new (&storage_) T(std::move(value)); }  // NOLINT: implicit by design
    result(status s) : status_(std::move(s)) {                              // NOLINT
        if (status_.ok()) status_ = status(errc::internal, "result constructed from an ok status without a value");
    }
    result(errc code, std::string message) : status_(code, std::move(message)) {}
    result(result&& o) noexcept(std::is_nothrow_move_constructible<T>::value) : status_(std::move(o.status_)), has_(o.has_) {
        if (has_) new (&storage_) T(std::move(*o.ptr()));
    }
    result& operator=(result&& o) noexcept(std::is_nothrow_move_constructible<T>::value) {
        if (this != &o) {
            reset();
            status_ = std::move(o.status_);
            has_ = o.has_;
            if (has_) new (&storage_) T(std::move(*o.ptr()));
        }
        return *this;
    }
    result(const result&) = delete;
    result& operator=(const result&) = delete;
    ~result() { reset(); }

    bool ok() const noexcept { return has_; }
    explicit operator bool() const noexcept { return has_; }
    const status& error() const noexcept { return status_; }
    T& value() & { return *ptr(); }
    const T& value() const& { return *ptr(); }
    T&& value() && { return std::move(*ptr()); }
    T* operator->() { return ptr(); }
    const T* operator->() const { return ptr(); }
    T& operator*() & { return *ptr(); }
    const T& operator*() const& { return *ptr(); }

private:
    T* ptr() { return std::launder(reinterpret_cast<T*>(&storage_)); }
    const T* ptr() const { return std::launder(reinterpret_cast<const T*>(&storage_)); }
    void reset() {
        if (has_) ptr()->~T();
        has_ = false;
    }
    status status_;
    bool has_ = false;
    typename std::aligned_storage<sizeof(T), alignof(T)>::type storage_;
};

// Propagate a failing status from an expression returning status.
#define MOE_TRY(expr)                       \
    do {                                    \
        ::moe::status moe_try_s_ = (expr);  \
        if (!moe_try_s_.ok()) return moe_try_s_; \
    } while (0)

MOE_END_NAMESPACE
