// pretok_custom.cpp — llama.cpp's hand-written splitters (gpt2, llama3, qwen2, qwen35, newlines, afmoe digits), step
// for step, quirks included. Before: pretok_split.cpp hands each piece. After: the cut lengths, back to it.
//
// Each walks the piece [b, e) once. A position outside the piece has class 0 (no flags at all) and codepoint
// k_out_of_range, which is what llama.cpp's splitters see there too.
#include "tokenizer/pretokenizer.hpp"

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

// Appends [prev, end) when non-empty; returns its length.
struct cutter {
    std::vector<size_t>& out;
    size_t prev;
    size_t cut(size_t end) {
        const size_t len = end - prev;
        if (len > 0) out.push_back(len);
        prev = end;
        return len;
    }
};

uint32_t ascii_lower(uint32_t c) noexcept { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's 't 're 've 'm 'll 'd at p (p is a quote); case-insensitive when `fold`. Returns the length or 0.
size_t contraction(const split_text& t, size_t p, size_t e, bool fold) {
    if (p + 1 >= e) return 0;
    const uint32_t c1 = fold ? ascii_lower(t.cps[p + 1]) : t.cps[p + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (p + 2 >= e) return 0;
    const uint32_t c2 = fold ? ascii_lower(t.cps[p + 2]) : t.cps[p + 2];
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
}

bool is_cr_lf(uint32_t c) noexcept { return c == '\r' || c == '\n'; }

}  // namespace

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
void split_gpt2(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    cutter c{out, b};
    for (size_t pos = b; pos < e;) {
        const uint32_t cp = t.cps[pos];
        if (cp == '\'') {
            if (size_t n = contraction(t, pos, e, false)) {
                pos += c.cut(pos + n);
                continue;
            }
        }
        uint8_t k2 = cp == ' ' ? t.k(pos + 1, b, e) : t.cls[pos];
        if (is_letter(k2)) {
            pos += cp == ' ';
            while (is_letter(k2)) k2 = t.k(++pos, b, e);
            c.cut(pos);
            continue;
        }
        if (is_number(k2)) {
            pos += cp == ' ';
            while (is_number(k2)) k2 = t.k(++pos, b, e);
            c.cut(pos);
            continue;
        }
        auto other = [](uint8_t k) { return is_present(k) && !is_space(k) && !is_letter(k) && !is_number(k); };
        if (other(k2)) {
            pos += cp == ' ';
            while (other(k2)) k2 = t.k(++pos, b, e);
            c.cut(pos);
            continue;
        }
        size_t n_space = 0;
        while (is_space(t.k(pos + n_space, b, e))) ++n_space;
        if (n_space > 1 && pos + n_space < e) {  // \s+(?!\S): leave the last space to the next word
            pos += n_space - 1;
            c.cut(pos);
            continue;
        }
        if (n_space > 0) {
            pos += n_space;
            c.cut(pos);
            continue;
        }
        c.cut(++pos);
    }
}

namespace {

// llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|
//         \s+(?!\S)|\s+
// qwen2:  the same with \p{N} (one digit); qwen35: qwen2 with [\p{L}\p{M}]+ words and marks out of the symbol run.
template <size_t max_digits, bool marks>
void split_llama3_family(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    auto wordish = [](uint8_t k) { return is_letter(k) || (marks && is_mark(k)); };
    auto other = [](uint8_t k) {
        return is_present(k) && !is_space(k) && !is_letter(k) && !is_number(k) && !(marks && is_mark(k));
    };
    cutter c{out, b};
    for (size_t pos = b; pos < e;) {
        const uint32_t cp = t.cps[pos];
        const uint8_t k = t.cls[pos];
        if (cp == '\'') {
            if (size_t n = contraction(t, pos, e, true)) {
                pos += c.cut(pos + n);
                continue;
            }
        }
        if (!is_cr_lf(cp) && !is_number(k)) {
            if (wordish(k) || wordish(t.k(pos + 1, b, e))) {
                ++pos;
                while (wordish(t.k(pos, b, e))) ++pos;
                c.cut(pos);
                continue;
            }
        }
        if (is_number(k)) {
            if (max_digits == 1) {
                c.cut(++pos);
                continue;
            }
            size_t first = pos;
            while (is_number(t.k(pos, b, e))) {
                if (++pos - first >= max_digits) {
                    c.cut(pos);
                    first = pos;
                }
            }
            c.cut(pos);
            continue;
        }
        uint8_t k2 = cp == ' ' ? t.k(pos + 1, b, e) : k;
        // llama.cpp tests the space itself (not what follows it) for "is inside the piece" here
        if (!is_space(k2) && !is_letter(k2) && !is_number(k2) && !(marks && is_mark(k2)) && is_present(k)) {
            pos += cp == ' ';
            while (other(k2)) k2 = t.k(++pos, b, e);
            while (is_cr_lf(t.cp(pos, b, e))) ++pos;
            c.cut(pos);
            continue;
        }
        size_t n_space = 0, after_last_cr_lf = 0;
        while (is_space(t.k(pos + n_space, b, e))) {
            if (is_cr_lf(t.cps[pos + n_space])) after_last_cr_lf = pos + n_space + 1;
            ++n_space;
        }
        if (after_last_cr_lf > 0) {  // \s*[\r\n]+
            pos = after_last_cr_lf;
            c.cut(pos);
            continue;
        }
        if (n_space > 1 && pos + n_space < e) {  // \s+(?!\S)
            pos += n_space - 1;
            c.cut(pos);
            continue;
        }
        if (n_space > 0) {
            pos += n_space;
            c.cut(pos);
            continue;
        }
        c.cut(++pos);
    }
}

}  // namespace

void split_llama3(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    split_llama3_family<3, false>(t, b, e, out);
}
void split_qwen2(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    split_llama3_family<1, false>(t, b, e, out);
}
void split_qwen35(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    split_llama3_family<1, true>(t, b, e, out);
}

// [^\n]+|[\n]+
void split_newlines(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    size_t pos = b;
    while (pos < e) {
        const bool newline = t.cps[pos] == '\n';
        const size_t start = pos;
        while (pos < e && (t.cps[pos] == '\n') == newline) ++pos;
        out.push_back(pos - start);
    }
}

// AFMoE / Tiny Aya digits: a run of N digits is cut as its first N % 3 digits, then threes. llama.cpp cuts from the
// end of the previous piece, so whatever non-digit text precedes a run is glued to the run's first piece.
void split_afmoe_digits(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    cutter c{out, b};
    for (size_t pos = b; pos < e;) {
        if (!is_number(t.cls[pos])) {
            ++pos;
            continue;
        }
        const size_t start = pos;
        while (pos < e && is_number(t.cls[pos])) ++pos;
        size_t cur = start;
        if (const size_t rest = (pos - start) % 3) c.cut(cur += rest);
        while (cur < pos) c.cut(cur += 3);
    }
    if (c.prev < e) c.cut(e);
}

// \s+$ through std::regex_iterator: the piece's trailing run of white space is one match, the rest one gap.
void split_trailing_space(const split_text& t, size_t b, size_t e, std::vector<size_t>& out) {
    size_t p = e;
    while (p > b && is_space(t.cls[p - 1])) --p;
    if (p > b) out.push_back(p - b);
    if (e > p) out.push_back(e - p);
}

}  // namespace tok
MOE_END_NAMESPACE
