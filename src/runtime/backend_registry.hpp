// backend_registry.hpp — the backends a runtime can create: the built-in CPU backend plus modules loaded from disk
// (backends/backend_module.h, e.g. CUDA). Owned by whoever creates it (no process globals); feeds the scheduler.
#pragma once

#include "runtime/backend.hpp"

#include <moe/status.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE

// One registered backend, as list() reports it.
struct backend_info {
    std::string name;         // what create() takes: "cpu", "cuda", ...
    std::string description;  // one line from the module (or the built-in)
    std::string path;         // module file; empty for built-in backends
    bool available = false;   // false: create() fails with errc::backend_unavailable and `reason`
    int score = 0;            // device preference from the module, higher is better; 0 when unavailable
    std::string reason;       // device summary when available, why not otherwise
};

// What find_modules() did with a directory.
struct module_scan {
    int loaded = 0;                // modules registered and available
    std::vector<status> failures;  // one per candidate file that was not registered as available, in file order
};

// Usage:
//     backend_registry reg;                              // knows "cpu"
//     (void)reg.find_modules("/usr/lib/moe");            // libmoe-backend-*.so, each checked and scored
//     auto cuda = reg.create("cuda", 0);                 // result<std::unique_ptr<backend>>
//     auto cpu = reg.create("cpu", n_threads);
//     executor::create(g, {cuda->get(), cpu->get()});
// Not thread-safe: load and create from one thread. A loaded module stays mapped while the registry or any backend
// created from it lives, so backends may outlive the registry; buffers must be freed before their backend.
class backend_registry {
public:
    using factory_fn = std::function<result<std::unique_ptr<backend>>(int n_threads)>;

    backend_registry();  // registers the built-in CPU backend as "cpu"
    ~backend_registry();
    backend_registry(backend_registry&&) noexcept;
    backend_registry& operator=(backend_registry&&) noexcept;
    backend_registry(const backend_registry&) = delete;
    backend_registry& operator=(const backend_registry&) = delete;

    // Registers a C++ backend compiled into the host. errc::invalid_argument when the name is taken or empty.
    status add_builtin(const std::string& name, const std::string& description, factory_fn factory);

    // Loads one module (dlopen with RTLD_NOW | RTLD_LOCAL) and registers it under the name it reports.
    //   errc::backend_unavailable  the file is missing or cannot be loaded (e.g. a missing driver library), or its
    //                              score() says the device is unusable (then it is listed, unavailable, with the
    //                              reason, and the file is unloaded)
    //   errc::unsupported          not a moe backend module: no entry point, another API version, a table smaller
    //                              than this API's, or a table without a name or a function
    //   errc::invalid_argument     a backend with the same name is already registered
    // Every message names the path and the reason.
    status load_module(const std::string& path);

    // Loads every libmoe-backend-*.so in `dir` (sorted by file name). errc::io_error when the directory cannot be
    // read; otherwise the count of modules loaded and the status of each one that was not.
    result<module_scan> find_modules(const std::string& dir);

    // Every registered backend, built-ins first, then modules in load order.
    std::vector<backend_info> list() const;

    // A new instance of backend `name`. n_threads: host threads it may use (<= 0: all hardware threads).
    // errc::backend_unavailable for an unknown or unavailable name; otherwise the factory's or module's error.
    result<std::unique_ptr<backend>> create(const std::string& name, int n_threads) const;

private:
    struct entry;
    const entry* find(const std::string& name) const;
    std::vector<std::unique_ptr<entry>> entries_;
};

MOE_END_NAMESPACE
