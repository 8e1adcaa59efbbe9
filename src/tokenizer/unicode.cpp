// unicode.cpp — codepoint class lookup, UTF-8 decode/encode matching llama.cpp, and the GPT-2 byte<->codepoint map.
// Before: the generated tables (unicode_tables.cpp). After: pre-tokenizers, encoders and piece decoding use these.
#include "tokenizer/unicode.hpp"

#include <algorithm>

MOE_BEGIN_NAMESPACE
namespace unicode {

ucat category(uint32_t cp) noexcept {
    if (cp > k_max_codepoint) return ucat::undefined;
    const uint32_t* end = k_class_starts + k_class_runs;
    const uint32_t* it = std::upper_bound(k_class_starts, end, cp);  // first run start > cp; k_class_starts[0] == 0
    return static_cast<ucat>(k_class_values[(it - k_class_starts) - 1]);
}

bool is_white_space(uint32_t cp) noexcept {
    if (cp < 0x80) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    return std::binary_search(k_white_space, k_white_space + k_white_space_count, cp);
}

size_t sequence_length(uint8_t lead) noexcept {
    static constexpr uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[lead >> 4];
}

uint32_t decode_next(std::string_view s, size_t& pos) noexcept {
    const size_t n = s.size();
    auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
    auto cont = [&](size_t i) { return i < n && (byte(i) & 0xC0) == 0x80; };
    const uint8_t b0 = byte(pos);
    if (b0 < 0x80) {
        pos += 1;
        return b0;
    }
    if ((b0 & 0x40) == 0) {  // stray continuation byte
        pos += 1;
        return k_replacement;
    }
    if ((b0 & 0x20) == 0) {
        if (!cont(pos + 1)) {
            pos += 1;
            return k_replacement;
        }
        const uint32_t cp = (uint32_t(b0 & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
        pos += 2;
        return cp;
    }
    if ((b0 & 0x10) == 0) {
        if (!cont(pos + 1) || !cont(pos + 2)) {
            pos += 1;
            return k_replacement;
        }
        const uint32_t cp =
            (uint32_t(b0 & 0x0F) << 12) | (uint32_t(byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
        pos += 3;
        return cp;
    }
    if ((b0 & 0x08) == 0) {
        if (!cont(pos + 1) || !cont(pos + 2) || !cont(pos + 3)) {
            pos += 1;
            return k_replacement;
        }
        const uint32_t cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(byte(pos + 1) & 0x3F) << 12) |
                            (uint32_t(byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
        if (cp > k_max_codepoint) {  // llama.cpp aborts on these; we call them invalid
            pos += 1;
            return k_replacement;
        }
        pos += 4;
        return cp;
    }
    pos += 1;  // 0xF8..0xFF
    return k_replacement;
}

std::vector<uint32_t> decode(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    size_t pos = 0;
    while (pos < s.size()) out.push_back(decode_next(s, pos));
    return out;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

namespace {
constexpr bool shown_as_itself(uint32_t b) noexcept {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct byte_tables {
    uint16_t to_cp[256];   // byte -> codepoint
    uint8_t from_cp[68];   // codepoint - 0x100 -> byte, for the bytes not shown as themselves
};

constexpr byte_tables make_byte_tables() {
    byte_tables t{};
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
        if (shown_as_itself(b)) {
            t.to_cp[b] = static_cast<uint16_t>(b);
        } else {
            t.to_cp[b] = static_cast<uint16_t>(0x100 + n);
            t.from_cp[n] = static_cast<uint8_t>(b);
            ++n;
        }
    }
    return t;
}

constexpr byte_tables k_bytes = make_byte_tables();
}  // namespace

uint32_t byte_to_codepoint(uint8_t b) noexcept { return k_bytes.to_cp[b]; }

int codepoint_to_byte(uint32_t cp) noexcept {
    if (cp < 0x100) return shown_as_itself(cp) ? static_cast<int>(cp) : -1;
    if (cp < 0x100 + 68) return k_bytes.from_cp[cp - 0x100];
    return -1;
}

}  // namespace unicode
MOE_END_NAMESPACE
