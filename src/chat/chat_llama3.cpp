// chat_llama3.cpp — Llama 3 headers: <|start_header_id|>role<|end_header_id|>\n\n trimmed content <|eot_id|>;
// Llama 3.1+ adds the knowledge-cutoff / today's-date system block. Mirrors tests/unit/test_chat.cpp's templates.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

void header_block(std::string& out, std::string_view role, std::string_view content) {
    out += "<|start_header_id|>";
    out += role;
    out += "<|end_header_id|>\n\n";
    out += py_strip(content);  // the templates' message['content'] | trim
    out += "<|eot_id|>";
}

}  // namespace

status format_llama3_family(const chat_context& cx, const std::vector<chat_message>& m, std::string& out) {
    if (cx.kind == chat_template_kind::llama3) {
        // 3.0 writes BOS in front of the first message, so an empty conversation has none.
        for (size_t i = 0; i < m.size(); ++i) {
            if (i == 0) out += cx.bos;
            header_block(out, m[i].role, m[i].content);
        }
    } else if (cx.kind == chat_template_kind::llama3_1) {
        const bool has_system = !m.empty() && m[0].role == "system";
        out += cx.bos;
        out += "<|start_header_id|>system<|end_header_id|>\n\n";
        out += "Cutting Knowledge Date: December 2023\n";
        out += "Today Date: " + format_date_dmy(cx.date) + "\n\n";
        if (has_system) out += py_strip(m[0].content);
        out += "<|eot_id|>";
        for (size_t i = has_system ? 1 : 0; i < m.size(); ++i) header_block(out, m[i].role, m[i].content);
    } else {
        return chat_error(cx, "not a Llama 3 template");
    }
    if (cx.add_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return ok_status();
}

}  // namespace detail
MOE_END_NAMESPACE
