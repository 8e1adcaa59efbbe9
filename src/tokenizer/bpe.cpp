// bpe.cpp — byte-level BPE encoding ("gpt2", "gemma4"): split into words, then merge pairs by merge rank.
// Before: one raw-text fragment (tokenizer.cpp). After: its ids, appended.
//
// As llama.cpp's llm_tokenizer_bpe_session: each word from the pre-tokenizer starts as its UTF-8 characters; the
// adjacent pair with the lowest merge rank merges first (ties: leftmost) until no pair has a rank. A final symbol
// that is not a token falls back to one token per byte (a single byte character, or <0xNN> for gemma4); bytes
// with no such token are dropped, as llama.cpp drops them.
#include "tokenizer/vocab.hpp"

#include <queue>

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

struct symbol {
    int prev, next;
    size_t start, n;  // bytes of the word; n == 0 once merged away
};

struct bigram {
    int left, right;
    int32_t rank;
    size_t size;
};

struct lower_priority {
    bool operator()(const bigram& l, const bigram& r) const {
        return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
    }
};

void encode_word(const detail::tokenizer_impl& v, const std::string& word, std::vector<int32_t>& out) {
    std::vector<symbol> syms;
    const bool whole = (v.ignore_merges || (v.pre->newline_words_whole &&
                                            word.find_first_not_of('\n') == std::string::npos)) &&
                       v.find(word) != tokenizer::null_token;
    if (whole) {
        syms.push_back(symbol{-1, -1, 0, word.size()});
    } else {
        for (size_t off = 0; off < word.size();) {
            const size_t n = std::min(unicode::sequence_length(static_cast<uint8_t>(word[off])), word.size() - off);
            const int index = static_cast<int>(syms.size());
            syms.push_back(symbol{index - 1, off + n == word.size() ? -1 : index + 1, off, n});
            off += n;
        }
    }

    std::priority_queue<bigram, std::vector<bigram>, lower_priority> queue;
    std::string key;
    auto try_add = [&](int left, int right) {
        if (left == -1 || right == -1) return;
        const std::string_view l = std::string_view(word).substr(syms[left].start, syms[left].n);
        const std::string_view r = std::string_view(word).substr(syms[right].start, syms[right].n);
        if (l.find(' ') != std::string_view::npos || r.find(' ') != std::string_view::npos) return;
        key.assign(l.data(), l.size());
        key.push_back(' ');
        key.append(r.data(), r.size());
        auto it = v.merge_rank.find(key);
        if (it == v.merge_rank.end()) return;
        queue.push(bigram{left, right, it->second, l.size() + r.size()});
    };
    for (int i = 1; i < static_cast<int>(syms.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
        const bigram b = queue.top();
        queue.pop();
        symbol& l = syms[b.left];
        symbol& r = syms[b.right];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }

    for (const symbol& s : syms) {
        if (s.n == 0) continue;
        const std::string_view text = std::string_view(word).substr(s.start, s.n);
        const int32_t id = v.find(text);
        if (id != tokenizer::null_token) {
            out.push_back(id);
            continue;
        }
        for (char c : text) {
            int32_t bt;
            if (v.pre->byte_encode) {
                bt = v.find(std::string(1, c));
            } else {
                static const char hex[] = "0123456789ABCDEF";
                const uint8_t b = static_cast<uint8_t>(c);
                const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
                bt = v.find(name);
            }
            if (bt != tokenizer::null_token) out.push_back(bt);
        }
    }
}

}  // namespace

void bpe_encode(const detail::tokenizer_impl& v, const std::string& text, std::vector<int32_t>& out) {
    for (const std::string& word : pretokenize(*v.pre, text)) encode_word(v, word, out);
}

}  // namespace tok
MOE_END_NAMESPACE
