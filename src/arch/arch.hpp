// arch.hpp — the interface every architecture builder implements: hyperparameters and weights read from GGUF,
// then a graph for a batch. The model loader creates one through the registry; the session asks it for graphs.
#pragma once

#include "gguf/gguf.hpp"
#include "graph/ir.hpp"

#include <moe/model.hpp>

#include <memory>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE

// Shape of one layer's KV cache, which the session allocates (rows = context length).
struct kv_layer_shape {
    int64_t n_head_kv = 0;
    int64_t key_dim = 0;
    int64_t value_dim = 0;  // 0: no V cache (MLA: the values are the first columns of the K rows)
};

// What a session asks for: a graph over n_tokens new tokens, with logits for all of them or only the last.
// Several sequences (n_seq > 1): the caches hold one slot of n_ctx rows per sequence, the graph has two more inputs,
// "sequence ids" [n_tokens] i32 (value 2) and "output rows" [n_outputs] i32 (value 3, the batch rows whose logits
// are computed, in that order; all_logits is then ignored), and the attention ops place each token by its position
// and sequence id instead of n_past.
struct build_request {
    int64_t n_tokens = 1;
    bool all_logits = false;
    int64_t n_ctx = 0;                  // KV cache rows (per sequence)
    int64_t n_seq = 1;
    int64_t n_outputs = 1;              // n_seq > 1 only
    std::vector<void*> k_cache, v_cache;  // per layer, [n_ctx, n_head_kv, key_dim / value_dim], n_seq times
    dtype kv_type = dtype::f32;           // the caches' elements: f32 or f16
};

class architecture {
public:
    virtual ~architecture() = default;
    virtual const model_info& info() const noexcept = 0;
    virtual std::vector<kv_layer_shape> kv_shape() const = 0;
    // Graph inputs are "tokens" [T] i32 and "positions" [T] i32 (then "sequence ids" and "output rows" with several
    // sequences); the output is logits [T or 1 (or n_outputs), n_vocab] f32.
    virtual result<graph> build(const build_request& req) const = 0;
};

// Creates the builder named by general.architecture; reads hyperparameters and binds and checks every tensor.
// An unknown architecture names the architecture and the list of supported ones.
result<std::unique_ptr<architecture>> create_architecture(const gguf::file& f);

MOE_END_NAMESPACE
