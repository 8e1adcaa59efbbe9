// ref_kernels.hpp — the CPU backend's reference kernel for every graph op: plain loops, correct before fast.
// Called by cpu_backend::run_node; also the ground truth later SIMD kernels and other backends are tested against.
#pragma once

#include "backends/cpu/thread_pool.hpp"
#include "runtime/backend.hpp"

#include <cstdint>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace cpu {

// Threads and grow-only scratch shared by the kernels of one CPU backend (one session).
struct context {
    explicit context(int n_threads) : pool(n_threads), scratch_(static_cast<size_t>(pool.size())) {}
    thread_pool pool;
    // Per-thread float scratch of at least n elements; grows only, so steady-state decoding allocates nothing.
    float* scratch(int thread, size_t n) {
        std::vector<float>& s = scratch_[static_cast<size_t>(thread)];
        if (s.size() < n) s.resize(n);
        return s.data();
    }
    // Float scratch that all threads of one pool.run read (filled before it, or by a pool.run of its own); grows only.
    float* shared_scratch(size_t n) {
        if (shared_.size() < n) shared_.resize(n);
        return shared_.data();
    }
    std::vector<int32_t> index_scratch;  // single-threaded bookkeeping (expert token lists)
    std::vector<int64_t> offset_scratch;  // single-threaded bookkeeping (where each sequence's converted rows start)
    // Activations converted to a weight type's dot type (see vec_dot.hpp); grows only.
    uint8_t* activation_scratch(size_t bytes) {
        if (act_.size() < bytes) act_.resize(bytes);
        return act_.data();
    }

    // Row pointers handed to the matmul tiles (backends/cpu/simd): activation rows and output rows; grow-only.
    std::vector<const uint8_t*> act_rows;
    std::vector<float*> out_rows;

private:
    std::vector<std::vector<float>> scratch_;
    std::vector<float> shared_;
    std::vector<uint8_t> act_;
};

using kernel_fn = status (*)(context&, const node&, const tensor_view& out, const tensor_view* in, const run_args&);

status get_rows(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status mul_mat(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status mul_mat_id(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status rms_norm(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status add(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status mul(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status div(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status silu(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status scale(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status swiglu(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status softmax(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status normalize_sum(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status top_k(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status gather_cols(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status weighted_sum(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status rope(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status attention(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status add_id(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status swiglu_oai(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status rope_yarn(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status attention_ext(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status sigmoid(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status expert_group_mask(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status cols(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status concat(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status mul_mat_heads(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status attention_mla(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);
status mul_mat_glu(context&, const node&, const tensor_view&, const tensor_view*, const run_args&);

// Float dot product of two contiguous vectors (Eigen, vectorised for the build's baseline ISA).
float dot(const float* a, const float* b, int64_t n);

}  // namespace cpu
MOE_END_NAMESPACE
