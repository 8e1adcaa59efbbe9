// weight_traffic.cpp — bytes of weights read per generated token, counted tensor by tensor from the GGUF header.
// Before: the model path from the command line. After: moe-bench multiplies it by tokens/s for GB/s.
#include "weight_traffic.hpp"

#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"

#include <string_view>

namespace moe_bench {

moe::result<weight_traffic> measure_weight_traffic(const std::string& path) {
    moe::result<moe::mapped_file> f = moe::mapped_file::open(path);
    if (!f) return f.error();
    moe::result<moe::gguf::file> g = moe::gguf::file::parse(f->data(), f->size());
    if (!g) return g.error();

    std::string arch;
    if (moe::result<std::string> a = g->get_string("general.architecture")) arch = *a;
    weight_traffic w;
    if (moe::result<uint64_t> v = g->get_uint_or(arch + ".expert_count", 0)) w.n_expert = static_cast<int64_t>(*v);
    if (moe::result<uint64_t> v = g->get_uint_or(arch + ".expert_used_count", 0)) {
        w.n_expert_used = static_cast<int64_t>(*v);
    }

    const bool tied_head = g->find_tensor("output.weight") == nullptr;
    for (const moe::gguf::tensor_info& t : g->tensors()) {
        w.file_weight_bytes += t.nbytes;
        const std::string_view name = t.name;
        const int64_t outer = t.n_dims == 0 ? 1 : t.ne[t.n_dims - 1];
        if (w.n_expert > 0 && name.find("_exps") != std::string_view::npos && outer == w.n_expert) {
            w.expert_bytes += t.nbytes;
        } else if (name == "token_embd.weight" && !tied_head && t.ne[1] > 0) {
            w.embd_row_bytes = t.nbytes / static_cast<uint64_t>(t.ne[1]);
        } else {
            w.dense_bytes += t.nbytes;
        }
    }
    w.per_token_bytes = w.dense_bytes + w.embd_row_bytes;
    if (w.n_expert > 0) {
        w.per_token_bytes += w.expert_bytes / static_cast<uint64_t>(w.n_expert) *
                             static_cast<uint64_t>(w.n_expert_used);
    }
    return w;
}

}  // namespace moe_bench
