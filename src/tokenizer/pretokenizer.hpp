// pretokenizer.hpp — the word splitters a byte-level BPE vocab names in tokenizer.ggml.pre, and how to run them.
// Before: raw text of one fragment (special tokens already cut out). After: bpe.cpp merges each word into tokens.
//
// A pre-tokenizer is a list of stages, as llama.cpp's unicode_regex_split runs a list of regexes: every stage cuts
// each piece the previous stage produced. A stage is either a port of one of llama.cpp's hand-written splitters
// (gpt2, llama3, qwen2, qwen35, newlines; pretok_custom.cpp) or a hand-written matcher for a regex llama.cpp hands
// to std::regex (pretok_regex.cpp), which then splits like std::regex_iterator does: every match is a piece and so
// is every run of text between matches. Classes (\p{L}, \s, ...) come from unicode.hpp, exactly as llama.cpp's
// collapsed-text trick sees them.
#pragma once

#include "tokenizer/unicode.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace tok {

// Per-codepoint class byte: k_present | ucat | (k_space when White_Space). 0 means "outside the piece".
constexpr uint8_t k_present = 0x40;
constexpr uint8_t k_space = 0x80;
constexpr uint32_t k_out_of_range = 0xFFFFFFFFu;

inline unicode::ucat cat_of(uint8_t k) noexcept { return static_cast<unicode::ucat>(k & 0x07); }
inline bool is_present(uint8_t k) noexcept { return (k & k_present) != 0; }
inline bool is_space(uint8_t k) noexcept { return (k & k_space) != 0; }
inline bool is_letter(uint8_t k) noexcept { return is_present(k) && cat_of(k) == unicode::ucat::letter; }
inline bool is_number(uint8_t k) noexcept { return is_present(k) && cat_of(k) == unicode::ucat::number; }
inline bool is_mark(uint8_t k) noexcept { return is_present(k) && cat_of(k) == unicode::ucat::mark; }
inline bool is_punct(uint8_t k) noexcept { return is_present(k) && cat_of(k) == unicode::ucat::punctuation; }
inline bool is_symbol(uint8_t k) noexcept { return is_present(k) && cat_of(k) == unicode::ucat::symbol; }

// The text being split: its codepoints and their classes.
struct split_text {
    std::vector<uint32_t> cps;
    std::vector<uint8_t> cls;

    // Class of position i within the piece [b, e); 0 outside it (llama.cpp's "no flags").
    uint8_t k(size_t i, size_t b, size_t e) const noexcept { return i >= b && i < e ? cls[i] : 0; }
    uint32_t cp(size_t i, size_t b, size_t e) const noexcept { return i >= b && i < e ? cps[i] : k_out_of_range; }
};

// A port of a llama.cpp splitter: appends the lengths (codepoints, all > 0) that cut [b, e).
using custom_split_fn = void (*)(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);
// A regex matcher: length of the match that starts at p (the first alternative that matches, as ECMAScript
// backtracking picks it), 0 for none. None of our regexes can match the empty string.
using match_fn = size_t (*)(const split_text& t, size_t p, size_t e);

struct split_stage {
    custom_split_fn custom = nullptr;  // exactly one of the two is set
    match_fn match = nullptr;
};

struct pretokenizer {
    const char* name = "";                // canonical tokenizer.ggml.pre
    const split_stage* stages = nullptr;
    size_t n_stages = 0;
    bool byte_encode = true;              // words come out in GPT-2 byte characters (false: raw UTF-8)
    bool escape_whitespaces = false;      // ' ' -> U+2581 before splitting (SPM-style BPE: gemma4)
    bool clean_spaces = true;             // llama_detokenize's clean-up passes
    bool ignore_merges = false;           // a word that is a token is taken whole
    bool add_bos = false;                 // default for tokenizer.ggml.add_bos_token
    bool no_default_bos = false;          // the vocab's default BOS id is "none" (glm4)
    bool newline_words_whole = false;     // gemma4: a word of only '\n' that is a token is taken whole
};

// The pre-tokenizer a tokenizer.ggml.pre value names (llama.cpp's names and aliases), or nullptr.
const pretokenizer* find_pretokenizer(std::string_view name) noexcept;
// gemma4's splitter (tokenizer.ggml.model "gemma4" implies it).
const pretokenizer& gemma4_pretokenizer() noexcept;

// Splits text into words: decodes UTF-8 (invalid bytes become U+FFFD), runs the stages, re-encodes each word
// (GPT-2 byte characters when byte_encode).
std::vector<std::string> pretokenize(const pretokenizer& p, std::string_view text);

// The stages (pretok_custom.cpp, pretok_regex.cpp).
void split_gpt2(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);
void split_llama3(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);
void split_qwen2(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);
void split_qwen35(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);
void split_newlines(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);
void split_trailing_space(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);  // \s+$
void split_afmoe_digits(const split_text& t, size_t b, size_t e, std::vector<size_t>& out);

size_t match_number(const split_text& t, size_t p, size_t e);              // \p{N}
size_t match_numbers(const split_text& t, size_t p, size_t e);             // \p{N}+
size_t match_numbers_3(const split_text& t, size_t p, size_t e);           // \p{N}{1,3}
size_t match_digits_3(const split_text& t, size_t p, size_t e);            // [0-9][0-9][0-9]
size_t match_punct_default(const split_text& t, size_t p, size_t e);       // [\p{P}\$\+<=>\^~\|]+
size_t match_punct_falcon(const split_text& t, size_t p, size_t e);        // [\p{P}\$\+<=>\^~\|`]+
size_t match_cr_or_lf(const split_text& t, size_t p, size_t e);           // [\r\n]
size_t match_space_letters(const split_text& t, size_t p, size_t e);      // \s?\p{L}+
size_t match_space_punct(const split_text& t, size_t p, size_t e);        // \s?\p{P}+
size_t match_deepseek_letters(const split_text& t, size_t p, size_t e);   // \s?[A-Za-zµÀ-ÖØ-ö...]+
size_t match_deepseek_punct(const split_text& t, size_t p, size_t e);     // \s?[!-/:-~！-／：-～‘-‟　-。]+
size_t match_cjk_hangul(const split_text& t, size_t p, size_t e);         // [一-龥ࠀ-一가-퟿]+
size_t match_cjk_kana(const split_text& t, size_t p, size_t e);           // [一-龥぀-ゟ゠-ヿ]+
size_t match_deepseek3(const split_text& t, size_t p, size_t e);          // DeepSeek-V3's word regex
size_t match_gpt4o(const split_text& t, size_t p, size_t e);              // GPT-4o / o200k word regex
size_t match_tekken(const split_text& t, size_t p, size_t e);             // Mistral tekken word regex
size_t match_tiny_aya(const split_text& t, size_t p, size_t e);           // Tiny Aya / Cohere2 MoE word regex
size_t match_bailing(const split_text& t, size_t p, size_t e);            // Ling (bailingmoe) word regex
size_t match_afmoe_cjk(const split_text& t, size_t p, size_t e);          // [一-鿿㐀-䶿豈-﫿぀-ゟ...]+ (AFMoE)

}  // namespace tok
MOE_END_NAMESPACE
