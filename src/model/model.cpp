// model.cpp — model::load: map (or borrow) the bytes, parse GGUF, pick the architecture, bind every tensor.
// Before: a path or buffer from the user. After: sessions (session.cpp) build graphs from the architecture.
#include "model/model_impl.hpp"
#include "tokenizer/vocab.hpp"

#include <moe/model.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

MOE_BEGIN_NAMESPACE

namespace {
using impl_ptr = std::shared_ptr<detail::model_impl>;

using owned_ptr = std::unique_ptr<uint8_t, detail::owned_bytes>;

// Every kernel reads tensor data through pointers to its element or block type, whose widest field is 8 bytes;
// GGUF only promises general.alignment (any power of two, 1 included) relative to where the bytes start.
constexpr uintptr_t tensor_alignment = 8;

// Copies the tensors that start at a misaligned address into one 64-byte aligned buffer and points the tensor
// infos at the copies. Most files need nothing (mmap is page-aligned, the default alignment is 32).
status relocate_misaligned(detail::model_impl& impl) {
    const std::vector<gguf::tensor_info>& ts = impl.meta.tensors();
    auto misaligned = [](const gguf::tensor_info& t) { return reinterpret_cast<uintptr_t>(t.data) % tensor_alignment != 0; };
    size_t total = 0;
    for (const gguf::tensor_info& t : ts)
        if (misaligned(t)) {
            if (t.nbytes > SIZE_MAX - total - 64) return status(errc::out_of_memory, "misaligned tensors are too large to copy");
            total += (t.nbytes + 63) / 64 * 64;
        }
    if (total == 0) return {};
    owned_ptr copy(static_cast<uint8_t*>(::operator new(total, std::align_val_t(64), std::nothrow)));
    if (!copy)
        return status(errc::out_of_memory, "cannot allocate " + std::to_string(total) +
                                               " bytes to align tensors stored at misaligned offsets");
    size_t at = 0;
    for (size_t i = 0; i < ts.size(); ++i)
        if (misaligned(ts[i])) {
            std::memcpy(copy.get() + at, ts[i].data, ts[i].nbytes);
            impl.meta.relocate_tensor(i, copy.get() + at);
            at += (ts[i].nbytes + 63) / 64 * 64;
        }
    impl.relocated = std::move(copy);
    return {};
}

result<impl_ptr> finish_load(mapped_file file, const model_params& params, const std::string& where,
                             owned_ptr owned = nullptr) {
    auto report = [&](float p) { return !params.progress || params.progress(p); };
    if (!report(0.0f)) return status(errc::aborted, "loading " + where + " was cancelled");
    std::shared_ptr<detail::model_impl> impl;
    try {
        impl = std::make_shared<detail::model_impl>();
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory loading " + where);
    }
    impl->owned = std::move(owned);
    impl->file = std::move(file);
    gguf::parse_limits limits;
    limits.max_kv = params.limits.max_kv;
    limits.max_tensors = params.limits.max_tensors;
    limits.max_string_bytes = params.limits.max_string_bytes;
    limits.max_array_elements = params.limits.max_array_elements;
    limits.max_metadata_bytes = params.limits.max_metadata_bytes;
    result<gguf::file> meta = gguf::file::parse(impl->file.data(), impl->file.size(), limits);
    if (!meta) return status(meta.error().code(), where + ": " + meta.error().message());
    impl->meta = std::move(*meta);
    MOE_TRY(relocate_misaligned(*impl));
    // Weights that fit in half the memory are read into the page tables now, in slices between progress reports
    // (as llama.cpp populates its mapping); larger files stay lazy so that the OS can page them.
    // Such files also get the CPU kernels' packed copies of the weights they prefer in another layout.
    const size_t size = impl->file.size();
    if (static_cast<uint64_t>(size) <= physical_memory_bytes() / 2) {
        constexpr size_t slice = size_t(64) << 20;
        for (size_t at = 0; at < size; at += slice) {
            if (!impl->file.prefault(at, slice)) break;
            if (!report(0.4f * static_cast<float>(static_cast<double>(at + slice < size ? at + slice : size) /
                                                  static_cast<double>(size))))
                return status(errc::aborted, "loading " + where + " was cancelled");
        }
        if (params.pack_weights) {
            status packed = detail::pack_weights(*impl, report, 0.4f, 0.5f);
            if (!packed.ok()) return status(packed.code(), "loading " + where + " was cancelled");
        }
    }
    if (!report(0.5f)) return status(errc::aborted, "loading " + where + " was cancelled");
    result<std::unique_ptr<architecture>> arch = create_architecture(impl->meta);
    if (!arch) return status(arch.error().code(), where + ": " + arch.error().message());
    impl->arch = std::move(*arch);
    impl->info = impl->arch->info();
    for (const gguf::tensor_info& t : impl->meta.tensors()) {
        impl->info.n_params += static_cast<uint64_t>(t.n_elements());
        impl->info.weight_bytes += t.nbytes;
        if (t.packed != nullptr) impl->info.packed_bytes += t.nbytes;
    }
    if (tok::has_tokenizer(impl->meta)) {  // tokenizer.ggml.model present and not "none"/"no_vocab"
        result<tokenizer> vocab = tok::make_tokenizer(impl->meta);
        if (!vocab) return status(vocab.error().code(), where + ": " + vocab.error().message());
        // As llama.cpp: token_embd has one row per token. Otherwise encode() could give ids eval() refuses, or
        // sampling ids the tokenizer cannot print.
        if (vocab->n_vocab() != impl->info.n_vocab)
            return status(errc::shape_mismatch, where + ": the tokenizer has " + std::to_string(vocab->n_vocab()) +
                                                    " tokens but token_embd.weight has " +
                                                    std::to_string(impl->info.n_vocab) + " rows");
        impl->tok.reset(new tokenizer(std::move(*vocab)));
    }
    if (impl->meta.find("tokenizer.chat_template")) {
        result<std::string> tmpl = impl->meta.get_string("tokenizer.chat_template");
        if (!tmpl) return status(tmpl.error().code(), where + ": " + tmpl.error().message());
        impl->info.chat_template = std::move(*tmpl);
    }
    // general.name is informational: a name of another type is ignored rather than refused.
    if (const gguf::value* name = impl->meta.find("general.name"); name && name->type == gguf::value_type::string)
        impl->info.name = name->str;
    if (!report(1.0f)) return status(errc::aborted, "loading " + where + " was cancelled");
    return impl;
}
}  // namespace

result<model> model::load(const std::string& path, const model_params& params) {
    try {
        result<mapped_file> f = mapped_file::open(path);
        if (!f) return f.error();
        result<impl_ptr> impl = finish_load(std::move(*f), params, "'" + path + "'");
        if (!impl) return impl.error();
        return model(std::move(*impl));
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory loading '" + path + "'");
    } catch (const std::exception& e) {
        return status(errc::internal, std::string("unexpected exception loading '" + path + "': ") + e.what());
    }
}

result<model> model::load_from_memory(const void* data, size_t size, const model_params& params) {
    if (!data || size == 0) return status(errc::invalid_argument, "model buffer is empty");
    try {
        result<impl_ptr> impl = finish_load(mapped_file::borrow(data, size), params, "model buffer");
        if (!impl) return impl.error();
        return model(std::move(*impl));
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory loading a model buffer");
    } catch (const std::exception& e) {
        return status(errc::internal, std::string("unexpected exception loading a model buffer: ") + e.what());
    }
}

result<model> model::load_from_reader(uint64_t size, const read_fn& read, const model_params& params) {
    if (!read || size == 0) return status(errc::invalid_argument, "model reader has no read function or size 0");
    if (size > static_cast<uint64_t>(SIZE_MAX / 2))
        return status(errc::out_of_memory, "model of " + std::to_string(size) + " bytes does not fit in memory");
    try {
        const auto n = static_cast<size_t>(size);
        owned_ptr bytes(static_cast<uint8_t*>(::operator new(n, std::align_val_t(64), std::nothrow)));
        if (!bytes) return status(errc::out_of_memory, "cannot allocate " + std::to_string(n) + " bytes for the model");
        // Reading takes the first half of the progress range; parsing and binding the second.
        constexpr size_t piece = size_t(4) << 20;
        for (size_t done = 0; done < n;) {
            if (params.progress && !params.progress(0.5f * static_cast<float>(done) / static_cast<float>(n)))
                return status(errc::aborted, "loading the model from a reader was cancelled");
            const size_t len = std::min(piece, n - done);
            status st = read(done, bytes.get() + done, len);
            if (!st.ok())
                return status(st.code(), "reading model bytes " + std::to_string(done) + ".." +
                                             std::to_string(done + len) + ": " + st.message());
            done += len;
        }
        model_params half = params;
        if (params.progress) half.progress = [&params](float p) { return params.progress(0.5f + 0.5f * p); };
        mapped_file view = mapped_file::borrow(bytes.get(), n);
        result<impl_ptr> impl = finish_load(std::move(view), half, "model reader", std::move(bytes));
        if (!impl) return impl.error();
        return model(std::move(*impl));
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory loading a model from a reader");
    } catch (const std::exception& e) {
        return status(errc::internal, std::string("unexpected exception loading a model from a reader: ") + e.what());
    }
}

model::model(std::shared_ptr<const detail::model_impl> impl) : impl_(std::move(impl)) {}
model::model(model&&) noexcept = default;
model& model::operator=(model&&) noexcept = default;
model::~model() = default;

const model_info& model::info() const noexcept { return impl_->info; }
const tokenizer* model::tokenizer() const noexcept { return impl_->tok.get(); }

MOE_END_NAMESPACE
