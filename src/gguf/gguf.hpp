// gguf.hpp — the parsed form of a GGUF file (v2/v3): metadata key/values and tensor infos, fully validated.
// Input: bytes from mapped_file. Output: consumed by the model loader (src/model) and the architecture builders.
#pragma once

#include <moe/dtype.hpp>
#include <moe/status.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace gguf {

// GGUF metadata value types, numbered as in the file.
enum class value_type : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
    u64 = 10, i64 = 11, f64 = 12,
};
const char* value_type_name(value_type t) noexcept;

// One metadata value. Scalars live in the union; strings in str; arrays in elems (nested arrays allowed).
struct value {
    value_type type = value_type::u8;
    union {
        uint64_t u;
        int64_t i;
        double f;
        bool b;
    } num{};
    std::string str;
    value_type array_type = value_type::u8;  // element type, when type == array
    std::vector<value> elems;                // elements, when type == array
};

struct tensor_info {
    std::string name;
    dtype type = dtype::f32;
    uint32_t n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};  // GGUF order: ne[0] is the contiguous (innermost) dimension
    uint64_t offset = 0;           // relative to the data section, already checked against the file
    size_t nbytes = 0;             // bytes this tensor occupies
    const uint8_t* data = nullptr; // absolute pointer into the file bytes
    // A copy in a kernel layout (graph/ir.hpp's packing, as a number here), set by the model loader; else null.
    const uint8_t* packed = nullptr;
    uint8_t packed_as = 0;
    int64_t n_elements() const noexcept { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

// Caps that protect against hostile files; defaults are generous for real models.
struct parse_limits {
    uint64_t max_kv = 1u << 20;
    uint64_t max_tensors = 1u << 20;
    uint64_t max_string_bytes = 1u << 24;
    uint64_t max_array_elements = 1u << 26;
    uint32_t max_array_depth = 4;
    // Memory the parsed metadata may take (each value's in-memory record plus string bytes): an array of one-byte
    // elements costs ~80 bytes of memory per byte of file, so the file size alone does not bound it.
    uint64_t max_metadata_bytes = uint64_t(1) << 30;
};

class file {
public:
    file() = default;
    file(file&&) noexcept = default;  // keeps the vectors' buffers, so the index views stay valid
    file& operator=(file&&) noexcept = default;
    file(const file&) = delete;
    file& operator=(const file&) = delete;

    // Parses and validates everything: counts, lengths, types, dims (positive, product fits),
    // tensor offsets/sizes inside the file, alignment, duplicate keys/tensor names.
    // `data` must stay valid while the returned object (and tensor data pointers) are used.
    // Errors say which field failed and at which byte offset.
    static result<file> parse(const uint8_t* data, size_t size, const parse_limits& limits = {});

    uint32_t version() const noexcept { return version_; }
    uint32_t alignment() const noexcept { return alignment_; }
    uint64_t data_offset() const noexcept { return data_offset_; }

    const std::vector<std::pair<std::string, value>>& kvs() const noexcept { return kvs_; }
    const value* find(std::string_view key) const noexcept;
    const std::vector<tensor_info>& tensors() const noexcept { return tensors_; }
    const tensor_info* find_tensor(std::string_view name) const noexcept;
    // Points tensor `index` at a copy of its bytes (the loader moves misaligned tensors into aligned memory).
    void relocate_tensor(size_t index, const uint8_t* data) noexcept { tensors_[index].data = data; }
    // Gives tensor `index` a copy of its bytes in kernel layout `as` (the loader's weight packing).
    void set_packed(size_t index, const uint8_t* packed, uint8_t as) noexcept {
        tensors_[index].packed = packed, tensors_[index].packed_as = as;
    }

    // Typed getters. A missing key gives errc::invalid_argument only when the key is required: use find() or the
    // *_or variants for optional keys. A wrong type gives errc::bad_format naming key, expected and found types.
    // Integer getters accept any integer type whose value fits; float getters accept f32/f64.
    result<uint64_t> get_uint(std::string_view key) const;
    result<int64_t> get_int(std::string_view key) const;
    result<double> get_float(std::string_view key) const;
    result<bool> get_bool(std::string_view key) const;
    result<std::string> get_string(std::string_view key) const;
    result<std::vector<std::string>> get_string_array(std::string_view key) const;
    result<std::vector<float>> get_float_array(std::string_view key) const;
    result<std::vector<int64_t>> get_int_array(std::string_view key) const;
    result<uint64_t> get_uint_or(std::string_view key, uint64_t fallback) const;
    result<double> get_float_or(std::string_view key, double fallback) const;
    result<bool> get_bool_or(std::string_view key, bool fallback) const;

private:
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, value>> kvs_;
    // Keys are views of the names in kvs_ / tensors_ (whose buffers a move keeps), so lookups never allocate.
    std::unordered_map<std::string_view, size_t> kv_index_;
    std::vector<tensor_info> tensors_;
    std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Builds a GGUF v3 file in memory. Used by the test-model writer, moe-quantize and the tests.
class writer {
public:
    explicit writer(uint32_t alignment = 32);
    void set_u32(const std::string& key, uint32_t v);
    void set_i32(const std::string& key, int32_t v);
    void set_u64(const std::string& key, uint64_t v);
    void set_f32(const std::string& key, float v);
    void set_bool(const std::string& key, bool v);
    void set_string(const std::string& key, const std::string& v);
    void set_string_array(const std::string& key, const std::vector<std::string>& v);
    void set_f32_array(const std::string& key, const std::vector<float>& v);
    void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
    void set_value(const std::string& key, const value& v);  // any value, including nested arrays
    // ne in GGUF order (ne[0] innermost); data must be row_bytes(type, ne[0]) * ne[1] * ne[2] * ne[3] bytes.
    status add_tensor(const std::string& name, dtype type, const std::vector<int64_t>& ne, const void* data,
                      size_t nbytes);
    // Declares a tensor whose nbytes bytes a tensor_source produces while the file is written, so a large model is
    // never held in memory (moe-quantize). Validated like add_tensor.
    status add_tensor_deferred(const std::string& name, dtype type, const std::vector<int64_t>& ne, size_t nbytes);
    // Fills `bytes` with the data of the tensor at position `index` (in add order).
    using tensor_source = std::function<status(size_t index, std::vector<uint8_t>& bytes)>;

    std::vector<uint8_t> finish() const;             // the whole file (deferred tensors as zeros)
    status write(const std::string& path) const;     // the file, with no deferred tensors
    // The file, asking `source` for each deferred tensor in order; on failure the partial file is removed.
    status write(const std::string& path, const tensor_source& source) const;

private:
    struct pending_tensor {
        std::string name;
        dtype type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> bytes;
        size_t nbytes = 0;
        bool deferred = false;
    };
    status validate_tensor(const std::string& name, dtype type, const std::vector<int64_t>& ne, size_t nbytes) const;
    std::vector<uint8_t> header() const;  // everything up to the data section
    uint32_t alignment_;
    std::vector<std::pair<std::string, value>> kvs_;
    std::vector<pending_tensor> tensors_;
};

}  // namespace gguf
MOE_END_NAMESPACE
