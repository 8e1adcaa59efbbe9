// ggml_f32_order.cpp — scalar re-enactments of llama.cpp's x86 f32 kernels, lane by lane (see the header). Each lane
// is a float with fused multiply-adds where ggml uses them; the lane trees follow the intrinsics' definitions.
#include "backends/cpu/ref/ggml_f32_order.hpp"

#include "backends/cpu/ref/expf_ref.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"

#include <moe/half.hpp>

#include <cmath>
#include <cstring>

// Hardware FMA in the hot loops where the host has it (std::fma gives the same results either way, only slower).
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define MOE_GGML_X86 1
#define MOE_FMA_TARGET __attribute__((target("fma")))
#else
#define MOE_GGML_X86 0
#define MOE_FMA_TARGET
#endif

MOE_BEGIN_NAMESPACE
namespace cpu {
namespace ggml_f32 {

int lanes() noexcept {
#if MOE_GGML_X86
    static const int w = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") ? 16
                         : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")   ? 8
                                                                                              : 0;
    return w;
#else
    return 0;
#endif
}

namespace {

struct plus_f {
    float operator()(float a, float b) const { return a + b; }
};
constexpr plus_f plus{};
float lanes_vec(int W, const float* a) { return ggml_f32::lanes_vec(W, a, plus); }
float lanes_tile(int W, const float* a) { return ggml_f32::lanes_tile(W, a, plus); }

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// ggml_v_expf, AVX-512 form: 2^n by scalef.
MOE_FMA_TARGET float expf_avx512(float x) {
    const float r = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    if (std::isnan(n)) return n;  // NaN in (NaN weights): NaN out, without casting NaN to int
    if (!(std::fabs(n) > 192.0f)) return std::ldexp(j, static_cast<int>(n));
    return n <= 0.0f ? 0.0f : INFINITY;
}

// ggml_v_expf, AVX2 form: 2^n built in the exponent bits, with its large-|n| corrections.
MOE_FMA_TARGET float expf_avx2(float x) {
    const float r = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const uint32_t e = bits(z) << 23;
    const float k = from_bits(e + bits(1.0f));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, 0x1.ffffecp-1f * b);
    if (!(std::fabs(n) > 126.0f)) return std::fma(j, k, k);
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = from_bits(g + 0x7f000000u), s2 = from_bits(e - g);
    if (std::fabs(n) > 192.0f) return s1 * s1;
    return std::fma(s2, j, s2) * s1;
}

}  // namespace

MOE_FMA_TARGET float dot(int W, const float* x, const float* y, int64_t n) noexcept {
    if (W != 8 && W != 16) return cpu::dot(x, y, n);
    float s[4 * 16] = {};  // accumulator a's lane l at a * W + l
    const int64_t step = 4 * W, np = n / step * step;
    for (int64_t i = 0; i < np; i += step)
        for (int a = 0; a < 4 * W; ++a) s[a] = std::fma(x[i + a], y[i + a], s[a]);
    pair_accumulators(W, s, plus);
    float r = lanes_vec(W, s);
    // ggml's float tail, multiply then add: fma(x, y, -0) is the rounded product, which no compiler fuses into r
    for (int64_t i = np; i < n; ++i) r = r + std::fma(x[i], y[i], -0.0f);
    return r;
}

MOE_FMA_TARGET float dot_tile(int W, const float* x, const float* y, int64_t n) noexcept {
    if ((W != 8 && W != 16) || n % W != 0) return dot(W, x, y, n);
    float s[16] = {};
    for (int64_t i = 0; i < n; i += W)
        for (int l = 0; l < W; ++l) s[l] = std::fma(x[i + l], y[i + l], s[l]);
    return lanes_tile(W, s);
}

double exp_sum(int W, const float* x, float max, float* y, int64_t n) noexcept {
    double sum = 0.0;
    if (W != 8 && W != 16) {
        for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(x[i] - max));
        return sum;
    }
    float v[16];
    for (int64_t c = 0; c < n; c += W) {
        for (int l = 0; l < W; ++l) v[l] = y[c + l] = W == 16 ? expf_avx512(x[c + l] - max) : expf_avx2(x[c + l] - max);
        sum += static_cast<double>(lanes_tile(W, v));
    }
    return sum;
}

void soft_max_row(int W, const float* x, float* y, int64_t n) noexcept {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = mx > x[i] ? mx : x[i];  // ggml_vec_max_f32: MAX(max, x[i])
    const int64_t nv = W == 8 || W == 16 ? n / W * W : 0;
    double sum = nv > 0 ? exp_sum(W, x, mx, y, nv) : 0.0;
    for (int64_t i = nv; i < n; ++i) sum += static_cast<double>(y[i] = expf_ref(x[i] - mx));
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] * inv;
}

float v_expf(int W, float x) noexcept { return W == 16 ? expf_avx512(x) : expf_avx2(x); }

void swiglu(int W, const float* g, const float* u, float* out, int64_t n_vec, int64_t n) noexcept {
    if (W != 8 && W != 16) n_vec = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float x = g[i];
        const float s = i < n_vec ? x / (1.0f + v_expf(W, 0.0f - x)) : x / (1.0f + expf_ref(-x));
        out[i] = u != nullptr ? s * u[i] : s;
    }
}

namespace {
float value_of(float v) { return v; }
float value_of(uint16_t h) { return fp16_to_f32(h); }

template <class T>
MOE_FMA_TARGET void weighted_rows_of(int W, bool tile, const float* p, const T* v, int64_t stride, int64_t n,
                                     int64_t dv, float* out, float* acc) noexcept {
    if (W != 8 && W != 16) {
        for (int64_t d = 0; d < dv; ++d) out[d] = 0.0f;
        for (int64_t j = 0; j < n; ++j)
            for (int64_t d = 0; d < dv; ++d) out[d] += p[j] * value_of(v[j * stride + d]);
        return;
    }
    const int64_t per = tile ? W : 4 * W;  // accumulator lanes per output
    for (int64_t i = 0; i < dv * per; ++i) acc[i] = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
        const int64_t lane = tile ? j % W : j % (4 * W);  // vec order: accumulator (j / W) % 4, lane j % W
        const float pj = p[j];
        const T* row = v + j * stride;
        for (int64_t d = 0; d < dv; ++d) acc[d * per + lane] = std::fma(value_of(row[d]), pj, acc[d * per + lane]);
    }
    for (int64_t d = 0; d < dv; ++d) {
        float* a = acc + d * per;
        if (tile) {
            out[d] = lanes_tile(W, a);
            continue;
        }
        pair_accumulators(W, a, plus);
        out[d] = lanes_vec(W, a);
    }
}
}  // namespace

void weighted_rows(int W, bool tile, const float* p, const float* v, int64_t stride, int64_t n, int64_t dv, float* out,
                   float* acc) noexcept {
    weighted_rows_of(W, tile, p, v, stride, n, dv, out, acc);
}

void weighted_rows_f16(int W, const float* p, const uint16_t* v, int64_t stride, int64_t n, int64_t dv, float* out,
                       float* acc) noexcept {
    weighted_rows_of(W, false, p, v, stride, n, dv, out, acc);
}

}  // namespace ggml_f32
}  // namespace cpu
MOE_END_NAMESPACE
