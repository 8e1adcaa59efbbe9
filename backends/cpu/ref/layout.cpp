// layout.cpp — reference kernels that only move values: a column range of the last dim (cols) and joining two
// tensors along it (concat). MLA (src/arch/deepseek2.cpp) uses them to split and rejoin the RoPE/no-RoPE head parts.
#include "backends/cpu/ref/ref_kernels.hpp"

#include <cstring>

MOE_BEGIN_NAMESPACE
namespace cpu {

// out [.., count] = x [.., D] columns first .. first + count - 1.
status cols(context&, const node& n, const tensor_view& out, const tensor_view* in, const run_args&) {
    const int64_t D = in[0].sh.last(), R = in[0].sh.rows(), first = n.i[0], count = n.i[1];
    if (first < 0 || count < 1 || first + count > D) return status(errc::invalid_argument, "cols: range outside the row");
    const float* x = static_cast<const float*>(in[0].data);
    float* o = static_cast<float*>(out.data);
    for (int64_t r = 0; r < R; ++r)
        std::memcpy(o + r * count, x + r * D + first, static_cast<size_t>(count) * sizeof(float));
    return {};
}

// out [.., A + B] = a [.., A] then b [.., B]; a b of shape [T, 1, B] next to a [T, H, A] is repeated over the heads.
status concat(context&, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const tensor_view &a = in[0], &b = in[1];
    const int64_t A = a.sh.last(), B = b.sh.last(), R = a.sh.rows();
    const bool repeat = b.sh.rows() != R;  // [T, 1, B] against [T, H, A]
    const int64_t H = a.sh.rank == 3 ? a.sh[1] : 1;
    if (repeat && (a.sh.rank != 3 || b.sh.rank != 3 || b.sh[1] != 1 || b.sh[0] != a.sh[0]))
        return status(errc::invalid_argument, "concat: shapes do not fit");
    const float* x = static_cast<const float*>(a.data);
    const float* y = static_cast<const float*>(b.data);
    float* o = static_cast<float*>(out.data);
    for (int64_t r = 0; r < R; ++r) {
        std::memcpy(o + r * (A + B), x + r * A, static_cast<size_t>(A) * sizeof(float));
        const int64_t rb = repeat ? r / H : r;
        std::memcpy(o + r * (A + B) + A, y + rb * B, static_cast<size_t>(B) * sizeof(float));
    }
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
