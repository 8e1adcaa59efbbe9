// chat_detect.cpp — recognises a model's Jinja chat template (GGUF tokenizer.chat_template) by distinctive markers,
// the way llama.cpp's llm_chat_detect_template does, and returns the kind format_chat() should use.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

using k = chat_template_kind;

result<chat_template_kind> detect_mistral(std::string_view t) {
    if (contains(t, "[SYSTEM_PROMPT]"))  // v7: "[SYSTEM_PROMPT] " + content; v7-tekken: '[SYSTEM_PROMPT]' + content
        return contains(t, "[SYSTEM_PROMPT] ") ? k::mistral_v7 : k::mistral_v7_tekken;
    if (contains(t, "<<SYS>>"))
        return result<chat_template_kind>(errc::unsupported, "Llama 2 style [INST] <<SYS>> chat templates are not supported");
    // Mistral's official v1 / v3 templates: v1 writes ' [INST] ' with a leading space; v3 brings [AVAILABLE_TOOLS].
    if (contains(t, " [INST] ")) return k::mistral_v1;
    if (contains(t, "[AVAILABLE_TOOLS]")) {
        if (contains(t, "\"[INST]\"") || contains(t, "'[INST]'")) return k::mistral_v3_tekken;
        return k::mistral_v3;
    }
    return k::mistral_legacy;  // bare [INST] ... [/INST], no system role (original Mixtral-8x7B-Instruct)
}

result<chat_template_kind> detect_chatml(std::string_view t) {
    if (contains(t, "<|im_sep|>") || contains(t, "<end_of_utterance>"))
        return result<chat_template_kind>(errc::unsupported, "Phi-4 / SmolVLM chat templates are not supported");
    if (contains(t, "<think>") && (contains(t, "reasoning_content") || contains(t, "enable_thinking"))) return k::qwen3;
    if (contains(t, "You are Qwen, created by Alibaba Cloud.")) return k::qwen2_5;
    if (contains(t, "You are a helpful assistant.") && contains(t, "!= 'system'")) return k::qwen2;
    return k::chatml;
}

}  // namespace
}  // namespace detail

result<chat_template_kind> detect_chat_template(std::string_view t) {
    using namespace detail;
    if (result<chat_template_kind> by_name = chat_template_from_name(t); by_name.ok()) return by_name;

    if (contains(t, "<|start|>") && contains(t, "<|channel|>") && contains(t, "<|message|>")) return k::gpt_oss;
    if (contains(t, "<|im_start|>")) return detect_chatml(t);
    if (contains(t, deepseek_user) && contains(t, deepseek_assistant)) {
        // V3.1 opens the assistant turn with </think> (llama.cpp's copy of it spells that <think></think>).
        if (contains(t, std::string(deepseek_assistant) + "</think>") || contains(t, std::string(deepseek_assistant) + "<think></think>"))
            return k::deepseek3_1;
        if (contains(t, std::string(deepseek_assistant) + "<think>")) return k::deepseek_r1;
        return k::deepseek3;
    }
    if (contains(t, "'User: ' + message['content']") && contains(t, "'Assistant: ' + message['content']"))
        return k::deepseek2;
    if (starts_with(t, "mistral") || contains(t, "[INST]")) return detect_mistral(t);
    if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>"))
        return contains(t, "Cutting Knowledge Date") ? k::llama3_1 : k::llama3;
    if (contains(t, "<|user|>") && contains(t, "<|assistant|>") && !contains(t, "<|end|>")) return k::olmoe;
    return result<chat_template_kind>(errc::unsupported, "chat template not recognised");
}

MOE_END_NAMESPACE
