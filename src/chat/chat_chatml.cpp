// chat_chatml.cpp — the ChatML family: plain ChatML, Qwen2 and Qwen2.5 (default system messages) and Qwen3 (<think>).
// Mirrors the templates named in tests/unit/test_chat.cpp for conversations without tools; called by chat_format.cpp.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

void block(std::string& out, std::string_view role, std::string_view content) {
    out += "<|im_start|>";
    out += role;
    out += '\n';
    out += content;
    out += "<|im_end|>\n";
}

// Qwen3: the index of the last user message that is not a wrapped tool response (the template's last_query_index).
size_t last_query_index(const std::vector<chat_message>& m) {
    for (size_t k = m.size(); k-- > 0;) {
        const std::string& c = m[k].content;
        if (m[k].role == "user" && !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) return k;
    }
    return m.empty() ? 0 : m.size() - 1;
}

void qwen3_assistant(std::string& out, const chat_message& msg, bool after_last_query, bool last) {
    std::string_view content = msg.content;
    std::string_view reasoning;
    const std::string_view close = "</think>";
    if (contains(content, close)) {
        // content.split('</think>')[-1].lstrip('\n') and content.split('</think>')[0].rstrip('\n')
        //                                                   .split('<think>')[-1].lstrip('\n')
        const std::string_view whole = msg.content;
        const std::string_view before = whole.substr(0, whole.find(close));
        content = lstrip_char(whole.substr(whole.rfind(close) + close.size()), '\n');
        reasoning = rstrip_char(before, '\n');
        const size_t open = reasoning.rfind("<think>");
        if (open != std::string_view::npos) reasoning = reasoning.substr(open + 7);
        reasoning = lstrip_char(reasoning, '\n');
    }
    out += "<|im_start|>assistant\n";
    if (after_last_query && (last || !reasoning.empty())) {
        out += "<think>\n";
        out += strip_char(reasoning, '\n');
        out += "\n</think>\n\n";
        out += lstrip_char(content, '\n');
    } else {
        out += content;
    }
    out += "<|im_end|>\n";
}

}  // namespace

status format_chatml_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    const bool first_is_system = !m.empty() && m[0].role == "system";
    switch (cx.kind) {
    case chat_template_kind::chatml:
        for (const chat_message& msg : m) block(out, msg.role, msg.content);
        break;
    case chat_template_kind::qwen2:
        // The default system message is written inside the loop, so an empty conversation gets none.
        if (!m.empty() && !first_is_system) block(out, "system", "You are a helpful assistant.");
        for (const chat_message& msg : m) block(out, msg.role, msg.content);
        break;
    case chat_template_kind::qwen2_5:
        if (first_is_system)
            block(out, "system", m[0].content);
        else
            block(out, "system", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
        for (size_t i = first_is_system ? 1 : 0; i < m.size(); ++i) block(out, m[i].role, m[i].content);
        break;
    case chat_template_kind::qwen3: {
        if (first_is_system) block(out, "system", m[0].content);
        const size_t query = last_query_index(m);
        for (size_t i = first_is_system ? 1 : 0; i < m.size(); ++i) {
            if (m[i].role == "assistant")
                qwen3_assistant(out, m[i], i > query, i + 1 == m.size());
            else
                block(out, m[i].role, m[i].content);
        }
        break;
    }
    default:
        return chat_error(cx, "not a ChatML template");
    }
    if (cx.add_prompt) {
        out += "<|im_start|>assistant\n";
        if (cx.kind == chat_template_kind::qwen3 && cx.thinking == chat_thinking::disabled) out += "<think>\n\n</think>\n\n";
    }
    return ok_status();
}

}  // namespace detail
MOE_END_NAMESPACE
