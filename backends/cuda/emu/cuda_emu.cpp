// cuda_emu.cpp — the host emulation behind cuda_emu.hpp: fibers per CUDA thread, block and warp barriers, runtime calls.
// Before: MOE_LAUNCH in the module's launchers (MOE_CUDA_EMU builds). After: kernels have run when launch() returns.
#include "backends/cuda/emu/cuda_emu.hpp"

#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
// A minimal x86-64 context switch (callee-saved registers and the stack pointer): ucontext's swapcontext makes a
// sigprocmask system call per switch, which dominated the emulated op tests.
extern "C" void moe_emu_switch(void** save_sp, void* to_sp);
asm(R"(
    .text
    .globl moe_emu_switch
    .type moe_emu_switch, @function
moe_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size moe_emu_switch, .-moe_emu_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");
#define MOE_EMU_FAST_SWITCH 1
#endif

namespace moe_emu {

namespace {

constexpr size_t stack_bytes = size_t(256) << 10;

enum class wait_kind { none, block, warp, done };

struct fiber {
    ucontext_t ctx;
    void* sp = nullptr;  // saved stack pointer (fast switch)
    moe_emu_uint3 tid{0, 0, 0};
    unsigned linear = 0;
    wait_kind wait = wait_kind::none;
    bool parity = false;  // which shuffle slot array this lane uses next
    std::vector<char> stack;
};

struct state {
    ucontext_t sched;
    void* sched_sp = nullptr;
    std::vector<fiber> fibers;
    fiber* cur = nullptr;
    moe_emu_uint3 bidx{0, 0, 0};
    dim3 bdim, gdim;
    const std::function<void()>* fn = nullptr;
    std::vector<double> lanes;  // shuffle slots: two arrays of one per thread of the block
    cudaError_t last = cudaSuccess;
};

state& st() {
    static state s;
    return s;
}

// Fiber <-> scheduler switches.
void to_scheduler(fiber& f) {
    state& s = st();
#if defined(MOE_EMU_FAST_SWITCH)
    moe_emu_switch(&f.sp, s.sched_sp);
#else
    swapcontext(&f.ctx, &s.sched);
#endif
}
void to_fiber(fiber& f) {
    state& s = st();
#if defined(MOE_EMU_FAST_SWITCH)
    moe_emu_switch(&s.sched_sp, f.sp);
#else
    swapcontext(&s.sched, &f.ctx);
#endif
}

void fiber_main() {
    state& s = st();
    (*s.fn)();
    s.cur->wait = wait_kind::done;
    to_scheduler(*s.cur);  // never resumed
}

// A new fiber's stack: six zero registers for moe_emu_switch to pop, then fiber_main as the return address and a
// dummy return address above it, so fiber_main starts with the stack aligned as after a call.
void start(fiber& f) {
#if defined(MOE_EMU_FAST_SWITCH)
    uintptr_t top = reinterpret_cast<uintptr_t>(f.stack.data() + f.stack.size()) & ~uintptr_t(15);
    void** sp = reinterpret_cast<void**>(top - 64);
    for (int i = 0; i < 6; ++i) sp[i] = nullptr;
    void (*entry)() = fiber_main;
    std::memcpy(&sp[6], &entry, sizeof entry);
    sp[7] = nullptr;
    f.sp = sp;
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack.data();
    f.ctx.uc_stack.ss_size = f.stack.size();
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_main, 0);
#endif
}

void yield(wait_kind w) {
    state& s = st();
    s.cur->wait = w;
    to_scheduler(*s.cur);
}

// Runs the fibers of one block until all are done; false on a barrier nobody can pass.
bool run_block() {
    state& s = st();
    const size_t n = s.fibers.size();
    for (;;) {
        bool progressed = false, all_done = true;
        for (size_t i = 0; i < n; ++i) {
            fiber& f = s.fibers[i];
            if (f.wait == wait_kind::done) continue;
            all_done = false;
            if (f.wait != wait_kind::none) continue;
            s.cur = &f;
            to_fiber(f);
            progressed = true;
        }
        if (all_done) return true;
        // release barriers: the block's when every live fiber waits on it; a warp's when its live lanes all wait
        bool block_ready = true;
        for (const fiber& f : s.fibers)
            if (f.wait != wait_kind::done && f.wait != wait_kind::block) block_ready = false;
        if (block_ready) {
            for (fiber& f : s.fibers)
                if (f.wait == wait_kind::block) f.wait = wait_kind::none, progressed = true;
            continue;
        }
        for (size_t w = 0; w * 32 < n; ++w) {
            bool ready = true, any = false;
            for (size_t i = w * 32; i < n && i < w * 32 + 32; ++i) {
                const wait_kind k = s.fibers[i].wait;
                if (k == wait_kind::warp) any = true;
                else if (k != wait_kind::done) ready = false;
            }
            if (ready && any) {
                for (size_t i = w * 32; i < n && i < w * 32 + 32; ++i)
                    if (s.fibers[i].wait == wait_kind::warp) s.fibers[i].wait = wait_kind::none;
                progressed = true;
            }
        }
        if (!progressed) return false;
    }
}

}  // namespace

const moe_emu_uint3& thread_idx() { return st().cur->tid; }
const moe_emu_uint3& block_idx() { return st().bidx; }
const dim3& block_dim() { return st().bdim; }
const dim3& grid_dim() { return st().gdim; }

void sync_block() { yield(wait_kind::block); }

// Two slot arrays used alternately: a lane can only write the array of shuffle i + 2 after every lane has passed the
// barrier of shuffle i + 1, i.e. after all have read shuffle i, so one barrier per shuffle suffices.
double shfl_xor(double v, int lane_mask) {
    state& s = st();
    fiber& f = *s.cur;
    const unsigned me = f.linear;
    const size_t base = f.parity ? s.lanes.size() / 2 : 0;
    f.parity = !f.parity;
    s.lanes[base + me] = v;
    yield(wait_kind::warp);  // every lane of the warp has written
    const unsigned other = (me & ~31u) | ((me & 31u) ^ static_cast<unsigned>(lane_mask & 31));
    return other < s.lanes.size() / 2 ? s.lanes[base + other] : v;
}

void launch(dim3 grid, dim3 block, const std::function<void()>& fn) {
    state& s = st();
    const unsigned threads = block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
        grid.z > 65535) {
        s.last = cudaErrorInvalidConfiguration;
        return;
    }
    s.fn = &fn;
    s.bdim = block;
    s.gdim = grid;
    s.fibers.resize(threads);
    s.lanes.assign(2 * size_t(threads), 0.0);
    for (fiber& f : s.fibers)
        if (f.stack.size() != stack_bytes) f.stack.assign(stack_bytes, 0);
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                s.bidx = {bx, by, bz};
                for (unsigned t = 0; t < threads; ++t) {
                    fiber& f = s.fibers[t];
                    f.linear = t;
                    f.tid = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
                    f.wait = wait_kind::none;
                    f.parity = false;
                    start(f);
                }
                if (!run_block()) {
                    s.last = cudaErrorLaunchFailure;  // a barrier that can never be passed
                    return;
                }
            }
}

}  // namespace moe_emu

// ---- runtime calls -------------------------------------------------------------------------------------------------

const char* cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaError (emulated)";
    }
}
const char* cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory (emulated device)";
    case cudaErrorInvalidConfiguration: return "invalid launch configuration (emulated device)";
    case cudaErrorLaunchFailure: return "deadlocked barrier (emulated device)";
    default: return "error (emulated device)";
    }
}
cudaError_t cudaGetLastError() {
    const cudaError_t e = moe_emu::st().last;
    moe_emu::st().last = cudaSuccess;
    return e;
}
cudaError_t cudaGetDeviceCount(int* n) {
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
    std::memset(p, 0, sizeof *p);
    std::strcpy(p->name, "moe CUDA emulator (host fibers)");
    p->major = 9, p->minor = 0;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int* dev) {
    *dev = 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
// 16 GiB with 8 GiB free, or MOE_EMU_FREE_BYTES free (tests of the weight cache's cap).
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
    *total_b = size_t(16) << 30;
    *free_b = size_t(8) << 30;
    if (const char* env = std::getenv("MOE_EMU_FREE_BYTES")) *free_b = static_cast<size_t>(std::strtoull(env, nullptr, 10));
    return cudaSuccess;
}
cudaError_t cudaMalloc(void** p, size_t n) {
    *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
    std::free(p);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t n) { return cudaMalloc(p, n); }
cudaError_t cudaFreeHost(void* p) { return cudaFree(p); }
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t) {
    if (n) std::memcpy(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int v, size_t n, cudaStream_t) {
    if (n) std::memset(dst, v, n);
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
    *s = reinterpret_cast<cudaStream_t>(new (std::nothrow) char(0));
    return *s ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    delete reinterpret_cast<char*>(s);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
