// vocab.hpp — what a loaded tokenizer holds (tokens, merges, special ids, flags) and the internal entry points.
// Filled by make_tokenizer (vocab_load.cpp, vocab_special.cpp); read by spm.cpp, bpe.cpp and tokenizer.cpp.
#pragma once

#include "gguf/gguf.hpp"
#include "tokenizer/pretokenizer.hpp"

#include <moe/tokenizer.hpp>

#include <set>
#include <string>
#include <unordered_map>
#include <vector>

MOE_BEGIN_NAMESPACE

namespace tok {

// Token attributes, numbered as llama.cpp's llama_token_attr.
enum attr : uint32_t {
    attr_undefined = 0,
    attr_unknown = 1u << 0,
    attr_unused = 1u << 1,
    attr_normal = 1u << 2,
    attr_control = 1u << 3,
    attr_user_defined = 1u << 4,
    attr_byte = 1u << 5,
    attr_lstrip = 1u << 7,
    attr_rstrip = 1u << 8,
};

enum class vocab_kind { spm, bpe };

struct token_entry {
    std::string text;
    float score = 0.0f;
    uint32_t attr = attr_normal;
};

// Caps on hostile metadata (real vocabs: <= 262,144 tokens, <= 520,000 merges, tokens of a few hundred bytes).
constexpr size_t k_max_tokens = size_t(1) << 24;
constexpr size_t k_max_merges = size_t(1) << 24;
constexpr size_t k_max_token_bytes = size_t(1) << 16;
constexpr size_t k_max_text_bytes = size_t(1) << 30;

}  // namespace tok

namespace detail {

struct tokenizer_impl {
    tok::vocab_kind kind = tok::vocab_kind::spm;
    std::string model_kind;    // tokenizer.ggml.model
    std::string pre_name;      // tokenizer.ggml.pre as written
    const tok::pretokenizer* pre = nullptr;  // bpe only

    std::vector<tok::token_entry> tokens;
    // Built in id order exactly like llama.cpp's token_to_id (a std::unordered_map too): llama.cpp picks EOT and
    // FIM tokens in this map's iteration order, so the same container reproduces its choice.
    std::unordered_map<std::string, int32_t> token_to_id;
    std::unordered_map<std::string, int32_t> merge_rank;  // "left right" -> rank (first occurrence wins)

    int32_t bos = tokenizer::null_token, eos = tokenizer::null_token, eot = tokenizer::null_token;
    int32_t eom = tokenizer::null_token, unk = tokenizer::null_token, sep = tokenizer::null_token;
    int32_t pad = tokenizer::null_token, mask = tokenizer::null_token;
    int32_t fim_pre = tokenizer::null_token, fim_suf = tokenizer::null_token, fim_mid = tokenizer::null_token;
    int32_t fim_pad = tokenizer::null_token, fim_rep = tokenizer::null_token, fim_sep = tokenizer::null_token;

    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;  // "llama": " " before the first text fragment; all: drop it when decoding
    bool escape_whitespaces = false;
    bool clean_spaces = false;
    bool ignore_merges = false;

    std::set<int32_t> eog;
    std::vector<int32_t> special_tokens;  // control / user-defined / unknown tokens, longest text first
    std::vector<std::string> pieces;     // token_to_piece(id, special = true), per id

    int32_t find(std::string_view text) const {
        auto it = token_to_id.find(std::string(text));
        return it == token_to_id.end() ? tokenizer::null_token : it->second;
    }
    bool valid(int32_t id) const noexcept { return id >= 0 && static_cast<size_t>(id) < tokens.size(); }
};

struct tokenizer_access {
    static tokenizer make(std::shared_ptr<const tokenizer_impl> impl) { return tokenizer(std::move(impl)); }
    static const std::shared_ptr<const tokenizer_impl>& impl(const tokenizer& t) { return t.impl_; }
};

}  // namespace detail

namespace tok {

// Reads and validates tokenizer.ggml.* (and general.name / general.architecture, which llama.cpp also consults).
// Errors: bad_format (wrong types, lengths disagree, ids out of range, duplicate tokens, caps exceeded),
// unsupported (tokenizer model or pre-tokenizer we do not implement, naming it), invalid_argument (no
// tokenizer.ggml.model), out_of_memory.
result<tokenizer> make_tokenizer(const gguf::file& f);

// True when the file names a tokenizer (tokenizer.ggml.model present and not "none"/"no_vocab").
bool has_tokenizer(const gguf::file& f);

// Steps of make_tokenizer (vocab_special.cpp): llama.cpp's by-name special-token detection, EOG set and attribute
// fix-ups, then the special-token and piece caches.
void finish_special_tokens(detail::tokenizer_impl& v, const std::string& general_name, const std::string& general_arch);

// The piece of a token as llama.cpp computes it (special = true), from its text and attributes.
std::string compute_piece(const detail::tokenizer_impl& v, int32_t id);
// token_to_piece with llama.cpp's special flag and lstrip (strip up to `lstrip` leading spaces).
std::string piece(const detail::tokenizer_impl& v, int32_t id, bool special, int lstrip = 0);

// Encoders for one raw-text fragment (spm.cpp, bpe.cpp); they append ids. False: a byte with no token.
bool spm_encode(const detail::tokenizer_impl& v, const std::string& text, std::vector<int32_t>& out);
void bpe_encode(const detail::tokenizer_impl& v, const std::string& text, std::vector<int32_t>& out);

// llama.cpp's tokenizer_st_partition: cut the text at special tokens (special_split.cpp).
struct fragment {
    int32_t token = tokenizer::null_token;  // a special token, or null_token for raw text
    size_t offset = 0, length = 0;          // raw text: bytes [offset, offset + length) of the input
};
std::vector<fragment> split_special(const detail::tokenizer_impl& v, std::string_view text, bool parse_special);

}  // namespace tok

MOE_END_NAMESPACE
