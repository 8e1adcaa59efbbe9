// dispatch.cpp — picks the kernel table once: what the CPU reports, lowered by MOE_CPU_ISA or set_isa; ref fallback.
// Before: the per-ISA fillers (kernels_*.cpp). After: the matmul kernels call convert_activation and tile from here.
// Compiled with the library's baseline flags: nothing here may use an instruction the per-ISA files own.
#include "backends/cpu/simd/simd.hpp"

#include "backends/cpu/ref/expf_ref.hpp"
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/softmax_ref.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/ref/vec_dot.hpp"

#include <moe/half.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define MOE_SIMD_X86 1
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)  // the kernel's bit, for C libraries whose headers predate it
#endif
#endif

// Eigen vectorises the reference's f32 dot with 4-float packets: SSE without AVX, or aarch64 NEON.
#if ((defined(__SSE2__) && !defined(__AVX__)) || (defined(__aarch64__) && defined(__ARM_NEON))) && \
    !defined(EIGEN_DONT_VECTORIZE)
#define MOE_SIMD_EIGEN_4WIDE 1
#endif

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace simd {

const char* isa_name(isa i) noexcept {
    switch (i) {
    case isa::avx2: return "avx2";
    case isa::avx512: return "avx512";
    case isa::neon: return "neon";
    default: return "ref";
    }
}

bool parse_isa(const char* s, isa& out) noexcept {
    for (int i = 0; i < isa_count; ++i) {
        if (s != nullptr && std::strcmp(s, isa_name(static_cast<isa>(i))) == 0) {
            out = static_cast<isa>(i);
            return true;
        }
    }
    return false;
}

namespace {

// What the CPU (and the OS, for the register state) supports, per level.
bool cpu_has(isa level) noexcept {
#if defined(MOE_SIMD_X86)
    unsigned a = 0, b = 0, c = 0, d = 0;
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    switch (level) {
    case isa::ref: return true;
    case isa::avx2: return avx2;
    case isa::avx512:
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    default: return false;
    }
#elif defined(__aarch64__)
    return level == isa::ref || level == isa::neon;  // NEON is part of every ARMv8-A core
#else
    return level == isa::ref;
#endif
}

// aarch64: whether the CPU has the dot-product instructions (sdot) that kernels_neon_dot.cpp is built with.
bool cpu_has_dotprod() noexcept {
#if defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__aarch64__) && defined(__APPLE__)
    return true;  // every Apple silicon core has them
#else
    return false;
#endif
}

struct tables {
    kernel_table t[isa_count];
    bool ok[isa_count] = {true, false, false, false};
    tables() noexcept {
        for (int i = 0; i < isa_count; ++i) t[i].level = static_cast<isa>(i);
        ok[1] = cpu_has(isa::avx2) && fill_avx2(t[1]);
        ok[2] = cpu_has(isa::avx512) && fill_avx512(t[2]);
        ok[3] = cpu_has(isa::neon) && ((cpu_has_dotprod() && fill_neon_dot(t[3])) || fill_neon(t[3]));
#if !defined(MOE_SIMD_EIGEN_4WIDE)
        // The f32 kernel repeats Eigen's 4-wide SSE / NEON dot (the reference, compiled with this file's flags); any
        // other Eigen packet width sums in another order, so f32 stays on the reference there.
        for (kernel_table& k : t) {
            k.tile[static_cast<int>(dtype::f32)] = nullptr, k.dot_f32 = nullptr, k.dot_f32_rows = nullptr;
            k.dot_f32_rows_multi = nullptr;
        }
#endif
    }
};

const tables& all() noexcept {
    static const tables t;
    return t;
}

const kernel_table* initial() noexcept {
    isa level = best_isa();
    isa forced;
    if (parse_isa(std::getenv("MOE_CPU_ISA"), forced) && table_for(forced) != nullptr) level = forced;
    return table_for(level);
}

std::atomic<const kernel_table*>& current() noexcept {
    static std::atomic<const kernel_table*> c{initial()};
    return c;
}

}  // namespace

const kernel_table* table_for(isa level) noexcept {
    const int i = static_cast<int>(level);
    if (i < 0 || i >= isa_count || !all().ok[i]) return nullptr;
    return &all().t[i];
}

isa best_isa() noexcept {
    for (isa l : {isa::avx512, isa::avx2, isa::neon})
        if (table_for(l) != nullptr) return l;
    return isa::ref;
}

const kernel_table& active() noexcept { return *current().load(std::memory_order_acquire); }

bool set_isa(isa level) noexcept {
    const kernel_table* t = table_for(level);
    if (t == nullptr) return false;
    current().store(t, std::memory_order_release);
    return true;
}

void convert_activation(dtype weight_type, const float* x, void* out, int64_t n) noexcept {
    const kernel_table& t = active();
    quantize_fn q = nullptr;
    switch (dot_type(weight_type)) {
    case dtype::q8_0: q = t.q8_0; break;
    case dtype::q8_1: q = t.q8_1; break;
    case dtype::q8_k: q = t.q8_k; break;
    default: break;
    }
    if (q != nullptr) return q(x, out, n);
    cpu::convert_activation(weight_type, x, out, n);
}

float dot_f32(const float* x, const float* y, int64_t n) noexcept {
    if (active().dot_f32 != nullptr) return active().dot_f32(x, y, n);
    return cpu::dot(x, y, n);
}

void axpy_f32(float a, const float* x, float* y, int64_t n) noexcept {
    if (active().axpy_f32 != nullptr) return active().axpy_f32(a, x, y, n);
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void ggml_dot_rows_multi(int W, const float* const* x, int nx, const float* y, int64_t stride, int64_t rows, int64_t n,
                         float* const* out) noexcept {
    if (active().ggml_dot_rows_multi != nullptr && (W == 8 || W == 16))
        return active().ggml_dot_rows_multi(W, x, nx, y, stride, rows, n, out);
    for (int i = 0; i < nx; ++i)
        for (int64_t j = 0; j < rows; ++j) out[i][j] = ggml_dot(W, y + j * stride, x[i], n);
}

float ggml_dot(int W, const float* x, const float* y, int64_t n) noexcept {
    if (active().ggml_dot != nullptr && (W == 8 || W == 16)) return active().ggml_dot(W, x, y, n);
    return ggml_f32::dot(W, x, y, n);
}

float ggml_dot_tile(int W, const float* x, const float* y, int64_t n) noexcept {
    if (active().ggml_dot_tile != nullptr && (W == 8 || W == 16) && n % W == 0) return active().ggml_dot_tile(W, x, y, n);
    return ggml_f32::dot_tile(W, x, y, n);
}

void ggml_weighted_rows_multi(int W, const float* const* p, const int64_t* n, int nq, const float* v, int64_t stride,
                              int64_t dv, float* const* out, float* acc) noexcept {
    if (active().ggml_weighted_rows_multi != nullptr && (W == 8 || W == 16))
        return active().ggml_weighted_rows_multi(W, p, n, nq, v, stride, dv, out, acc);
    for (int i = 0; i < nq; ++i) ggml_weighted_rows(W, true, p[i], v, stride, n[i], dv, out[i], acc);
}

void ggml_weighted_rows_vec_multi(int W, const float* const* p, int nq, const float* v, int64_t stride, int64_t n,
                                  int64_t dv, float* const* out, float* acc) noexcept {
    if (active().ggml_weighted_rows_vec_multi != nullptr && (W == 8 || W == 16))
        return active().ggml_weighted_rows_vec_multi(W, p, nq, v, stride, n, dv, out, acc);
    for (int i = 0; i < nq; ++i) ggml_weighted_rows(W, false, p[i], v, stride, n, dv, out[i], acc);
}

void ggml_weighted_rows_vec_multi_f16(int W, const float* const* p, int nq, const uint16_t* v, int64_t stride,
                                      int64_t n, int64_t dv, float* const* out, float* acc) noexcept {
    if (active().ggml_weighted_rows_vec_multi_f16 != nullptr && (W == 8 || W == 16))
        return active().ggml_weighted_rows_vec_multi_f16(W, p, nq, v, stride, n, dv, out, acc);
    for (int i = 0; i < nq; ++i) ggml_f32::weighted_rows_f16(W, p[i], v, stride, n, dv, out[i], acc);
}

void ggml_weighted_rows(int W, bool tile, const float* p, const float* v, int64_t stride, int64_t n, int64_t dv,
                        float* out, float* acc) noexcept {
    if (active().ggml_weighted_rows != nullptr && (W == 8 || W == 16))
        return active().ggml_weighted_rows(W, tile, p, v, stride, n, dv, out, acc);
    ggml_f32::weighted_rows(W, tile, p, v, stride, n, dv, out, acc);
}

void exp_f32(const float* x, float* y, int64_t n) noexcept {
    if (active().exp_f32 != nullptr) return active().exp_f32(x, y, n);
    for (int64_t i = 0; i < n; ++i) y[i] = expf_ref(x[i]);
}

void softmax_f32(float* s, int64_t n, float scale, const float* sink) noexcept {
    if (active().softmax_f32 != nullptr) return active().softmax_f32(s, n, scale, sink);
    softmax_ref(s, n, scale, sink);
}

void ggml_swiglu(int W, const float* g, const float* u, float* out, int64_t n_vec, int64_t n) noexcept {
    if ((W == 8 || W == 16) && n_vec > 0 && active().ggml_swiglu != nullptr) {
        const int64_t v = n_vec < n ? n_vec : n;
        active().ggml_swiglu(W, g, u, out, v);
        g += v, out += v, n -= v, n_vec = 0;
        if (u != nullptr) u += v;
    }
    ggml_f32::swiglu(W, g, u, out, n_vec, n);
}

void f16_to_f32(const uint16_t* h, float* f, int64_t n) noexcept {
    if (active().f16_to_f32 != nullptr) return active().f16_to_f32(h, f, n);
    for (int64_t i = 0; i < n; ++i) f[i] = fp16_to_f32(h[i]);
}

void f16_rows_to_f32(const uint16_t* h, int64_t stride, int64_t rows, int64_t d, float* f) noexcept {
    if (active().f16_rows_to_f32 != nullptr) return active().f16_rows_to_f32(h, stride, rows, d, f);
    for (int64_t j = 0; j < rows; ++j) f16_to_f32(h + j * stride, f + j * d, d);
}

void f32_to_f16(const float* f, uint16_t* h, int64_t n) noexcept {
    if (active().f32_to_f16 != nullptr) return active().f32_to_f16(f, h, n);
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_fp16(f[i]);
}

void dot_f32_rows(const float* x, const float* y, int64_t stride, int64_t rows, int64_t n, float* out) noexcept {
    if (active().dot_f32_rows != nullptr) return active().dot_f32_rows(x, y, stride, rows, n, out);
    for (int64_t j = 0; j < rows; ++j) out[j] = dot_f32(x, y + j * stride, n);
}

void dot_f32_rows_multi(const float* const* x, int nx, const float* y, int64_t stride, int64_t rows, int64_t n,
                        float* const* out) noexcept {
    if (active().dot_f32_rows_multi != nullptr) return active().dot_f32_rows_multi(x, nx, y, stride, rows, n, out);
    for (int i = 0; i < nx; ++i) dot_f32_rows(x[i], y, stride, rows, n, out[i]);
}

void axpy_f32_rows(const float* p, const float* v, int64_t stride, int64_t rows, int64_t n, float* out) noexcept {
    if (active().axpy_f32_rows != nullptr) return active().axpy_f32_rows(p, v, stride, rows, n, out);
    for (int64_t j = 0; j < rows; ++j) axpy_f32(p[j], v + j * stride, out, n);
}

void ref_tile(dtype weight_type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a,
              int na, float* const* out, int64_t k) noexcept {
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* wr = w + static_cast<size_t>(r) * wrb;
        for (int i = 0; i < na; ++i) out[i][r] = vec_dot(weight_type, wr, a[i], k);
    }
}

void tile(dtype weight_type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
          float* const* out, int64_t k) noexcept {
    const uint32_t id = static_cast<uint32_t>(weight_type);
    tile_fn f = id < static_cast<uint32_t>(n_dtype_slots) ? active().tile[id] : nullptr;
    if (f != nullptr) return f(w, wrb, r0, r1, a, na, out, k);
    ref_tile(weight_type, w, wrb, r0, r1, a, na, out, k);
}

void tile_q4_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                 float* const* out, int64_t k) noexcept {
    if (active().q4_0x8 != nullptr) return active().q4_0x8(w, wrb, r0, r1, a, na, out, k);
    ref_tile_q4_0x8(w, wrb, r0, r1, a, na, out, k);
}

void tile_q8_0x8(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                 float* const* out, int64_t k) noexcept {
    if (active().q8_0x8 != nullptr) return active().q8_0x8(w, wrb, r0, r1, a, na, out, k);
    ref_tile_q8_0x8(w, wrb, r0, r1, a, na, out, k);
}

void tile_h16x8(dtype type, const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                float* const* out, int64_t k) noexcept {
    tile_fn f = type == dtype::bf16 ? active().bf16x8 : active().f16x8;
    if (f != nullptr) return f(w, wrb, r0, r1, a, na, out, k);
    ref_tile_h16x8(type, w, wrb, r0, r1, a, na, out, k);
}

void tile_q4_k_gemm(const uint8_t* w, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a, int na,
                    float* const* out, int64_t k) noexcept {
    if (active().q4_k_gemm != nullptr) return active().q4_k_gemm(w, wrb, r0, r1, a, na, out, k);
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* wr = w + static_cast<size_t>(r) * wrb;
        for (int i = 0; i < na; ++i) out[i][r] = vec_dot(dtype::q4_k, wr, a[i], k, dot_path::repacked_gemm);
    }
}

}  // namespace simd
}  // namespace cpu
MOE_END_NAMESPACE
