// vocab_special.cpp — llama.cpp's by-name special tokens (EOT, FIM, EOG set, attribute fix-ups) and the caches.
// Before: vocab_load.cpp filled tokens, ids and flags. After: the tokenizer is complete and read-only.
//
// llama.cpp recognises many special tokens by their text, walking its token_to_id hash map; where two candidates
// exist (Qwen has both <|im_end|> and <|endoftext|>) the first one in that walk wins. tokenizer_impl builds the
// same std::unordered_map the same way, so walking it here picks the same token.
#include "tokenizer/vocab.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <initializer_list>

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

using detail::tokenizer_impl;

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (s == n) return true;
    return false;
}

bool contains_any(const std::string& s, std::initializer_list<const char*> parts) {
    for (const char* p : parts)
        if (s.find(p) != std::string::npos) return true;
    return false;
}

// EOT, EOM and FIM ids not given by metadata: the first token (in map order) with one of the known names.
void detect_by_name(tokenizer_impl& v) {
    struct slot {
        int32_t* id;
        std::initializer_list<const char*> names;
    };
    const slot slots[] = {
        {&v.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
                  "_<EOT>", "[EOT]", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                  "<end_of_utterance>"}},
        {&v.eom, {"<|eom_id|>"}},
        {&v.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>", "\xE2\x96\x81<PRE>",
                      "<|code_prefix|>", "<|prefix|>"}},
        {&v.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                      "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>", "\xE2\x96\x81<SUF>",
                      "<|code_suffix|>", "<|suffix|>"}},
        {&v.fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>", "\xE2\x96\x81<MID>",
                      "<|code_middle|>", "<|middle|>"}},
        {&v.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
        {&v.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
        {&v.fim_sep, {"<|file_sep|>"}},
    };
    for (const auto& kv : v.token_to_id) {
        for (const slot& s : slots) {
            if (*s.id == tokenizer::null_token && one_of(kv.first, s.names)) {
                *s.id = kv.second;
                v.tokens[kv.second].attr |= attr_control;
            }
        }
    }
}

// Control tokens named "...unused..." are unused ones.
void mark_unused(tokenizer_impl& v) {
    for (token_entry& t : v.tokens)
        if ((t.attr & attr_control) && !(t.attr & attr_unused) && t.text.find("unused") != std::string::npos)
            t.attr |= attr_unused;
}

void build_eog(tokenizer_impl& v) {
    v.eog.clear();
    for (int32_t id : {v.fim_pad, v.fim_rep, v.fim_sep})
        if (id != tokenizer::null_token) v.eog.insert(id);
    for (const auto& kv : v.token_to_id) {
        if (one_of(kv.first, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                              "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>",
                              "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
                              "<|tool_response>",
                              "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "[e~["})) {
            v.eog.insert(kv.second);
            v.tokens[kv.second].attr |= attr_control;
        }
    }
    // gpt-oss (harmony): these are always rendered
    for (const auto& kv : v.token_to_id)
        if (one_of(kv.first, {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}))
            v.tokens[kv.second].attr = attr_user_defined;
    for (int32_t id : {v.eos, v.eot, v.eom})
        if (id != tokenizer::null_token) v.eog.insert(id);

    // o200k_harmony / solar-open: with <|return|> and <|call|> (or <|calls|> and <|flush|>), <|end|> is not EOG
    bool has_return = false, has_call = false, has_flush = false, has_end = false;
    int32_t end_id = tokenizer::null_token;
    for (int32_t id : v.eog) {
        const std::string& text = v.tokens[id].text;
        if (text == "<|return|>") has_return = true;
        else if (text == "<|call|>" || text == "<|calls|>") has_call = true;
        else if (text == "<|flush|>") has_flush = true;
        else if (text == "<|end|>") { has_end = true; end_id = id; }
    }
    if ((has_return && has_call && has_end) || (has_call && has_flush && has_end)) {
        v.eog.erase(end_id);
        v.tokens[end_id].attr = attr_user_defined;
    }

    // gemma4 / paddleocr: with <|tool_response>, </s> is not EOG
    bool has_tool_response = false, has_s = false;
    int32_t s_id = tokenizer::null_token;
    for (int32_t id : v.eog) {
        const std::string& text = v.tokens[id].text;
        if (text == "<|tool_response>") has_tool_response = true;
        else if (text == "</s>") { has_s = true; s_id = id; }
    }
    if (has_tool_response && has_s) {
        v.eog.erase(s_id);
        v.tokens[s_id].attr = attr_normal;
    }
}

// Tokens cut out of text before encoding: control, user-defined and unknown ones, longest first. std::sort (not
// stable) on the ascending id list, as llama.cpp does, so equal-length ties fall in the same order.
void build_special_list(tokenizer_impl& v) {
    v.special_tokens.clear();
    for (size_t id = 0; id < v.tokens.size(); ++id)
        if (v.tokens[id].attr & (attr_control | attr_user_defined | attr_unknown))
            v.special_tokens.push_back(static_cast<int32_t>(id));
    std::sort(v.special_tokens.begin(), v.special_tokens.end(), [&](int32_t a, int32_t b) {
        return v.tokens[a].text.size() > v.tokens[b].text.size();
    });
}

// llama.cpp's per-model attribute fix-ups (after the caches, as there).
void fix_attributes(tokenizer_impl& v, std::string name, const std::string& arch) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto set = [&](const char* text, uint32_t attr, bool on) {
        const int32_t id = v.find(text);
        if (id == tokenizer::null_token) return;  // llama.cpp fails to load here; we leave the vocab as it is
        if (on) v.tokens[id].attr |= attr;
        else v.tokens[id].attr &= ~attr;
    };
    if (contains_any(v.pre_name, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
        contains_any(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
        set("<mask>", attr_lstrip, true);
    } else if (contains_any(name, {"phi-3", "phi3"})) {
        for (int32_t id : v.special_tokens) v.tokens[id].attr |= attr_rstrip;
        set("</s>", attr_rstrip, true);
        for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, attr_rstrip, false);
    } else if (contains_any(name, {"modern-bert"})) {
        set("[MASK]", attr_lstrip, true);
    }
}

// GPT-2 byte characters -> bytes (llama.cpp's llama_decode_text, including its marker for a character that is not
// a byte character).
std::string decode_byte_chars(const std::string& text) {
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
        const uint32_t cp = unicode::decode_next(text, pos);
        const int b = unicode::codepoint_to_byte(cp);
        if (b >= 0) {
            out.push_back(static_cast<char>(b));
            continue;
        }
        std::string utf8;
        unicode::append_utf8(utf8, cp);
        static const char hex[] = "0123456789abcdef";
        out += "[UNK_BYTE_0x";
        for (char c : utf8) {
            out.push_back(hex[static_cast<uint8_t>(c) >> 4]);
            out.push_back(hex[static_cast<uint8_t>(c) & 15]);
        }
        out += text + "]";
    }
    return out;
}

std::string unescape_spaces(std::string s) {  // U+2581 -> ' '
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
            out.push_back(' ');
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// <0xNN> -> the byte (llama.cpp: strtol(text.substr(3, 2), 16)).
char byte_of(const std::string& text) {
    char hex[3] = {0, 0, 0};
    for (size_t i = 0; i < 2 && 3 + i < text.size(); ++i) hex[i] = text[3 + i];
    return static_cast<char>(std::strtol(hex, nullptr, 16));
}

}  // namespace

std::string compute_piece(const tokenizer_impl& v, int32_t id) {
    const token_entry& t = v.tokens[id];
    if (t.attr & (attr_unknown | attr_control | attr_user_defined)) return t.text;
    if (t.attr & attr_normal) {
        if (v.kind == vocab_kind::spm || v.escape_whitespaces) return unescape_spaces(t.text);
        return decode_byte_chars(t.text);
    }
    if (t.attr & attr_byte) return std::string(1, byte_of(t.text));
    return std::string();  // unused / undefined
}

std::string piece(const tokenizer_impl& v, int32_t id, bool special, int lstrip) {
    if (!v.valid(id)) return std::string();
    if (!special && (v.tokens[id].attr & (attr_unknown | attr_control))) return std::string();
    const std::string& p = v.pieces[id];
    size_t skip = 0;
    while (skip < p.size() && static_cast<int>(skip) < lstrip && p[skip] == ' ') ++skip;
    return p.substr(skip);
}

void finish_special_tokens(tokenizer_impl& v, const std::string& general_name, const std::string& general_arch) {
    detect_by_name(v);
    mark_unused(v);
    build_eog(v);
    build_special_list(v);
    v.pieces.resize(v.tokens.size());
    for (size_t id = 0; id < v.tokens.size(); ++id) v.pieces[id] = compute_piece(v, static_cast<int32_t>(id));
    fix_attributes(v, general_name, general_arch);
}

}  // namespace tok
MOE_END_NAMESPACE
