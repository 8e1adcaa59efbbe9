// model_impl.hpp — what a loaded model holds: the mapped bytes, the parsed GGUF and the architecture builder.
// Created by model::load (src/model/model.cpp); shared read-only by every session (src/model/session.cpp).
#pragma once

#include "arch/arch.hpp"
#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"

#include <moe/tokenizer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <new>

MOE_BEGIN_NAMESPACE
namespace detail {

// Model bytes the model owns (load_from_reader): 64-byte aligned, like the SIMD kernels prefer.
struct owned_bytes {
    void operator()(uint8_t* p) const noexcept { ::operator delete(p, std::align_val_t(64)); }
};

struct model_impl {
    std::unique_ptr<uint8_t, owned_bytes> owned;  // set by load_from_reader; `file` borrows it
    // Aligned copies of the tensors whose bytes lie at addresses the kernels cannot read directly (a file with a
    // small general.alignment, or a caller's buffer at an odd address); meta's tensor infos point into it.
    std::unique_ptr<uint8_t, owned_bytes> relocated;
    // The CPU kernels' copies of weights in their own layouts (pack_weights); meta's tensor infos point into it.
    anonymous_memory packed;
    mapped_file file;
    gguf::file meta;
    std::unique_ptr<architecture> arch;
    model_info info;  // the architecture's info plus file-level metadata (chat template)
    std::unique_ptr<moe::tokenizer> tok;  // null when the file has no tokenizer metadata
};

// Repacks the tensors the CPU kernels prefer in another layout (backends/cpu/weight_packing.hpp) into impl.packed
// and releases the mapped originals' pages. Reports progress from `from` to `to`; aborted when report says stop.
// Packing is an optimisation: too little memory leaves the weights as they are (not an error).
status pack_weights(model_impl& impl, const std::function<bool(float)>& report, float from, float to);

}  // namespace detail
MOE_END_NAMESPACE
