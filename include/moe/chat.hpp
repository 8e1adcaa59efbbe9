// chat.hpp — turns a conversation (system / user / assistant turns) into the prompt text a chat model was trained on,
// for the template families moe serves. Text comes from the caller; the result goes to the tokenizer, then eval().
//
//   auto kind = moe::detect_chat_template(gguf_chat_template);   // tokenizer.chat_template, or a name like "chatml"
//   std::vector<moe::chat_message> msgs = {{"system", "Be brief."}, {"user", "Hi!"}};
//   auto prompt = moe::format_chat(*kind, msgs, /*add_assistant_prompt*/ true);
//
// The text is exactly what the model's own Jinja template renders (transformers' apply_chat_template) for plain
// conversations without tools, including the BOS text when the template writes one ("<s>", "<|begin_of_text|>", ...):
// tokenize it with special tokens parsed and without adding another BOS (chat_template_bos() says whether there is one).
// Not a Jinja engine: each family is implemented by hand and checked against its real template (tests/unit/test_chat.cpp).
#pragma once

#include <moe/config.hpp>
#include <moe/status.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

MOE_BEGIN_NAMESPACE

struct chat_message {
    std::string role;  // "system", "user" or "assistant" ("developer" too, as GPT-OSS's first message)
    std::string content;
};

enum class chat_template_kind {
    chatml,             // "chatml": <|im_start|>role\n...<|im_end|>\n, no default system message
    qwen2,              // "qwen2": ChatML + default system "You are a helpful assistant." (Qwen2 / Qwen2-MoE)
    qwen2_5,            // "qwen2.5": ChatML + default system "You are Qwen, created by Alibaba Cloud. ..."
    qwen3,              // "qwen3": ChatML with <think> handling (Qwen3 / Qwen3-MoE)
    deepseek2,          // "deepseek2": "User: ...\n\nAssistant:" (DeepSeek-V2 / V2-Lite Chat)
    deepseek3,          // "deepseek3": <｜User｜>/<｜Assistant｜> with BOS (DeepSeek-V3)
    deepseek_r1,        // "deepseek-r1": like V3, history drops reasoning, the prompt opens <think> (DeepSeek-R1)
    deepseek3_1,        // "deepseek3.1": V3.1 hybrid thinking, </think> (off) or <think> (on) after <｜Assistant｜>
    mistral_legacy,     // "mistral-legacy": [INST] ... [/INST] without a system role (original Mixtral-8x7B-Instruct)
    mistral_v1,         // "mistral-v1": " [INST] ... [/INST]", system joined to the first user turn (Mixtral-8x7B)
    mistral_v3,         // "mistral-v3": "[INST] ...[/INST]", system joined to the last user turn (Mixtral-8x22B)
    mistral_v3_tekken,  // "mistral-v3-tekken": v3 without the spaces (Mistral-Nemo)
    mistral_v7,         // "mistral-v7": [SYSTEM_PROMPT] ... [/SYSTEM_PROMPT] (Mistral-Large-2411)
    mistral_v7_tekken,  // "mistral-v7-tekken": v7 without the spaces (Mistral-Small-3.x)
    llama3,             // "llama3": <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> (Llama 3.0)
    llama3_1,           // "llama3.1": Llama 3 plus the knowledge-cutoff / date system header (Llama 3.1 to 3.3)
    olmoe,              // "olmoe": Tulu <|user|>\n / <|assistant|>\n with BOS (OLMoE-1B-7B Instruct)
    gpt_oss,            // "gpt-oss": OpenAI harmony, <|start|>role<|message|>...<|end|> (gpt-oss-20b/120b)
};

enum class chat_thinking {
    template_default,  // what the model's template does when the caller says nothing
    enabled,           // DeepSeek-V3.1: the prompt opens <think>
    disabled,          // Qwen3: the prompt carries an empty <think></think> block; DeepSeek-V3.1: </think> (default)
};

struct chat_date {
    int year = 0, month = 0, day = 0;  // all 0: today's local date (what llama.cpp passes)
};

struct chat_format_options {
    bool add_assistant_prompt = true;        // end with the opening of the assistant's turn
    std::optional<std::string> bos_token;    // unset: the family's usual text (chat_template_bos)
    std::optional<std::string> eos_token;    // unset: the family's usual text (chat_template_eos)
    chat_date date;                          // Llama 3.1 "Today Date: 05 Mar 2025", GPT-OSS "Current date: 2025-03-05"
    chat_thinking thinking = chat_thinking::template_default;  // Qwen3, DeepSeek-V3.1; others ignore it
    std::string reasoning_effort = "medium";  // GPT-OSS: "low", "medium" or "high"
};

// Recognises a template by its distinctive markers (or by name, as chat_template_from_name). Errors: unsupported
// (not one of the families above).
MOE_API result<chat_template_kind> detect_chat_template(std::string_view jinja_source);
// "chatml", "qwen2", "qwen2.5", "qwen3", "deepseek2", "deepseek3", "deepseek-r1", "deepseek3.1", "mistral-legacy",
// "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "llama3", "llama3.1", "olmoe",
// "gpt-oss" (plus aliases "qwen", "deepseek-v2", "deepseek-v3", "mixtral", "llama-3", "tulu", "harmony").
// Errors: invalid_argument (unknown name).
MOE_API result<chat_template_kind> chat_template_from_name(std::string_view name);
MOE_API const char* chat_template_name(chat_template_kind kind) noexcept;
// The BOS / EOS text the family's template writes ("" when it writes none).
MOE_API const char* chat_template_bos(chat_template_kind kind) noexcept;
MOE_API const char* chat_template_eos(chat_template_kind kind) noexcept;

// Errors: invalid_argument (a role the family does not take, a system message where its template refuses one,
// GPT-OSS channel tags inside content, a bad date), internal (allocation failure).
MOE_API result<std::string> format_chat(chat_template_kind kind, const std::vector<chat_message>& messages,
                                        bool add_assistant_prompt);
MOE_API result<std::string> format_chat(chat_template_kind kind, const std::vector<chat_message>& messages,
                                        const chat_format_options& options);

MOE_END_NAMESPACE
