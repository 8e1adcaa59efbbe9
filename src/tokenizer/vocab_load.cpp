// vocab_load.cpp — make_tokenizer: reads and validates tokenizer.ggml.* into a tokenizer_impl, as llama.cpp loads it.
// Before: a parsed GGUF file (model::load, or a vocab-only file). After: vocab_special.cpp finishes the specials.
//
// Order and defaults follow llama.cpp's llama_vocab::impl::load: model -> defaults, pre-tokenizer -> flags, tokens
// with scores and types, merges, special ids, add_bos/add_eos. Where llama.cpp only warns, we are stricter in two
// places and say so in the error: array lengths must agree exactly, and a BOS/EOS/EOT/EOM/UNK id out of range is
// an error (an out-of-range PAD/SEP/MASK/FIM id is ignored, as llama.cpp does).
#include "tokenizer/vocab.hpp"

#include <cmath>
#include <exception>
#include <new>

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

using detail::tokenizer_impl;

status bad(const std::string& msg) { return status(errc::bad_format, msg); }

std::string type_text(const gguf::value& v) {
    if (v.type != gguf::value_type::array) return gguf::value_type_name(v.type);
    return std::string("array of ") + gguf::value_type_name(v.array_type);
}

// Optional string key: "" when absent.
result<std::string> optional_string(const gguf::file& f, const char* key) {
    const gguf::value* v = f.find(key);
    if (v == nullptr) return std::string();
    if (v->type != gguf::value_type::string) return bad(std::string(key) + " must be a string, not " + type_text(*v));
    return v->str;
}

// Optional bool key into `out` (unchanged when absent).
status optional_bool(const gguf::file& f, const char* key, bool& out) {
    const gguf::value* v = f.find(key);
    if (v == nullptr) return ok_status();
    if (v->type != gguf::value_type::boolean) return bad(std::string(key) + " must be a bool, not " + type_text(*v));
    out = v->num.b;
    return ok_status();
}

const gguf::value* array_of(const gguf::file& f, const char* key) {
    const gguf::value* v = f.find(key);
    return v != nullptr && v->type == gguf::value_type::array ? v : nullptr;
}

bool is_int_type(gguf::value_type t) {
    switch (t) {
    case gguf::value_type::u8: case gguf::value_type::i8: case gguf::value_type::u16: case gguf::value_type::i16:
    case gguf::value_type::u32: case gguf::value_type::i32: case gguf::value_type::u64: case gguf::value_type::i64:
        return true;
    default:
        return false;
    }
}

status read_defaults(const gguf::file& f, tokenizer_impl& v) {
    const gguf::value* mv = f.find("tokenizer.ggml.model");
    if (mv == nullptr) return status(errc::invalid_argument, "the file has no tokenizer.ggml.model");
    if (mv->type != gguf::value_type::string)
        return bad("tokenizer.ggml.model must be a string, not " + type_text(*mv));
    v.model_kind = mv->str;
    result<std::string> pre = optional_string(f, "tokenizer.ggml.pre");
    if (!pre) return pre.error();
    v.pre_name = *pre;

    if (v.model_kind == "llama") {
        v.kind = vocab_kind::spm;
        v.bos = 1;
        v.eos = 2;
        v.unk = 0;
        v.add_space_prefix = true;
        v.add_bos = true;
        v.add_eos = false;
        v.clean_spaces = false;
    } else if (v.model_kind == "gpt2" || v.model_kind == "gemma4") {
        v.kind = vocab_kind::bpe;
        const bool gemma4 = v.model_kind == "gemma4";
        v.bos = gemma4 ? tokenizer::null_token : 11;
        v.eos = gemma4 ? tokenizer::null_token : 11;
        v.pre = gemma4 ? &gemma4_pretokenizer() : find_pretokenizer(v.pre_name);
        if (v.pre == nullptr)
            return status(errc::unsupported,
                          "pre-tokenizer '" + v.pre_name + "' (tokenizer.ggml.pre) is not supported");
        v.add_space_prefix = false;
        v.escape_whitespaces = v.pre->escape_whitespaces;
        v.clean_spaces = v.pre->clean_spaces;
        v.ignore_merges = v.pre->ignore_merges;
        v.add_bos = v.pre->add_bos;
        if (v.pre->no_default_bos) v.bos = tokenizer::null_token;
    } else {
        return status(errc::unsupported, "tokenizer model '" + v.model_kind +
                                             "' (tokenizer.ggml.model) is not supported; moe reads llama, gpt2 and "
                                             "gemma4");
    }
    return optional_bool(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);
}

status read_tokens(const gguf::file& f, tokenizer_impl& v) {
    const gguf::value* tv = array_of(f, "tokenizer.ggml.tokens");
    if (tv == nullptr || tv->array_type != gguf::value_type::string)
        return bad("tokenizer.ggml.tokens must be an array of strings");
    const size_t n = tv->elems.size();
    if (n == 0) return bad("tokenizer.ggml.tokens is empty");
    if (n > k_max_tokens)
        return bad("tokenizer.ggml.tokens has " + std::to_string(n) + " tokens (limit " +
                   std::to_string(k_max_tokens) + ")");

    const gguf::value* sv = f.find("tokenizer.ggml.scores");
    if (sv != nullptr) {
        if (sv->type != gguf::value_type::array ||
            (sv->array_type != gguf::value_type::f32 && sv->array_type != gguf::value_type::i32))
            return bad("tokenizer.ggml.scores must be an array of f32 or i32, not " + type_text(*sv));
        if (sv->elems.size() != n)
            return bad("tokenizer.ggml.scores has " + std::to_string(sv->elems.size()) + " entries for " +
                       std::to_string(n) + " tokens");
    }
    const gguf::value* yv = f.find("tokenizer.ggml.token_type");
    if (yv != nullptr) {
        if (yv->type != gguf::value_type::array || !is_int_type(yv->array_type))
            return bad("tokenizer.ggml.token_type must be an array of integers, not " + type_text(*yv));
        if (yv->elems.size() != n)
            return bad("tokenizer.ggml.token_type has " + std::to_string(yv->elems.size()) + " entries for " +
                       std::to_string(n) + " tokens");
    }

    v.tokens.resize(n);
    // no reserve(): llama.cpp grows its map insert by insert, and the growth history decides the walk order
    for (size_t i = 0; i < n; ++i) {
        token_entry& t = v.tokens[i];
        t.text = tv->elems[i].str;
        if (t.text.size() > k_max_token_bytes)
            return bad("token " + std::to_string(i) + " is " + std::to_string(t.text.size()) + " bytes (limit " +
                       std::to_string(k_max_token_bytes) + ")");
        if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";  // llama.cpp's name for it
        if (!v.token_to_id.emplace(t.text, static_cast<int32_t>(i)).second)
            return bad("token " + std::to_string(i) + " repeats the text of token " +
                       std::to_string(v.token_to_id[t.text]));
        if (sv != nullptr) {
            const gguf::value& s = sv->elems[i];
            t.score = sv->array_type == gguf::value_type::f32 ? static_cast<float>(s.num.f)
                                                              : static_cast<float>(s.num.i);
            if (std::isnan(t.score)) return bad("tokenizer.ggml.scores[" + std::to_string(i) + "] is NaN");
        }
        if (yv != nullptr) {
            const gguf::value& y = yv->elems[i];
            switch (y.num.i) {  // unsigned types are stored zero-extended, so this reads every integer type
            case 1: t.attr = attr_normal; break;
            case 2: t.attr = attr_unknown; break;
            case 3: t.attr = attr_control; break;
            case 4: t.attr = attr_user_defined; break;
            case 5: t.attr = attr_unused; break;
            case 6: t.attr = attr_byte; break;
            default: t.attr = attr_undefined; break;
            }
        }
    }
    return ok_status();
}

status read_merges(const gguf::file& f, tokenizer_impl& v) {
    const gguf::value* mv = f.find("tokenizer.ggml.merges");
    if (mv == nullptr) return bad("tokenizer.ggml.merges is missing (a " + v.model_kind + " vocab needs it)");
    if (mv->type != gguf::value_type::array || mv->array_type != gguf::value_type::string)
        return bad("tokenizer.ggml.merges must be an array of strings, not " + type_text(*mv));
    if (mv->elems.size() > k_max_merges)
        return bad("tokenizer.ggml.merges has " + std::to_string(mv->elems.size()) + " merges (limit " +
                   std::to_string(k_max_merges) + ")");
    v.merge_rank.reserve(mv->elems.size());
    for (size_t i = 0; i < mv->elems.size(); ++i) {
        const std::string& m = mv->elems[i].str;
        // llama.cpp cuts at the first space after the first byte; a merge without one can never apply
        if (m.size() < 2 || m.find(' ', 1) == std::string::npos) continue;
        v.merge_rank.emplace(m, static_cast<int32_t>(i));
    }
    return ok_status();
}

status read_special_ids(const gguf::file& f, tokenizer_impl& v) {
    struct slot {
        const char* key;
        int32_t* id;
        bool strict;  // out of range is an error (else ignored, as llama.cpp does)
    };
    const slot slots[] = {
        {"tokenizer.ggml.bos_token_id", &v.bos, true},        {"tokenizer.ggml.eos_token_id", &v.eos, true},
        {"tokenizer.ggml.eot_token_id", &v.eot, true},        {"tokenizer.ggml.eom_token_id", &v.eom, true},
        {"tokenizer.ggml.unknown_token_id", &v.unk, true},    {"tokenizer.ggml.seperator_token_id", &v.sep, false},
        {"tokenizer.ggml.padding_token_id", &v.pad, false},   {"tokenizer.ggml.mask_token_id", &v.mask, false},
        {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre, false}, {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf, false},
        {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid, false}, {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad, false},
        {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep, false}, {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep, false},
        // deprecated names, read after the new ones as llama.cpp does
        {"tokenizer.ggml.prefix_token_id", &v.fim_pre, false}, {"tokenizer.ggml.suffix_token_id", &v.fim_suf, false},
        {"tokenizer.ggml.middle_token_id", &v.fim_mid, false},
    };
    const int64_t n = static_cast<int64_t>(v.tokens.size());
    for (const slot& s : slots) {
        if (!v.valid(*s.id)) *s.id = tokenizer::null_token;  // a default past the vocab is disabled
        const gguf::value* x = f.find(s.key);
        if (x == nullptr) continue;
        if (!is_int_type(x->type)) return bad(std::string(s.key) + " must be an integer, not " + type_text(*x));
        const bool is_signed = x->type == gguf::value_type::i8 || x->type == gguf::value_type::i16 ||
                               x->type == gguf::value_type::i32 || x->type == gguf::value_type::i64;
        const bool in_range = is_signed ? (x->num.i >= 0 && x->num.i < n) : (x->num.u < static_cast<uint64_t>(n));
        if (!in_range) {
            if (s.strict)
                return bad(std::string(s.key) + " = " +
                           (is_signed ? std::to_string(x->num.i) : std::to_string(x->num.u)) +
                           " is outside the vocabulary of " + std::to_string(n) + " tokens");
            continue;
        }
        *s.id = static_cast<int32_t>(is_signed ? x->num.i : static_cast<int64_t>(x->num.u));
    }
    MOE_TRY(optional_bool(f, "tokenizer.ggml.add_bos_token", v.add_bos));
    MOE_TRY(optional_bool(f, "tokenizer.ggml.add_eos_token", v.add_eos));
    if (v.pre != nullptr && v.pre == &gemma4_pretokenizer()) v.add_bos = true;  // llama.cpp's Gemma 4 override
    return ok_status();
}

}  // namespace

bool has_tokenizer(const gguf::file& f) {
    const gguf::value* mv = f.find("tokenizer.ggml.model");
    if (mv == nullptr) return false;
    return !(mv->type == gguf::value_type::string && (mv->str == "none" || mv->str == "no_vocab"));
}

result<tokenizer> make_tokenizer(const gguf::file& f) {
    try {
        auto v = std::make_shared<detail::tokenizer_impl>();
        MOE_TRY(read_defaults(f, *v));
        MOE_TRY(read_tokens(f, *v));
        if (v->kind == vocab_kind::bpe) MOE_TRY(read_merges(f, *v));
        MOE_TRY(read_special_ids(f, *v));
        result<std::string> name = optional_string(f, "general.name");
        if (!name) return name.error();
        result<std::string> arch = optional_string(f, "general.architecture");
        if (!arch) return arch.error();
        finish_special_tokens(*v, *name, *arch);
        return detail::tokenizer_access::make(std::move(v));
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory reading the tokenizer");
    } catch (const std::exception& e) {
        return status(errc::internal, std::string("unexpected exception reading the tokenizer: ") + e.what());
    }
}

}  // namespace tok
MOE_END_NAMESPACE
