// chat_deepseek.cpp — DeepSeek's templates: V2 ("User: ...\n\nAssistant:"), V3, R1 and V3.1 (<｜User｜>/<｜Assistant｜>).
// Mirrors the templates named in tests/unit/test_chat.cpp for conversations without tools; called by chat_format.cpp.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

void format_v2(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    out += cx.bos;
    for (const chat_message& msg : m) {
        if (msg.role == "user") {
            out += "User: " + msg.content + "\n\n";
        } else if (msg.role == "assistant") {
            out += "Assistant: " + msg.content + cx.eos;
        } else {
            out += msg.content + "\n\n";
        }
    }
    if (cx.add_prompt) out += "Assistant:";
}

// V3, R1 and V3.1 gather every system message (joined by a blank line) right after BOS.
void system_prompt(const std::vector<chat_message>& m, std::string& out) {
    bool first = true;
    for (const chat_message& msg : m) {
        if (msg.role != "system") continue;
        if (!first) out += "\n\n";
        out += msg.content;
        first = false;
    }
}

void format_v3_r1(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    const bool r1 = cx.kind == chat_template_kind::deepseek_r1;
    out += cx.bos;
    system_prompt(m, out);
    for (const chat_message& msg : m) {
        if (msg.role == "user") {
            out += deepseek_user;
            out += msg.content;
        } else if (msg.role == "assistant") {
            std::string_view content = msg.content;
            const size_t close = content.rfind("</think>");  // R1: content.split('</think>')[-1]
            if (r1 && close != std::string_view::npos) content = content.substr(close + 8);
            out += deepseek_assistant;
            out += content;
            out += deepseek_eos;
        }
    }
    if (cx.add_prompt) {
        out += deepseek_assistant;
        if (r1) out += "<think>\n";
    }
}

void format_v3_1(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    out += cx.bos;
    system_prompt(m, out);
    bool last_user = false;
    for (const chat_message& msg : m) {
        if (msg.role == "user") {
            last_user = true;
            out += deepseek_user;
            out += msg.content;
        } else if (msg.role == "assistant") {
            if (last_user) {
                out += deepseek_assistant;
                out += "</think>";
            }
            last_user = false;
            std::string_view content = msg.content;
            const size_t close = content.find("</think>");  // content.split('</think>', 1)[1]
            if (close != std::string_view::npos) content = content.substr(close + 8);
            out += content;
            out += deepseek_eos;
        }
    }
    // Only right after a user turn: the template adds nothing when the conversation ends with the assistant.
    if (cx.add_prompt && last_user) {
        out += deepseek_assistant;
        out += cx.thinking == chat_thinking::enabled ? "<think>" : "</think>";
    }
}

}  // namespace

status format_deepseek_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    switch (cx.kind) {
    case chat_template_kind::deepseek2: format_v2(cx, m, out); break;
    case chat_template_kind::deepseek3:
    case chat_template_kind::deepseek_r1: format_v3_r1(cx, m, out); break;
    case chat_template_kind::deepseek3_1: format_v3_1(cx, m, out); break;
    default: return chat_error(cx, "not a DeepSeek template");
    }
    return ok_status();
}

}  // namespace detail
MOE_END_NAMESPACE
