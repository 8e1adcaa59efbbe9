/* moe.h — the C99 API of moe: load a GGUF MoE model, open sessions, tokenize, evaluate, sample, generate (also on a
 * worker thread), save and restore the KV cache. Implemented by the files in src/capi on top of the C++ API (moe.hpp).
 *
 * Usage (error handling shortened; every fallible call returns a moe_status, moe_last_error() says why):
 *
 *   moe_model* model; moe_session* s; moe_sampler* smp;
 *   if (moe_model_load("model.gguf", NULL, &model) != MOE_OK) { puts(moe_last_error()); return 1; }
 *   moe_session_params sp = moe_session_default_params();   sp.n_ctx = 2048;
 *   moe_session_create(model, &sp, &s);
 *   moe_sampler_params pp = moe_sampler_default_params();   pp.seed = 42;
 *   moe_sampler_create(&pp, &smp);
 *   moe_generate_params gp = moe_generate_default_params();
 *   gp.prompt_text = "ROMEO:";  gp.max_tokens = 100;
 *   gp.on_token = print_piece;  // bool print_piece(int32_t id, const char* text, size_t len, void* user)
 *   moe_session_generate(s, smp, &gp, NULL);                // or moe_async_start() to run it on a worker thread
 *   moe_sampler_free(smp); moe_session_free(s); moe_model_free(model);
 *
 * Thread safety:
 *   - A moe_model is read-only once loaded: any number of threads and sessions may use it at once.
 *   - A moe_session and a moe_sampler are used by one thread at a time (a call that finds one in use by a running
 *     generation returns MOE_ERR_BUSY). While a moe_async runs on them, use only moe_async_* and
 *     moe_session_cancel() until it has finished. Different sessions may run on different threads at once.
 *   - moe_last_error() is per thread. moe_log_set() and the backend list may be called from any thread.
 *   - Callbacks run on the thread doing the work: the caller's thread for synchronous calls, the worker thread for
 *     moe_async (unless the generation asks for MOE_ASYNC_CALLBACKS_ON_DISPATCH, then in moe_async_dispatch()).
 *   - No C++ exception, abort() or exit() crosses this API; a callback must not longjmp out of the library.
 *
 * Sizes: text lengths are in bytes (UTF-8). Calls that fill a caller's buffer write a terminating NUL, report the
 * length without it, and return MOE_ERR_BUFFER_TOO_SMALL (with the needed length) when it does not fit.
 * Structs with a struct_size field come from their *_default_params() / get the caller's sizeof: a size the library
 * does not know is refused with MOE_ERR_ABI_MISMATCH. */
#ifndef MOE_H
#define MOE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(MOE_SHARED)
#if defined(MOE_BUILD)
#define MOE_CAPI __declspec(dllexport)
#else
#define MOE_CAPI __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define MOE_CAPI __attribute__((visibility("default")))
#else
#define MOE_CAPI
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version, ABI, errors ------------------------------------------------------------------------------------ */

#define MOE_C_VERSION_MAJOR 0
#define MOE_C_VERSION_MINOR 1
#define MOE_C_VERSION_PATCH 0
/* Bumped whenever a function signature or a struct layout of this header changes incompatibly. */
#define MOE_C_ABI_VERSION 1

typedef enum moe_status {
    MOE_OK = 0,
    MOE_ERR_INVALID_ARGUMENT = 1,    /* a null handle, an out-of-range value, a bad name */
    MOE_ERR_IO = 2,                  /* a file could not be opened, read or mapped; a read callback failed */
    MOE_ERR_BAD_FORMAT = 3,          /* not a valid GGUF file (or KV cache state) */
    MOE_ERR_UNSUPPORTED = 4,         /* valid, but not implemented (architecture, tensor type, template) */
    MOE_ERR_SHAPE_MISMATCH = 5,      /* a tensor or a saved state has the wrong shape */
    MOE_ERR_OUT_OF_MEMORY = 6,
    MOE_ERR_CONTEXT_FULL = 7,        /* no room left in the session's KV cache */
    MOE_ERR_BACKEND_UNAVAILABLE = 8, /* the requested backend is missing or has no device */
    MOE_ERR_ABORTED = 9,             /* a progress callback or moe_*_cancel() stopped the call */
    MOE_ERR_INTERNAL = 10,           /* a bug in moe */
    MOE_ERR_ABI_MISMATCH = 11,       /* a struct_size or ABI version this library does not know */
    MOE_ERR_BUFFER_TOO_SMALL = 12,   /* the caller's buffer is too small; the needed size was reported */
    MOE_ERR_BUSY = 13                /* the session is running an async generation, or it has not finished */
} moe_status;

/* Version of the library actually loaded, e.g. "0.1.0", and MAJOR * 10000 + MINOR * 100 + PATCH. Never fail. */
MOE_CAPI const char* moe_version_string(void);
MOE_CAPI uint32_t moe_version(void);
/* MOE_OK when the library implements `abi_version` (pass MOE_C_ABI_VERSION), else MOE_ERR_ABI_MISMATCH. */
MOE_CAPI moe_status moe_check_abi(uint32_t abi_version);
/* The message of the last call on this thread that failed (successful calls leave it); "" before any failure.
 * Valid until the next failing call on this thread. Never NULL. */
MOE_CAPI const char* moe_last_error(void);
/* "ok", "invalid argument", ... Never NULL. */
MOE_CAPI const char* moe_status_name(moe_status status);

/* ---- logging ------------------------------------------------------------------------------------------------- */

typedef enum moe_log_level { MOE_LOG_DEBUG = 0, MOE_LOG_INFO = 1, MOE_LOG_WARN = 2, MOE_LOG_ERROR = 3 } moe_log_level;
typedef void (*moe_log_fn)(moe_log_level level, const char* message, void* user);
/* Process-wide. NULL (the default) logs nothing. Messages at `min_level` and above reach `fn`, on whichever thread
 * produced them (worker threads included), one at a time. Failed calls are logged at MOE_LOG_DEBUG. */
MOE_CAPI void moe_log_set(moe_log_fn fn, void* user, moe_log_level min_level);

/* ---- backends ------------------------------------------------------------------------------------------------ */

typedef struct moe_backend_list moe_backend_list;
typedef struct moe_backend_info {
    size_t struct_size;      /* set to sizeof(moe_backend_info) before calling moe_backend_list_get */
    const char* name;        /* what moe_session_params.backend takes: "cpu", "cuda", ... */
    const char* description;
    const char* path;        /* module file; "" for the built-in CPU backend */
    const char* device;      /* device summary when available, the reason when not */
    bool available;
} moe_backend_info;

/* The built-in CPU backend plus every backend module (libmoe-backend-*.so) found in $MOE_BACKEND_PATH and the
 * install directory. Errors: INVALID_ARGUMENT (out is NULL), OUT_OF_MEMORY. */
MOE_CAPI moe_status moe_backend_list_create(moe_backend_list** out);
MOE_CAPI size_t moe_backend_list_count(const moe_backend_list* list); /* 0 for NULL */
/* Strings stay valid until moe_backend_list_free. Errors: INVALID_ARGUMENT (NULL, index out of range),
 * ABI_MISMATCH (info->struct_size). */
MOE_CAPI moe_status moe_backend_list_get(const moe_backend_list* list, size_t index, moe_backend_info* info);
MOE_CAPI void moe_backend_list_free(moe_backend_list* list); /* NULL is fine */

/* ---- models -------------------------------------------------------------------------------------------------- */

typedef struct moe_model moe_model;

/* Progress in [0, 1] while loading; return false to cancel (the load then fails with MOE_ERR_ABORTED). */
typedef bool (*moe_progress_fn)(float progress, void* user);

typedef struct moe_model_params {
    size_t struct_size; /* sizeof(moe_model_params), set by moe_model_default_params */
    moe_progress_fn progress;
    void* progress_user;
    /* Caps on what a file's metadata may make the loader allocate (defaults fit every real model; going over one
     * fails the load with BAD_FORMAT or OUT_OF_MEMORY): key/value pairs, tensor infos, bytes of one string,
     * elements of one array (the vocabulary), and the memory of all parsed metadata. 0 means the default. */
    uint64_t max_kv, max_tensors, max_string_bytes, max_array_elements, max_metadata_bytes;
    /* 1 (default): the CPU kernels keep their own copy of the weights they read faster in another layout (q4_0,
     * q8_0, f16 and bf16 matrices; same results bit for bit, more tokens/s). A file that fits in half the memory is
     * repacked at load and its original pages are handed back to the OS; a model in memory or read through
     * callbacks gets the copy on top. 0: the kernels read the file's bytes in place. */
    int32_t pack_weights;
} moe_model_params;

MOE_CAPI moe_model_params moe_model_default_params(void);

/* Maps the file and validates it completely (structure, architecture, every tensor, tokenizer). params may be NULL.
 * Errors: INVALID_ARGUMENT (NULL path or out), ABI_MISMATCH, IO, BAD_FORMAT, UNSUPPORTED, SHAPE_MISMATCH, ABORTED,
 * OUT_OF_MEMORY. *out is NULL on failure. */
MOE_CAPI moe_status moe_model_load(const char* path, const moe_model_params* params, moe_model** out);
/* Same, from GGUF bytes in memory. Nothing is copied: the bytes must stay valid and unchanged until the model and
 * every session on it are freed. Errors: as moe_model_load (INVALID_ARGUMENT for NULL data or size 0). */
MOE_CAPI moe_status moe_model_load_from_memory(const void* data, size_t size, const moe_model_params* params,
                                               moe_model** out);

/* Reads `n` bytes at `offset` into `dst`; returns true on success. Called in order, from the loading thread. */
typedef bool (*moe_read_fn)(void* user, uint64_t offset, void* dst, size_t n);
typedef struct moe_model_reader {
    size_t struct_size; /* sizeof(moe_model_reader) */
    uint64_t size;      /* total bytes of the GGUF file */
    moe_read_fn read;
    void* user;
} moe_model_reader;
/* Same, reading the file through `reader` into memory the model owns (reading is the first half of the progress).
 * Errors: as moe_model_load; IO when read returns false. */
MOE_CAPI moe_status moe_model_load_from_reader(const moe_model_reader* reader, const moe_model_params* params,
                                               moe_model** out);

/* Frees the handle. Sessions on the model keep its weights alive until they are freed. NULL is fine. */
MOE_CAPI void moe_model_free(moe_model* model);

typedef struct moe_model_info {
    size_t struct_size;        /* set to sizeof(moe_model_info) before calling moe_model_get_info */
    const char* architecture;  /* general.architecture: "llama", "qwen3moe", "deepseek2", ... */
    const char* name;          /* general.name, "" when absent */
    const char* chat_template; /* tokenizer.chat_template (Jinja source), "" when absent */
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim;
    int64_t n_expert;          /* 0 for dense models */
    int64_t n_expert_used;
    int64_t n_ctx_train;       /* training context length */
    uint64_t n_params;         /* weights in the file */
    uint64_t weight_bytes;     /* bytes of tensor data */
    bool has_tokenizer;
} moe_model_info;
/* Strings stay valid while the model handle lives. Errors: INVALID_ARGUMENT (NULL), ABI_MISMATCH. */
MOE_CAPI moe_status moe_model_get_info(const moe_model* model, moe_model_info* info);

/* ---- model metadata (any GGUF key) --------------------------------------------------------------------------- */

/* The file's GGUF metadata, e.g. "general.name", "tokenizer.chat_template", "<arch>.context_length". Values are
 * rendered as text: integers in decimal, floats in the shortest form that reads back the same ("0.0001", "1e-06"),
 * booleans "true" / "false", strings as stored, arrays as "[array of N <type>]" (type: u8, i32, f32, string, ...).
 * Buffers follow the rule above: NUL-terminated, *n_bytes gets the length without the NUL (also with
 * BUFFER_TOO_SMALL, where nothing is written); a NULL buffer with capacity 0 asks for the length. */

/* Number of key/value pairs; 0 for NULL. Keys are in file order, index 0 to count - 1. */
MOE_CAPI size_t moe_model_meta_count(const moe_model* model);
/* The key at `index`. Returns MOE_OK; MOE_ERR_INVALID_ARGUMENT (NULL model or n_bytes, index >= count);
 * MOE_ERR_BUFFER_TOO_SMALL (capacity < *n_bytes + 1). */
MOE_CAPI moe_status moe_model_meta_key(const moe_model* model, size_t index, char* key, size_t capacity,
                                       size_t* n_bytes);
/* The value of `key` (NUL-terminated) as text. Returns MOE_OK; MOE_ERR_INVALID_ARGUMENT (NULL model, key or
 * n_bytes; no such key: *n_bytes is 0 and moe_last_error() names the key); MOE_ERR_BUFFER_TOO_SMALL;
 * MOE_ERR_OUT_OF_MEMORY. */
MOE_CAPI moe_status moe_model_meta_str(const moe_model* model, const char* key, char* value, size_t capacity,
                                       size_t* n_bytes);
/* The value of the pair at `index`, as moe_model_meta_str. Returns MOE_OK; MOE_ERR_INVALID_ARGUMENT (NULL model or
 * n_bytes, index >= count); MOE_ERR_BUFFER_TOO_SMALL; MOE_ERR_OUT_OF_MEMORY. */
MOE_CAPI moe_status moe_model_meta_str_at(const moe_model* model, size_t index, char* value, size_t capacity,
                                          size_t* n_bytes);

/* ---- tokenizer ----------------------------------------------------------------------------------------------- */

/* Special tokens; -1 when the model has none (or no tokenizer, or model is NULL). */
MOE_CAPI int32_t moe_token_bos(const moe_model* model);
MOE_CAPI int32_t moe_token_eos(const moe_model* model);
MOE_CAPI int32_t moe_token_eot(const moe_model* model);
/* True for tokens that end generation (EOS, EOT, EOM, ...). False for NULL / no tokenizer. */
MOE_CAPI bool moe_token_is_eog(const moe_model* model, int32_t token);

/* Text (text_len bytes; text need not be NUL-terminated) -> ids, as llama_tokenize: add_special adds BOS/EOS as the
 * vocab asks, parse_special turns "<|im_start|>"-like text into control tokens. tokens may be NULL when capacity is
 * 0. *n_tokens gets the count, also with BUFFER_TOO_SMALL. Errors: INVALID_ARGUMENT (NULL model / n_tokens, text NULL
 * with text_len > 0), UNSUPPORTED (the model has no tokenizer), BUFFER_TOO_SMALL. */
MOE_CAPI moe_status moe_tokenize(const moe_model* model, const char* text, size_t text_len, bool add_special,
                                 bool parse_special, int32_t* tokens, size_t capacity, size_t* n_tokens);
/* Ids -> text as llama_detokenize (raw bytes, may be invalid UTF-8 when cut mid-character). special: write control
 * tokens' text. Errors: INVALID_ARGUMENT (NULL model / n_bytes, tokens NULL with n > 0, an id out of range),
 * UNSUPPORTED (no tokenizer), BUFFER_TOO_SMALL (needs *n_bytes + 1). */
MOE_CAPI moe_status moe_detokenize(const moe_model* model, const int32_t* tokens, size_t n, bool special, char* text,
                                   size_t capacity, size_t* n_bytes);
/* One token's bytes (may be part of a UTF-8 character). Errors: as moe_detokenize. */
MOE_CAPI moe_status moe_token_to_piece(const moe_model* model, int32_t token, bool special, char* text,
                                       size_t capacity, size_t* n_bytes);

/* ---- chat templates ------------------------------------------------------------------------------------------ */

typedef struct moe_chat_message {
    const char* role;    /* "system", "user", "assistant" */
    const char* content;
} moe_chat_message;

/* The conversation as the prompt text the model was trained on, ending with the assistant's turn opening when
 * add_assistant_prompt. template_name: NULL to use the model's own template (recognised from its chat_template),
 * or a family name ("chatml", "llama3", "qwen3", "mistral-v3", "deepseek3", "gpt-oss", ...; model may then be NULL).
 * The text may begin with the BOS text: tokenize it with parse_special and without add_special.
 * Errors: INVALID_ARGUMENT (NULL model and name, NULL messages with n > 0, a role the template refuses, unknown
 * name), UNSUPPORTED (the model has no or an unrecognised template), BUFFER_TOO_SMALL. */
MOE_CAPI moe_status moe_chat_format(const moe_model* model, const char* template_name,
                                    const moe_chat_message* messages, size_t n_messages, bool add_assistant_prompt,
                                    char* text, size_t capacity, size_t* n_bytes);
/* The family name moe_chat_format would use for the model ("chatml", ...); the string is static.
 * Errors: INVALID_ARGUMENT (NULL), UNSUPPORTED (no or unrecognised template). */
MOE_CAPI moe_status moe_chat_template_name(const moe_model* model, const char** name);

/* ---- sessions ------------------------------------------------------------------------------------------------ */

typedef struct moe_session moe_session;

typedef struct moe_session_params {
    size_t struct_size;  /* sizeof(moe_session_params), set by moe_session_default_params */
    int64_t n_ctx;       /* KV cache length in tokens; 0: the training context, at most 4096 */
    int32_t n_threads;   /* CPU threads; 0: one per hardware thread */
    const char* backend; /* "auto" (default), "cpu", or a module's name such as "cuda"; NULL means "auto" */
    int64_t max_batch;   /* longer batches are evaluated in chunks of this many tokens (default 512) */
    uint64_t max_memory; /* bytes for the KV cache and compute buffers (weights not counted); 0: the physical
                            memory. Over it, create (KV cache) or eval (a new batch size) fails with OUT_OF_MEMORY */
    int32_t n_seq;       /* sequences held at once, 1 .. 4096 (default 1), each with its own n_ctx tokens of KV cache
                            (n_seq times the memory): see moe_session_eval_batch. The other calls use sequence 0 */
    int32_t kv_type;     /* a moe_kv_type: MOE_KV_F32 (default) or MOE_KV_F16 */
} moe_session_params;

/* The KV cache's element type. F32: the reference arithmetic. F16: half the memory (llama.cpp's default cache
 * type); keys and values are rounded to binary16 when stored and widened to f32 for the arithmetic. A state saved
 * with moe_session_state_save restores only into a session with the same kv_type. */
typedef enum moe_kv_type { MOE_KV_F32 = 0, MOE_KV_F16 = 1 } moe_kv_type;

MOE_CAPI moe_session_params moe_session_default_params(void);
/* A conversation on `model` with its own KV cache and threads; many sessions may share one model.
 * Errors: INVALID_ARGUMENT (NULL, negative n_ctx, max_batch < 1, n_seq outside 1 .. 4096, unknown kv_type or backend),
 * ABI_MISMATCH, BACKEND_UNAVAILABLE, OUT_OF_MEMORY. */
MOE_CAPI moe_status moe_session_create(const moe_model* model, const moe_session_params* params, moe_session** out);
/* NULL is fine. A session with a running moe_async must not be freed before the moe_async. */
MOE_CAPI void moe_session_free(moe_session* session);

MOE_CAPI int64_t moe_session_n_ctx(const moe_session* session);   /* 0 for NULL */
MOE_CAPI int64_t moe_session_n_past(const moe_session* session);  /* tokens in the KV cache; 0 for NULL */
MOE_CAPI int64_t moe_session_n_vocab(const moe_session* session); /* 0 for NULL */
MOE_CAPI const char* moe_session_backend(const moe_session* session); /* "cpu", ...; "" for NULL */
/* How the backend was chosen: with "auto", whether CUDA is used and why not ("auto: CUDA backend unavailable (no CUDA
 * device); running on the CPU"). Valid while the session lives; "" for NULL. */
MOE_CAPI const char* moe_session_backend_note(const moe_session* session);

/* Appends tokens to the context and runs the model over them. all_logits: keep every token's logits (scoring);
 * otherwise only the last token's. Errors: INVALID_ARGUMENT (NULL, n == 0, an id outside the vocabulary),
 * CONTEXT_FULL (nothing is evaluated then), BUSY (an async generation runs on the session), OUT_OF_MEMORY. */
MOE_CAPI moe_status moe_session_eval(moe_session* session, const int32_t* tokens, size_t n, bool all_logits);
/* n_vocab logits of token `i` of the last batch (-1: its last token); valid until the next call that changes the
 * session. Errors: INVALID_ARGUMENT (NULL, no logits for that position: not computed or out of range), BUSY. */
MOE_CAPI moe_status moe_session_logits(const moe_session* session, int64_t i, const float** logits);
/* The largest logit's token at position i (-1: last). Errors: as moe_session_logits. */
MOE_CAPI moe_status moe_session_argmax(const moe_session* session, int64_t i, int32_t* token);

/* KV cache. clear: empty it. truncate: keep the first n_keep tokens (logits are then gone until the next eval).
 * Errors: INVALID_ARGUMENT (NULL, n_keep < 0 or > n_past), BUSY. */
MOE_CAPI moe_status moe_session_clear(moe_session* session);
MOE_CAPI moe_status moe_session_truncate(moe_session* session, int64_t n_keep);

/* ---- several sequences in one forward pass (continuous batching) ----
 * A session created with n_seq > 1 holds that many sequences, each with its own KV cache and n_past. With
 * moe_session_clear / _truncate / _n_past / _eval / _state_* working on sequence 0 (clear empties all; state load
 * empties the others). */
MOE_CAPI int32_t moe_session_n_seq(const moe_session* session);                  /* 1 or more; 0 for NULL */
MOE_CAPI int64_t moe_session_n_past_seq(const moe_session* session, int32_t seq); /* 0 for NULL or a bad seq */
/* Evaluates n tokens of several sequences in one forward pass: token i goes to sequence seq_ids[i] at its n_past,
 * which advances (a batch may mix one sequence's prompt with other sequences' next tokens). Logits: all_logits
 * keeps every token's, otherwise those of each sequence's last token in the batch; read them with
 * moe_session_logits / _argmax by batch index i. Errors: INVALID_ARGUMENT (NULL, n == 0, a sequence id outside
 * 0 .. n_seq - 1, a token outside the vocabulary), CONTEXT_FULL (a sequence's n_past + its tokens > n_ctx; nothing
 * is evaluated then), BUSY, OUT_OF_MEMORY. After an error every sequence's n_past is unchanged. */
MOE_CAPI moe_status moe_session_eval_batch(moe_session* session, const int32_t* tokens, const int32_t* seq_ids,
                                           size_t n, bool all_logits);
/* One sequence leaves (clear_seq: its KV cache is emptied, the slot can take a new sequence) or rewinds
 * (truncate_seq: keeps its first n_keep tokens). Only that sequence's logits of the last batch are forgotten.
 * Errors: INVALID_ARGUMENT (NULL, seq outside 0 .. n_seq - 1, n_keep < 0 or > its n_past), BUSY. */
MOE_CAPI moe_status moe_session_clear_seq(moe_session* session, int32_t seq);
MOE_CAPI moe_status moe_session_truncate_seq(moe_session* session, int32_t seq, int64_t n_keep);
/* The KV cache and the last logits as bytes for moe_session_state_load on a session of the same model (with
 * n_ctx >= the saved n_past and the same kv_type; host byte order: restore on the same kind of machine). Size is
 * exact: *n_bytes gets it, also with BUFFER_TOO_SMALL; data may be NULL to ask.
 * Errors: INVALID_ARGUMENT (NULL session / n_bytes), BUFFER_TOO_SMALL, BUSY. */
MOE_CAPI moe_status moe_session_state_save(const moe_session* session, void* data, size_t capacity, size_t* n_bytes);
/* Errors: INVALID_ARGUMENT (NULL), BAD_FORMAT (not a state, wrong size), SHAPE_MISMATCH (another model or kv_type),
 * CONTEXT_FULL (does not fit this session's n_ctx), BUSY. On error the KV cache is left empty. */
MOE_CAPI moe_status moe_session_state_load(moe_session* session, const void* data, size_t size);

/* Asks the generation running on the session (moe_session_generate on another thread, or a moe_async) to stop at
 * the next token or prompt chunk; it then returns MOE_ERR_ABORTED. Safe from any thread. A request made while no
 * generation runs is dropped when the next one starts. Errors: INVALID_ARGUMENT (NULL). */
MOE_CAPI moe_status moe_session_cancel(moe_session* session);

/* ---- sampling ------------------------------------------------------------------------------------------------ */

typedef struct moe_sampler moe_sampler;

#define MOE_SEED_RANDOM UINT64_MAX
typedef struct moe_sampler_params {
    size_t struct_size;      /* sizeof(moe_sampler_params), set by moe_sampler_default_params */
    float temp;              /* >= 0; 0 = greedy. Default 0.8 */
    int32_t top_k;           /* 0 = off. Default 40 */
    float top_p;             /* (0, 1]; 1 = off. Default 0.95 */
    float min_p;             /* [0, 1]; 0 = off. Default 0.05 */
    float repeat_penalty;    /* > 0; 1 = off */
    float frequency_penalty; /* 0 = off */
    float presence_penalty;  /* 0 = off */
    int32_t penalty_last_n;  /* window of accepted tokens for the penalties; 0 = off. Default 64 */
    uint64_t seed;           /* MOE_SEED_RANDOM (default): drawn at creation, see moe_sampler_seed */
} moe_sampler_params;

MOE_CAPI moe_sampler_params moe_sampler_default_params(void);
/* The standard chain: penalties -> top-k -> top-p -> min-p -> temperature -> seeded draw (stages that are off are
 * left out). Errors: INVALID_ARGUMENT (NULL out, a value out of range or NaN), ABI_MISMATCH, OUT_OF_MEMORY. */
MOE_CAPI moe_status moe_sampler_create(const moe_sampler_params* params, moe_sampler** out);
/* An empty chain (a plain softmax draw) to add stages to, in the order they run. Errors: INVALID_ARGUMENT. */
MOE_CAPI moe_status moe_sampler_create_chain(uint64_t seed, moe_sampler** out);
/* Each adds one stage. Errors: INVALID_ARGUMENT (NULL sampler, a value out of the range in moe_sampler_params). */
MOE_CAPI moe_status moe_sampler_add_penalties(moe_sampler* s, int32_t last_n, float repeat, float frequency,
                                              float presence);
MOE_CAPI moe_status moe_sampler_add_top_k(moe_sampler* s, int32_t k);
MOE_CAPI moe_status moe_sampler_add_top_p(moe_sampler* s, float p, size_t min_keep);
MOE_CAPI moe_status moe_sampler_add_min_p(moe_sampler* s, float p, size_t min_keep);
MOE_CAPI moe_status moe_sampler_add_temperature(moe_sampler* s, float t);
MOE_CAPI moe_status moe_sampler_add_greedy(moe_sampler* s);
/* Draws a token from n_vocab logits (does not accept it). Errors: INVALID_ARGUMENT (NULL, n_vocab < 1, no finite
 * logit). */
MOE_CAPI moe_status moe_sampler_sample(moe_sampler* s, const float* logits, int64_t n_vocab, int32_t* token);
/* Records a token for the penalty window. Errors: INVALID_ARGUMENT (NULL). */
MOE_CAPI moe_status moe_sampler_accept(moe_sampler* s, int32_t token);
/* Samples from the session's last logits and accepts the token. Errors: as moe_sampler_sample, BUSY. */
MOE_CAPI moe_status moe_session_sample(moe_session* session, moe_sampler* s, int32_t* token);
MOE_CAPI void moe_sampler_reset(moe_sampler* s);      /* forget history, restart the draws from the seed */
MOE_CAPI uint64_t moe_sampler_seed(const moe_sampler* s); /* the seed in use; 0 for NULL */
MOE_CAPI void moe_sampler_free(moe_sampler* s);       /* NULL is fine */

/* ---- generation ---------------------------------------------------------------------------------------------- */

/* One generated token: its id and the text it completes (whole UTF-8 characters only; may be empty while a
 * character is incomplete; not NUL-terminated). Return false to stop the generation (it then ends with MOE_OK and
 * MOE_STOP_CALLBACK; the token is still evaluated). A last call with token -1 may carry bytes held back at the end
 * (an unfinished UTF-8 character, as U+FFFD); its return value is ignored. */
typedef bool (*moe_token_fn)(int32_t token, const char* text, size_t text_len, void* user);

typedef enum moe_stop_reason {
    MOE_STOP_NONE = 0,         /* still running (async) */
    MOE_STOP_MAX_TOKENS = 1,   /* max_tokens generated */
    MOE_STOP_EOG = 2,          /* the model produced an end-of-generation token (not evaluated, not reported) */
    MOE_STOP_CALLBACK = 3,     /* on_token returned false */
    MOE_STOP_CONTEXT_FULL = 4, /* the KV cache is full */
    MOE_STOP_CANCELLED = 5,    /* moe_session_cancel / moe_async_cancel (status MOE_ERR_ABORTED) */
    MOE_STOP_ERROR = 6         /* an error (the status says which) */
} moe_stop_reason;

/* Where an async generation's on_token callback runs. */
typedef enum moe_async_callbacks {
    MOE_ASYNC_CALLBACKS_ON_WORKER = 0,  /* on the worker thread, as each token is made (default) */
    MOE_ASYNC_CALLBACKS_ON_DISPATCH = 1 /* queued; run on the host thread inside moe_async_dispatch() */
} moe_async_callbacks;

typedef struct moe_generate_params {
    size_t struct_size;          /* sizeof(moe_generate_params), set by moe_generate_default_params */
    /* The prompt, appended to the session's context before generating: text (tokenized with parse_special, and
     * with add_special when the KV cache is empty), or ids. Neither: continue from the session's last logits. */
    const char* prompt_text;     /* NUL-terminated, copied by the call */
    const int32_t* prompt_tokens; /* copied by the call */
    size_t n_prompt_tokens;
    int32_t max_tokens;          /* tokens to generate at most; < 0: until end-of-generation or a full context */
    bool stop_at_eog;            /* stop at an end-of-generation token (default true) */
    moe_token_fn on_token;       /* may be NULL */
    void* user;                  /* passed to on_token */
    moe_async_callbacks async_callbacks; /* moe_async only */
} moe_generate_params;

typedef struct moe_generate_result {
    size_t struct_size;        /* set to sizeof(moe_generate_result) before the call */
    int64_t n_prompt;          /* prompt tokens evaluated */
    int64_t n_generated;       /* tokens reported to on_token / the async queue */
    moe_stop_reason reason;
    double seconds;            /* wall time of the whole call */
} moe_generate_result;

MOE_CAPI moe_generate_params moe_generate_default_params(void);
/* Evaluates the prompt, then samples, accepts, reports and evaluates tokens until a stop condition. Each reported
 * reported token is evaluated into the KV cache (the end-of-generation token is not), so the session's logits
 * follow the last one and another call without a prompt continues the text. result may be NULL. A text prompt is
 * tokenized with special tokens parsed, adding BOS only when the KV cache is empty.
 * Errors: INVALID_ARGUMENT (NULL session / sampler / params, no prompt and no logits), ABI_MISMATCH, UNSUPPORTED
 * (text prompt on a model without a tokenizer), CONTEXT_FULL (the prompt does not fit), ABORTED
 * (moe_session_cancel), BUSY, and eval's errors. */
MOE_CAPI moe_status moe_session_generate(moe_session* session, moe_sampler* sampler, const moe_generate_params* params,
                                         moe_generate_result* result);

/* ---- async generation (game loops, UIs) ---------------------------------------------------------------------- */

typedef struct moe_async moe_async;

/* Starts moe_session_generate(session, sampler, params) on a worker thread and returns at once (the prompt is
 * copied). The session and sampler belong to the worker until it finishes (moe_async_finished, poll's done,
 * moe_async_wait, moe_async_free): other calls on them return MOE_ERR_BUSY meanwhile. The session, sampler and the
 * moe_async must all be freed after the moe_async. on_token runs on the worker thread, or with
 * MOE_ASYNC_CALLBACKS_ON_DISPATCH on the host thread inside moe_async_dispatch().
 * Errors: INVALID_ARGUMENT, ABI_MISMATCH, BUSY (the session or sampler is in use), OUT_OF_MEMORY. */
MOE_CAPI moe_status moe_async_start(moe_session* session, moe_sampler* sampler, const moe_generate_params* params,
                                    moe_async** out);
/* Never blocks. Moves the text produced since the last poll into `text` (NUL-terminated, cut only between UTF-8
 * characters; what does not fit stays queued) and sets *n_bytes; *done becomes true once the generation has ended
 * and all its text was taken. text may be NULL with capacity 0 to only check done. Errors: INVALID_ARGUMENT (NULL
 * async, n_bytes or done; a capacity of 1 to 4 that cannot hold the next character). */
MOE_CAPI moe_status moe_async_poll(moe_async* async, char* text, size_t capacity, size_t* n_bytes, bool* done);
/* Never blocks. Moves up to capacity generated token ids (in order) not yet taken into tokens; *n_tokens gets the
 * count. Independent of moe_async_poll's text queue. Errors: INVALID_ARGUMENT. */
MOE_CAPI moe_status moe_async_poll_tokens(moe_async* async, int32_t* tokens, size_t capacity, size_t* n_tokens);
/* With MOE_ASYNC_CALLBACKS_ON_DISPATCH: runs the queued on_token calls on this thread (a false return cancels the
 * generation) and returns how many ran in *n_calls (may be NULL). Never blocks. Errors: INVALID_ARGUMENT. */
MOE_CAPI moe_status moe_async_dispatch(moe_async* async, size_t* n_calls);
/* Asks the worker to stop at the next token or prompt chunk; returns at once. Errors: INVALID_ARGUMENT (NULL). */
MOE_CAPI moe_status moe_async_cancel(moe_async* async);
/* true once the worker has finished (text may still be queued). false for NULL. */
MOE_CAPI bool moe_async_finished(const moe_async* async);
/* Blocks until the worker finishes, then returns the generation's status (MOE_ERR_ABORTED after a cancel) and fills
 * result (may be NULL). Callable more than once. Errors: INVALID_ARGUMENT (NULL async), ABI_MISMATCH, and the
 * generation's own. */
MOE_CAPI moe_status moe_async_wait(moe_async* async, moe_generate_result* result);
/* Cancels, joins the worker and frees. The session and sampler are the caller's again. NULL is fine. */
MOE_CAPI void moe_async_free(moe_async* async);

#ifdef __cplusplus
}
#endif

#endif /* MOE_H */
