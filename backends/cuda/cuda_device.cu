// cuda_device.cu — device discovery and score(), instance create/destroy, pinned host alloc(), the module table.
// Before: the host's backend_registry dlopen()s this module. After: run_node (cuda_dispatch.cu) uses the instance.
#include "backends/cuda/cuda_common.cuh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#ifndef MOE_CUDA_MIN_ARCH
#define MOE_CUDA_MIN_ARCH 80  // the oldest architecture in MOE_CUDA_ARCHITECTURES (set by CMake)
#endif

namespace moe_cuda {

int32_t supports(const moe_backend_instance* inst, const moe_backend_node* node);          // cuda_dispatch.cu
int32_t run_node(moe_backend_instance* inst, const moe_backend_node* node, const moe_backend_run_args* args);

namespace {

void write_reason(char* buf, size_t size, const std::string& s) {
    if (!buf || size == 0) return;
    const size_t n = s.size() < size - 1 ? s.size() : size - 1;
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
}

// Whether device `dev` can run this module; its summary or the reason it cannot.
bool probe(int dev, std::string& why) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) {
        (void)cudaGetLastError();
        why = "no CUDA device";
        return false;
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        why = std::string("no CUDA driver: ") + cudaGetErrorString(e);
        return false;
    }
    if (dev < 0 || dev >= count) {
        why = "CUDA device " + std::to_string(dev) + " does not exist (" + std::to_string(count) + " found)";
        return false;
    }
    cudaDeviceProp p;
    const cudaError_t pe = cudaGetDeviceProperties(&p, dev);
    if (pe != cudaSuccess) {
        (void)cudaGetLastError();
        why = std::string("cannot query CUDA device: ") + cudaGetErrorString(pe);
        return false;
    }
    const int cc = p.major * 10 + p.minor;
    char buf[640];
    if (cc < MOE_CUDA_MIN_ARCH) {
        std::snprintf(buf, sizeof buf, "%s has compute capability %d.%d; this module was built for %d.%d and newer",
                      p.name, p.major, p.minor, MOE_CUDA_MIN_ARCH / 10, MOE_CUDA_MIN_ARCH % 10);
        why = buf;
        return false;
    }
    size_t free_b = 0, total_b = 0;
    int prev = 0;
    (void)cudaGetDevice(&prev);
    (void)cudaSetDevice(dev);
    const cudaError_t me = cudaMemGetInfo(&free_b, &total_b);
    (void)cudaSetDevice(prev);
    if (me != cudaSuccess) {
        (void)cudaGetLastError();
        why = std::string("cannot create a CUDA context: ") + cudaGetErrorString(me);
        return false;
    }
    std::snprintf(buf, sizeof buf, "%s, compute capability %d.%d, %.1f GiB free of %.1f GiB", p.name, p.major,
                  p.minor, static_cast<double>(free_b) / (1 << 30), static_cast<double>(total_b) / (1 << 30));
    why = buf;
    return true;
}

int32_t score(char* reason, size_t reason_size) {
    try {
        std::string why;
        const bool ok = probe(0, why);
        write_reason(reason, reason_size, why);
        return ok ? 100 : 0;
    } catch (...) {
        write_reason(reason, reason_size, "out of memory probing the CUDA device");
        return 0;
    }
}

int32_t create(const moe_backend_create_params* params, moe_backend_instance** out, char* err, size_t err_size) {
    if (!out) return MOE_BACKEND_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    try {
        int dev = 0;
        if (params && params->struct_size >= offsetof(moe_backend_create_params, device) + sizeof(int32_t))
            dev = params->device;
        std::string why;
        if (!probe(dev, why)) {
            write_reason(err, err_size, why);
            return MOE_BACKEND_ERR_UNAVAILABLE;
        }
        auto* inst = new (std::nothrow) moe_backend_instance();
        if (!inst) {
            write_reason(err, err_size, "out of memory creating the CUDA instance");
            return MOE_BACKEND_ERR_OUT_OF_MEMORY;
        }
        inst->device = dev;
        inst->staging.pinned = true;
        cudaError_t e = cudaSetDevice(dev);
        if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&inst->stream, cudaStreamNonBlocking);
        size_t free_b = 0, total_b = 0;
        if (e == cudaSuccess) e = cudaMemGetInfo(&free_b, &total_b);
        if (e != cudaSuccess) {
            write_reason(err, err_size, std::string("CUDA setup failed: ") + cudaGetErrorString(e));
            (void)cudaGetLastError();
            delete inst;
            return e == cudaErrorMemoryAllocation ? MOE_BACKEND_ERR_OUT_OF_MEMORY : MOE_BACKEND_ERR_UNAVAILABLE;
        }
        // Leave room for scratch, staging and the runtime: 1 GiB plus 5 % of the device.
        const size_t margin = (size_t(1) << 30) + total_b / 20;
        inst->weight_cap = free_b > margin ? free_b - margin : 0;
        *out = inst;
        return MOE_BACKEND_OK;
    } catch (...) {
        write_reason(err, err_size, "out of memory creating the CUDA instance");
        return MOE_BACKEND_ERR_OUT_OF_MEMORY;
    }
}

void destroy(moe_backend_instance* inst) {
    if (!inst) return;
    (void)cudaSetDevice(inst->device);
    release_all(*inst);
    for (auto& a : inst->host_allocs) (void)cudaFreeHost(reinterpret_cast<void*>(a.first));
    if (inst->stream) (void)cudaStreamDestroy(inst->stream);
    delete inst;
}

// API v1: the activation arena and states live in host memory the CPU reads too (the scheduler requires it to
// share values), so this backend reports host memory and hands out pinned host pages, which the copy engine
// reads and writes without staging.
int32_t host_memory(const moe_backend_instance*) { return 1; }

int32_t alloc(moe_backend_instance* inst, size_t bytes, void** out) {
    if (!inst || !out) return MOE_BACKEND_ERR_INVALID_ARGUMENT;
    try {
        void* p = nullptr;
        const size_t n = bytes ? (bytes + 63) / 64 * 64 : 64;
        const cudaError_t e = cudaMallocHost(&p, n);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            inst->err = std::string("cudaMallocHost of ") + std::to_string(bytes) + " bytes: " + cudaGetErrorString(e);
            return MOE_BACKEND_ERR_OUT_OF_MEMORY;
        }
        inst->host_allocs[reinterpret_cast<uintptr_t>(p)] = n;
        *out = p;
        return MOE_BACKEND_OK;
    } catch (...) {
        inst->err = "out of memory";
        return MOE_BACKEND_ERR_OUT_OF_MEMORY;
    }
}

void free_mem(moe_backend_instance* inst, void* p) {
    if (!inst || !p) return;
    auto it = inst->host_allocs.find(reinterpret_cast<uintptr_t>(p));
    if (it == inst->host_allocs.end()) return;
    inst->host_allocs.erase(it);
    (void)cudaFreeHost(p);
}

const char* last_error(const moe_backend_instance* inst) { return inst ? inst->err.c_str() : ""; }

const moe_backend_module_v1 table = {
    MOE_BACKEND_API_VERSION,
    static_cast<uint32_t>(sizeof(moe_backend_module_v1)),
    "cuda",
    "NVIDIA CUDA (API v1: host-pointer data path, weights cached on the device)",
    score,
    create,
    destroy,
    host_memory,
    moe_cuda::supports,
    alloc,
    free_mem,
    moe_cuda::run_node,
    last_error,
};

}  // namespace
}  // namespace moe_cuda

extern "C" MOE_BACKEND_MODULE_EXPORT const moe_backend_module_v1* moe_backend_module_get(void) {
    return &moe_cuda::table;
}
