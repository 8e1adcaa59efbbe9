// gguf_reader.cpp — parses and validates GGUF v2/v3 bytes into gguf::file (metadata values and tensor infos).
// Input: bytes from mapped_file. Output: gguf::file, read by the model loader and the architecture builders.
#include "gguf/gguf.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

MOE_BEGIN_NAMESPACE
namespace gguf {

const char* value_type_name(value_type t) noexcept {
    switch (t) {
    case value_type::u8: return "u8";
    case value_type::i8: return "i8";
    case value_type::u16: return "u16";
    case value_type::i16: return "i16";
    case value_type::u32: return "u32";
    case value_type::i32: return "i32";
    case value_type::f32: return "f32";
    case value_type::boolean: return "bool";
    case value_type::string: return "string";
    case value_type::array: return "array";
    case value_type::u64: return "u64";
    case value_type::i64: return "i64";
    case value_type::f64: return "f64";
    }
    return "unknown";
}

namespace {

// ---------------------------------------------------------------------------------------------------------------
// Byte cursor: every read is bounds-checked first; errors carry the byte offset and the field being read.
// ---------------------------------------------------------------------------------------------------------------

constexpr uint32_t gguf_magic = 0x46554747u;  // "GGUF" read as a little-endian u32

bool is_known_type(uint32_t t) noexcept { return t <= static_cast<uint32_t>(value_type::f64); }

// Bytes a scalar of this type occupies in the file; 0 for string/array (variable).
size_t scalar_size(value_type t) noexcept {
    switch (t) {
    case value_type::u8:
    case value_type::i8:
    case value_type::boolean: return 1;
    case value_type::u16:
    case value_type::i16: return 2;
    case value_type::u32:
    case value_type::i32:
    case value_type::f32: return 4;
    case value_type::u64:
    case value_type::i64:
    case value_type::f64: return 8;
    case value_type::string:
    case value_type::array: return 0;
    }
    return 0;
}

// Smallest number of bytes one element of this type can take (used to reject counts the file cannot hold).
size_t min_element_size(value_type t) noexcept {
    if (t == value_type::string) return 8;   // u64 length
    if (t == value_type::array) return 12;   // u32 type + u64 count
    return scalar_size(t);
}

bool is_integer(value_type t) noexcept {
    switch (t) {
    case value_type::u8:
    case value_type::i8:
    case value_type::u16:
    case value_type::i16:
    case value_type::u32:
    case value_type::i32:
    case value_type::u64:
    case value_type::i64: return true;
    default: return false;
    }
}

bool is_signed_integer(value_type t) noexcept {
    return t == value_type::i8 || t == value_type::i16 || t == value_type::i32 || t == value_type::i64;
}

class cursor {
public:
    cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    size_t pos() const noexcept { return pos_; }
    size_t size() const noexcept { return size_; }
    size_t remaining() const noexcept { return size_ - pos_; }

    status need(size_t n, const std::string& what) const {
        if (n <= remaining()) return ok_status();
        return status(errc::bad_format, "truncated file: " + what + " needs " + std::to_string(n) +
                                            " bytes at byte offset " + std::to_string(pos_) + ", but only " +
                                            std::to_string(remaining()) + " remain");
    }

    template <class T>
    status read(T& out, const std::string& what) {
        MOE_TRY(need(sizeof(T), what));
        std::memcpy(&out, data_ + pos_, sizeof(T));  // GGUF is little-endian, like every host we build for
        pos_ += sizeof(T);
        return ok_status();
    }

    status read_string(std::string& out, const std::string& what, uint64_t max_bytes) {
        const size_t at = pos_;
        uint64_t len = 0;
        MOE_TRY(read(len, what + " length"));
        if (len > max_bytes) {
            return status(errc::bad_format, what + ": string length " + std::to_string(len) + " at byte offset " +
                                                std::to_string(at) + " exceeds the limit of " +
                                                std::to_string(max_bytes));
        }
        MOE_TRY(need(static_cast<size_t>(len), what));
        out.assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len);
        return ok_status();
    }

    void seek(size_t p) noexcept { pos_ = p; }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

std::string at_offset(size_t off) { return " at byte offset " + std::to_string(off); }

// ---------------------------------------------------------------------------------------------------------------
// Metadata values
// ---------------------------------------------------------------------------------------------------------------

struct value_reader {
    cursor& cur;
    const parse_limits& limits;
    uint64_t used = 0;  // bytes of memory the values read so far take (estimated), checked against the cap

    status charge(uint64_t n, size_t at, const std::string& what) {
        if (n > limits.max_metadata_bytes - std::min(used, limits.max_metadata_bytes)) {
            return status(errc::bad_format, what + at_offset(at) + ": metadata would take more than the limit of " +
                                                std::to_string(limits.max_metadata_bytes) + " bytes of memory");
        }
        used += n;
        return ok_status();
    }

    // Reads the payload of a value of type t (the type tag is already consumed). `what` names the key for errors.
    status read_payload(value_type t, value& out, uint32_t depth, const std::string& what) {
        out.type = t;
        switch (t) {
        case value_type::u8: { uint8_t v = 0; MOE_TRY(cur.read(v, what)); out.num.u = v; return ok_status(); }
        case value_type::i8: { int8_t v = 0; MOE_TRY(cur.read(v, what)); out.num.i = v; return ok_status(); }
        case value_type::u16: { uint16_t v = 0; MOE_TRY(cur.read(v, what)); out.num.u = v; return ok_status(); }
        case value_type::i16: { int16_t v = 0; MOE_TRY(cur.read(v, what)); out.num.i = v; return ok_status(); }
        case value_type::u32: { uint32_t v = 0; MOE_TRY(cur.read(v, what)); out.num.u = v; return ok_status(); }
        case value_type::i32: { int32_t v = 0; MOE_TRY(cur.read(v, what)); out.num.i = v; return ok_status(); }
        case value_type::u64: { uint64_t v = 0; MOE_TRY(cur.read(v, what)); out.num.u = v; return ok_status(); }
        case value_type::i64: { int64_t v = 0; MOE_TRY(cur.read(v, what)); out.num.i = v; return ok_status(); }
        case value_type::f32: { float v = 0; MOE_TRY(cur.read(v, what)); out.num.f = v; return ok_status(); }
        case value_type::f64: { double v = 0; MOE_TRY(cur.read(v, what)); out.num.f = v; return ok_status(); }
        case value_type::boolean: {
            const size_t at = cur.pos();
            uint8_t v = 0;
            MOE_TRY(cur.read(v, what));
            if (v > 1) {
                return status(errc::bad_format, what + ": bool value " + std::to_string(v) + at_offset(at) +
                                                    " is neither 0 nor 1");
            }
            out.num.b = v != 0;
            return ok_status();
        }
        case value_type::string: {
            const size_t at = cur.pos();
            MOE_TRY(cur.read_string(out.str, what, limits.max_string_bytes));
            return charge(out.str.size(), at, what);
        }
        case value_type::array: return read_array(out, depth + 1, what);
        }
        return status(errc::internal, what + ": unhandled value type");
    }

    status read_array(value& out, uint32_t depth, const std::string& what) {
        const size_t at = cur.pos();
        if (depth > limits.max_array_depth) {
            return status(errc::bad_format, what + ": arrays nested deeper than " +
                                                std::to_string(limits.max_array_depth) + " levels" + at_offset(at));
        }
        uint32_t elem_type = 0;
        MOE_TRY(cur.read(elem_type, what + " array element type"));
        if (!is_known_type(elem_type)) {
            return status(errc::bad_format, what + ": unknown array element type " + std::to_string(elem_type) +
                                                at_offset(at));
        }
        const auto et = static_cast<value_type>(elem_type);
        const size_t count_at = cur.pos();
        uint64_t count = 0;
        MOE_TRY(cur.read(count, what + " array length"));
        if (count > limits.max_array_elements) {
            return status(errc::bad_format, what + ": array length " + std::to_string(count) + at_offset(count_at) +
                                                " exceeds the limit of " + std::to_string(limits.max_array_elements));
        }
        // Reject before allocating: the file must have room for `count` elements of at least this size.
        const size_t min_size = min_element_size(et);
        if (count > cur.remaining() / min_size) {
            return status(errc::bad_format, what + ": array length " + std::to_string(count) + at_offset(count_at) +
                                                " needs at least " + std::to_string(min_size) +
                                                " bytes per element, more than the " +
                                                std::to_string(cur.remaining()) + " bytes left in the file");
        }
        MOE_TRY(charge(count * sizeof(value), count_at, what));  // count <= remaining bytes: no overflow
        out.type = value_type::array;
        out.array_type = et;
        out.elems.clear();
        out.elems.resize(static_cast<size_t>(count));
        for (size_t k = 0; k < out.elems.size(); ++k) {
            MOE_TRY(read_payload(et, out.elems[k], depth, what));
        }
        return ok_status();
    }
};

// a * b into out; false when it would exceed `limit`.
bool mul_within(uint64_t a, uint64_t b, uint64_t limit, uint64_t& out) noexcept {
    if (a != 0 && b > limit / a) return false;
    out = a * b;
    return true;
}

std::string type_mismatch(std::string_view key, const char* expected, const value& v) {
    std::string found = value_type_name(v.type);
    if (v.type == value_type::array) found += std::string(" of ") + value_type_name(v.array_type);
    return "key '" + std::string(key) + "': expected " + expected + ", found " + found;
}

// Integer value as int64/uint64 with range checks. Returns false when it does not fit.
bool as_uint(const value& v, uint64_t& out) noexcept {
    if (!is_integer(v.type)) return false;
    if (is_signed_integer(v.type)) {
        if (v.num.i < 0) return false;
        out = static_cast<uint64_t>(v.num.i);
        return true;
    }
    out = v.num.u;
    return true;
}

bool as_int(const value& v, int64_t& out) noexcept {
    if (!is_integer(v.type)) return false;
    if (is_signed_integer(v.type)) {
        out = v.num.i;
        return true;
    }
    if (v.num.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(v.num.u);
    return true;
}

// ---------------------------------------------------------------------------------------------------------------
// The parser proper
// ---------------------------------------------------------------------------------------------------------------

struct parser {
    cursor cur;
    const parse_limits& limits;

    status header(uint32_t& version, uint64_t& n_tensors, uint64_t& n_kv) {
        uint32_t magic = 0;
        MOE_TRY(cur.read(magic, "magic"));
        if (magic != gguf_magic) {
            return status(errc::bad_format, "not a GGUF file: magic at byte offset 0 is not 'GGUF'");
        }
        MOE_TRY(cur.read(version, "version"));
        if (version == 0) return status(errc::bad_format, "bad GGUF version 0 at byte offset 4");
        if ((version & 0xffffu) == 0) {
            return status(errc::unsupported,
                          "GGUF version field at byte offset 4 reads " + std::to_string(version) +
                              ": the file is byte-swapped (big-endian); only little-endian files are supported");
        }
        if (version == 1) {
            return status(errc::unsupported, "GGUF version 1 (byte offset 4) is no longer supported; convert the "
                                             "file to version 3");
        }
        if (version != 2 && version != 3) {
            return status(errc::unsupported, "GGUF version " + std::to_string(version) +
                                                 " (byte offset 4) is not supported; only versions 2 and 3 are");
        }
        MOE_TRY(cur.read(n_tensors, "n_tensors (tensor count)"));
        MOE_TRY(cur.read(n_kv, "n_kv (metadata key/value count)"));
        if (n_tensors > limits.max_tensors) {
            return status(errc::bad_format, "n_tensors = " + std::to_string(n_tensors) +
                                                " at byte offset 8 exceeds the limit of " +
                                                std::to_string(limits.max_tensors));
        }
        if (n_kv > limits.max_kv) {
            return status(errc::bad_format, "n_kv = " + std::to_string(n_kv) +
                                                " at byte offset 16 exceeds the limit of " +
                                                std::to_string(limits.max_kv));
        }
        // Each key/value takes at least 8 (key length) + 1 (key) + 4 (type) + 1 (smallest value) bytes; each
        // tensor info at least 8 + 1 + 4 + 8 + 4 + 8 bytes. Reject counts the file cannot possibly hold.
        if (n_kv > cur.remaining() / 14) {
            return status(errc::bad_format, "n_kv = " + std::to_string(n_kv) +
                                                " at byte offset 16 is more than the file's " +
                                                std::to_string(cur.size()) + " bytes can hold");
        }
        if (n_tensors > cur.remaining() / 33) {
            return status(errc::bad_format, "n_tensors = " + std::to_string(n_tensors) +
                                                " at byte offset 8 is more than the file's " +
                                                std::to_string(cur.size()) + " bytes can hold");
        }
        return ok_status();
    }

    status kvs(uint64_t n_kv, std::vector<std::pair<std::string, value>>& out,
               std::unordered_map<std::string_view, size_t>& index) {
        out.reserve(static_cast<size_t>(n_kv));
        value_reader vr{cur, limits, 0};
        for (uint64_t k = 0; k < n_kv; ++k) {
            const size_t at = cur.pos();
            std::string key;
            MOE_TRY(cur.read_string(key, "key #" + std::to_string(k), limits.max_string_bytes));
            if (key.empty()) return status(errc::bad_format, "key #" + std::to_string(k) + " is empty" + at_offset(at));
            if (index.count(key) != 0) {
                return status(errc::bad_format, "duplicate key '" + key + "'" + at_offset(at));
            }
            const size_t type_at = cur.pos();
            uint32_t type = 0;
            MOE_TRY(cur.read(type, "type of key '" + key + "'"));
            if (!is_known_type(type)) {
                return status(errc::bad_format, "key '" + key + "' has unknown value type " + std::to_string(type) +
                                                    at_offset(type_at));
            }
            value v;
            MOE_TRY(vr.read_payload(static_cast<value_type>(type), v, 0, "key '" + key + "'"));
            out.emplace_back(std::move(key), std::move(v));  // reserved: element addresses never change
            index.emplace(out.back().first, out.size() - 1);
        }
        return ok_status();
    }

    status tensor_infos(uint64_t n_tensors, std::vector<tensor_info>& out,
                        std::unordered_map<std::string_view, size_t>& index, std::vector<size_t>& offset_field_pos) {
        out.reserve(static_cast<size_t>(n_tensors));
        offset_field_pos.reserve(static_cast<size_t>(n_tensors));
        for (uint64_t k = 0; k < n_tensors; ++k) {
            tensor_info ti;
            const size_t at = cur.pos();
            MOE_TRY(cur.read_string(ti.name, "name of tensor #" + std::to_string(k), limits.max_string_bytes));
            const std::string tn = "tensor '" + ti.name + "'";
            if (ti.name.empty()) {
                return status(errc::bad_format, "tensor #" + std::to_string(k) + " has an empty name" + at_offset(at));
            }
            if (index.count(ti.name) != 0) {
                return status(errc::bad_format, "duplicate tensor name '" + ti.name + "'" + at_offset(at));
            }

            const size_t dims_at = cur.pos();
            MOE_TRY(cur.read(ti.n_dims, tn + " n_dims"));
            if (ti.n_dims < 1 || ti.n_dims > 4) {
                return status(errc::bad_format, tn + " has n_dims = " + std::to_string(ti.n_dims) +
                                                    at_offset(dims_at) + "; must be 1..4");
            }
            uint64_t n_elements = 1;
            for (uint32_t d = 0; d < ti.n_dims; ++d) {
                const size_t ne_at = cur.pos();
                uint64_t ne = 0;
                MOE_TRY(cur.read(ne, tn + " ne[" + std::to_string(d) + "]"));
                if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                    return status(errc::bad_format, tn + " ne[" + std::to_string(d) + "] = " +
                                                        std::to_string(static_cast<int64_t>(ne)) + at_offset(ne_at) +
                                                        "; dimensions must be positive");
                }
                if (!mul_within(n_elements, ne, static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                                n_elements)) {
                    return status(errc::bad_format, tn + " element count overflows at ne[" + std::to_string(d) +
                                                        "]" + at_offset(ne_at));
                }
                ti.ne[d] = static_cast<int64_t>(ne);
            }

            const size_t type_at = cur.pos();
            uint32_t type_id = 0;
            MOE_TRY(cur.read(type_id, tn + " type"));
            const dtype_traits* tr = dtype_info(type_id);
            if (tr == nullptr) {
                return status(errc::unsupported, tn + " has unknown type id " + std::to_string(type_id) +
                                                     at_offset(type_at));
            }
            ti.type = static_cast<dtype>(type_id);
            if (static_cast<uint64_t>(ti.ne[0]) % tr->block_size != 0) {
                return status(errc::bad_format, tn + " ne[0] = " + std::to_string(ti.ne[0]) +
                                                    " is not a multiple of the " + tr->name + " block size " +
                                                    std::to_string(tr->block_size) + at_offset(dims_at));
            }
            uint64_t nbytes = 0;
            if (!mul_within(n_elements / tr->block_size, tr->block_bytes,
                            static_cast<uint64_t>(std::numeric_limits<size_t>::max()), nbytes)) {
                return status(errc::bad_format, tn + " byte size overflows" + at_offset(dims_at));
            }
            ti.nbytes = static_cast<size_t>(nbytes);

            offset_field_pos.push_back(cur.pos());
            MOE_TRY(cur.read(ti.offset, tn + " offset"));
            out.push_back(std::move(ti));  // reserved: element addresses never change
            index.emplace(out.back().name, out.size() - 1);
        }
        return ok_status();
    }
};

}  // namespace

result<file> file::parse(const uint8_t* data, size_t size, const parse_limits& limits) {
    if (data == nullptr && size != 0) return result<file>(errc::invalid_argument, "gguf: null data with non-zero size");
    try {
        parser p{cursor(data, size), limits};
        file f;
        uint64_t n_tensors = 0, n_kv = 0;
        MOE_TRY(p.header(f.version_, n_tensors, n_kv));
        MOE_TRY(p.kvs(n_kv, f.kvs_, f.kv_index_));

        // general.alignment: optional, u32, non-zero power of two.
        if (const value* a = f.find("general.alignment")) {
            if (a->type != value_type::u32) {
                return result<file>(errc::bad_format, std::string("key 'general.alignment' must be u32, found ") +
                                                          value_type_name(a->type));
            }
            const uint64_t al = a->num.u;
            if (al == 0 || (al & (al - 1)) != 0) {
                return result<file>(errc::bad_format, "key 'general.alignment' = " + std::to_string(al) +
                                                          " is not a non-zero power of two");
            }
            f.alignment_ = static_cast<uint32_t>(al);
        }

        std::vector<size_t> offset_field_pos;
        MOE_TRY(p.tensor_infos(n_tensors, f.tensors_, f.tensor_index_, offset_field_pos));

        // The data section starts at the first aligned offset after the tensor infos.
        const size_t end_of_infos = p.cur.pos();
        const size_t al = f.alignment_;
        const size_t pad = (al - end_of_infos % al) % al;
        if (n_tensors > 0 && pad > size - end_of_infos) {
            return result<file>(errc::bad_format, "truncated file: data section padding after tensor infos at byte "
                                                  "offset " + std::to_string(end_of_infos) + " runs past the end (" +
                                                  std::to_string(size) + " bytes)");
        }
        // A file without tensors may end right after its metadata.
        f.data_offset_ = pad <= size - end_of_infos ? end_of_infos + pad : end_of_infos;

        const uint64_t data_size = size - f.data_offset_;
        for (size_t k = 0; k < f.tensors_.size(); ++k) {
            tensor_info& ti = f.tensors_[k];
            const std::string where = at_offset(offset_field_pos[k]);
            if (ti.offset % al != 0) {
                return result<file>(errc::bad_format, "tensor '" + ti.name + "' offset " + std::to_string(ti.offset) +
                                                          where + " is not a multiple of the alignment " +
                                                          std::to_string(al));
            }
            if (ti.offset > data_size || ti.nbytes > data_size - ti.offset) {
                return result<file>(errc::bad_format,
                                    "tensor '" + ti.name + "' data [" + std::to_string(ti.offset) + ", +" +
                                        std::to_string(ti.nbytes) + ") relative to the data section at byte offset " +
                                        std::to_string(f.data_offset_) + where + " extends past the end of the file (" +
                                        std::to_string(size) + " bytes)");
            }
            ti.data = data + f.data_offset_ + ti.offset;
        }
        return result<file>(std::move(f));
    } catch (const std::bad_alloc&) {
        return result<file>(errc::out_of_memory, "gguf: out of memory while parsing metadata");
    } catch (const std::length_error&) {
        return result<file>(errc::out_of_memory, "gguf: metadata too large to hold in memory");
    }
}

const value* file::find(std::string_view key) const noexcept {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].second;
}

const tensor_info* file::find_tensor(std::string_view name) const noexcept {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------------------------------------------
// Typed getters
// ---------------------------------------------------------------------------------------------------------------

namespace {

status missing(std::string_view key) { return status(errc::invalid_argument, "missing key '" + std::string(key) + "'"); }

}  // namespace

result<uint64_t> file::get_uint(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    uint64_t out = 0;
    if (!is_integer(v->type)) return result<uint64_t>(errc::bad_format, type_mismatch(key, "an unsigned integer", *v));
    if (!as_uint(*v, out)) {
        return result<uint64_t>(errc::bad_format, "key '" + std::string(key) + "': negative value " +
                                                      std::to_string(v->num.i) + " where an unsigned one is expected");
    }
    return out;
}

result<int64_t> file::get_int(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    int64_t out = 0;
    if (!is_integer(v->type)) return result<int64_t>(errc::bad_format, type_mismatch(key, "an integer", *v));
    if (!as_int(*v, out)) {
        return result<int64_t>(errc::bad_format, "key '" + std::string(key) + "': value " + std::to_string(v->num.u) +
                                                     " does not fit in int64");
    }
    return out;
}

result<double> file::get_float(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    if (v->type != value_type::f32 && v->type != value_type::f64) {
        return result<double>(errc::bad_format, type_mismatch(key, "f32 or f64", *v));
    }
    return v->num.f;
}

result<bool> file::get_bool(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    if (v->type != value_type::boolean) return result<bool>(errc::bad_format, type_mismatch(key, "bool", *v));
    return v->num.b;
}

result<std::string> file::get_string(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    if (v->type != value_type::string) return result<std::string>(errc::bad_format, type_mismatch(key, "string", *v));
    return v->str;
}

result<std::vector<std::string>> file::get_string_array(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    if (v->type != value_type::array || v->array_type != value_type::string) {
        return result<std::vector<std::string>>(errc::bad_format, type_mismatch(key, "array of string", *v));
    }
    std::vector<std::string> out;
    out.reserve(v->elems.size());
    for (const value& e : v->elems) out.push_back(e.str);
    return out;
}

result<std::vector<float>> file::get_float_array(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    if (v->type != value_type::array || (v->array_type != value_type::f32 && v->array_type != value_type::f64)) {
        return result<std::vector<float>>(errc::bad_format, type_mismatch(key, "array of f32 or f64", *v));
    }
    std::vector<float> out;
    out.reserve(v->elems.size());
    for (const value& e : v->elems) out.push_back(static_cast<float>(e.num.f));
    return out;
}

result<std::vector<int64_t>> file::get_int_array(std::string_view key) const {
    const value* v = find(key);
    if (v == nullptr) return missing(key);
    if (v->type != value_type::array || !is_integer(v->array_type)) {
        return result<std::vector<int64_t>>(errc::bad_format, type_mismatch(key, "array of integers", *v));
    }
    std::vector<int64_t> out;
    out.reserve(v->elems.size());
    for (size_t k = 0; k < v->elems.size(); ++k) {
        int64_t x = 0;
        if (!as_int(v->elems[k], x)) {
            return result<std::vector<int64_t>>(errc::bad_format, "key '" + std::string(key) + "'[" +
                                                                      std::to_string(k) + "] does not fit in int64");
        }
        out.push_back(x);
    }
    return out;
}

result<uint64_t> file::get_uint_or(std::string_view key, uint64_t fallback) const {
    if (find(key) == nullptr) return fallback;
    return get_uint(key);
}

result<double> file::get_float_or(std::string_view key, double fallback) const {
    if (find(key) == nullptr) return fallback;
    return get_float(key);
}

result<bool> file::get_bool_or(std::string_view key, bool fallback) const {
    if (find(key) == nullptr) return fallback;
    return get_bool(key);
}

}  // namespace gguf
MOE_END_NAMESPACE
