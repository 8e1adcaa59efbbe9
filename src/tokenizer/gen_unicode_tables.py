#!/usr/bin/python3
# gen_unicode_tables.py — writes src/tokenizer/unicode_tables.cpp: Unicode general-category ranges and White_Space.
# Before: Python's own `unicodedata` module (no network). After: unicode.cpp looks codepoints up in the tables.
#
# Run from the repository root:   /usr/bin/python3 src/tokenizer/gen_unicode_tables.py
#
# Unicode version. Debian 12's Python 3.11 ships Unicode 14.0.0 in `unicodedata`. The llama.cpp commit we conform
# to generated its own table (src/unicode-data.cpp) from UnicodeData.txt of Unicode 15.1, which is newer: 5,116
# codepoints were assigned in 15.0 and 15.1 (new emoji such as U+1FAE8, CJK Extensions H and I, Kawi, Nag Mundari,
# ...). Tokens are split by these categories, so a text with such a character would split differently. To stay
# bit-identical, SUPPLEMENT_15_1 below lists those 15.0/15.1 assignments (first, last, class) as published in
# UnicodeData.txt 15.1; they are applied only where this Python reports the codepoint as unassigned (Cn). With a
# Python whose Unicode is newer than 15.1, characters assigned after 15.1 get their category here but are unassigned
# for llama.cpp — the script prints a warning then.
#
# Output: the broad class of every codepoint (what the pre-tokenizer regexes ask for: \p{L}, \p{N}, \p{P}, \p{S},
# \p{M}, separators, other/control, unassigned) as sorted run starts, plus the White_Space property (PropList.txt;
# `unicodedata` does not expose it and str.isspace() differs: it includes U+001C..U+001F), hard-coded below.
# Case and NFD tables are not generated: llama.cpp's splitters treat \p{Lu}/\p{Ll} as \p{L} and never normalise
# for the vocab types moe supports.
import os
import sys
import unicodedata

MAX_CODEPOINT = 0x110000
TARGET_VERSION = (15, 1, 0)

# broad classes, numbered as in unicode.hpp (enum class ucat)
UNDEFINED, NUMBER, LETTER, SEPARATOR, MARK, PUNCTUATION, SYMBOL, CONTROL = range(8)
CLASS_OF = {
    "Cn": UNDEFINED,
    "Cc": CONTROL, "Cf": CONTROL, "Co": CONTROL, "Cs": CONTROL,
    "Ll": LETTER, "Lm": LETTER, "Lo": LETTER, "Lt": LETTER, "Lu": LETTER,
    "Mc": MARK, "Me": MARK, "Mn": MARK,
    "Nd": NUMBER, "Nl": NUMBER, "No": NUMBER,
    "Pc": PUNCTUATION, "Pd": PUNCTUATION, "Pe": PUNCTUATION, "Pf": PUNCTUATION, "Pi": PUNCTUATION,
    "Po": PUNCTUATION, "Ps": PUNCTUATION,
    "Sc": SYMBOL, "Sk": SYMBOL, "Sm": SYMBOL, "So": SYMBOL,
    "Zl": SEPARATOR, "Zp": SEPARATOR, "Zs": SEPARATOR,
}
CLASS_LETTER = {"L": LETTER, "M": MARK, "N": NUMBER, "P": PUNCTUATION, "S": SYMBOL, "C": CONTROL}

# Codepoints assigned in Unicode 15.0 and 15.1 (UnicodeData.txt 15.1), by broad class.
SUPPLEMENT_15_1 = [
    (0x00CF3, 0x00CF3, "M"),  # KANNADA SIGN COMBINING ANUSVARA ABOVE RIGHT (15.0)
    (0x00ECE, 0x00ECE, "M"),  # LAO YAMAKKAN (15.0)
    (0x02FFC, 0x02FFF, "S"),  # IDEOGRAPHIC DESCRIPTION CHARACTERs (15.1)
    (0x031EF, 0x031EF, "S"),  # CJK STROKE HXG (15.1)
    (0x10EFD, 0x10EFF, "M"),  # Arabic Extended-C small marks (15.0)
    (0x1123F, 0x11240, "L"),  # Khojki letters (15.0)
    (0x11241, 0x11241, "M"),  # KHOJKI VOWEL SIGN VOCALIC R (15.0)
    (0x11B00, 0x11B09, "P"),  # Devanagari Extended-A head marks (15.0)
    (0x11F00, 0x11F01, "M"),  # Kawi (15.0) ...
    (0x11F02, 0x11F02, "L"),
    (0x11F03, 0x11F03, "M"),
    (0x11F04, 0x11F10, "L"),
    (0x11F12, 0x11F33, "L"),
    (0x11F34, 0x11F3A, "M"),
    (0x11F3E, 0x11F42, "M"),
    (0x11F43, 0x11F4F, "P"),
    (0x11F50, 0x11F59, "N"),  # ... Kawi digits
    (0x1342F, 0x1342F, "L"),  # Egyptian hieroglyphs additions (15.0) ...
    (0x13439, 0x1343F, "C"),  # ... format controls (Cf)
    (0x13440, 0x13440, "M"),
    (0x13441, 0x13446, "L"),
    (0x13447, 0x13455, "M"),
    (0x1B132, 0x1B132, "L"),  # HIRAGANA LETTER SMALL KO (15.0)
    (0x1B155, 0x1B155, "L"),  # KATAKANA LETTER SMALL KO (15.0)
    (0x1D2C0, 0x1D2D3, "N"),  # Kaktovik numerals (15.0)
    (0x1DF25, 0x1DF2A, "L"),  # Latin Extended-G additions (15.0)
    (0x1E030, 0x1E06D, "L"),  # Cyrillic Extended-D modifier letters (15.0)
    (0x1E08F, 0x1E08F, "M"),  # COMBINING CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I (15.0)
    (0x1E4D0, 0x1E4EB, "L"),  # Nag Mundari letters (15.0)
    (0x1E4EC, 0x1E4EF, "M"),  # Nag Mundari signs
    (0x1E4F0, 0x1E4F9, "N"),  # Nag Mundari digits
    (0x1F6DC, 0x1F6DC, "S"),  # WIRELESS (15.0)
    (0x1F774, 0x1F776, "S"),  # alchemical / astronomical symbols (15.0)
    (0x1F77B, 0x1F77F, "S"),
    (0x1F7D9, 0x1F7D9, "S"),  # NINE POINTED WHITE STAR (15.0)
    (0x1FA75, 0x1FA77, "S"),  # emoji (15.0) ...
    (0x1FA87, 0x1FA88, "S"),
    (0x1FAAD, 0x1FAAF, "S"),
    (0x1FABB, 0x1FABD, "S"),
    (0x1FABF, 0x1FABF, "S"),
    (0x1FACE, 0x1FACF, "S"),
    (0x1FADA, 0x1FADB, "S"),
    (0x1FAE8, 0x1FAE8, "S"),  # SHAKING FACE
    (0x1FAF7, 0x1FAF8, "S"),  # ... leftwards / rightwards pushing hand
    (0x2B739, 0x2B739, "L"),  # CJK Extension B addition (15.0)
    (0x2EBF0, 0x2EE5D, "L"),  # CJK Unified Ideographs Extension I (15.1)
    (0x31350, 0x323AF, "L"),  # CJK Unified Ideographs Extension H (15.0)
]

# White_Space (PropList.txt; unchanged since Unicode 6.3)
WHITE_SPACE = sorted(list(range(0x0009, 0x000D + 1)) + list(range(0x2000, 0x200A + 1)) +
                     [0x0020, 0x0085, 0x00A0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])


def main():
    version = tuple(int(x) for x in unicodedata.unidata_version.split("."))
    classes = bytearray(MAX_CODEPOINT)
    for cp in range(MAX_CODEPOINT):
        classes[cp] = CLASS_OF[unicodedata.category(chr(cp))]
    supplemented = 0
    if version < TARGET_VERSION:
        for first, last, cls in SUPPLEMENT_15_1:
            for cp in range(first, last + 1):
                if classes[cp] == UNDEFINED:
                    classes[cp] = CLASS_LETTER[cls]
                    supplemented += 1
    elif version > TARGET_VERSION:
        print("warning: Python's Unicode %s is newer than llama.cpp's 15.1: characters assigned after 15.1 will "
              "split differently from llama.cpp" % unicodedata.unidata_version, file=sys.stderr)

    starts = [0]
    for cp in range(1, MAX_CODEPOINT):
        if classes[cp] != classes[cp - 1]:
            starts.append(cp)

    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unicode_tables.cpp")
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        w = f.write
        w("// unicode_tables.cpp — GENERATED by src/tokenizer/gen_unicode_tables.py; do not edit by hand.\n")
        w("// Unicode %s (Python %d.%d unicodedata) + %d codepoints of Unicode 15.0/15.1 (llama.cpp's version); "
          "read by unicode.cpp.\n" % (unicodedata.unidata_version, sys.version_info[0], sys.version_info[1],
                                     supplemented))
        w('#include "tokenizer/unicode.hpp"\n\n')
        w("MOE_BEGIN_NAMESPACE\nnamespace unicode {\n\n")
        w("// Broad class runs: codepoints [k_class_starts[i], k_class_starts[i + 1]) all have class k_class_values[i].\n")
        w("const size_t k_class_runs = %d;\n" % len(starts))
        w("const uint32_t k_class_starts[] = {\n")
        for i in range(0, len(starts), 10):
            w("    " + ", ".join("0x%05X" % s for s in starts[i:i + 10]) + ",\n")
        w("};\n")
        w("const uint8_t k_class_values[] = {\n")
        vals = [classes[s] for s in starts]
        for i in range(0, len(vals), 32):
            w("    " + ",".join("%d" % v for v in vals[i:i + 32]) + ",\n")
        w("};\n\n")
        w("// White_Space property, sorted.\n")
        w("const size_t k_white_space_count = %d;\n" % len(WHITE_SPACE))
        w("const uint32_t k_white_space[] = {\n")
        for i in range(0, len(WHITE_SPACE), 10):
            w("    " + ", ".join("0x%04X" % s for s in WHITE_SPACE[i:i + 10]) + ",\n")
        w("};\n\n")
        w("}  // namespace unicode\nMOE_END_NAMESPACE\n")
    print("wrote %s: %d runs, Unicode %s + %d supplemented codepoints" %
          (out_path, len(starts), unicodedata.unidata_version, supplemented))


if __name__ == "__main__":
    main()
