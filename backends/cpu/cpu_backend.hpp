// cpu_backend.hpp — the built-in CPU backend: host memory, a thread pool, and a kernel for every op.
// The session creates one per session (its thread count is the caller's); the scheduler falls back to it.
#pragma once

#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/simd/simd.hpp"
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

    // The SIMD level of the matmul kernels, process-wide (backends/cpu/simd): chosen at startup from the CPU and
    // MOE_CPU_ISA; set_isa forces a level the CPU supports (false otherwise), e.g. isa::ref for the reference.
    static cpu::simd::isa isa() noexcept { return cpu::simd::active().level; }
    static bool set_isa(cpu::simd::isa level) noexcept { return cpu::simd::set_isa(level); }

private:
    std::unique_ptr<cpu::context> ctx_;
    cpu::kernel_fn kernels_[static_cast<int>(op::view) + 1] = {};
};

MOE_END_NAMESPACE
