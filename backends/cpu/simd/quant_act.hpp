// quant_act.hpp — activation quantizers (float rows -> q8_0 / q8_1 / q8_k blocks) on xsimd batches of any width,
// byte-identical with the reference converters (ref/vec_dot*.cpp: x86 rounding, saturation and scale rules).
// Before: float activation rows. After: the quantized rows meet weights in kernels_impl.hpp's dot products.
//
// Included only by fill_table.hpp; all in an anonymous namespace (internal linkage for every instantiation).
#pragma once

#include <moe/quant.hpp>

#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <cstring>

namespace {

// A: the xsimd architecture; P: the ISA primitives (for the fp16 scale conversions).
template <class A, class P>
struct quant_act {
    using fb = xsimd::batch<float, A>;
    using ib = xsimd::batch<int32_t, A>;
    static constexpr int W = static_cast<int>(fb::size);

    // Largest |x| of n values (n a multiple of W); NaN values are skipped, as the reference's comparisons do.
    static float amax(const float* x, int n) noexcept {
        fb m(0.0f);
        for (int j = 0; j < n; j += W) {
            const fb ax = xsimd::abs(fb::load_unaligned(x + j));
            m = xsimd::select(ax > m, ax, m);
        }
        alignas(64) float t[W];
        m.store_aligned(t);
        float r = 0.0f;
        for (int l = 0; l < W; ++l) r = t[l] > r ? t[l] : r;
        return r;
    }

    // round-half-even(x * id) for 32 values, the x86 conversion (INT32_MIN for NaN and out-of-range values; ARM's
    // saturates and gives 0 for NaN, so those lanes are set explicitly).
    static void round32(const float* x, float id, int32_t* q) noexcept {
        const fb s(id);
#if defined(__aarch64__)
        // Only ARM needs the select (and xsimd's AVX-512BW int select does not compile at -O0 with GCC 12).
        const fb limit(2147483648.0f);
        const ib indefinite(INT32_MIN);
#endif
        for (int j = 0; j < 32; j += W) {
            const fb v = fb::load_unaligned(x + j) * s;
            const ib r = xsimd::nearbyint_as_int(v);
#if defined(__aarch64__)
            xsimd::select(xsimd::bool_cast(xsimd::abs(v) < limit), r, indefinite).store_unaligned(q + j);
#else
            r.store_unaligned(q + j);  // x86's conversion gives INT32_MIN for NaN and out-of-range values itself
#endif
        }
    }
    static int8_t sat8(int32_t v) noexcept { return static_cast<int8_t>(v < -128 ? -128 : v > 127 ? 127 : v); }

    static void q8_0(const float* x, void* out, int64_t n) noexcept {
        auto* y = static_cast<moe::block_q8_0*>(out);
        for (int64_t i = 0; i < n / 32; ++i, x += 32) {
            const float am = amax(x, 32);
            const float id = am != 0.0f ? 127.0f / am : 0.0f;
            y[i].d = P::f2h(am / 127.0f);
            alignas(64) int32_t q[32];
            round32(x, id, q);
            for (int j = 0; j < 32; ++j) y[i].qs[j] = sat8(q[j]);
        }
    }

    static void q8_1(const float* x, void* out, int64_t n) noexcept {
        auto* y = static_cast<moe::block_q8_1*>(out);
        for (int64_t i = 0; i < n / 32; ++i, x += 32) {
            const float am = amax(x, 32);
            const float d = am / 127.0f;
            const float id = am != 0.0f ? 127.0f / am : 0.0f;
            y[i].d = P::f2h(d);
            alignas(64) int32_t q[32];
            round32(x, id, q);
            uint32_t sum = 0;
            for (int j = 0; j < 32; ++j) {
                sum += static_cast<uint32_t>(q[j]);
                y[i].qs[j] = sat8(q[j]);
            }
            y[i].s = P::f2h(d * static_cast<float>(static_cast<int32_t>(sum)));
        }
    }

    // q8_k: scale from the signed value of largest magnitude (its first occurrence), ggml's nearest_int, min 127.
    static void q8_k(const float* x, void* out, int64_t n) noexcept {
        auto* y = static_cast<moe::block_q8_k*>(out);
        for (int64_t i = 0; i < n / moe::qk_k; ++i, x += moe::qk_k) {
            const float am = amax(x, moe::qk_k);
            if (am == 0.0f) {
                y[i].d = 0.0f;
                std::memset(y[i].qs, 0, sizeof y[i].qs);
                std::memset(y[i].bsums, 0, sizeof y[i].bsums);
                continue;
            }
            float max = 0.0f;
            for (int j = 0; j < moe::qk_k; ++j) {
                if (x[j] == am || x[j] == -am) {
                    max = x[j];
                    break;
                }
            }
            const float iscale = -127.0f / max;
            const fb s(iscale), magic(12582912.0f);
            const ib mant(0x007fffff), bias(0x00400000), top(127);
            alignas(64) int32_t q[moe::qk_k];
            for (int j = 0; j < moe::qk_k; j += W) {
                const fb v = fb::load_unaligned(x + j) * s + magic;
                const ib r = (xsimd::bitwise_cast<ib>(v) & mant) - bias;
                xsimd::min(r, top).store_aligned(q + j);
            }
            for (int j = 0; j < moe::qk_k; ++j) y[i].qs[j] = static_cast<int8_t>(q[j]);
            for (int j = 0; j < moe::qk_k / 16; ++j) {
                int sum = 0;
                for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
                y[i].bsums[j] = static_cast<int16_t>(sum);
            }
            y[i].d = 1.0f / iscale;
        }
    }
};

}  // namespace
