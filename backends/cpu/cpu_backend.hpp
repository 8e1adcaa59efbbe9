// cpu_backend.hpp — the built-in CPU backend: host memory, a thread pool, and a kernel for every op.
// The session creates one per session (its thread count is the caller's); the scheduler falls back to it.
#pragma once

#include "backends/cpu/ref/ref_kernels.hpp"
#include "runtime/backend.hpp"

#include <memory>

MOE_BEGIN_NAMESPACE

class cpu_backend final : public backend {
public:
    explicit cpu_backend(int n_threads);
    const char* name() const noexcept override { return "cpu"; }
    bool host_memory() const noexcept override { return true; }
    bool supports(const graph& g, const node& n) const override;
    result<void*> alloc(size_t bytes) override;
    void free(void* p) noexcept override;
    status run_node(const graph& g, const node& n, const tensor_view& out, const tensor_view* in,
                    const run_args& args) override;
    int n_threads() const noexcept { return ctx_->pool.size(); }

private:
    std::unique_ptr<cpu::context> ctx_;
    cpu::kernel_fn kernels_[static_cast<int>(op::view) + 1] = {};
};

MOE_END_NAMESPACE
