// tokenizer_split_check.cpp — in-process differential checks against llama.cpp's own Unicode code (libllama.so):
// codepoint classes for all of Unicode, and each pre-tokenizer's word splits. Used by test_tokenizer_conformance.cpp.
//
// unicode_regex_split and unicode_cpt_flags_from_cpt are internal llama.cpp functions, but libllama exports them;
// we declare them here with their llama.cpp signatures (src/unicode.h). The regex lists are llama.cpp's, copied
// from its llm_tokenizer_bpe constructor (src/llama-vocab.cpp) as reference inputs to its splitter.
#include "tokenizer_conformance.hpp"

#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/unicode.hpp"

#include <cstdio>
#include <map>

// llama.cpp (src/unicode.h). unicode_cpt_flags is a 16-bit bit-field struct returned in a register.
struct llama_cpt_flags {
    uint16_t bits;
};
llama_cpt_flags unicode_cpt_flags_from_cpt(uint32_t cpt);
std::vector<std::string> unicode_regex_split(const std::string& text, const std::vector<std::string>& regex_exprs,
                                             bool byte_encode);

namespace tokconf {

namespace {

// clang-format off
const std::map<std::string, std::vector<std::string>> k_llama_regexes = {
    {"llama-bpe", {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"deepseek-llm", {"[\r\n]", "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+", "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"}},
    {"deepseek-v3", {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
    {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"}},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", "[0-9][0-9][0-9]"}},
    {"starcoder", {"\\p{N}", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"}},
    {"gpt-2", {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"}},
    {"qwen2", {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"qwen35", {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"tekken", {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"gpt-4o", {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"gemma4", {"[^\\n]+|[\\n]+"}},
    {"bailingmoe", {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
    {"afmoe", {"\\p{AFMoE_digits}", "[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+", "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"tiny_aya", {"\\d{1,3}(?=(?:\\d{3})*\\b)", "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"sarvam-moe", {"[^\\n]+|[\\n]+"}},
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", "\\p{N}+", "[0-9][0-9][0-9]"}},
};
// clang-format on

std::string shown(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& w : words) {
        out += "[";
        for (char c : w) {
            const unsigned char u = static_cast<unsigned char>(c);
            if (u < 0x20 || u >= 0x7F) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", u);
                out += buf;
            } else {
                out.push_back(c);
            }
        }
        out += "]";
    }
    return out.size() > 300 ? out.substr(0, 300) + "..." : out;
}

}  // namespace

std::vector<std::string> split_check_names() {
    std::vector<std::string> names;
    for (const auto& kv : k_llama_regexes) names.push_back(kv.first);
    return names;
}

split_counts check_codepoint_classes() {
    split_counts c;
    for (uint32_t cp = 0; cp <= moe::unicode::k_max_codepoint; ++cp) {
        const uint16_t theirs = unicode_cpt_flags_from_cpt(cp).bits & 0x1FF;  // categories + White_Space
        const uint16_t ours = static_cast<uint16_t>((1u << static_cast<unsigned>(moe::unicode::category(cp))) |
                                                    (moe::unicode::is_white_space(cp) ? 0x100u : 0u));
        ++c.cases;
        if (theirs != ours) {
            if (++c.bad <= 20) std::printf("  MISMATCH class of U+%04X: llama.cpp 0x%03x, moe 0x%03x\n", cp, theirs, ours);
        }
    }
    return c;
}

split_counts check_splits(const std::string& pre, const std::vector<std::string>& texts) {
    split_counts c;
    const moe::tok::pretokenizer* p =
        pre == "gemma4" ? &moe::tok::gemma4_pretokenizer() : moe::tok::find_pretokenizer(pre);
    auto it = k_llama_regexes.find(pre);
    if (p == nullptr || it == k_llama_regexes.end()) {
        std::printf("  MISMATCH split %s: unknown pre-tokenizer\n", pre.c_str());
        c.bad = c.cases = 1;
        return c;
    }
    for (const std::string& text : texts) {
        if (text.empty()) continue;  // never split (llama.cpp's afmoe splitter even throws on it): fragments are non-empty
        std::vector<std::string> theirs;
        try {
            theirs = unicode_regex_split(text, it->second, p->byte_encode);
        } catch (...) {
            theirs = {"<llama.cpp threw>"};
        }
        const std::vector<std::string> ours = moe::tok::pretokenize(*p, text);
        ++c.cases;
        if (theirs != ours) {
            if (++c.bad <= 10)
                std::printf("  MISMATCH split %s: llama.cpp %s, moe %s\n", pre.c_str(), shown(theirs).c_str(),
                            shown(ours).c_str());
        }
    }
    return c;
}

}  // namespace tokconf
