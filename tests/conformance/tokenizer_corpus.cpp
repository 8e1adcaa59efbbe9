// tokenizer_corpus.cpp — the texts moe_tokenizer_conformance feeds both tokenizers: hard cases and seeded fuzz.
// Before: nothing (fixed data). After: test_tokenizer_conformance.cpp and tokenizer_split_check.cpp run them.
#include "tokenizer_conformance.hpp"

#include <random>

namespace tokconf {

std::vector<std::string> base_corpus() {
    std::vector<std::string> c = {
        "",
        // white space
        " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", " \n ", "\n \n",
        " \r\n\r\n ", "\t \t", "  \n  \t x", "a  b   c    d", "x\t\ty", "trailing   ", "   leading", "  both  ",
        "\xe3\x80\x80ideographic space\xe3\x80\x80", "nbsp\xc2\xa0x \xc2\xa0 y", "\xe2\x80\x83" "em\xe2\x80\x82" "en",
        "\xc2\x85nel", "zero\xe2\x80\x8bwidth \xe2\x80\x8b x", "a\xe1\xa0\x8e" "b", "\x1c\x1d\x1e\x1f sep",
        "\x0b\x0c ff",
        "line\u2028sep\u2029para", "    Hello\n    Hello", "\n =", "\t\n", " (", "' era",
        // digits
        "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890",
        "12345678901234567890", "3.14159", "1,000,000", "0x7fff", "v1.2.3-rc4", "2024-01-31T12:00:00Z",
        "\xd9\xa1\xd9\xa2\xd9\xa3 Arabic-Indic", "\xe2\x91\xa0\xe2\x91\xa1\xe2\x91\xa2", "\xe2\x85\xab roman",
        "\xc2\xbd \xc2\xbe", "x\xc2\xb2\xc2\xb3", "\xf0\x9d\x9f\x99\xf0\x9d\x9f\x9a", "ied 4 \xc2\xbd months",
        "7 77 777",
        // CJK and other scripts
        "\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8" "apple\xe5\xb7\xa5\xe4\xbd\x9c" "1314151\xe5\xa4\xa9\xef\xbd\x9e",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81"
        "\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a\xe3\x80\x82",
        "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a\xb8",
        "\xe4\xb8\xad\xe6\x96\x87\xef\xbc\x8c\xe6\xa8\x99\xe9\xbb\x9e\xef\xbc\x81", "\xf0\xa0\x80\x80\xf0\xa0\x80\x81",
        "\xf0\xb1\x8d\x90\xf0\xae\xaf\xb0 ext-H ext-I", "\xd0\xbd\xd0\xb5\xd1\x89\xd0\xbe \xd0\xbd\xd0\xb0",
        "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa5\x80",
        "\xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2",
        "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xd8\xa8\xd8\xa7\xd9\x84\xd8\xb9\xd8\xa7\xd9\x84\xd9\x85",
        "\xd7\xa9\xd7\x81\xd6\xb8\xd7\x9c\xd7\x95\xd6\xb9\xd7\x9d", "Ti\xe1\xba\xbfng Vi\xe1\xbb\x87t",
        "\xe1\x9e\x80\xe1\x9e\xb6\xe1\x9e\x93\xe1\x9f\x8b\xe1\x9e\x8f\xe1\x9f\x82",
        "\xe3\x81\x8b\xe3\x81\xaa\xe3\x82\xab\xe3\x83\x8a\xef\xbd\xb6\xef\xbe\x85 kana",
        // emoji
        "\xf0\x9f\xa6\x99", " this is \xf0\x9f\xa6\x99.cpp",
        "\xf0\x9f\x9a\x80 (normal) \xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f (multiple emojis "
        "concatenated) \xe2\x9c\x85 (only emoji that has its own token)",
        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6 family",
        "\xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
        "\xf0\x9f\x87\xba\xf0\x9f\x87\xb8\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5 flags", "\xf0\x9f\xab\xa8 shaking face",
        "1\xef\xb8\x8f\xe2\x83\xa3 keycap", "Hello, y'all! How are you \xf0\x9f\x98\x81 ?",
        // combining marks
        "e\xcc\x81", "\xc3\xb1 vs n\xcc\x83", "Z\xcc\xa4\xcd\x94\xcd\xa7\xcc\x91\xcc\x93" "a\xcc\x88\xcd\x96\xcc\xad"
        "\xcc\x88\xcc\x87lgo", "\xcc\x81leading mark", "x \xcc\x81 y", "A\xcc\x8a" "B\xcc\xa7!",
        // code and punctuation
        "int main(int argc, char **argv) {\n\treturn argv[0][0] == '\\0' ? 1 : 0;\n}\n",
        "def f(x):\n    if x:\n        return {'a': [1, 2, 3]}\n    return None\n",
        "{\"key\": \"value\", \"n\": [1, 2.5, -3e10], \"ok\": true}", "<div class=\"x\">&amp;&lt;</div>",
        "!!!???...", "a->b x:=y a<=b!=c", "https://example.com/path?q=1&b=2#frag", "user@mail.com",
        "C:\\Windows\\path", "$100 + 5% = \xe2\x82\xac" "105", "a\\nb", "((([[[{{{}}}]]])))", "~`^|<>=+$", "__init__",
        "  // comment\n  /* block */", "x = y  # tail\n\n\n", "--- a/file\n+++ b/file\n@@ -1 +1 @@",
        // contractions and case
        "I'm you're he's we've they'll I'd can't", "I'M YOU'RE HE'S WE'VE THEY'LL I'D CAN'T", "''", "'s", " 's",
        "rock'n'roll", "'S'T", "HELLO's", "Don'T", "\xc3\x89" "A ", "\xc3\x89" "Ab", "a\xc3\x89" "B", "McDONALD'S",
        "iPhone", "ABCdef GHI", "\xc3\xb1\xc3\x91", "Hello world", " Hello world", "Hello World", " Hello World!",
        "Hello, world!", "w048 7tuijk dsdfhu", "F\xc3\xbchrer", "\xc3\x85ngstr\xc3\xb6m \xe2\x84\xab",
        // invalid UTF-8 (llama.cpp-safe: nothing decodes above U+10FFFF)
        "\xff", "\xc3", "a\xc3(b", "\xe2\x82", "\xed\xa0\x80 surrogate", "\xc0\x80 overlong", "\xf0\x9f\x98 cut emoji",
        "\x80\x80\x80", "\xf8\x88\x80\x80\x80", "ok\xfe\xff" "ok", "\xc3\xa9\xa9", "\xe2\x96", "x\xf0\x90\x80" "y",
    };
    // long words and runs
    c.push_back(std::string(2000, 'a'));
    std::string w;
    for (int i = 0; i < 60; ++i) w += "supercalifragilistic";
    c.push_back(w);
    c.push_back(std::string(1500, '7'));
    c.push_back(std::string(1000, ' ') + "x");
    c.push_back(std::string(300, '\n') + std::string(300, '\t') + "y");
    std::string han;
    for (int i = 0; i < 400; ++i) han += "\xe6\xbc\xa2";
    c.push_back(han);
    std::string mixed;
    for (int i = 0; i < 50; ++i) mixed += "ab12\xc3\xa9\xe6\xbc\xa2!? \t";
    c.push_back(mixed);
    return c;
}

// Random strings over characters that sit on the splitters' edges (classes, case, quotes, white space of every
// kind, marks, CJK/kana/Hangul ranges, emoji sequences, Unicode 15 additions, invalid bytes), plus this vocab's
// special-token texts and halves of them. Fixed seed: the same cases every run.
std::vector<std::string> fuzz_cases(const std::vector<std::string>& specials, size_t count, size_t max_pieces,
                                    uint32_t seed) {
    std::vector<std::string> pool = {
        "a", "b", "Z", "Q", "s", "t", "S", "T", "re", "VE", "ll", "d", "m", "0", "1", "9", "'", "\"", " ", "  ", "\t",
        "\n", "\r", "\r\n", ".", ",", "!", "?", "-", "_", "/", "\\", "$", "+", "<", ">", "=", "^", "~", "|", "`", "(",
        ")", "[", "]", "{", "}", "#", "@", "%", "&", "*", ":", ";", "\x01", "\x0b", "\x1c",
        "\xc3\xa9", "\xc3\x89", "\xc3\x9f", "\xc3\xb1", "\xce\xa9", "\xd0\xb6", "\xd0\x96", "\xcc\x81", "\xcc\x88",
        "\xe0\xa4\x83", "\xe0\xa4\xb9", "\xe0\xa4\xbf", "\xe4\xb8\x80", "\xe9\xbe\xa5", "\xe6\xbc\xa2", "\xe3\x82\xa2",
        "\xe3\x81\x81", "\xef\xbd\xb6", "\xed\x95\x9c", "\xe3\x84\xb1", "\xd9\xa3", "\xe2\x91\xa0", "\xc2\xbd",
        "\xc2\xb2", "\xe2\x82\xac", "\xc2\xa9", "\xe2\x86\x92", "\xe2\x80\x94", "\xe2\x80\x9c", "\xe2\x80\x9d",
        "\xe2\x80\x98", "\xe2\x80\x99", "\xe2\x80\xa6", "\xe3\x80\x82", "\xef\xbc\x8c", "\xef\xbc\x81", "\xef\xbd\x9e",
        "\xe3\x80\x80", "\xc2\xa0", "\xe2\x80\x83", "\xe2\x80\xa8", "\xc2\x85", "\xe2\x80\x8b", "\xe2\x80\x8d",
        "\xef\xb8\x8f", "\xf0\x9f\xa6\x99", "\xf0\x9f\x98\x80", "\xf0\x9f\x91\x8d", "\xf0\x9f\x8f\xbd",
        "\xf0\x9f\x87\xba", "\xf0\x9d\x9f\x99", "\xf0\xa0\x80\x80", "\xf0\xb1\x8d\x90", "\xf0\x9f\xab\xa8",
        "\xee\x80\x80", "\xef\xbf\xbd", "\xcd\xb8", "\xc7\x85", "\xca\xb0", "\xc2\xaa", "\xe2\x85\xb7", "\xe3\x80\x87",
        "\xff", "\xc3", "\xe2\x82", "\x80", "\xed\xa0\x80", "\xf0\x9f\x98",
    };
    for (const std::string& sp : specials) {
        pool.push_back(sp);
        pool.push_back(sp.substr(0, sp.size() / 2));
    }
    std::mt19937 rng(seed);
    std::vector<std::string> out;
    for (size_t i = 0; i < count; ++i) {
        const size_t len = 1 + rng() % max_pieces;
        std::string s;
        for (size_t k = 0; k < len; ++k) s += pool[rng() % pool.size()];
        out.push_back(s);
    }
    return out;
}


}  // namespace tokconf
