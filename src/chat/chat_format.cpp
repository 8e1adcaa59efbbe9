// chat_format.cpp — format_chat(): checks roles and options, fills in defaults, hands off to the family's formatter.
// Its input is the caller's conversation; its output is prompt text for the tokenizer (special tokens parsed, no BOS added).
#include "chat/chat_impl.hpp"

#include <new>

MOE_BEGIN_NAMESPACE
namespace detail {

status chat_error(const chat_context& cx, const std::string& what) {
    return status(errc::invalid_argument, std::string("chat template '") + chat_template_name(cx.kind) + "': " + what);
}

namespace {

bool known_kind(chat_template_kind k) {
    return static_cast<int>(k) >= static_cast<int>(chat_template_kind::chatml) &&
           static_cast<int>(k) <= static_cast<int>(chat_template_kind::gpt_oss);
}

bool valid_date(const chat_date& d) {
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return d.year >= 1 && d.year <= 9999 && d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= days[d.month - 1];
}

}  // namespace
}  // namespace detail

result<std::string> format_chat(chat_template_kind kind, const std::vector<chat_message>& messages,
                                bool add_assistant_prompt) {
    chat_format_options o;
    o.add_assistant_prompt = add_assistant_prompt;
    return format_chat(kind, messages, o);
}

result<std::string> format_chat(chat_template_kind kind, const std::vector<chat_message>& messages,
                                const chat_format_options& options) {
    using namespace detail;
    if (!known_kind(kind)) return result<std::string>(errc::invalid_argument, "format_chat: unknown template kind");
    try {
        chat_context cx{kind,
                        options.add_assistant_prompt,
                        options.bos_token ? *options.bos_token : std::string(chat_template_bos(kind)),
                        options.eos_token ? *options.eos_token : std::string(chat_template_eos(kind)),
                        options.date,
                        options.thinking,
                        options.reasoning_effort};
        if (cx.date.year == 0 && cx.date.month == 0 && cx.date.day == 0) cx.date = today();
        if (!valid_date(cx.date)) return chat_error(cx, "date is not a valid calendar date");

        for (size_t i = 0; i < messages.size(); ++i) {
            const std::string& r = messages[i].role;
            const bool ok = r == "system" || r == "user" || r == "assistant" ||
                            (r == "developer" && kind == chat_template_kind::gpt_oss && i == 0);
            if (!ok) return chat_error(cx, "message " + std::to_string(i) + " has role '" + r + "'");
        }

        std::string out;
        status st;
        switch (kind) {
        case chat_template_kind::chatml:
        case chat_template_kind::qwen2:
        case chat_template_kind::qwen2_5:
        case chat_template_kind::qwen3: st = format_chatml_family(cx, messages, out); break;
        case chat_template_kind::deepseek2:
        case chat_template_kind::deepseek3:
        case chat_template_kind::deepseek_r1:
        case chat_template_kind::deepseek3_1: st = format_deepseek_family(cx, messages, out); break;
        case chat_template_kind::mistral_legacy:
        case chat_template_kind::mistral_v1:
        case chat_template_kind::mistral_v3:
        case chat_template_kind::mistral_v3_tekken:
        case chat_template_kind::mistral_v7:
        case chat_template_kind::mistral_v7_tekken: st = format_mistral_family(cx, messages, out); break;
        case chat_template_kind::llama3:
        case chat_template_kind::llama3_1: st = format_llama3_family(cx, messages, out); break;
        case chat_template_kind::olmoe: st = format_olmoe(cx, messages, out); break;
        case chat_template_kind::gpt_oss: st = format_gpt_oss(cx, messages, out); break;
        }
        if (!st.ok()) return st;
        return out;
    } catch (const std::bad_alloc&) {
        return result<std::string>(errc::out_of_memory, "format_chat: out of memory");
    } catch (...) {
        return result<std::string>(errc::internal, "format_chat: unexpected exception");
    }
}

MOE_END_NAMESPACE
