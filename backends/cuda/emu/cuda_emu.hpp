// cuda_emu.hpp — a host emulation of the CUDA runtime calls and kernel launches the module uses (tests only).
// Before: the module's .cu files compiled as C++ with MOE_CUDA_EMU. After: tests/cuda runs the op tests against it.
//
// Each CUDA thread of a block runs as a fiber (own stack; x86-64 switch in asm, ucontext elsewhere) on the calling
// thread; __syncthreads and warp shuffles are barriers between fibers, blocks run one after another, launches complete
// before they return. Device memory is host memory; one launch at a time (not thread-safe). What this checks:
// indexing, reductions, barriers, shuffles, the data path and the host code of the module. What it cannot: real
// concurrency, memory coalescing, nvcc's code generation, CUDA's own expf/cosf/sinf (the host libm's run instead).
#pragma once

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <functional>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static  // one block runs at a time: a static is shared by the block's fibers

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct moe_emu_uint3 {
    unsigned x, y, z;
};

namespace moe_emu {
const moe_emu_uint3& thread_idx();
const moe_emu_uint3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
void sync_block();
double shfl_xor(double v, int lane_mask);
// Runs fn once per thread of every block; errors (bad configuration, a deadlocked barrier) go to cudaGetLastError.
void launch(dim3 grid, dim3 block, const std::function<void()>& fn);
}  // namespace moe_emu

#define threadIdx (::moe_emu::thread_idx())
#define blockIdx (::moe_emu::block_idx())
#define blockDim (::moe_emu::block_dim())
#define gridDim (::moe_emu::grid_dim())
#define __syncthreads() ::moe_emu::sync_block()
template <class T>
inline T moe_emu_shfl(T v, int m) {
    return static_cast<T>(::moe_emu::shfl_xor(static_cast<double>(v), m));
}
#define __shfl_xor_sync(mask, v, m) moe_emu_shfl((v), (m))
inline int atomicAdd(int* p, int v) {  // fibers switch only at barriers: a plain add is atomic here
    const int old = *p;
    *p = old + v;
    return old;
}

// ---- the runtime API subset ----------------------------------------------------------------------------------------

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorDevicesUnavailable = 46,
    cudaErrorNoKernelImageForDevice = 209,
    cudaErrorECCUncorrectable = 214,
    cudaErrorIllegalAddress = 700,
    cudaErrorHardwareStackError = 714,
    cudaErrorIllegalInstruction = 715,
    cudaErrorMisalignedAddress = 716,
    cudaErrorInvalidPc = 718,
    cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
typedef struct moe_emu_stream* cudaStream_t;
#define cudaStreamNonBlocking 0x01
struct cudaDeviceProp {
    char name[256];
    int major, minor;
};

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int dev);
cudaError_t cudaGetDevice(int* dev);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b);
cudaError_t cudaMalloc(void** p, size_t n);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t n);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void* dst, int v, size_t n, cudaStream_t s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
