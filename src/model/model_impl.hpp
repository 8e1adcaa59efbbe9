// model_impl.hpp — what a loaded model holds: the mapped bytes, the parsed GGUF and the architecture builder.
// Created by model::load (src/model/model.cpp); shared read-only by every session (src/model/session.cpp).
#pragma once

#include "arch/arch.hpp"
#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"

#include <moe/tokenizer.hpp>

#include <memory>

MOE_BEGIN_NAMESPACE
namespace detail {

struct model_impl {
    mapped_file file;
    gguf::file meta;
    std::unique_ptr<architecture> arch;
    model_info info;  // the architecture's info plus file-level metadata (chat template)
    std::unique_ptr<moe::tokenizer> tok;  // null when the file has no tokenizer metadata
};

}  // namespace detail
MOE_END_NAMESPACE
