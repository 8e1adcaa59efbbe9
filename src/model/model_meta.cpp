// model_meta.cpp — model::meta_*: the loaded file's GGUF metadata by index or key, values rendered as text.
// Before: model::load kept the parsed gguf::file in model_impl. After: users and the C API (moe_model_meta_*).
#include "model/model_impl.hpp"

#include <moe/model.hpp>

#include <charconv>
#include <new>

MOE_BEGIN_NAMESPACE

namespace {

template <class Float>
std::string float_text(Float f) {
    char buf[64];
    const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, f);
    return r.ec == std::errc() ? std::string(buf, r.ptr) : std::string("?");
}

// One value as text; arrays by their length and element type only (a vocabulary is not copied).
std::string render(const gguf::value& v) {
    using gguf::value_type;
    switch (v.type) {
    case value_type::u8:
    case value_type::u16:
    case value_type::u32:
    case value_type::u64: return std::to_string(v.num.u);
    case value_type::i8:
    case value_type::i16:
    case value_type::i32:
    case value_type::i64: return std::to_string(v.num.i);
    case value_type::f32: return float_text(static_cast<float>(v.num.f));
    case value_type::f64: return float_text(v.num.f);
    case value_type::boolean: return v.num.b ? "true" : "false";
    case value_type::string: return v.str;
    case value_type::array:
        return "[array of " + std::to_string(v.elems.size()) + " " + gguf::value_type_name(v.array_type) + "]";
    }
    return "?";
}

status no_memory() { return status(errc::out_of_memory, "out of memory rendering a metadata value"); }

}  // namespace

size_t model::meta_count() const noexcept { return impl_->meta.kvs().size(); }

std::string_view model::meta_key(size_t index) const noexcept {
    const auto& kvs = impl_->meta.kvs();
    return index < kvs.size() ? std::string_view(kvs[index].first) : std::string_view();
}

result<std::string> model::meta_value(std::string_view key) const {
    try {
        const gguf::value* v = impl_->meta.find(key);
        if (!v) return status(errc::invalid_argument, "the model has no metadata key '" + std::string(key) + "'");
        return render(*v);
    } catch (const std::bad_alloc&) {
        return no_memory();
    }
}

result<std::string> model::meta_value_at(size_t index) const {
    try {
        const auto& kvs = impl_->meta.kvs();
        if (index >= kvs.size())
            return status(errc::invalid_argument, "metadata index " + std::to_string(index) + " is out of range (" +
                                                      std::to_string(kvs.size()) + " keys)");
        return render(kvs[index].second);
    } catch (const std::bad_alloc&) {
        return no_memory();
    }
}

MOE_END_NAMESPACE
