// special_split.cpp — cuts text at special-token strings before encoding (llama.cpp's tokenizer_st_partition).
// Before: the caller's text. After: tokenizer.cpp encodes the raw-text fragments and keeps the token fragments.
//
// Special tokens are tried longest first; each one splits every remaining raw fragment at all its occurrences,
// left to right. Control and unknown tokens take part only with parse_special; user-defined tokens always do.
// lstrip/rstrip (set by llama.cpp for a few models, see vocab_special.cpp) drop white space beside the token.
#include "tokenizer/vocab.hpp"

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {
bool c_isspace(char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }  // isspace() in the "C" locale
}  // namespace

std::vector<fragment> split_special(const detail::tokenizer_impl& v, std::string_view text, bool parse_special) {
    std::vector<fragment> frags, next;
    if (!text.empty()) frags.push_back(fragment{tokenizer::null_token, 0, text.size()});
    for (int32_t id : v.special_tokens) {
        const token_entry& tok = v.tokens[id];
        if (!parse_special && (tok.attr & (attr_control | attr_unknown))) continue;
        const std::string& needle = tok.text;
        next.clear();
        for (const fragment& f : frags) {
            if (f.token != tokenizer::null_token) {
                next.push_back(f);
                continue;
            }
            size_t off = f.offset, len = f.length;
            for (;;) {
                const size_t m = text.substr(0, off + len).find(needle, off);
                if (m == std::string_view::npos) {
                    if (len > 0) next.push_back(fragment{tokenizer::null_token, off, len});
                    break;
                }
                size_t left = m - off;
                if (tok.attr & attr_lstrip)
                    while (left > 0 && c_isspace(text[off + left - 1])) --left;
                if (left > 0) next.push_back(fragment{tokenizer::null_token, off, left});
                next.push_back(fragment{id, 0, 0});
                const size_t end = off + len;
                if (m + needle.size() >= end) break;
                off = m + needle.size();
                len = end - off;
                if (tok.attr & attr_rstrip)
                    while (len > 0 && c_isspace(text[off])) {
                        ++off;
                        --len;
                    }
            }
        }
        frags.swap(next);
    }
    return frags;
}

}  // namespace tok
MOE_END_NAMESPACE
