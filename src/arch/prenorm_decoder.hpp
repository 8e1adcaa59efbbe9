// prenorm_decoder.hpp — the layer loop most families share: x += attention(rms_norm(x)); x += ffn(rms_norm(x)),
// between the decoder frame's begin and finish (decoder.hpp). Each family passes its layers and its FFN.
#pragma once

#include "arch/decoder.hpp"

#include <vector>

MOE_BEGIN_NAMESPACE

// Every layer with the same KV head count and head sizes.
inline std::vector<kv_layer_shape> uniform_kv_shape(const decoder_hparams& hp) {
    return std::vector<kv_layer_shape>(static_cast<size_t>(hp.info.n_layer),
                                       kv_layer_shape{hp.attn.n_head_kv, hp.attn.head_dim_k, hp.attn.head_dim_v});
}

// Layer must have attn_norm, attn (attention_weights) and ffn_norm; ffn(builder, normed x, layer) -> ffn output.
template <class Layer, class Ffn>
result<graph> build_prenorm_decoder(const build_request& req, const decoder_hparams& hp, const output_weights& out,
                                    const std::vector<Layer>& layers, Ffn ffn) {
    decoder_graph g;
    MOE_TRY(begin_decoder_graph(g, req, out, hp.attn, hp.info.n_layer));
    graph_builder& b = g.b;
    value_id x = g.x;
    for (size_t il = 0; il < layers.size(); ++il) {
        const Layer& L = layers[il];
        value_id h = b.rms_norm(x, L.attn_norm.in(b), hp.rms_eps);
        x = b.add(attention_block(b, h, g.pos, g.seq, g.k_cache[il], g.v_cache[il], L.attn, hp.attn), x);
        h = b.rms_norm(x, L.ffn_norm.in(b), hp.rms_eps);
        x = b.add(ffn(b, h, L), x);
    }
    return finish_decoder_graph(g, x, out, hp.rms_eps, req);
}

MOE_END_NAMESPACE
