// pack_weights.cpp — at load, copies the weights the CPU kernels read faster in a layout of their own into it.
// Before: the mapped, validated GGUF (model.cpp). After: weight_binder hands both layouts to the graph; the CPU
// matmul kernels read the packed copy, every other reader (embeddings, other backends) the file's bytes.
#include "backends/cpu/weight_packing.hpp"
#include "model/model_impl.hpp"

#include <new>

MOE_BEGIN_NAMESPACE
namespace detail {

status pack_weights(model_impl& impl, const std::function<bool(float)>& report, float from, float to) {
    const std::vector<gguf::tensor_info>& ts = impl.meta.tensors();
    // A tied output matrix reads token_embd as a matmul weight; otherwise it only feeds embedding lookups.
    const bool embd_is_matmul = impl.meta.find_tensor("output.weight") == nullptr;
    std::vector<packing> as(ts.size(), packing::none);
    size_t total = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
        const gguf::tensor_info& t = ts[i];
        if (t.name == "token_embd.weight" && !embd_is_matmul) continue;
        as[i] = cpu::preferred_packing(t.type, t.ne, t.n_dims);
        if (as[i] != packing::none) total += (t.nbytes + 63) / 64 * 64;
    }
    if (total == 0) return {};
    std::unique_ptr<uint8_t, owned_bytes> buf(static_cast<uint8_t*>(::operator new(total, std::align_val_t(64),
                                                                                  std::nothrow)));
    if (!buf) return {};  // no room for a second layout: the kernels read the file's
    size_t at = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
        if (as[i] == packing::none) continue;
        const gguf::tensor_info& t = ts[i];
        cpu::pack_tensor(as[i], t.type, t.ne, t.n_dims, t.data, buf.get() + at);
        impl.meta.set_packed(i, buf.get() + at, static_cast<uint8_t>(as[i]));
        if (t.data >= impl.file.data() && t.data < impl.file.data() + impl.file.size())
            impl.file.release(static_cast<size_t>(t.data - impl.file.data()), t.nbytes);
        at += (t.nbytes + 63) / 64 * 64;
        if (report && !report(from + (to - from) * static_cast<float>(static_cast<double>(at) / static_cast<double>(total))))
            return status(errc::aborted, "cancelled");
    }
    impl.packed = std::move(buf);
    return {};
}

}  // namespace detail
MOE_END_NAMESPACE
