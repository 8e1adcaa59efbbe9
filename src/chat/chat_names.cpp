// chat_names.cpp — the template kinds' names (and aliases) and the BOS/EOS text each family's template writes.
// chat_template_from_name() serves --chat-template style options; detect_chat_template() falls back on it first.
#include "chat/chat_impl.hpp"

MOE_BEGIN_NAMESPACE
namespace detail {
namespace {

struct kind_info {
    chat_template_kind kind;
    const char* name;
    const char* bos;
    const char* eos;
};


const kind_info kinds[] = {
    {chat_template_kind::chatml, "chatml", "", "<|im_end|>"},
    {chat_template_kind::qwen2, "qwen2", "", "<|im_end|>"},
    {chat_template_kind::qwen2_5, "qwen2.5", "", "<|im_end|>"},
    {chat_template_kind::qwen3, "qwen3", "", "<|im_end|>"},
    {chat_template_kind::deepseek2, "deepseek2", deepseek_bos, deepseek_eos},
    {chat_template_kind::deepseek3, "deepseek3", deepseek_bos, deepseek_eos},
    {chat_template_kind::deepseek_r1, "deepseek-r1", deepseek_bos, deepseek_eos},
    {chat_template_kind::deepseek3_1, "deepseek3.1", deepseek_bos, deepseek_eos},
    {chat_template_kind::mistral_legacy, "mistral-legacy", "<s>", "</s>"},
    {chat_template_kind::mistral_v1, "mistral-v1", "<s>", "</s>"},
    {chat_template_kind::mistral_v3, "mistral-v3", "<s>", "</s>"},
    {chat_template_kind::mistral_v3_tekken, "mistral-v3-tekken", "<s>", "</s>"},
    {chat_template_kind::mistral_v7, "mistral-v7", "<s>", "</s>"},
    {chat_template_kind::mistral_v7_tekken, "mistral-v7-tekken", "<s>", "</s>"},
    {chat_template_kind::llama3, "llama3", "<|begin_of_text|>", "<|eot_id|>"},
    {chat_template_kind::llama3_1, "llama3.1", "<|begin_of_text|>", "<|eot_id|>"},
    {chat_template_kind::olmoe, "olmoe", "<|endoftext|>", "<|endoftext|>"},
    {chat_template_kind::gpt_oss, "gpt-oss", "", "<|return|>"},
};

struct alias {
    const char* name;
    chat_template_kind kind;
};

const alias aliases[] = {
    {"qwen", chat_template_kind::qwen3},
    {"deepseek-v2", chat_template_kind::deepseek2}, {"deepseek-v3", chat_template_kind::deepseek3},
    {"deepseek-v3.1", chat_template_kind::deepseek3_1}, {"mixtral", chat_template_kind::mistral_v1},
    {"llama-3", chat_template_kind::llama3},      {"llama-3.1", chat_template_kind::llama3_1},
    {"tulu", chat_template_kind::olmoe},          {"harmony", chat_template_kind::gpt_oss},
};

const kind_info* info(chat_template_kind k) noexcept {
    for (const kind_info& i : kinds)
        if (i.kind == k) return &i;
    return nullptr;
}

}  // namespace
}  // namespace detail

result<chat_template_kind> chat_template_from_name(std::string_view name) {
    for (const detail::kind_info& i : detail::kinds)
        if (name == i.name) return i.kind;
    for (const detail::alias& a : detail::aliases)
        if (name == a.name) return a.kind;
    return result<chat_template_kind>(errc::invalid_argument, "unknown chat template name '" + std::string(name) + "'");
}

const char* chat_template_name(chat_template_kind kind) noexcept {
    const detail::kind_info* i = detail::info(kind);
    return i ? i->name : "unknown";
}

const char* chat_template_bos(chat_template_kind kind) noexcept {
    const detail::kind_info* i = detail::info(kind);
    return i ? i->bos : "";
}

const char* chat_template_eos(chat_template_kind kind) noexcept {
    const detail::kind_info* i = detail::info(kind);
    return i ? i->eos : "";
}

MOE_END_NAMESPACE
