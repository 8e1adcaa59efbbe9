// detokenizer.cpp — streaming ids -> valid UTF-8: holds back an unfinished character, turns bad bytes into U+FFFD.
// Before: ids from a session's sampler. After: text the caller prints as it arrives.
#include "tokenizer/vocab.hpp"

MOE_BEGIN_NAMESPACE

namespace {

// Length of the valid UTF-8 character at s[i] (1..4); 0 when the bytes present so far could still start a valid
// character but it is cut off; -n for a maximal invalid subpart of n bytes (Unicode's "U+FFFD per maximal subpart").
int utf8_step(const std::string& s, size_t i) {
    const uint8_t b0 = static_cast<uint8_t>(s[i]);
    if (b0 < 0x80) return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;   // no overlongs
        if (b0 == 0xED) hi = 0x9F;   // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;   // nothing past U+10FFFF
    } else {
        return -1;  // 0x80..0xC1, 0xF5..0xFF
    }
    for (int k = 1; k <= need; ++k) {
        if (i + k >= s.size()) return 0;
        const uint8_t b = static_cast<uint8_t>(s[i + k]);
        const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) return -k;
    }
    return need + 1;
}

}  // namespace

detokenizer::detokenizer(const tokenizer& tok, bool special)
    : impl_(detail::tokenizer_access::impl(tok)), special_(special) {}

std::string detokenizer::push(int32_t id) {
    try {
        return emit(tok::piece(*impl_, id, special_));
    } catch (const std::exception&) {  // out of memory: drop what is held back rather than throw
        pending_.clear();
        return std::string();
    }
}

std::string detokenizer::emit(const std::string& piece) {
    pending_ += piece;
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const int n = utf8_step(pending_, i);
        if (n == 0) break;  // unfinished: keep it for the next token
        if (n < 0) {
            out += "\xEF\xBF\xBD";
            i += static_cast<size_t>(-n);
            continue;
        }
        out.append(pending_, i, static_cast<size_t>(n));
        i += static_cast<size_t>(n);
    }
    pending_.erase(0, i);
    return out;
}

std::string detokenizer::flush() {
    std::string out = push(tokenizer::null_token);  // everything that is complete
    if (!pending_.empty()) {
        pending_.clear();
        out += "\xEF\xBF\xBD";  // an unfinished character
    }
    return out;
}

void detokenizer::reset() noexcept { pending_.clear(); }

MOE_END_NAMESPACE
