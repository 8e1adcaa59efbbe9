// model_writer.cpp — builds random-weight "llama" GGUF models (Mixtral-style MoE, or dense) with a llama tokenizer.
// Input: a model_spec. Output: GGUF bytes (gguf::writer) that moe and llama.cpp both load; used by tests and tools.
#include "testgen/model_writer.hpp"

#include "gguf/gguf.hpp"
#include "testgen/model_writer_deepseek2.hpp"
#include "testgen/model_writer_gpt_oss.hpp"

#include <moe/quant.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace testgen {

namespace {

// ---------------------------------------------------------------------------------------------------------------
// Deterministic Gaussian numbers: splitmix64 uniforms, Box–Muller pairs. Each tensor has its own stream, seeded
// from (spec.seed, tensor name), so a tensor's values depend on nothing else (not the weight type, not the order).
// ---------------------------------------------------------------------------------------------------------------

uint64_t splitmix64(uint64_t& state) noexcept {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t fnv1a64(const std::string& s) noexcept {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

// n values of mean + stddev * N(0, 1).
std::vector<float> gaussian(uint64_t seed, const std::string& name, size_t n, double mean, double stddev) {
    uint64_t state = seed ^ fnv1a64(name);
    splitmix64(state);  // decorrelate nearby seeds
    std::vector<float> out(n);
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        // u1 in (0, 1]: never log(0)
        const double u1 = static_cast<double>((splitmix64(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
        const double u2 = static_cast<double>(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
        const double r = std::sqrt(-2.0 * std::log(u1));
        out[i] = static_cast<float>(mean + stddev * r * std::cos(two_pi * u2));
        if (i + 1 < n) out[i + 1] = static_cast<float>(mean + stddev * r * std::sin(two_pi * u2));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer: a SentencePiece-style ("llama") vocabulary llama.cpp accepts: <unk> <s> </s>, the 256 byte tokens,
// then "▁" and letter pieces in order of length ("▁a", "a", "▁b", "b", ..., "▁aa", "aa", ...), scored so that
// shorter pieces rank higher. All pieces are unique (llama.cpp requires it).
// ---------------------------------------------------------------------------------------------------------------

constexpr int32_t token_type_normal = 1;
constexpr int32_t token_type_unknown = 2;
constexpr int32_t token_type_control = 3;
constexpr int32_t token_type_byte = 6;
constexpr int64_t n_special_tokens = 3 + 256;

void make_vocab(int64_t n_vocab, std::vector<std::string>& tokens, std::vector<float>& scores,
                std::vector<int32_t>& types) {
    const auto n = static_cast<size_t>(n_vocab);
    tokens.clear();
    scores.clear();
    types.clear();
    tokens.reserve(n);
    scores.reserve(n);
    types.reserve(n);
    auto add = [&](std::string t, float score, int32_t type) {
        tokens.push_back(std::move(t));
        scores.push_back(score);
        types.push_back(type);
    };
    add("<unk>", 0.0f, token_type_unknown);
    add("<s>", 0.0f, token_type_control);
    add("</s>", 0.0f, token_type_control);
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        add(buf, 0.0f, token_type_byte);
    }
    const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's word-boundary marker
    float score = 0.0f;
    if (tokens.size() < n) add(space, score -= 1.0f, token_type_normal);
    for (size_t len = 1; tokens.size() < n; ++len) {
        std::vector<int> digits(len, 0);  // odometer over 'a'..'z'
        while (tokens.size() < n) {
            std::string w(len, 'a');
            for (size_t k = 0; k < len; ++k) w[k] = static_cast<char>('a' + digits[k]);
            add(space + w, score -= 1.0f, token_type_normal);
            if (tokens.size() < n) add(w, score -= 1.0f, token_type_normal);
            size_t k = len;
            while (k > 0 && ++digits[k - 1] == 26) digits[--k] = 0;
            if (k == 0) break;  // all strings of this length done
        }
    }
}

// llama_ftype numbers (llama.h) for a file whose weight matrices all have this type.
uint32_t file_type_of(dtype t) noexcept {
    switch (t) {
    case dtype::f32: return 0;   // LLAMA_FTYPE_ALL_F32
    case dtype::f16: return 1;   // LLAMA_FTYPE_MOSTLY_F16
    case dtype::q4_0: return 2;  // LLAMA_FTYPE_MOSTLY_Q4_0
    case dtype::q8_0: return 7;  // LLAMA_FTYPE_MOSTLY_Q8_0
    case dtype::bf16: return 32; // LLAMA_FTYPE_MOSTLY_BF16
    default: return 0;
    }
}

status check_spec(const model_spec& s, int64_t head_dim) {
    auto bad = [](const std::string& m) { return status(errc::invalid_argument, "model spec: " + m); };
    const bool known = s.arch == "llama" || s.arch == "qwen3moe" || s.arch == "qwen2moe" || s.arch == "olmoe" ||
                       s.arch == "deepseek2" || s.arch == "gpt-oss" || s.arch == "granitemoe";
    if (!known)
        return status(errc::unsupported,
                      "model spec: architecture '" + s.arch +
                          "' (supported: llama, qwen3moe, qwen2moe, olmoe, deepseek2, gpt-oss, granitemoe)");
    if (s.arch != "llama" && s.n_expert < 1) return bad(s.arch + " needs n_expert >= 1");
    // llama.cpp's qwen2moe and olmoe read attn_output as [n_embd, n_embd], and olmoe's k norm as [n_embd]
    if ((s.arch == "qwen2moe" || s.arch == "olmoe") && s.n_head * head_dim != s.n_embd)
        return bad(s.arch + " needs n_head * head_dim == n_embd");
    if (s.arch == "olmoe" && s.n_head_kv != s.n_head) return bad("olmoe needs n_head_kv == n_head");
    if (s.tie_output && (s.arch == "qwen2moe" || s.arch == "olmoe"))
        return bad(s.arch + " files always carry output.weight (llama.cpp requires it)");
    if (!can_convert(s.weight_type)) {
        return status(errc::unsupported, std::string("model spec: weight type ") + dtype_name(s.weight_type));
    }
    if (s.n_vocab < n_special_tokens) {
        return bad("n_vocab must be >= " + std::to_string(n_special_tokens) + " (3 special + 256 byte tokens)");
    }
    if (s.n_embd <= 0 || s.n_layer <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 || s.n_ff <= 0 || s.n_ctx_train <= 0) {
        return bad("n_embd, n_layer, n_head, n_head_kv, n_ff and n_ctx_train must be positive");
    }
    if (s.n_head % s.n_head_kv != 0) return bad("n_head must be a multiple of n_head_kv");
    if (s.head_dim < 0) return bad("head_dim must be >= 0");
    if (s.head_dim == 0 && s.n_embd % s.n_head != 0) return bad("n_embd must be a multiple of n_head");
    if (head_dim % 2 != 0) return bad("head dimension must be even (RoPE rotates pairs)");
    if (s.n_expert < 0) return bad("n_expert must be >= 0");
    if (s.n_expert > 0 && (s.n_expert_used < 1 || s.n_expert_used > s.n_expert)) {
        return bad("n_expert_used must be in 1..n_expert");
    }
    if (s.n_vocab > (int64_t{1} << 31) || s.n_embd > (int64_t{1} << 20) || s.n_ff > (int64_t{1} << 20) ||
        s.n_layer > 4096 || s.n_head > 4096 || s.n_expert > 4096 || head_dim > 4096 || s.n_ctx_train > (int64_t{1} << 31)) {
        return bad("a dimension is implausibly large");
    }
    const uint32_t bs = traits(s.weight_type).block_size;
    if (s.n_embd % bs != 0 || s.n_ff % bs != 0 || (s.n_head * head_dim) % bs != 0) {
        return bad(std::string("n_embd, n_ff and n_head * head_dim must be multiples of ") + std::to_string(bs) +
                   " for " + dtype_name(s.weight_type));
    }
    if (!(s.rms_eps > 0.0f) || !(s.rope_freq_base > 0.0f)) return bad("rms_eps and rope_freq_base must be positive");
    if (s.arch == "deepseek2") return check_deepseek2_spec(s, head_dim);
    if (s.arch == "gpt-oss") return check_gpt_oss_spec(s, head_dim);
    if (s.arch == "granitemoe" && !(s.granite.logit_scale > 0.0f)) return bad("granitemoe needs logit_scale > 0");
    return ok_status();
}

// ---------------------------------------------------------------------------------------------------------------
// Weight scales (chosen so activations stay O(1) through the layers and the next-token distribution is peaked):
//   token_embd     N(0, 1)                      (tied head: N(0, logit_std^2 / n_embd), see output)
//   *_norm         1 + 0.1 * N(0, 1)            (RMSNorm gains near 1)
//   attn_q/k/v     N(0, 1 / n_embd)             q, k, v elements ~ N(0, 1); scores q.k/sqrt(hd) ~ N(0, 1)
//   attn_output    N(0, 1 / (n_head * hd))      adds an O(1) vector to the residual
//   ffn_gate_inp   N(0, 1 / n_embd)             router logits ~ N(0, 1): routing varies by token
//   gate/up (exps) N(0, 1 / n_embd)
//   down (exps)    N(0, 1 / n_ff)
//   output         N(0, logit_std^2 / n_embd)   logit_std = 2.2 * sqrt(ln n_vocab): logits after the final
//                                               RMSNorm have std ~logit_std (5.5 at n_vocab 512, 7.1 at 32000),
//                                               which puts the top-1 probability above 0.3 most of the time.
// ---------------------------------------------------------------------------------------------------------------

struct builder {
    const model_spec& spec;
    gguf::writer& w;

    status add(const std::string& name, const std::vector<int64_t>& ne, dtype type, double mean, double stddev) {
        size_t n = 1;
        for (int64_t d : ne) n *= static_cast<size_t>(d);
        return put(name, ne, type, gaussian(spec.seed, name, n, mean, stddev));
    }
    // Stores given float values (n = product of ne) as `type`.
    status put(const std::string& name, const std::vector<int64_t>& ne, dtype type, const std::vector<float>& values) {
        const size_t n = values.size();
        const size_t nbytes = row_bytes(type, ne[0]) * (n / static_cast<size_t>(ne[0]));
        std::vector<uint8_t> bytes(nbytes);
        MOE_TRY(quantize_row(type, values.data(), bytes.data(), static_cast<int64_t>(n)));
        return w.add_tensor(name, type, ne, bytes.data(), bytes.size());
    }
    status weight(const std::string& name, const std::vector<int64_t>& ne, double stddev) {
        return add(name, ne, spec.weight_type, 0.0, stddev);
    }
    status norm(const std::string& name, int64_t n) { return add(name, {n}, dtype::f32, 1.0, 0.1); }
};

}  // namespace

result<std::vector<uint8_t>> make_random_model(const model_spec& spec) {
    const int64_t hd = spec.head_dim > 0 ? spec.head_dim : (spec.n_head > 0 ? spec.n_embd / spec.n_head : 0);
    MOE_TRY(check_spec(spec, hd));
    try {
        const int64_t n_embd = spec.n_embd, n_vocab = spec.n_vocab, n_ff = spec.n_ff, n_expert = spec.n_expert;
        const int64_t n_q = spec.n_head * hd, n_kv = spec.n_head_kv * hd;
        const double logit_std = 2.2 * std::sqrt(std::log(static_cast<double>(n_vocab)));
        const double out_std = logit_std / std::sqrt(static_cast<double>(n_embd));
        auto inv_sqrt = [](int64_t fan_in) { return 1.0 / std::sqrt(static_cast<double>(fan_in)); };
        auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };

        gguf::writer w;
        const std::string a = spec.arch;
        w.set_string("general.architecture", a);
        w.set_string("general.name", std::string("moe random ") + (n_expert > 0 ? "moe " : "dense ") + a);
        w.set_u32("general.file_type", file_type_of(spec.weight_type));
        w.set_u32(a + ".vocab_size", u32(n_vocab));
        w.set_u32(a + ".context_length", u32(spec.n_ctx_train));
        w.set_u32(a + ".embedding_length", u32(n_embd));
        w.set_u32(a + ".block_count", u32(spec.n_layer));
        w.set_u32(a + ".feed_forward_length", u32(n_ff));
        w.set_u32(a + ".attention.head_count", u32(spec.n_head));
        w.set_u32(a + ".attention.head_count_kv", u32(spec.n_head_kv));
        w.set_f32(a + ".attention.layer_norm_rms_epsilon", spec.rms_eps);
        w.set_f32(a + ".rope.freq_base", spec.rope_freq_base);
        w.set_u32(a + ".rope.dimension_count", u32(hd));
        if (spec.head_dim > 0) {
            w.set_u32(a + ".attention.key_length", u32(hd));
            w.set_u32(a + ".attention.value_length", u32(hd));
        }
        if (n_expert > 0) {
            w.set_u32(a + ".expert_count", u32(n_expert));
            w.set_u32(a + ".expert_used_count", u32(spec.n_expert_used));
        }
        const int64_t n_ff_shexp = spec.n_ff_shexp > 0 ? spec.n_ff_shexp : n_ff;
        if (a == "qwen3moe" || a == "qwen2moe") w.set_u32(a + ".expert_feed_forward_length", u32(n_ff));
        if (a == "qwen2moe") w.set_u32(a + ".expert_shared_feed_forward_length", u32(n_ff_shexp));
        if (a == "deepseek2") write_deepseek2_metadata(w, spec, hd);
        if (a == "gpt-oss") write_gpt_oss_metadata(w, spec);
        const model_spec::granite_spec& gs = spec.granite;
        if (a == "granitemoe") {  // the multipliers of llama.cpp's llama_model_granite
            w.set_f32(a + ".logit_scale", gs.logit_scale);
            if (gs.residual_scale != 0.0f) w.set_f32(a + ".residual_scale", gs.residual_scale);
            if (gs.embedding_scale != 0.0f) w.set_f32(a + ".embedding_scale", gs.embedding_scale);
            if (gs.attention_scale >= 0.0f)
                w.set_f32(a + ".attention.scale", gs.attention_scale > 0.0f ? gs.attention_scale : 1.0f / float(hd));
            if (spec.n_ff_shexp > 0) w.set_u32(a + ".expert_shared_feed_forward_length", u32(spec.n_ff_shexp));
        }

        std::vector<std::string> tokens;
        std::vector<float> scores;
        std::vector<int32_t> types;
        make_vocab(n_vocab, tokens, scores, types);
        w.set_string("tokenizer.ggml.model", "llama");
        w.set_string_array("tokenizer.ggml.tokens", tokens);
        w.set_f32_array("tokenizer.ggml.scores", scores);
        w.set_i32_array("tokenizer.ggml.token_type", types);
        w.set_u32("tokenizer.ggml.unknown_token_id", 0);
        w.set_u32("tokenizer.ggml.bos_token_id", 1);
        w.set_u32("tokenizer.ggml.eos_token_id", 2);
        w.set_bool("tokenizer.ggml.add_bos_token", true);
        w.set_bool("tokenizer.ggml.add_eos_token", false);

        // granitemoe multiplies the embeddings and divides the logits: scale the tensors back to the usual sizes
        const bool granite = a == "granitemoe";
        const double embd_std = granite && gs.embedding_scale > 0.0f ? 1.0 / gs.embedding_scale : 1.0;
        const double head_std = granite ? out_std * gs.logit_scale : out_std;
        builder b{spec, w};
        MOE_TRY(b.weight("token_embd.weight", {n_embd, n_vocab}, spec.tie_output ? head_std : embd_std));
        for (int64_t il = 0; il < spec.n_layer; ++il) {
            if (a == "gpt-oss") {  // sinks, biases, post-attention norm: model_writer_gpt_oss.cpp
                MOE_TRY(write_gpt_oss_layer(spec, hd, il,
                                            [&](const std::string& name, const std::vector<int64_t>& ne, dtype t,
                                                double mean, double sd) { return b.add(name, ne, t, mean, sd); }));
                continue;
            }
            if (a == "deepseek2") {  // MLA attention, dense-then-MoE layers: model_writer_deepseek2.cpp
                MOE_TRY(write_deepseek2_layer(
                    spec, hd, il,
                    [&](const std::string& name, size_t n, double mean, double sd) {
                        return gaussian(spec.seed, name, n, mean, sd);
                    },
                    [&](const std::string& name, const std::vector<int64_t>& ne, dtype t, const std::vector<float>& v) {
                        return b.put(name, ne, t, v);
                    }));
                continue;
            }
            const std::string p = "blk." + std::to_string(il) + ".";
            MOE_TRY(b.norm(p + "attn_norm.weight", n_embd));
            MOE_TRY(b.weight(p + "attn_q.weight", {n_embd, n_q}, inv_sqrt(n_embd)));
            MOE_TRY(b.weight(p + "attn_k.weight", {n_embd, n_kv}, inv_sqrt(n_embd)));
            MOE_TRY(b.weight(p + "attn_v.weight", {n_embd, n_kv}, inv_sqrt(n_embd)));
            MOE_TRY(b.weight(p + "attn_output.weight", {n_q, n_embd}, inv_sqrt(n_q)));
            if (a == "qwen3moe") {  // per-head q/k RMSNorm
                MOE_TRY(b.norm(p + "attn_q_norm.weight", hd));
                MOE_TRY(b.norm(p + "attn_k_norm.weight", hd));
            } else if (a == "olmoe") {  // q/k RMSNorm over the whole projection
                MOE_TRY(b.norm(p + "attn_q_norm.weight", n_q));
                MOE_TRY(b.norm(p + "attn_k_norm.weight", n_kv));
            } else if (a == "qwen2moe") {  // q/k/v biases, small
                MOE_TRY(b.add(p + "attn_q.bias", {n_q}, dtype::f32, 0.0, 0.1));
                MOE_TRY(b.add(p + "attn_k.bias", {n_kv}, dtype::f32, 0.0, 0.1));
                MOE_TRY(b.add(p + "attn_v.bias", {n_kv}, dtype::f32, 0.0, 0.1));
            }
            MOE_TRY(b.norm(p + "ffn_norm.weight", n_embd));
            if (n_expert > 0) {
                // the router stays f32, as llama.cpp's quantizer keeps it
                MOE_TRY(b.add(p + "ffn_gate_inp.weight", {n_embd, n_expert}, dtype::f32, 0.0, inv_sqrt(n_embd)));
                MOE_TRY(b.weight(p + "ffn_gate_exps.weight", {n_embd, n_ff, n_expert}, inv_sqrt(n_embd)));
                MOE_TRY(b.weight(p + "ffn_up_exps.weight", {n_embd, n_ff, n_expert}, inv_sqrt(n_embd)));
                MOE_TRY(b.weight(p + "ffn_down_exps.weight", {n_ff, n_embd, n_expert}, inv_sqrt(n_ff)));
                if (a == "qwen2moe") {  // shared expert with its sigmoid gate (a 1-D tensor: stays f32)
                    MOE_TRY(b.add(p + "ffn_gate_inp_shexp.weight", {n_embd}, dtype::f32, 0.0, inv_sqrt(n_embd)));
                    MOE_TRY(b.weight(p + "ffn_gate_shexp.weight", {n_embd, n_ff_shexp}, inv_sqrt(n_embd)));
                    MOE_TRY(b.weight(p + "ffn_up_shexp.weight", {n_embd, n_ff_shexp}, inv_sqrt(n_embd)));
                    MOE_TRY(b.weight(p + "ffn_down_shexp.weight", {n_ff_shexp, n_embd}, inv_sqrt(n_ff_shexp)));
                }
                if (granite && spec.n_ff_shexp > 0) {  // GraniteMoeShared: an ungated shared expert
                    const int64_t S = spec.n_ff_shexp;
                    MOE_TRY(b.weight(p + "ffn_gate_shexp.weight", {n_embd, S}, inv_sqrt(n_embd)));
                    MOE_TRY(b.weight(p + "ffn_up_shexp.weight", {n_embd, S}, inv_sqrt(n_embd)));
                    MOE_TRY(b.weight(p + "ffn_down_shexp.weight", {S, n_embd}, inv_sqrt(S)));
                }
            } else {
                MOE_TRY(b.weight(p + "ffn_gate.weight", {n_embd, n_ff}, inv_sqrt(n_embd)));
                MOE_TRY(b.weight(p + "ffn_up.weight", {n_embd, n_ff}, inv_sqrt(n_embd)));
                MOE_TRY(b.weight(p + "ffn_down.weight", {n_ff, n_embd}, inv_sqrt(n_ff)));
            }
        }
        MOE_TRY(b.norm("output_norm.weight", n_embd));
        if (!spec.tie_output) MOE_TRY(b.weight("output.weight", {n_embd, n_vocab}, head_std));
        return w.finish();
    } catch (const std::bad_alloc&) {
        return result<std::vector<uint8_t>>(errc::out_of_memory, "model writer: out of memory");
    } catch (const std::length_error&) {
        return result<std::vector<uint8_t>>(errc::out_of_memory, "model writer: model too large");
    }
}

status write_random_model(const std::string& path, const model_spec& spec) {
    result<std::vector<uint8_t>> bytes = make_random_model(spec);
    if (!bytes.ok()) return bytes.error();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return status(errc::io_error, "cannot create '" + path + "': " + std::strerror(errno));
    const size_t n = std::fwrite(bytes->data(), 1, bytes->size(), f);
    const int err = n == bytes->size() ? 0 : errno;
    const bool close_failed = std::fclose(f) != 0;
    if (err != 0 || n != bytes->size() || close_failed) {
        return status(errc::io_error, "cannot write '" + path + "': " + std::strerror(err != 0 ? err : EIO));
    }
    return ok_status();
}

}  // namespace testgen
MOE_END_NAMESPACE
