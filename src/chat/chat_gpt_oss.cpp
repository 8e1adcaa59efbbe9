// chat_gpt_oss.cpp — GPT-OSS's harmony format: the fixed system message (identity, cutoff, date, reasoning effort),
// the caller's system text as a developer message, then <|start|>role<|message|>...<|end|> turns. Called by chat_format.cpp.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {

status format_gpt_oss(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    out += "<|start|>system<|message|>";
    out += "You are ChatGPT, a large language model trained by OpenAI.\n";
    out += "Knowledge cutoff: 2024-06\n";
    out += "Current date: " + format_date_iso(cx.date) + "\n\n";
    out += "Reasoning: " + cx.reasoning_effort + "\n\n";
    out += "# Valid channels: analysis, commentary, final. Channel must be included for every message.";
    out += "<|end|>";

    // A leading system (or developer) message becomes the developer message's instructions.
    const bool has_developer = !m.empty() && (m[0].role == "system" || m[0].role == "developer");
    if (has_developer && !m[0].content.empty()) {
        out += "<|start|>developer<|message|># Instructions\n\n" + m[0].content + "\n\n<|end|>";
    }
    for (size_t i = has_developer ? 1 : 0; i < m.size(); ++i) {
        const chat_message& msg = m[i];
        if (msg.role == "user") {
            out += "<|start|>user<|message|>" + msg.content + "<|end|>";
        } else if (msg.role == "assistant") {
            if (contains(msg.content, "<|channel|>analysis<|message|>") || contains(msg.content, "<|channel|>final<|message|>"))
                return chat_error(cx, "assistant content must not contain <|channel|> tags");
            out += "<|start|>assistant<|channel|>final<|message|>" + msg.content;
            // <|return|> only closes a final assistant turn that is not followed by a generation prompt.
            out += (i + 1 == m.size() && !cx.add_prompt) ? "<|return|>" : "<|end|>";
        }
        // Later system messages are dropped, as the template drops them.
    }
    if (cx.add_prompt) out += "<|start|>assistant";
    return ok_status();
}

}  // namespace detail
MOE_END_NAMESPACE
