// quant_mix.cpp — llama-quantize's tensor type rules (the Q*_K_S/M/L mixes, MXFP4_MOE, fallbacks for odd widths).
// Before: the tensor list of an F32/F16/BF16 GGUF (model_quantizer.cpp). After: quantize_row converts each tensor.
//
// Written from how llama.cpp's llama-quant.cpp decides (a file we must reproduce, since users compare file sizes
// and types with llama-quantize's); only the file types moe can write are modelled (no IQ1/IQ2/IQ3, no imatrix).
#include "quant/quant_mix.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

MOE_BEGIN_NAMESPACE
namespace quant_mix {

namespace {

enum class category { token_embd, attn_q, attn_v, attn_k, attn_qkv, attn_kv_b, attn_output, ffn_up, ffn_gate,
                      ffn_down, output, other };

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

category category_of(const std::string& n) {
    if (n == "output.weight") return category::output;
    if (n == "token_embd.weight" || n == "per_layer_token_embd.weight") return category::token_embd;
    if (has(n, "attn_qkv.weight")) return category::attn_qkv;
    if (has(n, "attn_kv_b.weight")) return category::attn_kv_b;
    if (has(n, "attn_v.weight")) return category::attn_v;
    if (has(n, "attn_k.weight")) return category::attn_k;
    if (has(n, "attn_q.weight")) return category::attn_q;
    if (has(n, "attn_output.weight")) return category::attn_output;
    if (has(n, "ffn_up")) return category::ffn_up;
    if (has(n, "ffn_gate")) return category::ffn_gate;
    if (has(n, "ffn_down")) return category::ffn_down;
    return category::other;
}

// Tensors sensitive like attn_v (their rules share one counter).
bool attn_v_like(category c) {
    return c == category::attn_v || c == category::attn_qkv || c == category::attn_kv_b;
}

// ggml_n_dims: trailing dimensions of 1 do not count.
int n_dims(const tensor_desc& t) {
    for (int d = 3; d >= 1; --d)
        if (t.ne[d] > 1) return d + 1;
    return 1;
}

bool ends_with(const std::string& s, const char* suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Whether llama-quantize converts this tensor at all (matrices named *weight, not norms or routers).
bool allows_quantization(const tensor_desc& t) {
    if (n_dims(t) < 2) return false;
    const std::string& n = t.name;
    if (!ends_with(n, "weight")) return false;
    if (has(n, "_norm.weight") || has(n, "ffn_gate_inp.weight") || has(n, "ffn_gate_tid2eid.weight")) return false;
    for (const char* skip : {"altup", "laurel", "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight",
                             "indexer.k_proj.weight", "indexer.q_proj.weight", "attn_rel_b.weight", ".position_embd",
                             "time_mix_", ".rel_pos", ".patch_embd", ".patch_merger"})
        if (has(n, skip)) return false;
    return n != "position_embd.weight" && n != "token_types.weight";
}

int layer_of(const std::string& name) {
    int layer = -1;
    if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
    return layer;
}

bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// A target type whose block does not divide the row length falls back to a 32-block type, then to F16.
dtype fit_row_length(dtype t, int64_t ncols) {
    if (ncols % static_cast<int64_t>(traits(t).block_size) == 0) return t;
    dtype r = t;
    switch (t) {
    case dtype::iq4_xs: r = dtype::iq4_nl; break;
    case dtype::q2_k:
    case dtype::q3_k: r = dtype::q4_0; break;
    case dtype::q4_k: r = dtype::q5_0; break;
    case dtype::q5_k: r = dtype::q5_1; break;
    case dtype::q6_k: r = dtype::q8_0; break;
    default: break;  // already a 32-block type
    }
    return ncols % static_cast<int64_t>(traits(r).block_size) == 0 ? r : dtype::f16;
}

struct counters {
    int64_t n_attn_v = 0, i_attn_v = 0, i_ffn_down = 0, i_ffn_gate = 0, i_ffn_up = 0;
    bool tied_embeddings = true;
};

// The layer a per-layer rule looks at: from the name for MoE models (experts are not in order), else a counter.
result<int64_t> rule_layer(const model_facts& m, int64_t counter, const std::string& name) {
    if (std::max<int64_t>(1, m.n_expert) <= 1) return counter;
    const int layer = layer_of(name);
    if (layer < 0 || layer >= m.n_layer)
        return status(errc::shape_mismatch, "cannot tell which of the " + std::to_string(m.n_layer) +
                                                " layers tensor '" + name + "' belongs to");
    return static_cast<int64_t>(layer);
}

// llama_tensor_get_type_impl for the file types moe writes.
result<dtype> mix_rule(const model_facts& m, counters& c, dtype t, const tensor_desc& td, file_type ft,
                       category cat, const quantize_params& p) {
    using F = file_type;
    const bool falcon = m.arch == "falcon";
    const int64_t n_gqa = m.n_head_kv > 0 ? m.n_head / m.n_head_kv : 0;
    if (cat == category::output || (c.tied_embeddings && cat == category::token_embd)) {
        if (p.output_type) return *p.output_type;
        if (ft == F::mxfp4_moe) return dtype::q8_0;
        if (falcon || td.ne[0] % static_cast<int64_t>(traits(t).block_size) != 0) return dtype::q8_0;
        return t != dtype::q8_0 ? dtype::q6_k : t;
    }
    if (ft == F::mxfp4_moe) return td.ne[2] > 1 ? dtype::mxfp4 : dtype::q8_0;
    if (cat == category::token_embd) return t;
    if (attn_v_like(cat)) {
        if (ft == F::q2_k) t = n_gqa >= 4 ? dtype::q4_k : dtype::q3_k;
        else if (ft == F::q3_k_m) t = c.i_attn_v < 2 ? dtype::q5_k : dtype::q4_k;
        else if (ft == F::q3_k_l) t = dtype::q5_k;
        else if ((ft == F::iq4_nl || ft == F::iq4_xs) && n_gqa >= 4) t = dtype::q5_k;
        else if ((ft == F::q4_k_m || ft == F::q5_k_m) && use_more_bits(c.i_attn_v, c.n_attn_v)) t = dtype::q6_k;
        else if (ft == F::q4_k_s && c.i_attn_v < 4) t = dtype::q5_k;
        // llama.cpp's 70B rule (8 heads per attn_v): only Llama-arch models with 80 layers and GQA are "70B"
        if (m.arch == "llama" && m.n_layer == 80 && m.n_head != m.n_head_kv && (t == dtype::q3_k || t == dtype::q4_k))
            t = dtype::q5_k;
        if (m.n_expert == 8) t = dtype::q8_0;
        ++c.i_attn_v;
        return t;
    }
    if (cat == category::attn_k) return m.n_expert == 8 ? dtype::q8_0 : t;
    if (cat == category::ffn_down) {
        result<int64_t> layer = rule_layer(m, c.i_ffn_down, td.name);
        if (!layer) return layer.error();
        const int64_t i = *layer, n = m.n_layer;
        if (ft == F::q2_k) t = dtype::q3_k;
        else if (ft == F::q3_k_m) t = i < n / 16 ? dtype::q5_k : (!falcon || use_more_bits(i, n)) ? dtype::q4_k : dtype::q3_k;
        else if (ft == F::q3_k_l) t = falcon ? dtype::q4_k : dtype::q5_k;
        else if (ft == F::q4_k_m) {
            if (falcon) t = i < n / 16 ? dtype::q6_k : use_more_bits(i, n) ? dtype::q5_k : dtype::q4_k;
            else if (use_more_bits(i, n)) t = dtype::q6_k;
        } else if (i < n / 8 && (ft == F::iq4_nl || ft == F::iq4_xs)) t = dtype::q5_k;
        else if (ft == F::q5_k_m && use_more_bits(i, n)) t = dtype::q6_k;
        else if (ft == F::q4_k_s && !falcon && i < n / 8) t = dtype::q5_k;
        ++c.i_ffn_down;
        return t;
    }
    if (cat == category::attn_output) {
        if (!falcon) {
            if (m.n_expert == 8) {
                if (ft == F::q2_k || ft == F::q3_k_s || ft == F::q3_k_m || ft == F::iq4_nl || ft == F::q4_k_s ||
                    ft == F::q4_k_m || ft == F::iq4_xs)
                    t = dtype::q5_k;
            } else if (ft == F::q2_k) t = dtype::q3_k;
            else if (ft == F::q3_k_m) t = dtype::q4_k;
            else if (ft == F::q3_k_l) t = dtype::q5_k;
        } else if (ft == F::q3_k_l) t = dtype::q4_k;
        return t;
    }
    if (cat == category::ffn_gate || cat == category::ffn_up) {  // rules only for IQ3_XS; the layer must parse
        int64_t& counter = cat == category::ffn_gate ? c.i_ffn_gate : c.i_ffn_up;
        result<int64_t> layer = rule_layer(m, counter, td.name);
        if (!layer) return layer.error();
        ++counter;
    }
    return t;
}

}  // namespace

dtype base_type(file_type t) noexcept {
    switch (t) {
    case file_type::all_f32: return dtype::f32;
    case file_type::f16: return dtype::f16;
    case file_type::bf16: return dtype::bf16;
    case file_type::q4_0: return dtype::q4_0;
    case file_type::q4_1: return dtype::q4_1;
    case file_type::q5_0: return dtype::q5_0;
    case file_type::q5_1: return dtype::q5_1;
    case file_type::q8_0: return dtype::q8_0;
    case file_type::q2_k: return dtype::q2_k;
    case file_type::q3_k_s:
    case file_type::q3_k_m:
    case file_type::q3_k_l: return dtype::q3_k;
    case file_type::q4_k_s:
    case file_type::q4_k_m: return dtype::q4_k;
    case file_type::q5_k_s:
    case file_type::q5_k_m: return dtype::q5_k;
    case file_type::q6_k: return dtype::q6_k;
    case file_type::iq4_nl: return dtype::iq4_nl;
    case file_type::iq4_xs: return dtype::iq4_xs;
    case file_type::mxfp4_moe: return dtype::mxfp4;
    }
    return dtype::f32;
}

std::vector<size_t> file_order(const std::vector<tensor_desc>& tensors) {
    std::vector<size_t> idx(tensors.size());
    std::vector<int> layer(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) idx[i] = i, layer[i] = layer_of(tensors[i].name);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        if (layer[a] != layer[b]) return layer[a] < layer[b];
        if (tensors[a].name != tensors[b].name) return tensors[a].name < tensors[b].name;
        return a < b;
    });
    return idx;
}

result<std::vector<dtype>> choose_types(const model_facts& m, const std::vector<tensor_desc>& tensors,
                                        const quantize_params& p) {
    const dtype base = base_type(p.type);
    counters c;
    for (const tensor_desc& t : tensors) {
        const category cat = category_of(t.name);
        if (attn_v_like(cat)) ++c.n_attn_v;
        if (cat == category::output) c.tied_embeddings = false;
    }
    std::vector<dtype> out(tensors.size());
    for (size_t i : file_order(tensors)) {
        const tensor_desc& t = tensors[i];
        out[i] = t.type;
        if (!allows_quantization(t)) continue;
        const category cat = category_of(t.name);
        if (p.token_embedding_type && cat == category::token_embd) {
            out[i] = *p.token_embedding_type;
            continue;
        }
        if (p.output_type && cat == category::output) {
            out[i] = *p.output_type;
            continue;
        }
        dtype target = base;
        if (is_quantized(base)) {
            if (!p.pure) {
                result<dtype> r = mix_rule(m, c, base, t, p.type, cat, p);
                if (!r) return r.error();
                target = *r;
            }
            target = fit_row_length(target, t.ne[0]);
        }
        out[i] = target;
    }
    return out;
}

}  // namespace quant_mix
MOE_END_NAMESPACE
