// chat_impl.hpp — what the chat formatters share: resolved options, Python-compatible string helpers, and one
// formatting function per template family. chat_format.cpp dispatches to them; each lives in its own chat_*.cpp.
#pragma once

#include <moe/chat.hpp>

#include <string>
#include <string_view>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace detail {

// DeepSeek's special tokens, spelled in UTF-8 bytes (U+FF5C fullwidth bar, U+2581 lower block) so the source needs
// no particular encoding.
inline constexpr const char deepseek_bos[] = "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";  // <｜begin▁of▁sentence｜>
inline constexpr const char deepseek_eos[] = "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";    // <｜end▁of▁sentence｜>
inline constexpr const char deepseek_user[] = "<\xef\xbd\x9c" "User\xef\xbd\x9c>";            // <｜User｜>
inline constexpr const char deepseek_assistant[] = "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>";  // <｜Assistant｜>

// chat_format_options with every default filled in.
struct chat_context {
    chat_template_kind kind;
    bool add_prompt;
    std::string bos, eos;
    chat_date date;  // resolved: never zero
    chat_thinking thinking;
    std::string reasoning_effort;
};

// ---- text helpers (chat_text.cpp) ---------------------------------------------------------------------------------
// Python's str.strip() with no argument (what Jinja's |trim does): removes the Unicode whitespace str.isspace() knows,
// decoding UTF-8 at both ends. Invalid UTF-8 counts as non-space.
std::string py_strip(std::string_view s);
// str.lstrip(c) / str.rstrip(c) / str.strip(c) for one ASCII character.
std::string_view lstrip_char(std::string_view s, char c);
std::string_view rstrip_char(std::string_view s, char c);
std::string_view strip_char(std::string_view s, char c);
bool contains(std::string_view s, std::string_view needle);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
// "05 Mar 2025" (strftime "%d %b %Y", C locale) and "2025-03-05" ("%Y-%m-%d").
std::string format_date_dmy(const chat_date& d);
std::string format_date_iso(const chat_date& d);
// Today's local date.
chat_date today();

// ---- one function per family: append the prompt to `out` ---------------------------------------------------------
status format_chatml_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out);    // chat_chatml.cpp
status format_deepseek_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out);  // chat_deepseek.cpp
status format_mistral_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out);   // chat_mistral.cpp
status format_llama3_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out);    // chat_llama3.cpp
status format_olmoe(const chat_context& cx, const std::vector<chat_message>& m, std::string& out);            // chat_olmoe.cpp
status format_gpt_oss(const chat_context& cx, const std::vector<chat_message>& m, std::string& out);          // chat_gpt_oss.cpp

status chat_error(const chat_context& cx, const std::string& what);  // invalid_argument "chat template 'x': what"

}  // namespace detail
MOE_END_NAMESPACE
