// spm.cpp — "llama" (SentencePiece-style) encoding: merge the best-scoring adjacent pair until none is a token.
// Before: one raw-text fragment with spaces already written as U+2581 (tokenizer.cpp). After: its ids.
//
// As llama.cpp's llm_tokenizer_spm_session: symbols are UTF-8 characters (cut by their first byte alone), the
// pair whose merged text is a token with the highest score merges first (ties: leftmost), and a final symbol that
// is not a token is written byte by byte with <0xNN> byte tokens.
#include "tokenizer/vocab.hpp"

#include <queue>

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

struct symbol {
    int prev, next;
    size_t start, n;  // bytes [start, start + n) of the text; n == 0 once merged away
};

struct bigram {
    int left, right;
    float score;
    size_t size;
};

struct lower_priority {
    bool operator()(const bigram& l, const bigram& r) const {
        return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
};

// The id for one byte: <0xNN>, else the one-character token, else the unknown token.
int32_t byte_token(const detail::tokenizer_impl& v, uint8_t b) {
    static const char hex[] = "0123456789ABCDEF";
    const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
    int32_t id = v.find(name);
    if (id == tokenizer::null_token) id = v.find(std::string(1, static_cast<char>(b)));
    if (id == tokenizer::null_token) id = v.unk;  // llama.cpp throws here
    return id;
}

}  // namespace

bool spm_encode(const detail::tokenizer_impl& v, const std::string& text, std::vector<int32_t>& out) {
    std::vector<symbol> syms;
    for (size_t off = 0; off < text.size();) {
        const size_t n = std::min(unicode::sequence_length(static_cast<uint8_t>(text[off])), text.size() - off);
        const int index = static_cast<int>(syms.size());
        syms.push_back(symbol{index - 1, off + n == text.size() ? -1 : index + 1, off, n});
        off += n;
    }
    if (syms.empty()) return true;

    std::priority_queue<bigram, std::vector<bigram>, lower_priority> queue;
    auto try_add = [&](int left, int right) {
        if (left == -1 || right == -1) return;
        const size_t size = syms[left].n + syms[right].n;
        const int32_t id = v.find(std::string_view(text).substr(syms[left].start, size));
        if (id == tokenizer::null_token) return;
        queue.push(bigram{left, right, v.tokens[id].score, size});
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

    for (int i = 0; i != -1; i = syms[i].next) {
        const std::string_view s = std::string_view(text).substr(syms[i].start, syms[i].n);
        const int32_t id = v.find(s);
        if (id != tokenizer::null_token) {
            out.push_back(id);
            continue;
        }
        for (char c : s) {
            const int32_t bt = byte_token(v, static_cast<uint8_t>(c));
            if (bt == tokenizer::null_token) return false;
            out.push_back(bt);
        }
    }
    return true;
}

}  // namespace tok
MOE_END_NAMESPACE
