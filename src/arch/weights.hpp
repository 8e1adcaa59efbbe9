// weights.hpp — finds a model's tensors by name and checks shape and type; turns them into graph weight values.
// Used by each architecture builder when it binds weights at load time and when it builds a graph.
#pragma once

#include "gguf/gguf.hpp"
#include "graph/ir.hpp"

#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE

// A bound model tensor: the GGUF tensor plus its shape in graph (outermost-first) order.
struct weight {
    const gguf::tensor_info* t = nullptr;
    shape sh;
    explicit operator bool() const noexcept { return t != nullptr; }
    // A graph value for this tensor (no copy).
    value_id in(graph_builder& b) const {
        return b.weight(t->name, t->type, sh, t->data, t->packed, static_cast<packing>(t->packed_as));
    }
};

class weight_binder {
public:
    explicit weight_binder(const gguf::file& f) : f_(f) {}
    // `dims` in graph order (outermost first). Missing or mis-shaped tensors record an error naming the tensor,
    // the expected and the found shape; unsupported types name the type.
    weight require(const std::string& name, std::vector<int64_t> dims);
    weight optional(const std::string& name, std::vector<int64_t> dims);
    // Require the tensor to be f32 (norms, router): the kernels read them as floats.
    weight require_f32(const std::string& name, std::vector<int64_t> dims);
    const status& error() const noexcept { return err_; }

private:
    weight bind(const gguf::tensor_info* t, const std::string& name, const std::vector<int64_t>& dims);
    const gguf::file& f_;
    status err_;
};

MOE_END_NAMESPACE
