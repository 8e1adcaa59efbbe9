// decoder.hpp — what the decoder-only families share: hyperparameters read from "<arch>.*" keys, the embedding
// and output weights, the standard attention weights, and the graph frame around the layers.
// Each family's builder (src/arch/<family>.cpp) reads its extras and composes the layers from blocks.hpp.
#pragma once

#include "arch/arch.hpp"
#include "arch/blocks.hpp"
#include "arch/hparams.hpp"
#include "arch/weights.hpp"

#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE

struct decoder_hparams {
    model_info info;
    attention_params attn;
    int64_t n_ff = 0;      // feed_forward_length: the dense FFN width (and Mixtral's expert width)
    float rms_eps = 1e-5f;
};

// Reads the keys every family uses: embedding_length, block_count, head counts, key/value lengths, context,
// expert counts, RMS epsilon, RoPE dimensions/base/linear scaling. The token count comes from token_embd.
// `mode` is the family's RoPE layout (llama.cpp fixes it per architecture, not per file).
// Also reads rope.scaling.type "yarn" (factor, original_context_length) and rope.scaling.attn_factor into attn.yarn.
status read_decoder_hparams(const gguf::file& f, const std::string& arch, rope_mode mode, decoder_hparams& out);

// llama_context's yarn_attn_factor when YaRN is on: get_mscale(1/freq_scale, mscale) / get_mscale(.., mscale_all_dims)
// (just get_mscale(.., 1) when mscale_all_dims, the yarn_log_multiplier, is 0), divided by the 1 + 0.1 ln(1/freq_scale)
// that rope_yarn multiplies back in. The caller multiplies rope.scaling.attn_factor on top.
float yarn_attn_factor(float freq_scale, float mscale, float mscale_all_dims);

struct output_weights {
    weight tok_embd;     // [n_vocab, n_embd]
    weight output_norm;  // [n_embd] f32
    weight output;       // [n_vocab, n_embd]; token_embd itself when the file has no output.weight
};
output_weights bind_output_weights(weight_binder& wb, const model_info& info, bool allow_tied);

// blk.N.attn_{q,k,v,output}.weight with optional .bias tensors; shapes from the attention parameters.
attention_weights bind_attention(weight_binder& wb, const std::string& prefix, const attention_params& p,
                                 int64_t n_embd);

// The frame of every decoder graph: inputs "tokens"/"positions" (and "sequence ids"/"output rows" for several
// sequences, see build_request), the embedding lookup, and the KV states.
struct decoder_graph {
    graph_builder b;
    value_id tokens = no_value, pos = no_value;
    value_id seq = no_value, out_rows = no_value;  // several sequences only
    value_id x = no_value;  // embeddings [T, n_embd]
    std::vector<value_id> k_cache, v_cache;
};
status begin_decoder_graph(decoder_graph& g, const build_request& req, const output_weights& w,
                           const attention_params& p, int64_t n_layer);
// The rows of x [T, n_embd] whose logits are wanted: all, the last, or the "output rows" of several sequences.
value_id decoder_output_rows(decoder_graph& g, value_id x, const build_request& req);
// Final RMSNorm, last-row selection (unless all logits are wanted), the output head; marks logits as the output.
result<graph> finish_decoder_graph(decoder_graph& g, value_id x, const output_weights& w, float eps,
                                   const build_request& req);

MOE_END_NAMESPACE
