// session.hpp — one conversation with a model: its KV cache, its threads, its backend; evaluates token batches
// and exposes the logits. Many sessions may share one model. A session is used from one thread at a time.
#pragma once

#include <moe/config.hpp>
#include <moe/model.hpp>
#include <moe/status.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE

struct session_params {
    int64_t n_ctx = 0;           // KV cache length in tokens; 0: the model's training context, at most 4096
    int n_threads = 0;           // CPU threads; 0: one per hardware thread
    std::string backend = "auto";  // "auto", "cpu", or a backend module's name such as "cuda"
    // Where backend modules (libmoe-backend-*.so) are looked for; empty: $MOE_BACKEND_PATH (':'-separated), then
    // the library's install directory. "auto" uses the CPU until a GPU module is part of the build.
    std::vector<std::string> backend_dirs;
    int64_t max_batch = 512;     // longer batches are evaluated in chunks of this many tokens
};

enum class logits_mode {
    last,  // logits of the batch's last token only (generation)
    all,   // logits of every token of the batch (scoring, perplexity, comparison with other engines)
};

namespace detail { struct session_impl; }

class MOE_API session {
public:
    // Errors: invalid_argument (bad params), backend_unavailable (e.g. "cuda" without a GPU), out_of_memory.
    static result<session> create(const model& m, const session_params& params = {});

    // Appends tokens to the context and runs the model over them. Errors: invalid_argument (empty batch, token id
    // outside the vocabulary), context_full (n_past + n > n_ctx; nothing is evaluated then).
    status eval(const int32_t* tokens, size_t n, logits_mode mode = logits_mode::last);

    // Logits (n_vocab floats) of token i of the last batch; i = -1 means its last token. nullptr when that
    // position's logits were not computed (mode last) or i is out of range.
    const float* logits(int64_t i = -1) const noexcept;
    // Index of the largest logit of token i of the last batch (greedy decoding), -1 if unavailable.
    int32_t argmax(int64_t i = -1) const noexcept;

    int64_t n_past() const noexcept;   // tokens in the KV cache
    int64_t n_ctx() const noexcept;
    int64_t n_vocab() const noexcept;
    const char* backend_name() const noexcept;
    void clear() noexcept;  // empties the KV cache

    session(session&&) noexcept;
    session& operator=(session&&) noexcept;
    ~session();

private:
    explicit session(std::unique_ptr<detail::session_impl> impl);
    std::unique_ptr<detail::session_impl> impl_;
};

MOE_END_NAMESPACE
