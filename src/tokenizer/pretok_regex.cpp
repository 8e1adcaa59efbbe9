// pretok_regex.cpp — hand-written matchers for the pre-tokenizer regexes llama.cpp runs through std::regex.
// Before: pretok_split.cpp asks "what matches at p?". After: it cuts the piece at the matches and between them.
//
// Each function returns the length of the match ECMAScript backtracking would find at p: the first alternative
// that can match, greedy quantifiers giving back one codepoint at a time. llama.cpp feeds std::regex a "collapsed"
// text where every non-ASCII codepoint stands for its class (White_Space, else \p{N}/L/P/M/S, else "other"); ASCII
// stays itself. So a class test here is a category test, and a literal ASCII character never equals a non-ASCII
// one. Regexes without \p{..} run through std::wregex on real codepoints with non-ASCII white space turned into
// '\v'; there, a codepoint range never holds a White_Space character (is_range_char below).
#include "tokenizer/pretokenizer.hpp"

#include <algorithm>
#include <iterator>

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

bool in(uint32_t c, const char* set) noexcept {
    for (; *set; ++set)
        if (c == static_cast<unsigned char>(*set)) return true;
    return false;
}
bool ascii_letter(uint32_t c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool ascii_digit(uint32_t c) noexcept { return c >= '0' && c <= '9'; }

// Length of the run of positions from p (before e) that satisfy pred(index).
template <class Pred>
size_t run(size_t p, size_t e, Pred pred) {
    size_t q = p;
    while (q < e && pred(q)) ++q;
    return q - p;
}

struct cp_range {
    uint32_t lo, hi;
};

// A codepoint inside one of `ranges`, as std::wregex sees it (non-ASCII White_Space arrives as '\v').
template <size_t n>
bool is_range_char(const split_text& t, size_t i, const cp_range (&ranges)[n]) noexcept {
    const uint32_t c = t.cps[i];
    if (c >= 0x80 && is_space(t.cls[i])) return false;
    for (const cp_range& r : ranges)
        if (c >= r.lo && c <= r.hi) return true;
    return false;
}

// \s?X+ : a white space then X+, else X+.
template <class Pred>
size_t space_then_run(const split_text& t, size_t p, size_t e, Pred x) {
    if (is_space(t.cls[p]) && p + 1 < e && x(p + 1)) return 1 + run(p + 1, e, x);
    return x(p) ? run(p, e, x) : 0;
}

// DeepSeek LLM's letter class (its tokenizer.json; llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEEPSEEK_LLM).
constexpr cp_range k_deepseek_letters[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x01BA},
    {0x01BC, 0x01BF}, {0x01C4, 0x0293}, {0x0295, 0x02AF}, {0x0370, 0x0373}, {0x0376, 0x0377}, {0x037B, 0x037D},
    {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03F5},
    {0x03F7, 0x0481}, {0x048A, 0x052F}, {0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4},
    {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
    {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
    {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E},
    {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};
// [!-/:-~！-／：-～‘-‟　-。]
constexpr cp_range k_deepseek_punct[] = {
    {0x0021, 0x002F}, {0x003A, 0x007E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};
// [一-龥ࠀ-一가-퟿]
constexpr cp_range k_cjk_hangul[] = {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}};
// [一-龥぀-ゟ゠-ヿ]
constexpr cp_range k_cjk_kana[] = {{0x4E00, 0x9FA5}, {0x3040, 0x309F}, {0x30A0, 0x30FF}};

// (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]) at p; length or 0.
size_t contraction_ci(const split_text& t, size_t p, size_t e) {
    if (p + 1 >= e || t.cps[p] != '\'') return 0;
    auto lower = [](uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
    const uint32_t c1 = lower(t.cps[p + 1]);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (p + 2 >= e) return 0;
    const uint32_t c2 = lower(t.cps[p + 2]);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
}

// \s*[\r\n]+ : the white-space run from p, cut after its last \r or \n.
size_t space_to_last_newline(const split_text& t, size_t p, size_t e) {
    size_t end = 0;
    for (size_t q = p; q < e && is_space(t.cls[q]); ++q)
        if (t.cps[q] == '\r' || t.cps[q] == '\n') end = q + 1;
    return end ? end - p : 0;
}

// \s+(?!\S)|\s+ : the white-space run from p, less its last character when a non-space follows it.
size_t space_run(const split_text& t, size_t p, size_t e) {
    const size_t n = run(p, e, [&](size_t i) { return is_space(t.cls[i]); });
    if (n == 0) return 0;
    return (p + n < e && n > 1) ? n - 1 : n;  // \s+(?!\S) needs n >= 2 then; a lone space is plain \s+
}

// The tail the GPT-4o-style regexes share: \p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t o200k_tail(const split_text& t, size_t p, size_t e, size_t max_digits) {
    const uint32_t c = t.cps[p];
    if (is_number(t.cls[p])) return std::min(max_digits, run(p, e, [&](size_t i) { return is_number(t.cls[i]); }));
    auto other = [&](size_t i) { return !is_space(t.cls[i]) && !is_letter(t.cls[i]) && !is_number(t.cls[i]); };
    auto cr_lf_slash = [&](size_t i) { return t.cps[i] == '\r' || t.cps[i] == '\n' || t.cps[i] == '/'; };
    if (c == ' ' && p + 1 < e && other(p + 1)) {
        const size_t q = p + 1 + run(p + 1, e, other);
        return q + run(q, e, cr_lf_slash) - p;
    }
    if (other(p)) {
        const size_t q = p + run(p, e, other);
        return q + run(q, e, cr_lf_slash) - p;
    }
    if (size_t n = space_to_last_newline(t, p, e)) return n;
    return space_run(t, p, e);
}

// GPT-4o / tekken: [^\r\n\p{L}\p{N}]?U*W+C?|[^\r\n\p{L}\p{N}]?U+W*C?|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n/]*|
//                  \s*[\r\n]+|\s+(?!\S)|\s+
// where U is ((?=[\p{L}])([^a-z])) (a letter that is not a-z), W is ((?=[\p{L}])([^A-Z])) and C the optional
// contraction (GPT-4o only). Non-ASCII letters are both U and W.
template <size_t max_digits, bool contractions>
size_t match_o200k(const split_text& t, size_t p, size_t e) {
    auto U = [&](size_t i) { return i < e && is_letter(t.cls[i]) && !(t.cps[i] >= 'a' && t.cps[i] <= 'z'); };
    auto W = [&](size_t i) { return i < e && is_letter(t.cls[i]) && !(t.cps[i] >= 'A' && t.cps[i] <= 'Z'); };
    const uint32_t c = t.cps[p];
    const uint8_t k = t.cls[p];
    const bool prefix = c != '\r' && c != '\n' && !is_letter(k) && !is_number(k);
    const size_t s = p + (prefix ? 1 : 0);  // without the prefix the rest could not match (prefix is not a letter)
    auto finish = [&](size_t end) { return end - p + (contractions ? contraction_ci(t, end, e) : 0); };
    {  // alternative 1: U* W+ — U* greedy, then give back until a W can start
        const size_t u_end = s + run(s, e, U);
        for (size_t w = u_end + 1; w-- > s;) {
            if (W(w)) return finish(w + run(w, e, W));
        }
    }
    if (U(s)) {  // alternative 2: U+ W*
        const size_t u_end = s + run(s, e, U);
        return finish(u_end + run(u_end, e, W));
    }
    return o200k_tail(t, p, e, max_digits);
}

// AFMoE's CJK and South-East Asian class, as the codepoints llama.cpp's source holds (its 豈 is U+8C48).
constexpr cp_range k_afmoe_cjk[] = {
    {0x4E00, 0x9FFF}, {0x3400, 0x4DBF}, {0x8C48, 0xFAFF}, {0x3040, 0x309F}, {0x30A0, 0x30FF},
    {0xFF65, 0xFF9F}, {0x2F00, 0x2FDF}, {0x0E40, 0x0E7F}, {0x0E80, 0x0EFF}, {0x1780, 0x17FF},
    {0x1000, 0x109F}, {0xAA60, 0xAA7F}, {0xA9E0, 0xA9FF}, {0xAC00, 0xD7AF}, {0x1100, 0x11FF},
};

}  // namespace

size_t match_number(const split_text& t, size_t p, size_t) { return is_number(t.cls[p]) ? 1 : 0; }

size_t match_numbers(const split_text& t, size_t p, size_t e) {
    return run(p, e, [&](size_t i) { return is_number(t.cls[i]); });
}

size_t match_numbers_3(const split_text& t, size_t p, size_t e) { return std::min<size_t>(3, match_numbers(t, p, e)); }

size_t match_digits_3(const split_text& t, size_t p, size_t e) {
    return p + 3 <= e && ascii_digit(t.cps[p]) && ascii_digit(t.cps[p + 1]) && ascii_digit(t.cps[p + 2]) ? 3 : 0;
}

size_t match_punct_default(const split_text& t, size_t p, size_t e) {
    return run(p, e, [&](size_t i) { return is_punct(t.cls[i]) || in(t.cps[i], "$+<=>^~|"); });
}

size_t match_punct_falcon(const split_text& t, size_t p, size_t e) {
    return run(p, e, [&](size_t i) { return is_punct(t.cls[i]) || in(t.cps[i], "$+<=>^~|`"); });
}

size_t match_cr_or_lf(const split_text& t, size_t p, size_t) { return t.cps[p] == '\r' || t.cps[p] == '\n' ? 1 : 0; }

size_t match_space_letters(const split_text& t, size_t p, size_t e) {
    return space_then_run(t, p, e, [&](size_t i) { return is_letter(t.cls[i]); });
}

size_t match_space_punct(const split_text& t, size_t p, size_t e) {
    return space_then_run(t, p, e, [&](size_t i) { return is_punct(t.cls[i]); });
}

size_t match_deepseek_letters(const split_text& t, size_t p, size_t e) {
    return space_then_run(t, p, e, [&](size_t i) { return is_range_char(t, i, k_deepseek_letters); });
}

size_t match_deepseek_punct(const split_text& t, size_t p, size_t e) {
    return space_then_run(t, p, e, [&](size_t i) { return is_range_char(t, i, k_deepseek_punct); });
}

size_t match_cjk_hangul(const split_text& t, size_t p, size_t e) {
    return run(p, e, [&](size_t i) { return is_range_char(t, i, k_cjk_hangul); });
}

size_t match_cjk_kana(const split_text& t, size_t p, size_t e) {
    return run(p, e, [&](size_t i) { return is_range_char(t, i, k_cjk_kana); });
}

// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
size_t match_deepseek3(const split_text& t, size_t p, size_t e) {
    const uint32_t c = t.cps[p];
    const uint8_t k = t.cls[p];
    auto ascii_punct = [](uint32_t x) {
        return (x >= 0x21 && x <= 0x2F) || (x >= 0x3A && x <= 0x40) || (x >= 0x5B && x <= 0x60) ||
               (x >= 0x7B && x <= 0x7E);
    };
    if (ascii_punct(c) && p + 1 < e && ascii_letter(t.cps[p + 1]))
        return 1 + run(p + 1, e, [&](size_t i) { return ascii_letter(t.cps[i]); });
    auto letter_or_mark = [&](size_t i) { return is_letter(t.cls[i]) || is_mark(t.cls[i]); };
    const bool prefix = c != '\r' && c != '\n' && !is_letter(k) && !is_punct(k) && !is_symbol(k);
    if (prefix && p + 1 < e && letter_or_mark(p + 1)) return 1 + run(p + 1, e, letter_or_mark);
    if (letter_or_mark(p)) return run(p, e, letter_or_mark);
    auto punct_or_symbol = [&](size_t i) { return is_punct(t.cls[i]) || is_symbol(t.cls[i]); };
    auto cr_lf = [&](size_t i) { return t.cps[i] == '\r' || t.cps[i] == '\n'; };
    if (c == ' ' && p + 1 < e && punct_or_symbol(p + 1)) {
        const size_t q = p + 1 + run(p + 1, e, punct_or_symbol);
        return q + run(q, e, cr_lf) - p;
    }
    if (punct_or_symbol(p)) {
        const size_t q = p + run(p, e, punct_or_symbol);
        return q + run(q, e, cr_lf) - p;
    }
    if (size_t n = space_to_last_newline(t, p, e)) return n;
    return space_run(t, p, e);
}

size_t match_gpt4o(const split_text& t, size_t p, size_t e) { return match_o200k<3, true>(t, p, e); }
size_t match_tekken(const split_text& t, size_t p, size_t e) { return match_o200k<1, false>(t, p, e); }

// Tiny Aya / Cohere2 MoE: GPT-4o's regex with \p{M} in both letter classes. Collapsed, both classes are "letter or
// mark", and the optional leading character may itself be a mark.
size_t match_tiny_aya(const split_text& t, size_t p, size_t e) {
    auto x = [&](size_t i) { return is_letter(t.cls[i]) || is_mark(t.cls[i]); };
    const uint32_t c = t.cps[p];
    const uint8_t k = t.cls[p];
    const bool prefix = c != '\r' && c != '\n' && !is_letter(k) && !is_number(k);
    size_t end = 0;
    if (prefix && p + 1 < e && x(p + 1))
        end = p + 1 + run(p + 1, e, x);
    else if (x(p))
        end = p + run(p, e, x);
    if (end) return end - p + contraction_ci(t, end, e);
    return o200k_tail(t, p, e, 3);
}

// Ling (bailingmoe): '(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
size_t match_bailing(const split_text& t, size_t p, size_t e) {
    if (size_t n = contraction_ci(t, p, e)) return n;
    const uint32_t c = t.cps[p];
    const uint8_t k = t.cls[p];
    auto letter = [&](size_t i) { return is_letter(t.cls[i]); };
    const bool prefix = c != '\r' && c != '\n' && !is_letter(k) && !is_number(k);
    if (prefix && p + 1 < e && letter(p + 1)) return 1 + run(p + 1, e, letter);
    if (letter(p)) return run(p, e, letter);
    if (is_number(k)) return 1;
    auto other = [&](size_t i) { return !is_space(t.cls[i]) && !is_letter(t.cls[i]) && !is_number(t.cls[i]); };
    auto cr_lf = [&](size_t i) { return t.cps[i] == '\r' || t.cps[i] == '\n'; };
    if (c == ' ' && p + 1 < e && other(p + 1)) {
        const size_t q = p + 1 + run(p + 1, e, other);
        return q + run(q, e, cr_lf) - p;
    }
    if (other(p)) {
        const size_t q = p + run(p, e, other);
        return q + run(q, e, cr_lf) - p;
    }
    if (size_t n = space_to_last_newline(t, p, e)) return n;  // \s*[\r\n] also ends after the run's last \r or \n
    return space_run(t, p, e);
}

size_t match_afmoe_cjk(const split_text& t, size_t p, size_t e) {
    return run(p, e, [&](size_t i) { return is_range_char(t, i, k_afmoe_cjk); });
}

}  // namespace tok
MOE_END_NAMESPACE
