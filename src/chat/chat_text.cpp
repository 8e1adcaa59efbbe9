// chat_text.cpp — the string operations chat templates use, with Python's exact semantics (strip, lstrip('\n'), ...)
// and the two date formats templates print. Used by every chat_*.cpp formatter.
#include "chat/chat_impl.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

// Code points for which Python's str.isspace() is true.
bool py_isspace(uint32_t cp) {
    if (cp <= 0x7f) return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
    switch (cp) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

// Decodes the UTF-8 sequence at s[i, i+len); returns false for anything malformed or overlong.
bool decode(std::string_view s, size_t i, size_t len, uint32_t& cp) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    if (len == 1) {
        cp = b(0);
        return cp < 0x80;
    }
    static const unsigned char lead_mask[5] = {0, 0, 0x1f, 0x0f, 0x07};
    if (len > 4 || i + len > s.size()) return false;
    cp = b(0) & lead_mask[len];
    for (size_t k = 1; k < len; ++k) {
        if ((b(k) & 0xc0) != 0x80) return false;
        cp = (cp << 6) | (b(k) & 0x3fu);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    return cp >= min_cp[len] && cp <= 0x10ffff;
}

size_t lead_length(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) return 2;
    if ((c & 0xf0) == 0xe0) return 3;
    if ((c & 0xf8) == 0xf0) return 4;
    return 0;
}

}  // namespace

std::string py_strip(std::string_view s) {
    size_t begin = 0, end = s.size();
    while (begin < end) {
        const size_t len = lead_length(static_cast<unsigned char>(s[begin]));
        uint32_t cp = 0;
        if (len == 0 || begin + len > end || !decode(s, begin, len, cp) || !py_isspace(cp)) break;
        begin += len;
    }
    while (end > begin) {
        size_t start = end - 1;  // back up over at most 3 continuation bytes to the lead byte
        while (start > begin && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
        const size_t len = end - start;
        uint32_t cp = 0;
        if (lead_length(static_cast<unsigned char>(s[start])) != len || !decode(s, start, len, cp) || !py_isspace(cp)) break;
        end = start;
    }
    return std::string(s.substr(begin, end - begin));
}

std::string_view lstrip_char(std::string_view s, char c) {
    while (!s.empty() && s.front() == c) s.remove_prefix(1);
    return s;
}

std::string_view rstrip_char(std::string_view s, char c) {
    while (!s.empty() && s.back() == c) s.remove_suffix(1);
    return s;
}

std::string_view strip_char(std::string_view s, char c) { return rstrip_char(lstrip_char(s, c), c); }

bool contains(std::string_view s, std::string_view needle) { return s.find(needle) != std::string_view::npos; }
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string format_date_dmy(const chat_date& d) {
    static const char* const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d %s %04d", d.day, months[(d.month - 1) % 12], d.year);
    return buf;
}

std::string format_date_iso(const chat_date& d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
    return buf;
}

chat_date today() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
#if defined(_WIN32)
    localtime_s(&tm, &now);
#else
    localtime_r(&now, &tm);
#endif
    return {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
}

}  // namespace detail
MOE_END_NAMESPACE
