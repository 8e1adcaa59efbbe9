// backend.hpp — what the executor needs from a compute device: buffers, which ops it runs, and running one node.
// Implemented by backends/cpu (built in) and, later, modules loaded at runtime (backends/cuda); used by scheduler.
#pragma once

#include "graph/ir.hpp"

#include <moe/status.hpp>

#include <cstddef>
#include <string>

MOE_BEGIN_NAMESPACE

// A value as a kernel sees it: type, shape and where its (contiguous) bytes are on the backend's device.
struct tensor_view {
    dtype type = dtype::f32;
    shape sh;
    void* data = nullptr;
    // Weights only: the same bytes in layout packed_as (graph/ir.hpp), for the kernels that read it; else null.
    const void* packed = nullptr;
    packing packed_as = packing::none;
};

// Per-run arguments that change between runs of the same planned graph.
struct run_args {
    int64_t n_past = 0;  // KV cache rows already filled before this batch
};

class backend {
public:
    virtual ~backend() = default;
    virtual const char* name() const noexcept = 0;
    // True when buffers of this backend are plain host memory (no copies needed to share values with the CPU).
    virtual bool host_memory() const noexcept = 0;
    // Whether run_node can execute this node (op, types, shapes).
    virtual bool supports(const graph& g, const node& n) const = 0;
    // Device memory for arenas and states. Must return an error status, not throw, on failure.
    virtual result<void*> alloc(size_t bytes) = 0;
    virtual void free(void* p) noexcept = 0;
    // Executes one node. `in` has n.n_in views; `out` is the node's output.
    virtual status run_node(const graph& g, const node& n, const tensor_view& out, const tensor_view* in,
                            const run_args& args) = 0;
};

// Owns memory from a backend; frees it on destruction.
class backend_buffer {
public:
    backend_buffer() = default;
    static result<backend_buffer> allocate(backend& b, size_t bytes);
    backend_buffer(backend_buffer&& o) noexcept : b_(o.b_), p_(o.p_), size_(o.size_) { o.p_ = nullptr, o.size_ = 0; }
    backend_buffer& operator=(backend_buffer&& o) noexcept;
    backend_buffer(const backend_buffer&) = delete;
    backend_buffer& operator=(const backend_buffer&) = delete;
    ~backend_buffer() { release(); }
    void* data() const noexcept { return p_; }
    size_t size() const noexcept { return size_; }

private:
    void release() noexcept;
    backend* b_ = nullptr;
    void* p_ = nullptr;
    size_t size_ = 0;
};

MOE_END_NAMESPACE
