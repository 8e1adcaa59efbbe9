// pretok_split.cpp — runs a pre-tokenizer's stages over a text and re-encodes the words (GPT-2 byte characters).
// Before: a raw-text fragment from special_split.cpp. After: bpe.cpp merges each word.
#include "tokenizer/pretokenizer.hpp"

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

// std::regex_iterator over [b, e): every match is a piece, and so is every gap between matches.
void run_match_stage(const split_text& t, match_fn match, size_t b, size_t e, std::vector<size_t>& out) {
    size_t gap = b;
    size_t p = b;
    while (p < e) {
        const size_t n = match(t, p, e);
        if (n == 0) {
            ++p;
            continue;
        }
        if (p > gap) out.push_back(p - gap);
        out.push_back(n);
        p += n;
        gap = p;
    }
    if (e > gap) out.push_back(e - gap);
}

}  // namespace

std::vector<std::string> pretokenize(const pretokenizer& pre, std::string_view text) {
    split_text t;
    t.cps = unicode::decode(text);
    t.cls.resize(t.cps.size());
    for (size_t i = 0; i < t.cps.size(); ++i) {
        const uint32_t c = t.cps[i];
        t.cls[i] = static_cast<uint8_t>(k_present | static_cast<uint8_t>(unicode::category(c)) |
                                        (unicode::is_white_space(c) ? k_space : 0));
    }

    std::vector<size_t> pieces{t.cps.size()}, next;
    for (size_t s = 0; s < pre.n_stages; ++s) {
        const split_stage& stage = pre.stages[s];
        next.clear();
        size_t start = 0;
        for (size_t len : pieces) {
            if (stage.custom)
                stage.custom(t, start, start + len, next);
            else
                run_match_stage(t, stage.match, start, start + len, next);
            start += len;
        }
        pieces.swap(next);
    }

    std::vector<std::string> words;
    words.reserve(pieces.size());
    size_t start = 0;
    std::string raw;
    for (size_t len : pieces) {
        raw.clear();
        for (size_t i = start; i < start + len; ++i) unicode::append_utf8(raw, t.cps[i]);
        start += len;
        if (!pre.byte_encode) {
            words.push_back(raw);
            continue;
        }
        std::string word;
        word.reserve(raw.size() * 2);
        for (char ch : raw) unicode::append_utf8(word, unicode::byte_to_codepoint(static_cast<uint8_t>(ch)));
        words.push_back(std::move(word));
    }
    return words;
}

}  // namespace tok
MOE_END_NAMESPACE
