// session.hpp — one conversation with a model: its KV cache, its threads, its backend; evaluates token batches
// and exposes the logits. Many sessions may share one model. A session is used from one thread at a time.
#pragma once

#include <moe/config.hpp>
#include <moe/dtype.hpp>
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
    // the library's install directory. "auto" runs on the CPU; it picks the CUDA module when one is found with a
    // device and the environment has MOE_AUTO_CUDA=1 (until its kernels are validated on a GPU); backend_note() says.
    std::vector<std::string> backend_dirs;
    int64_t max_batch = 512;     // longer batches are evaluated in chunks of this many tokens
    // Bytes this session may allocate for its KV cache and compute buffers (the model's weights are not counted).
    // 0: the machine's physical memory. Going over fails with out_of_memory and a message naming the sizes,
    // before anything is allocated: at create() for the KV cache, at eval() for a batch shape's buffers.
    uint64_t max_memory = 0;
    // Sequences the session holds at once (1 .. 4096), each with its own n_ctx rows of KV cache (n_seq times the
    // memory) and its own n_past; eval_batch() evaluates tokens of several of them in one forward pass. The
    // single-sequence calls (eval, n_past, truncate, save_state, ...) work on sequence 0.
    int n_seq = 1;
    // The KV cache's element type: dtype::f32 (default; the reference arithmetic, comparable bit for bit with
    // llama.cpp's f32 cache) or dtype::f16 (half the memory, llama.cpp's default cache type: keys and values are
    // rounded to nearest binary16 when stored and widened back to f32 for the arithmetic). Others: invalid_argument.
    dtype kv_type = dtype::f32;
};

enum class logits_mode {
    last,  // logits of the batch's last token only (generation)
    all,   // logits of every token of the batch (scoring, perplexity, comparison with other engines)
};

namespace detail { struct session_impl; }

// A backend a session can use, as list_backends() reports it.
struct backend_listing {
    std::string name;         // what session_params::backend takes: "cpu", "cuda", ...
    std::string description;  // one line about the backend
    std::string path;         // module file; empty for the built-in CPU backend
    bool available = false;   // false: session::create with this name fails with backend_unavailable
    std::string device;       // the device summary when available, why it is not otherwise
};

// The built-in CPU backend and every module found in `backend_dirs` (empty: the directories session_params
// describes). Errors: out_of_memory.
MOE_API result<std::vector<backend_listing>> list_backends(const std::vector<std::string>& backend_dirs = {});

class MOE_API session {
public:
    // Errors: invalid_argument (bad params), backend_unavailable (e.g. "cuda" without a GPU), out_of_memory (also
    // when the KV cache alone exceeds max_memory).
    static result<session> create(const model& m, const session_params& params = {});

    // Appends tokens to the context and runs the model over them. Errors: invalid_argument (empty batch, token id
    // outside the vocabulary), context_full (n_past + n > n_ctx; nothing is evaluated then), out_of_memory. After
    // any error n_past() is what it was before the call.
    status eval(const int32_t* tokens, size_t n, logits_mode mode = logits_mode::last);

    // Several sequences in one forward pass (continuous batching): token i belongs to sequence seq_ids[i] and goes
    // at that sequence's n_past (which advances by one per token). A batch may mix sequences freely, e.g. one
    // sequence's prompt with other sequences' next tokens; sequences join (start at n_past 0, or after clear_seq)
    // and leave (clear_seq) between calls. Logits: mode last computes those of each sequence's last token in the
    // batch, mode all those of every token; read them with logits(i) / argmax(i) by batch index i. Errors:
    // invalid_argument (empty batch, null pointers, a sequence id outside 0 .. n_seq() - 1, a token outside the
    // vocabulary), context_full (some sequence's n_past + its tokens > n_ctx; nothing is evaluated then),
    // out_of_memory. After any error every n_past(seq) is what it was before the call.
    status eval_batch(const int32_t* tokens, const int32_t* seq_ids, size_t n, logits_mode mode = logits_mode::last);

    // Logits (n_vocab floats) of token i of the last batch; i = -1 means its last token. nullptr when that
    // position's logits were not computed (mode last) or i is out of range.
    const float* logits(int64_t i = -1) const noexcept;
    // Index of the largest logit of token i of the last batch (greedy decoding), -1 if unavailable.
    int32_t argmax(int64_t i = -1) const noexcept;

    int64_t n_past() const noexcept;   // tokens in the KV cache (of sequence 0)
    int64_t n_ctx() const noexcept;    // KV cache length of each sequence
    int64_t n_vocab() const noexcept;
    const char* backend_name() const noexcept;
    // How the backend was chosen, e.g. "auto: CUDA backend unavailable (no CUDA device); running on the CPU".
    const char* backend_note() const noexcept;
    void clear() noexcept;  // empties the KV cache of every sequence

    int n_seq() const noexcept;                  // session_params::n_seq
    int64_t n_past(int seq) const noexcept;      // tokens in sequence seq's KV cache; 0 for a bad id
    // Empties one sequence (it left; its slot can take a new one). The last batch's logits of its tokens are
    // forgotten, other sequences' stay readable. Errors: invalid_argument (seq outside 0 .. n_seq() - 1).
    status clear_seq(int seq);
    // truncate() for one sequence, forgetting only its logits. Errors: invalid_argument (bad seq, n < 0 or
    // n > n_past(seq)).
    status truncate(int seq, int64_t n);

    // Keeps the first n tokens of the KV cache and forgets the rest (rewinding a conversation, dropping a rejected
    // draft). The last batch's logits are forgotten too: eval the next token to get new ones. Errors:
    // invalid_argument (n < 0 or n > n_past()).
    status truncate(int64_t n);

    // The KV cache (n_past() rows of every layer) plus the last token's logits, as a byte blob that load_state()
    // of a session on the same model (any n_ctx >= n_past) restores; f32 in host byte order, so restore it on the
    // same kind of machine. state_size() is the exact size save_state() writes now. Errors: invalid_argument
    // (capacity < state_size()). With several sequences this is sequence 0 only (and the last batch's logits when
    // its last token is of sequence 0); load_state() empties the other sequences.
    size_t state_size() const noexcept;
    result<size_t> save_state(void* dst, size_t capacity) const;
    // Errors: bad_format (not a state blob, or truncated), shape_mismatch (saved from a model with another shape),
    // context_full (more tokens than this session's n_ctx). On error the session is left empty (n_past() == 0).
    status load_state(const void* src, size_t size);

    session(session&&) noexcept;
    session& operator=(session&&) noexcept;
    ~session();

private:
    explicit session(std::unique_ptr<detail::session_impl> impl);
    std::unique_ptr<detail::session_impl> impl_;
};

MOE_END_NAMESPACE
