// gguf_writer.cpp — serializes metadata and tensors into a GGUF v3 file, tensors in insertion order, aligned.
// Input: values and tensor bytes from the test-model writer and the tests. Output: bytes that gguf_reader parses.
#include "gguf/gguf.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

MOE_BEGIN_NAMESPACE
namespace gguf {

namespace {

constexpr uint32_t default_alignment = 32;

void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
    put_bytes(out, &v, sizeof(T));  // little-endian host assumed, like the reader
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    put_bytes(out, s.data(), s.size());
}

void pad_to(std::vector<uint8_t>& out, size_t alignment) {
    const size_t rem = out.size() % alignment;
    if (rem != 0) out.insert(out.end(), alignment - rem, uint8_t{0});
}

// Writes the payload of v interpreted as type t (no type tag).
void put_payload(std::vector<uint8_t>& out, value_type t, const value& v) {
    switch (t) {
    case value_type::u8: put(out, static_cast<uint8_t>(v.num.u)); break;
    case value_type::i8: put(out, static_cast<int8_t>(v.num.i)); break;
    case value_type::u16: put(out, static_cast<uint16_t>(v.num.u)); break;
    case value_type::i16: put(out, static_cast<int16_t>(v.num.i)); break;
    case value_type::u32: put(out, static_cast<uint32_t>(v.num.u)); break;
    case value_type::i32: put(out, static_cast<int32_t>(v.num.i)); break;
    case value_type::u64: put(out, v.num.u); break;
    case value_type::i64: put(out, v.num.i); break;
    case value_type::f32: put(out, static_cast<float>(v.num.f)); break;
    case value_type::f64: put(out, v.num.f); break;
    case value_type::boolean: put(out, static_cast<uint8_t>(v.num.b ? 1 : 0)); break;
    case value_type::string: put_string(out, v.str); break;
    case value_type::array:
        put(out, static_cast<uint32_t>(v.array_type));
        put<uint64_t>(out, v.elems.size());
        for (const value& e : v.elems) put_payload(out, v.array_type, e);
        break;
    }
}

value make_scalar(value_type t) {
    value v;
    v.type = t;
    return v;
}

}  // namespace

writer::writer(uint32_t alignment)
    : alignment_(alignment != 0 && (alignment & (alignment - 1)) == 0 ? alignment : default_alignment) {}

void writer::set_value(const std::string& key, const value& v) {
    for (auto& kv : kvs_) {
        if (kv.first == key) {
            kv.second = v;
            return;
        }
    }
    kvs_.emplace_back(key, v);
}

void writer::set_u32(const std::string& key, uint32_t v) {
    value x = make_scalar(value_type::u32);
    x.num.u = v;
    set_value(key, x);
}

void writer::set_i32(const std::string& key, int32_t v) {
    value x = make_scalar(value_type::i32);
    x.num.i = v;
    set_value(key, x);
}

void writer::set_u64(const std::string& key, uint64_t v) {
    value x = make_scalar(value_type::u64);
    x.num.u = v;
    set_value(key, x);
}

void writer::set_f32(const std::string& key, float v) {
    value x = make_scalar(value_type::f32);
    x.num.f = v;
    set_value(key, x);
}

void writer::set_bool(const std::string& key, bool v) {
    value x = make_scalar(value_type::boolean);
    x.num.b = v;
    set_value(key, x);
}

void writer::set_string(const std::string& key, const std::string& v) {
    value x = make_scalar(value_type::string);
    x.str = v;
    set_value(key, x);
}

void writer::set_string_array(const std::string& key, const std::vector<std::string>& v) {
    value x = make_scalar(value_type::array);
    x.array_type = value_type::string;
    x.elems.resize(v.size());
    for (size_t k = 0; k < v.size(); ++k) {
        x.elems[k].type = value_type::string;
        x.elems[k].str = v[k];
    }
    set_value(key, x);
}

void writer::set_f32_array(const std::string& key, const std::vector<float>& v) {
    value x = make_scalar(value_type::array);
    x.array_type = value_type::f32;
    x.elems.resize(v.size());
    for (size_t k = 0; k < v.size(); ++k) {
        x.elems[k].type = value_type::f32;
        x.elems[k].num.f = v[k];
    }
    set_value(key, x);
}

void writer::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
    value x = make_scalar(value_type::array);
    x.array_type = value_type::i32;
    x.elems.resize(v.size());
    for (size_t k = 0; k < v.size(); ++k) {
        x.elems[k].type = value_type::i32;
        x.elems[k].num.i = v[k];
    }
    set_value(key, x);
}

status writer::validate_tensor(const std::string& name, dtype type, const std::vector<int64_t>& ne,
                               size_t nbytes) const {
    if (name.empty()) return status(errc::invalid_argument, "gguf writer: empty tensor name");
    for (const auto& t : tensors_) {
        if (t.name == name) return status(errc::invalid_argument, "gguf writer: duplicate tensor '" + name + "'");
    }
    const dtype_traits* tr = dtype_info(static_cast<uint32_t>(type));
    if (tr == nullptr) return status(errc::invalid_argument, "gguf writer: tensor '" + name + "' has an unknown type");
    if (ne.empty() || ne.size() > 4) {
        return status(errc::invalid_argument, "gguf writer: tensor '" + name + "' must have 1..4 dimensions");
    }
    uint64_t count = 1;
    for (int64_t d : ne) {
        if (d <= 0) return status(errc::invalid_argument, "gguf writer: tensor '" + name + "' has a dimension <= 0");
        if (count > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(d)) {
            return status(errc::invalid_argument, "gguf writer: tensor '" + name + "' element count overflows");
        }
        count *= static_cast<uint64_t>(d);
    }
    if (ne[0] % tr->block_size != 0) {
        return status(errc::invalid_argument, "gguf writer: tensor '" + name + "' ne[0] = " + std::to_string(ne[0]) +
                                                  " is not a multiple of the block size " +
                                                  std::to_string(tr->block_size));
    }
    const uint64_t expected = count / tr->block_size * tr->block_bytes;
    if (nbytes != expected) {
        return status(errc::invalid_argument, "gguf writer: tensor '" + name + "' needs " + std::to_string(expected) +
                                                  " bytes, got " + std::to_string(nbytes));
    }
    return ok_status();
}

status writer::add_tensor(const std::string& name, dtype type, const std::vector<int64_t>& ne, const void* data,
                          size_t nbytes) {
    status st = validate_tensor(name, type, ne, nbytes);
    if (!st.ok()) return st;
    if (data == nullptr && nbytes != 0) {
        return status(errc::invalid_argument, "gguf writer: tensor '" + name + "' has null data");
    }
    pending_tensor t{name, type, ne, {}, nbytes, false};
    const auto* b = static_cast<const uint8_t*>(data);
    t.bytes.assign(b, b + nbytes);
    tensors_.push_back(std::move(t));
    return ok_status();
}

status writer::add_tensor_deferred(const std::string& name, dtype type, const std::vector<int64_t>& ne, size_t nbytes) {
    status st = validate_tensor(name, type, ne, nbytes);
    if (!st.ok()) return st;
    tensors_.push_back(pending_tensor{name, type, ne, {}, nbytes, true});
    return ok_status();
}

std::vector<uint8_t> writer::header() const {
    // general.alignment is written by us (only when it differs from the default); a caller's copy is dropped.
    const bool write_alignment = alignment_ != default_alignment;
    size_t n_kv = 0;
    for (const auto& kv : kvs_) n_kv += kv.first == "general.alignment" ? 0 : 1;
    if (write_alignment) ++n_kv;

    std::vector<uint8_t> out;
    put_bytes(out, "GGUF", 4);
    put<uint32_t>(out, 3);
    put<uint64_t>(out, tensors_.size());
    put<uint64_t>(out, n_kv);

    if (write_alignment) {
        put_string(out, "general.alignment");
        put(out, static_cast<uint32_t>(value_type::u32));
        put<uint32_t>(out, alignment_);
    }
    for (const auto& kv : kvs_) {
        if (kv.first == "general.alignment") continue;
        put_string(out, kv.first);
        put(out, static_cast<uint32_t>(kv.second.type));
        put_payload(out, kv.second.type, kv.second);
    }

    // Tensor infos; offsets are relative to the data section, each tensor padded to the alignment.
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        put_string(out, t.name);
        put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) put<int64_t>(out, d);
        put<uint32_t>(out, static_cast<uint32_t>(t.type));
        put<uint64_t>(out, offset);
        offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
    }
    pad_to(out, alignment_);
    return out;
}

std::vector<uint8_t> writer::finish() const {
    std::vector<uint8_t> out = header();
    for (const auto& t : tensors_) {
        if (t.deferred) out.resize(out.size() + t.nbytes, 0);  // no source here: zeros (only for sizing)
        else put_bytes(out, t.bytes.data(), t.bytes.size());
        pad_to(out, alignment_);
    }
    return out;
}

namespace {
// fwrite of all n bytes, or the reason it failed.
status write_all(std::FILE* f, const void* p, size_t n, const std::string& path) {
    if (n != 0 && std::fwrite(p, 1, n, f) != n)
        return status(errc::io_error, "cannot write '" + path + "': " + std::strerror(errno != 0 ? errno : EIO));
    return ok_status();
}
}  // namespace

status writer::write(const std::string& path) const {
    return write(path, [](size_t, std::vector<uint8_t>&) {
        return status(errc::internal, "gguf writer: a deferred tensor has no source");
    });
}

status writer::write(const std::string& path, const tensor_source& source) const {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return status(errc::io_error, "cannot create '" + path + "': " + std::strerror(errno));
    status st;
    {
        const std::vector<uint8_t> head = header();
        st = write_all(f, head.data(), head.size(), path);
    }
    std::vector<uint8_t> produced;
    static const uint8_t zeros[64] = {};
    for (size_t i = 0; i < tensors_.size() && st.ok(); ++i) {
        const pending_tensor& t = tensors_[i];
        const std::vector<uint8_t>* bytes = &t.bytes;
        if (t.deferred) {
            produced.clear();
            st = source(i, produced);
            if (st.ok() && produced.size() != t.nbytes)
                st = status(errc::internal, "gguf writer: tensor '" + t.name + "' produced " +
                                                std::to_string(produced.size()) + " bytes, expected " +
                                                std::to_string(t.nbytes));
            bytes = &produced;
        }
        if (st.ok()) st = write_all(f, bytes->data(), bytes->size(), path);
        const size_t pad = (alignment_ - t.nbytes % alignment_) % alignment_;
        if (st.ok()) st = write_all(f, zeros, pad, path);
    }
    if (std::fclose(f) != 0 && st.ok()) st = status(errc::io_error, "cannot write '" + path + "': " + std::strerror(errno));
    if (!st.ok()) std::remove(path.c_str());
    return st;
}

}  // namespace gguf
MOE_END_NAMESPACE
