// chat_olmoe.cpp — OLMoE-Instruct's Tulu template: BOS, then <|system|>\n / <|user|>\n / <|assistant|>\n turns.
// Mirrors allenai/OLMoE-1B-7B-0924-Instruct's template (tests/unit/test_chat.cpp); called by chat_format.cpp.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {

status format_olmoe(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    out += cx.bos;
    for (size_t i = 0; i < m.size(); ++i) {
        const bool last = i + 1 == m.size();
        const chat_message& msg = m[i];
        if (msg.role == "system") {
            out += "<|system|>\n" + msg.content + "\n";
        } else if (msg.role == "user") {
            out += "<|user|>\n" + msg.content + "\n";
        } else {
            out += "<|assistant|>\n" + msg.content + cx.eos;
            if (!last) out += "\n";
        }
        // The generation prompt is written inside the loop: an empty conversation gets only BOS.
        if (last && cx.add_prompt) out += "<|assistant|>\n";
    }
    return ok_status();
}

}  // namespace detail
MOE_END_NAMESPACE
