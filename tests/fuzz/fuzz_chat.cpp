// fuzz_chat.cpp — libFuzzer harness for chat templates: detection from arbitrary Jinja text, names, and formatting
// of arbitrary conversations and options. Before: seeds from moe_fuzz_seeds. After: nothing (the text is dropped).
#include <moe/chat.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace moe;

namespace {

constexpr int n_kinds = static_cast<int>(chat_template_kind::gpt_oss) + 1;

// Splits on NUL bytes.
std::vector<std::string> fields(std::string_view s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t k = 0; k <= s.size(); ++k) {
        if (k == s.size() || s[k] == '\0') {
            out.emplace_back(s.substr(start, k - start));
            start = k + 1;
        }
    }
    return out;
}

std::string role_of(const std::string& f) {
    static const char* const names[] = {"system", "user", "assistant", "developer", "tool"};
    if (f.size() == 1 && f[0] >= '0' && f[0] <= '4') return names[f[0] - '0'];
    return f;
}

}  // namespace

// Input: [kind][flags][year lo][year hi][month][day] then NUL-separated fields: optional bos, eos, reasoning
// effort (as flags say), then role, content, role, content, ... A role field "0".."4" names a standard role.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    if (result<chat_template_kind> k = detect_chat_template(all)) {
        (void)chat_template_name(*k);
    }
    (void)chat_template_from_name(all);
    if (size < 6) return 0;

    const auto kind = static_cast<chat_template_kind>(data[0] % n_kinds);
    const uint8_t flags = data[1];
    chat_format_options opt;
    opt.add_assistant_prompt = (flags & 1) != 0;
    opt.thinking = static_cast<chat_thinking>((flags >> 1) % 3);
    if (flags & 0x20) {
        opt.date.year = data[2] | (data[3] << 8);
        opt.date.month = static_cast<int8_t>(data[4]);
        opt.date.day = static_cast<int8_t>(data[5]);
    } else {
        opt.date = {2025, 3, 5};  // a fixed date: no dependence on the clock
    }
    std::vector<std::string> fs = fields(all.substr(6));
    size_t at = 0;
    auto next = [&]() { return at < fs.size() ? fs[at++] : std::string(); };
    if (flags & 0x08) opt.bos_token = next();
    if (flags & 0x10) opt.eos_token = next();
    if (flags & 0x40) opt.reasoning_effort = next();
    std::vector<chat_message> msgs;
    while (at < fs.size()) {
        chat_message m;
        m.role = role_of(next());
        m.content = next();
        msgs.push_back(std::move(m));
    }
    result<std::string> out = format_chat(kind, msgs, opt);
    if (!out && out.error().message().empty()) __builtin_trap();
    if (flags & 0x80) (void)format_chat(kind, msgs, opt.add_assistant_prompt);
    return 0;
}
