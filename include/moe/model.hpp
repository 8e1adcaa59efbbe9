// model.hpp — loading a GGUF model: parameters, what the loaded model describes, and the model handle.
// A model is read-only once loaded and can be shared by many sessions (include/moe/session.hpp).
#pragma once

#include <moe/config.hpp>
#include <moe/status.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

MOE_BEGIN_NAMESPACE

// Caps on what a file may make the loader allocate for its metadata, whatever the file says; going over one fails
// the load with bad_format or out_of_memory and a message. The defaults fit every real model with room to spare.
struct load_limits {
    uint64_t max_kv = uint64_t(1) << 20;              // metadata key/value pairs
    uint64_t max_tensors = uint64_t(1) << 20;         // tensor infos
    uint64_t max_string_bytes = uint64_t(1) << 24;    // one string (a key, a value, a vocabulary entry)
    uint64_t max_array_elements = uint64_t(1) << 26;  // one array (the vocabulary, merges, scores)
    uint64_t max_metadata_bytes = uint64_t(1) << 30;  // all parsed metadata in memory, strings included
};

struct model_params {
    // Called with progress in [0, 1] while loading; return false to cancel (load then fails with errc::aborted).
    std::function<bool(float progress)> progress;
    load_limits limits;
    // Lets the CPU kernels keep their own copy of the weights they read faster in another layout (q4_0, q8_0, f16
    // and bf16 matrices, rows interleaved eight at a time): more tokens per second for the same results, bit for
    // bit. A file that fits in half the memory is repacked once at load and its original pages are handed back to
    // the OS; for a model in the caller's memory (load_from_memory) or read through callbacks the copy comes on top.
    // Off: the kernels read the file's bytes in place.
    bool pack_weights = true;
};

// What the file describes, as read from its metadata.
struct model_info {
    std::string architecture;  // general.architecture, e.g. "llama"
    std::string name;          // general.name, may be empty
    int64_t n_vocab = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;
    int64_t n_expert = 0;       // 0 for dense models
    int64_t n_expert_used = 0;
    int64_t n_ctx_train = 0;
    uint64_t n_params = 0;      // total weights in the file
    uint64_t weight_bytes = 0;  // bytes of tensor data
    uint64_t packed_bytes = 0;  // bytes of weights the CPU kernels keep repacked (model_params::pack_weights)
    std::string chat_template;  // tokenizer.chat_template (Jinja source), empty when the file has none
};

class session;
class tokenizer;
namespace detail { struct model_impl; }

class MOE_API model {
public:
    // Maps the file, validates the GGUF structure, recognises the architecture and checks every tensor's presence,
    // shape and type. Errors: io_error, bad_format, unsupported (architecture or tensor type), shape_mismatch, aborted.
    static result<model> load(const std::string& path, const model_params& params = {});
    // Same, from bytes the caller keeps alive for the model's lifetime (an asset pack, an embedded model).
    static result<model> load_from_memory(const void* data, size_t size, const model_params& params = {});
    // Same, from bytes fetched through `read(offset, destination, n)` (an archive, a network stream, a custom VFS):
    // the model reads all `size` bytes into memory it owns, in order, in pieces of at most 4 MiB. Reading is the
    // first half of the progress range. Errors: as load, plus whatever status `read` returns (io_error suggested),
    // out_of_memory when the copy cannot be allocated.
    using read_fn = std::function<status(uint64_t offset, void* destination, size_t n)>;
    static result<model> load_from_reader(uint64_t size, const read_fn& read, const model_params& params = {});

    const model_info& info() const noexcept;
    // The file's tokenizer (tokenizer.ggml.*), or nullptr when it has none. A tokenizer that is present but
    // invalid makes load() fail. Valid as long as the model (or a session on it) lives.
    const moe::tokenizer* tokenizer() const noexcept;

    // The file's GGUF metadata: every key/value pair, in file order ("general.name", "tokenizer.chat_template",
    // "<arch>.context_length", ...), as the loader parsed and keeps them (no second copy is made).
    size_t meta_count() const noexcept;
    // The key at `index` (< meta_count()); "" when out of range. Valid as long as the model lives.
    std::string_view meta_key(size_t index) const noexcept;
    // The value of `key` as text: integers in decimal, floats in the shortest form that reads back the same
    // (std::to_chars: "0.0001", "1e-06", "inf", "nan"), booleans "true" / "false", strings as stored (UTF-8, may
    // contain NUL bytes), arrays as "[array of N <type>]" (e.g. "[array of 32000 string]"): no array is copied.
    // Errors: invalid_argument (no such key), out_of_memory.
    result<std::string> meta_value(std::string_view key) const;
    // Same, for the pair at `index`. Errors: invalid_argument (index >= meta_count()), out_of_memory.
    result<std::string> meta_value_at(size_t index) const;

    model(model&&) noexcept;
    model& operator=(model&&) noexcept;
    ~model();

private:
    friend class session;
    explicit model(std::shared_ptr<const detail::model_impl> impl);
    std::shared_ptr<const detail::model_impl> impl_;
};

MOE_END_NAMESPACE
