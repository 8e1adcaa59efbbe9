// cuda_memory.cu — the API v1 data path: weight cache keyed by host pointer, scratch/staging arenas, copies per node.
// Before: host pointers in a node. After: device pointers for the launchers; the output back in host memory.
#include "backends/cuda/cuda_common.cuh"

#include <cstring>
#include <new>

namespace moe_cuda {

int32_t fail(inst_t& inst, int32_t code, const std::string& msg) {
    inst.err = msg;
    return code;
}

int32_t cuda_fail(inst_t& inst, cudaError_t e, const char* what) {
    inst.err = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    (void)cudaGetLastError();  // clear a non-sticky error so the next node can run
    switch (e) {
    case cudaErrorMemoryAllocation: return MOE_BACKEND_ERR_OUT_OF_MEMORY;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorDevicesUnavailable:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalAddress:
    case cudaErrorECCUncorrectable:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidPc:
    case cudaErrorNoKernelImageForDevice: return MOE_BACKEND_ERR_UNAVAILABLE;
    default: return MOE_BACKEND_ERR_INTERNAL;
    }
}

int64_t elements(const moe_backend_tensor& t) {
    int64_t n = 1;
    for (int k = 0; k < t.rank; ++k) n *= t.dims[k];
    return n;
}

int64_t rows(const moe_backend_tensor& t) {
    int64_t n = 1;
    for (int k = 0; k + 1 < t.rank; ++k) n *= t.dims[k];
    return n;
}

size_t tensor_bytes(const moe_backend_tensor& t) {
    return static_cast<size_t>(row_bytes(t.type, last(t))) * static_cast<size_t>(rows(t));
}

namespace {

constexpr size_t align_to = 256;

size_t round_up(size_t n) { return (n + align_to - 1) / align_to * align_to; }

int32_t arena_alloc(inst_t& inst, moe_cuda_arena& a, size_t bytes, void** out) {
    bytes = round_up(bytes ? bytes : 1);
    if (!a.chunks.empty()) {
        moe_cuda_arena::chunk& c = a.chunks.back();
        if (c.size - c.used >= bytes) {
            *out = c.p + c.used;
            c.used += bytes;
            return MOE_BACKEND_OK;
        }
    }
    size_t size = a.chunks.empty() ? size_t(1) << 20 : a.chunks.back().size * 2;
    if (size < bytes) size = bytes;
    moe_cuda_arena::chunk c;
    void* p = nullptr;
    if (a.pinned) MOE_CU(inst, cudaMallocHost(&p, size));
    else MOE_CU(inst, cudaMalloc(&p, size));
    c.p = static_cast<uint8_t*>(p);
    c.size = size;
    c.used = bytes;
    a.chunks.push_back(c);
    *out = c.p;
    return MOE_BACKEND_OK;
}

void arena_free_chunk(moe_cuda_arena& a, moe_cuda_arena::chunk& c) {
    if (a.pinned) (void)cudaFreeHost(c.p);
    else (void)cudaFree(c.p);
    c.p = nullptr;
}

// End of a node: one chunk stays (the total of this node's chunks if there were several, allocated lazily by the
// next node); every chunk is free again.
void arena_reset(moe_cuda_arena& a) {
    if (a.chunks.size() > 1) {
        size_t total = 0;
        for (auto& c : a.chunks) total += c.size, arena_free_chunk(a, c);
        a.chunks.clear();
        moe_cuda_arena::chunk c;
        void* p = nullptr;
        const cudaError_t e = a.pinned ? cudaMallocHost(&p, total) : cudaMalloc(&p, total);
        if (e == cudaSuccess) {
            c.p = static_cast<uint8_t*>(p);
            c.size = total;
            a.chunks.push_back(c);
        } else {
            (void)cudaGetLastError();  // the next node allocates what it needs
        }
    }
    for (auto& c : a.chunks) c.used = 0;
}

void arena_release(moe_cuda_arena& a) {
    for (auto& c : a.chunks) arena_free_chunk(a, c);
    a.chunks.clear();
}

// True when [p, p + bytes) lies in memory alloc() returned (pinned: the copy engine reads it directly).
bool in_host_alloc(const inst_t& inst, const void* p, size_t bytes) {
    const uintptr_t u = reinterpret_cast<uintptr_t>(p);
    auto it = inst.host_allocs.upper_bound(u);
    if (it == inst.host_allocs.begin()) return false;
    --it;
    return u >= it->first && u + bytes <= it->first + it->second;
}

}  // namespace

int32_t scratch_alloc(inst_t& inst, size_t bytes, void** dev) { return arena_alloc(inst, inst.scratch, bytes, dev); }

int32_t upload(inst_t& inst, const void* host, size_t bytes, void** dev) {
    MOE_TRY_RC(scratch_alloc(inst, bytes, dev));
    if (bytes == 0) return MOE_BACKEND_OK;
    const void* src = host;
    if (!in_host_alloc(inst, host, bytes)) {
        void* st = nullptr;
        MOE_TRY_RC(arena_alloc(inst, inst.staging, bytes, &st));
        std::memcpy(st, host, bytes);
        src = st;
    }
    MOE_CU(inst, cudaMemcpyAsync(*dev, src, bytes, cudaMemcpyHostToDevice, inst.stream));
    return MOE_BACKEND_OK;
}

int32_t upload_tensor(inst_t& inst, const moe_backend_tensor& t, void** dev) {
    return upload(inst, t.data, tensor_bytes(t), dev);
}

int32_t weight(inst_t& inst, const moe_backend_tensor& t, const void** dev) {
    const size_t bytes = tensor_bytes(t);
    auto it = inst.weights.find(t.data);
    if (it != inst.weights.end() && it->second.bytes >= bytes) {
        *dev = it->second.dev;
        return MOE_BACKEND_OK;
    }
    if (inst.weight_bytes + bytes > inst.weight_cap)
        return fail(inst, MOE_BACKEND_ERR_OUT_OF_MEMORY,
                    "CUDA weight cache full: " + std::to_string(inst.weight_bytes >> 20) + " MiB cached, " +
                        std::to_string(bytes >> 20) + " MiB more asked, cap " + std::to_string(inst.weight_cap >> 20) +
                        " MiB (free device memory at creation minus a margin); the model does not fit this GPU "
                        "under API v1 (no partial offload yet): use backend \"cpu\"");
    void* d = nullptr;
    MOE_CU(inst, cudaMalloc(&d, bytes ? bytes : 1));
    // Weights go up in pieces through the pinned staging buffer (bounded size, not a pinned copy of the model).
    const size_t piece = size_t(64) << 20;
    const uint8_t* src = static_cast<const uint8_t*>(t.data);
    for (size_t off = 0; off < bytes; off += piece) {
        const size_t n = bytes - off < piece ? bytes - off : piece;
        void* st = nullptr;
        const int32_t rc = arena_alloc(inst, inst.staging, n, &st);
        if (rc != MOE_BACKEND_OK) {
            (void)cudaFree(d);
            return rc;
        }
        std::memcpy(st, src + off, n);
        const cudaError_t e =
            cudaMemcpyAsync(static_cast<uint8_t*>(d) + off, st, n, cudaMemcpyHostToDevice, inst.stream);
        const cudaError_t s = e == cudaSuccess ? cudaStreamSynchronize(inst.stream) : e;
        if (s != cudaSuccess) {
            (void)cudaFree(d);
            return cuda_fail(inst, s, "uploading a weight");
        }
        for (auto& c : inst.staging.chunks) c.used = 0;  // synchronised: the staging bytes are free again
    }
    if (it != inst.weights.end()) {  // same address, larger tensor (a view of a longer weight): replace
        (void)cudaFree(it->second.dev);
        inst.weight_bytes -= it->second.bytes;
    }
    inst.weights[t.data] = {d, bytes};
    inst.weight_bytes += bytes;
    *dev = d;
    return MOE_BACKEND_OK;
}

int32_t download(inst_t& inst, void* host, const void* dev, size_t bytes) {
    if (bytes == 0) return MOE_BACKEND_OK;
    if (in_host_alloc(inst, host, bytes)) {
        MOE_CU(inst, cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, inst.stream));
        return MOE_BACKEND_OK;
    }
    void* st = nullptr;
    MOE_TRY_RC(arena_alloc(inst, inst.staging, bytes, &st));
    MOE_CU(inst, cudaMemcpyAsync(st, dev, bytes, cudaMemcpyDeviceToHost, inst.stream));
    inst.pending.push_back({host, st, bytes});
    return MOE_BACKEND_OK;
}

int32_t end_node(inst_t& inst) {
    const cudaError_t e = cudaStreamSynchronize(inst.stream);
    if (e != cudaSuccess) {
        abort_node(inst);
        return cuda_fail(inst, e, "running the node (cudaStreamSynchronize)");
    }
    for (const auto& p : inst.pending) std::memcpy(p.host, p.staged, p.bytes);
    inst.pending.clear();
    arena_reset(inst.scratch);
    arena_reset(inst.staging);
    return MOE_BACKEND_OK;
}

void abort_node(inst_t& inst) {
    (void)cudaStreamSynchronize(inst.stream);  // nothing may still read or write the arenas
    (void)cudaGetLastError();
    inst.pending.clear();
    arena_reset(inst.scratch);
    arena_reset(inst.staging);
}

void release_all(inst_t& inst) {
    if (inst.stream) (void)cudaStreamSynchronize(inst.stream);
    for (auto& w : inst.weights) (void)cudaFree(w.second.dev);
    inst.weights.clear();
    inst.weight_bytes = 0;
    arena_release(inst.scratch);
    arena_release(inst.staging);
}

}  // namespace moe_cuda
