// cpu_backend.cpp — op -> kernel table built once at construction, aligned host allocations, type checks.
// Kernels live in backends/cpu/ref; the matmul kernels run through backends/cpu/simd's per-ISA tiles.
#include "backends/cpu/cpu_backend.hpp"

#include "backends/cpu/ref/vec_dot.hpp"
#include "io/mapped_file.hpp"

#include <moe/quant.hpp>

#include <new>

MOE_BEGIN_NAMESPACE

cpu_backend::cpu_backend(int n_threads) : ctx_(new cpu::context(n_threads)) {
    auto set = [&](op o, cpu::kernel_fn f) { kernels_[static_cast<int>(o)] = f; };
    set(op::get_rows, cpu::get_rows);
    set(op::rms_norm, cpu::rms_norm);
    set(op::mul_mat, cpu::mul_mat);
    set(op::mul_mat_id, cpu::mul_mat_id);
    set(op::add, cpu::add);
    set(op::mul, cpu::mul);
    set(op::div, cpu::div);
    set(op::silu, cpu::silu);
    set(op::scale, cpu::scale);
    set(op::swiglu, cpu::swiglu);
    set(op::softmax, cpu::softmax);
    set(op::top_k, cpu::top_k);
    set(op::gather_cols, cpu::gather_cols);
    set(op::normalize_sum, cpu::normalize_sum);
    set(op::weighted_sum, cpu::weighted_sum);
    set(op::rope, cpu::rope);
    set(op::attention, cpu::attention);
    set(op::add_id, cpu::add_id);
    set(op::swiglu_oai, cpu::swiglu_oai);
    set(op::rope_yarn, cpu::rope_yarn);
    set(op::attention_ext, cpu::attention_ext);
    set(op::sigmoid, cpu::sigmoid);
    set(op::expert_group_mask, cpu::expert_group_mask);
    set(op::cols, cpu::cols);
    set(op::concat, cpu::concat);
    set(op::mul_mat_heads, cpu::mul_mat_heads);
    set(op::attention_mla, cpu::attention_mla);
    set(op::mul_mat_glu, cpu::mul_mat_glu);
}

bool cpu_backend::supports(const graph& g, const node& n) const {
    if (n.kind == op::view) return true;
    if (!kernels_[static_cast<int>(n.kind)]) return false;
    switch (n.kind) {
    case op::get_rows: return can_convert(g.val(n.in[0]).type);
    case op::mul_mat:
    case op::mul_mat_id:
    case op::mul_mat_heads: return can_convert(g.val(n.in[1]).type);
    case op::mul_mat_glu: {  // gate and up share one conversion of x, so they must share a type (and layout)
        const value &gate = g.val(n.in[1]), &up = g.val(n.in[2]);
        if (!can_convert(gate.type) || gate.type != up.type || gate.packed_as != up.packed_as) return false;
        // dense prompts of 4+ rows in llama.cpp's q4_k GEMM order stay with mul_mat, which has that order
        return n.n_in == 4 || cpu::llama_dense_dot_path(gate.type, gate.sh[0], 0, g.val(n.in[0]).sh.rows()) !=
                                  cpu::dot_path::repacked_gemm;
    }
    default: {
        // the attention ops' KV cache inputs may be f16 (session_params::kv_type), K and V of one type
        const int kc = n.kind == op::attention_mla ? 2 : n.kind == op::attention || n.kind == op::attention_ext ? 3 : -1;
        const int vc = n.kind == op::attention_mla ? 2 : kc + 1;
        for (int j = 0; j < n.n_in; ++j) {
            dtype t = g.val(n.in[static_cast<size_t>(j)]).type;
            if (kc >= 0 && (j == kc || j == vc)) {
                if ((t != dtype::f32 && t != dtype::f16) || t != g.val(n.in[static_cast<size_t>(kc)]).type) return false;
            } else if (t != dtype::f32 && t != dtype::i32) {
                return false;
            }
        }
        return true;
    }
    }
}

result<void*> cpu_backend::alloc(size_t bytes) {
    const size_t align = 64;
    size_t rounded = (bytes + align - 1) / align * align;
    if (rounded == 0) rounded = align;
    void* p = ::operator new(rounded, std::align_val_t(align), std::nothrow);
    if (!p) return status(errc::out_of_memory, "CPU allocation of " + std::to_string(bytes) + " bytes failed");
    if (rounded >= (size_t(4) << 20)) advise_huge_pages(p, rounded);  // KV caches, large arenas
    return p;
}

void cpu_backend::free(void* p) noexcept { ::operator delete(p, std::align_val_t(64)); }

status cpu_backend::run_node(const graph&, const node& n, const tensor_view& out, const tensor_view* in,
                             const run_args& args) {
    cpu::kernel_fn f = kernels_[static_cast<int>(n.kind)];
    if (!f) return status(errc::unsupported, std::string("cpu backend has no kernel for ") + op_name(n.kind));
    return f(*ctx_, n, out, in, args);
}

MOE_END_NAMESPACE
