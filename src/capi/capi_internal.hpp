// capi_internal.hpp — what the C API's opaque handles hold and the helpers every entry point uses: status
// conversion, the per-thread error message, logging, the try/catch guard and the "busy" claim on a handle.
// Included by src/capi/*.cpp only; below it is the C++ API (include/moe/*.hpp), above it include/moe/moe.h.
#pragma once

#include <moe/moe.h>
#include <moe/moe.hpp>

#include <atomic>
#include <cstring>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace moe_capi {

// A loaded model, shared by the model handle and every session made from it (weights stay while any holds it).
struct model_state {
    explicit model_state(moe::model model) : m(std::move(model)) {}
    moe::model m;
};

}  // namespace moe_capi

struct moe_model {
    std::shared_ptr<const moe_capi::model_state> state;
};

struct moe_session {
    moe_session(std::shared_ptr<const moe_capi::model_state> model, moe::session session)
        : state(std::move(model)), s(std::move(session)) {}
    std::shared_ptr<const moe_capi::model_state> state;
    moe::session s;
    std::atomic<bool> busy{false};    // a generation (sync or async) or another call is using it
    std::atomic<bool> cancel{false};  // moe_session_cancel / moe_async_cancel: stop at the next token or chunk
};

struct moe_sampler {
    explicit moe_sampler(moe::sampler sampler) : s(std::move(sampler)) {}
    moe::sampler s;
    std::atomic<bool> busy{false};
};

namespace moe_capi {

// errc and moe_status share their numbers (0..10); the C API adds its own above them.
inline moe_status to_status(moe::errc c) noexcept { return static_cast<moe_status>(static_cast<int>(c)); }

// Records `message` as this thread's last error (prefixed with the entry point's name), logs it at debug level and
// returns `code`. Never throws: without memory for the message, a fixed one is kept.
moe_status fail(const char* fn, moe_status code, const std::string& message) noexcept;
moe_status fail(const char* fn, moe_status code, const char* message) noexcept;  // literals: no std::string to build
moe_status fail(const char* fn, const moe::status& st) noexcept;

// Sends a message to the moe_log_set callback, if any accepts `level`. Never throws.
void log(moe_log_level level, const std::string& message) noexcept;
bool log_enabled(moe_log_level level) noexcept;

// Runs an entry point's body: any exception becomes a status (OUT_OF_MEMORY or INTERNAL) and a message.
template <class F>
moe_status guarded(const char* fn, F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return fail(fn, MOE_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return fail(fn, MOE_ERR_INTERNAL, std::string("unexpected exception: ") + e.what());
    } catch (...) {
        return fail(fn, MOE_ERR_INTERNAL, "unexpected exception");
    }
}

// Exclusive use of a session or sampler for the length of a call; fails when a generation already holds it.
class claim {
public:
    explicit claim(std::atomic<bool>& flag) noexcept : flag_(&flag) {
        bool expected = false;
        if (!flag.compare_exchange_strong(expected, true, std::memory_order_acquire)) flag_ = nullptr;
    }
    claim(const claim&) = delete;
    claim& operator=(const claim&) = delete;
    ~claim() {
        if (flag_) flag_->store(false, std::memory_order_release);
    }
    bool ok() const noexcept { return flag_ != nullptr; }
    void release_ownership() noexcept { flag_ = nullptr; }  // the flag now belongs to someone else (an async worker)

private:
    std::atomic<bool>* flag_;
};

// The int a caller stored in an enum field or argument. C lets any int through; reading one outside the enum's
// values through the C++ enum type is undefined, so read the bytes.
template <class E>
int enum_int(const E& e) noexcept {
    static_assert(sizeof(E) == sizeof(int), "C enums are int-sized here");
    int v;
    std::memcpy(&v, &e, sizeof v);
    return v;
}

// Checks a caller's struct_size against ours (the only version so far).
inline bool size_ok(size_t given, size_t ours) noexcept { return given == ours; }

// Writes `s` and a NUL into text[capacity]; *n_bytes gets s.size(). BUFFER_TOO_SMALL when it does not fit.
moe_status write_text(const char* fn, const std::string& s, char* text, size_t capacity, size_t* n_bytes) noexcept;

// ---- generation (capi_generate.cpp), shared by moe_session_generate and the async worker ------------------------

// What to generate, with the prompt copied out of the caller's params.
struct gen_request {
    bool has_text = false;
    std::string prompt_text;
    std::vector<int32_t> prompt_tokens;
    int32_t max_tokens = -1;
    bool stop_at_eog = true;
};

// Receives each generated token with its text; false stops the generation (MOE_STOP_CALLBACK).
// A final call with token -1 may carry text held back at the end (an incomplete UTF-8 character).
class gen_sink {
public:
    virtual ~gen_sink() = default;
    virtual bool on_token(int32_t token, const std::string& text) = 0;
    virtual bool stop_requested() { return false; }    // polled between tokens (async: a dispatch callback said stop)
    virtual bool cancel_requested() { return false; }  // polled with the session's cancel flag (moe_async_cancel)
};

// Validates and copies a moe_generate_params (INVALID_ARGUMENT / ABI_MISMATCH recorded under fn).
moe_status make_request(const char* fn, const moe_generate_params* p, gen_request& out) noexcept;

// Runs a generation on a session already claimed by the caller. Fills res; returns the status (errors as C++
// statuses so a worker thread can hand them to the host).
moe::status generate(moe_session& s, moe_sampler& smp, const gen_request& req, gen_sink& sink,
                     moe_generate_result& res);

}  // namespace moe_capi
