// chat_mistral.cpp — Mistral's [INST] templates: the original Mixtral one (no system role), v1, v3, v3-tekken, v7,
// v7-tekken, as llama.cpp tells them apart. Mirrors the templates named in tests/unit/test_chat.cpp; called by chat_format.cpp.
// None of them has a generation prompt: the prompt ends with [/INST], whatever add_assistant_prompt says.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

// Original Mixtral-8x7B-Instruct: bos [INST] user [/INST]assistant</s>... Its template refuses system messages;
// like llama.cpp we fold them into the next user turn as "system\n" instead of failing.
void format_legacy(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    out += cx.bos;
    std::string pending_system;
    for (const chat_message& msg : m) {
        if (msg.role == "system") {
            pending_system += msg.content + "\n";
        } else if (msg.role == "user") {
            out += "[INST] " + pending_system + msg.content + " [/INST]";
            pending_system.clear();
        } else {
            out += msg.content + cx.eos;
        }
    }
    if (!pending_system.empty()) out += "[INST] " + pending_system + " [/INST]";
}

// v1 / v3 / v3-tekken: an optional system message first, joined to the first (v1) or last (v3) user message.
status format_v1_v3(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    const bool v1 = cx.kind == chat_template_kind::mistral_v1;
    const bool tekken = cx.kind == chat_template_kind::mistral_v3_tekken;
    const bool has_system = !m.empty() && m[0].role == "system";
    const size_t first = has_system ? 1 : 0;
    out += cx.bos;
    for (size_t i = first; i < m.size(); ++i) {
        const chat_message& msg = m[i];
        if (msg.role == "user") {
            // v1 joins the system message to the loop's first message, v3 to its last (lost if that is not a user).
            const bool with_system = has_system && (v1 ? i == first : i + 1 == m.size());
            const std::string text = with_system ? m[0].content + "\n\n" + msg.content : msg.content;
            if (v1)
                out += " [INST] " + text + " [/INST]";
            else
                out += (tekken ? "[INST]" : "[INST] ") + text + "[/INST]";
        } else if (msg.role == "assistant") {
            if (v1)
                out += " " + msg.content + cx.eos;
            else if (tekken)
                out += msg.content + cx.eos;
            else
                out += " " + py_strip(msg.content) + cx.eos;
        } else {
            return chat_error(cx, "a system message is only accepted as the first message");
        }
    }
    return ok_status();
}

// v7 (spaces after the tags and before the reply) and v7-tekken (none). v7-tekken's template (Mistral Small 3.x)
// writes its own long default system prompt when the conversation has none; we write none.
void format_v7(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    const char* sp = cx.kind == chat_template_kind::mistral_v7 ? " " : "";
    out += cx.bos;
    for (const chat_message& msg : m) {
        if (msg.role == "system")
            out += std::string("[SYSTEM_PROMPT]") + sp + msg.content + "[/SYSTEM_PROMPT]";
        else if (msg.role == "user")
            out += std::string("[INST]") + sp + msg.content + "[/INST]";
        else
            out += sp + msg.content + cx.eos;
    }
}

}  // namespace

status format_mistral_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    switch (cx.kind) {
    case chat_template_kind::mistral_legacy: format_legacy(cx, m, out); return ok_status();
    case chat_template_kind::mistral_v1:
    case chat_template_kind::mistral_v3:
    case chat_template_kind::mistral_v3_tekken: return format_v1_v3(cx, m, out);
    case chat_template_kind::mistral_v7:
    case chat_template_kind::mistral_v7_tekken: format_v7(cx, m, out); return ok_status();
    default: return chat_error(cx, "not a Mistral template");
    }
}

}  // namespace detail
MOE_END_NAMESPACE
