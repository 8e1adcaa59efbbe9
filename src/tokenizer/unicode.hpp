// unicode.hpp — codepoint classes (tables from gen_unicode_tables.py), llama.cpp-compatible UTF-8, GPT-2 byte chars.
// Used by the pre-tokenizers (pretok_*.cpp), the BPE/SPM encoders and token_to_piece; no state, no allocation here.
#pragma once

#include <moe/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace unicode {

// Broad general-category class of a codepoint (the \p{..} the pre-tokenizer regexes use). Numbering is shared with
// gen_unicode_tables.py.
enum class ucat : uint8_t { undefined = 0, number, letter, separator, mark, punctuation, symbol, control };

// Generated tables (unicode_tables.cpp).
extern const size_t k_class_runs;
extern const uint32_t k_class_starts[];
extern const uint8_t k_class_values[];
extern const size_t k_white_space_count;
extern const uint32_t k_white_space[];

constexpr uint32_t k_replacement = 0xFFFD;  // U+FFFD REPLACEMENT CHARACTER
constexpr uint32_t k_max_codepoint = 0x10FFFF;

ucat category(uint32_t cp) noexcept;        // codepoints past U+10FFFF are `undefined`
bool is_white_space(uint32_t cp) noexcept;  // the White_Space property

// Bytes a UTF-8 sequence claims from its first byte's high nibble alone (1 for ASCII and stray continuation
// bytes, 2 for 0xC_/0xD_, 3 for 0xE_, 4 for 0xF_) — how llama.cpp's SPM/BPE encoders cut text into symbols.
size_t sequence_length(uint8_t lead) noexcept;

// Decodes one codepoint at `pos` and advances it, as llama.cpp does: continuation bytes are checked but overlong
// forms and surrogates are accepted; anything else invalid gives U+FFFD and advances one byte. One deviation: a
// 4-byte form above U+10FFFF (llama.cpp decodes it, then aborts re-encoding it) is treated as invalid here.
uint32_t decode_next(std::string_view s, size_t& pos) noexcept;
std::vector<uint32_t> decode(std::string_view s);
void append_utf8(std::string& out, uint32_t cp);  // cp <= U+10FFFF (surrogates are encoded as-is)

// GPT-2 byte-level BPE: each byte is shown as one printable codepoint (bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF
// map to themselves; the other 68 to U+0100.. in byte order).
uint32_t byte_to_codepoint(uint8_t b) noexcept;
int codepoint_to_byte(uint32_t cp) noexcept;  // the byte shown as cp, or -1

}  // namespace unicode
MOE_END_NAMESPACE
