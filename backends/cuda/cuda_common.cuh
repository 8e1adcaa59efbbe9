// cuda_common.cuh — the CUDA module's instance (stream, weight cache, scratch and staging arenas, last error) and
// the helpers every op file uses. Before: backend_module.h's node from the host. After: the op launchers.
#pragma once

#include "backends/backend_module.h"
#include "backends/cuda/cuda_math.hpp"

#if defined(MOE_CUDA_EMU)
#include "backends/cuda/emu/cuda_emu.hpp"  // host emulation of the runtime and of kernel launches (tests only)
#else
#include <cuda_runtime.h>
#endif

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

// Device scratch and pinned host staging: bump allocation out of chunks; a node that outgrows the current chunk gets
// another, and at the end of the node the chunks are merged into one so later nodes of that size need one chunk.
struct moe_cuda_arena {
    struct chunk {
        uint8_t* p = nullptr;
        size_t size = 0, used = 0;
    };
    std::vector<chunk> chunks;
    bool pinned = false;  // cudaMallocHost instead of cudaMalloc
};

struct moe_backend_instance {
    int device = 0;
    cudaStream_t stream = nullptr;
    std::string err;  // last_error()

    // Read-only weights uploaded once, keyed by host address (API v1 hands host pointers; weights are immutable for
    // the model's life). weight_cap: free device memory at create() minus a margin.
    struct weight_entry {
        void* dev = nullptr;
        size_t bytes = 0;
    };
    std::unordered_map<const void*, weight_entry> weights;
    size_t weight_bytes = 0, weight_cap = 0;

    moe_cuda_arena scratch;  // device, per node
    moe_cuda_arena staging;  // pinned host, per node

    // Host memory handed out by alloc() (pinned when possible): start -> size, so copies from and to it skip the
    // staging buffer.
    std::map<uintptr_t, size_t> host_allocs;

    // Host copies to do once the stream has finished the node: staging -> the host's output or cache.
    struct pending_copy {
        void* host;
        const void* staged;
        size_t bytes;
    };
    std::vector<pending_copy> pending;
};

namespace moe_cuda {

using inst_t = moe_backend_instance;

// Sets inst.err to "<what>: <CUDA error string>" and returns the matching ABI result code.
int32_t cuda_fail(inst_t& inst, cudaError_t e, const char* what);
int32_t fail(inst_t& inst, int32_t code, const std::string& msg);

#define MOE_CU(inst, call)                                                     \
    do {                                                                       \
        const cudaError_t moe_cu_e_ = (call);                                  \
        if (moe_cu_e_ != cudaSuccess) return ::moe_cuda::cuda_fail((inst), moe_cu_e_, #call); \
    } while (0)
#define MOE_TRY_RC(expr)                          \
    do {                                          \
        const int32_t moe_rc_ = (expr);           \
        if (moe_rc_ != MOE_BACKEND_OK) return moe_rc_; \
    } while (0)
// After a kernel launch: a launch error (bad configuration, no kernel image for this device) becomes a result code.
#define MOE_LAUNCHED(inst, what) MOE_CU(inst, cudaGetLastError())

// kernel<<<grid, block, 0, stream>>>(args...), through a function pointer so that template kernels need no
// parentheses tricks and the host emulation (MOE_CUDA_EMU) can run the same call sites.
template <class... P, class... A>
void launch_kernel(void (*kernel)(P...), dim3 grid, dim3 block, cudaStream_t stream, A&&... args) {
#if defined(MOE_CUDA_EMU)
    (void)stream;
    ::moe_emu::launch(grid, block, [&]() { kernel(static_cast<P>(args)...); });
#else
    kernel<<<grid, block, 0, stream>>>(static_cast<P>(std::forward<A>(args))...);
#endif
}
#define MOE_LAUNCH(kernel, grid, block, stream, ...) \
    ::moe_cuda::launch_kernel(kernel, dim3(grid), dim3(block), stream, __VA_ARGS__)

// ---- tensors -------------------------------------------------------------------------------------------------------

int64_t elements(const moe_backend_tensor& t);
int64_t rows(const moe_backend_tensor& t);  // all dims but the last
inline int64_t last(const moe_backend_tensor& t) { return t.dims[t.rank - 1]; }
size_t tensor_bytes(const moe_backend_tensor& t);

// ---- memory (cuda_memory.cu) ---------------------------------------------------------------------------------------

// Device scratch for this node (aligned to 256 bytes); valid until end_node().
int32_t scratch_alloc(inst_t& inst, size_t bytes, void** dev);
// Copies host bytes to fresh scratch (through pinned staging unless the host memory came from alloc()).
int32_t upload(inst_t& inst, const void* host, size_t bytes, void** dev);
int32_t upload_tensor(inst_t& inst, const moe_backend_tensor& t, void** dev);
// The device copy of a read-only weight, uploaded on first use; OUT_OF_MEMORY past the weight cap.
int32_t weight(inst_t& inst, const moe_backend_tensor& t, const void** dev);
// Queues device bytes to be copied to host memory when the node ends.
int32_t download(inst_t& inst, void* host, const void* dev, size_t bytes);
// Waits for the stream, does the queued host copies, merges arena chunks.
int32_t end_node(inst_t& inst);
// Drops the node's queued copies and scratch after a failure.
void abort_node(inst_t& inst);
void release_all(inst_t& inst);  // destroy(): weights, arenas

// ---- op launchers: inputs already on the device (see cuda_dispatch.cu) ---------------------------------------------

// One node with device pointers: in[j] for the inputs (null where the launcher moves the data itself: attention
// caches), out for the output; n is the host node (shapes, parameters, host pointers).
struct dnode {
    const moe_backend_node* n = nullptr;
    const void* in[MOE_BACKEND_MAX_INPUTS] = {nullptr, nullptr, nullptr, nullptr, nullptr};
    void* out = nullptr;
    int64_t n_past = 0;
};

int32_t run_get_rows(inst_t&, const dnode&);
int32_t run_mul_mat(inst_t&, const dnode&);
int32_t run_mul_mat_heads(inst_t&, const dnode&);
int32_t run_mul_mat_id(inst_t&, const dnode&);
int32_t run_elementwise(inst_t&, const dnode&);  // RMS_NORM ADD MUL DIV SCALE SILU SIGMOID SWIGLU SWIGLU_OAI SOFTMAX
int32_t run_rope(inst_t&, const dnode&);         // ROPE, ROPE_YARN
int32_t run_layout(inst_t&, const dnode&);       // COLS, CONCAT
int32_t run_moe_route(inst_t&, const dnode&);  // TOP_K GATHER_COLS NORMALIZE_SUM WEIGHTED_SUM ADD_ID EXPERT_GROUP_MASK
int32_t run_attention(inst_t&, const dnode&);    // ATTENTION, ATTENTION_EXT, ATTENTION_MLA

}  // namespace moe_cuda
