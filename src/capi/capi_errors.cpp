// capi_errors.cpp — the C API's version and ABI checks, status names, the per-thread last-error message and the
// process-wide log callback. Every other src/capi file reports through fail() and log() defined here.
#include "capi/capi_internal.hpp"

#include <mutex>

namespace moe_capi {
namespace {

thread_local std::string t_error;              // storage for this thread's last message
thread_local const char* t_error_ptr = nullptr;  // t_error.c_str(), or a fixed text when t_error could not be set

struct log_config {
    std::mutex config_mutex;          // guards fn / user / min_level
    std::recursive_mutex call_mutex;  // one message at a time (a callback may call back into the library)
    moe_log_fn fn = nullptr;
    void* user = nullptr;
    moe_log_level min_level = MOE_LOG_INFO;
};

log_config& logger() {
    static log_config c;  // constructed on first use, never throws (mutexes are constexpr-constructible)
    return c;
}

}  // namespace

bool log_enabled(moe_log_level level) noexcept {
    log_config& c = logger();
    std::lock_guard<std::mutex> lock(c.config_mutex);
    return c.fn != nullptr && level >= c.min_level;
}

void log(moe_log_level level, const std::string& message) noexcept {
    log_config& c = logger();
    moe_log_fn fn;
    void* user;
    {
        std::lock_guard<std::mutex> lock(c.config_mutex);
        if (!c.fn || level < c.min_level) return;
        fn = c.fn;
        user = c.user;
    }
    try {
        std::lock_guard<std::recursive_mutex> lock(c.call_mutex);
        fn(level, message.c_str(), user);
    } catch (...) {  // a C callback cannot throw; a C++ one must not escape into the library's caller
    }
}

moe_status fail(const char* fn, moe_status code, const std::string& message) noexcept {
    try {
        t_error.assign(fn);
        t_error += ": ";
        t_error += moe_status_name(code);
        t_error += ": ";
        t_error += message;
        t_error_ptr = t_error.c_str();
    } catch (...) {
        t_error_ptr = "out of memory while recording an error message";
    }
    if (log_enabled(MOE_LOG_DEBUG)) log(MOE_LOG_DEBUG, t_error_ptr);
    return code;
}

moe_status fail(const char* fn, moe_status code, const char* message) noexcept {
    try {
        return fail(fn, code, std::string(message));
    } catch (...) {
        t_error_ptr = "out of memory while recording an error message";
        return code;
    }
}

moe_status fail(const char* fn, const moe::status& st) noexcept {
    return fail(fn, st.ok() ? MOE_ERR_INTERNAL : to_status(st.code()), st.message());
}

moe_status write_text(const char* fn, const std::string& s, char* text, size_t capacity, size_t* n_bytes) noexcept {
    if (!n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "n_bytes is NULL");
    *n_bytes = s.size();
    if (!text || capacity < s.size() + 1)
        return fail(fn, MOE_ERR_BUFFER_TOO_SMALL,
                    "the text needs " + std::to_string(s.size() + 1) + " bytes, " +
                        std::to_string(text ? capacity : 0) + " given");
    s.copy(text, s.size());
    text[s.size()] = '\0';
    return MOE_OK;
}

}  // namespace moe_capi

extern "C" {

#define MOE_CAPI_STR2(x) #x
#define MOE_CAPI_STR(x) MOE_CAPI_STR2(x)
static_assert(MOE_C_VERSION_MAJOR == MOE_VERSION_MAJOR && MOE_C_VERSION_MINOR == MOE_VERSION_MINOR &&
                  MOE_C_VERSION_PATCH == MOE_VERSION_PATCH,
              "moe.h and config.hpp disagree on the version");

const char* moe_version_string(void) {
    return MOE_CAPI_STR(MOE_VERSION_MAJOR) "." MOE_CAPI_STR(MOE_VERSION_MINOR) "." MOE_CAPI_STR(MOE_VERSION_PATCH);
}

uint32_t moe_version(void) {
    return MOE_C_VERSION_MAJOR * 10000u + MOE_C_VERSION_MINOR * 100u + MOE_C_VERSION_PATCH;
}

moe_status moe_check_abi(uint32_t abi_version) {
    if (abi_version == MOE_C_ABI_VERSION) return MOE_OK;
    return moe_capi::guarded("moe_check_abi", [&] {
        return moe_capi::fail("moe_check_abi", MOE_ERR_ABI_MISMATCH,
                              "the caller was built for C ABI " + std::to_string(abi_version) + ", this library has " +
                                  std::to_string(MOE_C_ABI_VERSION));
    });
}

const char* moe_last_error(void) { return moe_capi::t_error_ptr ? moe_capi::t_error_ptr : ""; }

const char* moe_status_name(moe_status status) {
    const int v = moe_capi::enum_int(status);
    switch (v) {
    case MOE_ERR_ABI_MISMATCH: return "ABI mismatch";
    case MOE_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case MOE_ERR_BUSY: return "busy";
    default: break;
    }
    if (v < 0 || v > static_cast<int>(moe::errc::internal)) return "unknown status";
    return moe::errc_name(static_cast<moe::errc>(v));
}

void moe_log_set(moe_log_fn fn, void* user, moe_log_level min_level) {
    moe_capi::log_config& c = moe_capi::logger();
    std::lock_guard<std::mutex> lock(c.config_mutex);
    c.fn = fn;
    c.user = user;
    const int level = moe_capi::enum_int(min_level);
    c.min_level = level <= MOE_LOG_DEBUG ? MOE_LOG_DEBUG : level >= MOE_LOG_ERROR ? MOE_LOG_ERROR : min_level;
}

}  // extern "C"
