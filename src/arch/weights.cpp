// weights.cpp — tensor lookup with shape/type validation and clear messages for missing or mismatched tensors.
// Input: the parsed GGUF (src/gguf). Output: weight handles the architecture builders keep for graph building.
#include "arch/weights.hpp"

#include <moe/quant.hpp>

MOE_BEGIN_NAMESPACE

namespace {
std::string dims_string(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + "]";
}
}  // namespace

weight weight_binder::bind(const gguf::tensor_info* t, const std::string& name, const std::vector<int64_t>& dims) {
    if (!err_.ok()) return {};
    std::vector<int64_t> found;
    for (uint32_t k = t->n_dims; k-- > 0;) found.push_back(t->ne[k]);
    if (found != dims) {
        err_ = status(errc::shape_mismatch, "tensor '" + name + "' has shape " + dims_string(found) + ", expected " +
                                                dims_string(dims) + " (outermost first)");
        return {};
    }
    if (!can_convert(t->type)) {
        err_ = status(errc::unsupported, "tensor '" + name + "' has type " + dtype_name(t->type) +
                                             ", which this version of moe cannot compute with yet");
        return {};
    }
    weight w;
    w.t = t;
    w.sh.rank = static_cast<int>(dims.size());
    for (size_t k = 0; k < dims.size(); ++k) w.sh.d[k] = dims[k];
    return w;
}

weight weight_binder::require(const std::string& name, std::vector<int64_t> dims) {
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (!t) {
        if (err_.ok()) err_ = status(errc::shape_mismatch, "tensor '" + name + "' is missing (expected shape " +
                                                                dims_string(dims) + ")");
        return {};
    }
    return bind(t, name, dims);
}

weight weight_binder::optional(const std::string& name, std::vector<int64_t> dims) {
    const gguf::tensor_info* t = f_.find_tensor(name);
    return t ? bind(t, name, dims) : weight{};
}

weight weight_binder::require_f32(const std::string& name, std::vector<int64_t> dims) {
    weight w = require(name, std::move(dims));
    if (w && w.t->type != dtype::f32) {
        if (err_.ok()) err_ = status(errc::unsupported, "tensor '" + name + "' must be f32, found " + dtype_name(w.t->type));
        return {};
    }
    return w;
}

MOE_END_NAMESPACE
