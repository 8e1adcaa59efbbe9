// pretok_registry.cpp — tokenizer.ggml.pre names (llama.cpp's, aliases included) -> stages and vocab defaults.
// Before: vocab_load.cpp reads the name. After: pretok_split.cpp runs the stages; tokenizer.cpp uses the flags.
//
// Each entry mirrors llama.cpp's llama_vocab::impl::load (name -> pre type, clean_spaces, ignore_merges, add_bos)
// and llm_tokenizer_bpe's regex list for that pre type, in order.
#include "tokenizer/pretokenizer.hpp"

#include <iterator>

MOE_BEGIN_NAMESPACE
namespace tok {

namespace {

constexpr split_stage k_gpt2[] = {{split_gpt2, nullptr}};
constexpr split_stage k_llama3[] = {{split_llama3, nullptr}};
constexpr split_stage k_qwen2[] = {{split_qwen2, nullptr}};
constexpr split_stage k_qwen35[] = {{split_qwen35, nullptr}};
constexpr split_stage k_default[] = {
    {nullptr, match_punct_default}, {split_gpt2, nullptr}, {nullptr, match_numbers}, {nullptr, match_digits_3}};
constexpr split_stage k_falcon[] = {{nullptr, match_punct_falcon}, {split_gpt2, nullptr}, {nullptr, match_digits_3}};
constexpr split_stage k_starcoder[] = {{nullptr, match_number}, {split_gpt2, nullptr}};
constexpr split_stage k_deepseek_llm[] = {
    {nullptr, match_cr_or_lf},       {nullptr, match_deepseek_letters}, {nullptr, match_deepseek_punct},
    {split_trailing_space, nullptr}, {nullptr, match_cjk_hangul},       {nullptr, match_numbers}};
constexpr split_stage k_deepseek_coder[] = {{nullptr, match_cr_or_lf},
                                            {nullptr, match_space_letters},
                                            {nullptr, match_space_punct},
                                            {nullptr, match_cjk_hangul},
                                            {nullptr, match_number}};
constexpr split_stage k_deepseek3[] = {
    {nullptr, match_numbers_3}, {nullptr, match_cjk_kana}, {nullptr, match_deepseek3}};
constexpr split_stage k_gpt4o[] = {{nullptr, match_gpt4o}};
constexpr split_stage k_tekken[] = {{nullptr, match_tekken}};
constexpr split_stage k_newlines[] = {{split_newlines, nullptr}};
constexpr split_stage k_tiny_aya[] = {{split_afmoe_digits, nullptr}, {nullptr, match_tiny_aya}};
constexpr split_stage k_bailing[] = {{nullptr, match_bailing}};
constexpr split_stage k_afmoe[] = {
    {split_afmoe_digits, nullptr}, {nullptr, match_afmoe_cjk}, {nullptr, match_deepseek3}};

template <size_t n>
constexpr pretokenizer make(const char* name, const split_stage (&stages)[n], bool clean_spaces) {
    pretokenizer p;
    p.name = name;
    p.stages = stages;
    p.n_stages = n;
    p.clean_spaces = clean_spaces;
    return p;
}
constexpr pretokenizer with_llama3_flags(pretokenizer p) {  // ignore_merges + BOS by default
    p.ignore_merges = true;
    p.add_bos = true;
    return p;
}
constexpr pretokenizer without_default_bos(pretokenizer p) {
    p.no_default_bos = true;
    return p;
}
constexpr pretokenizer sarvam() {  // SPM-style BPE like gemma4, without gemma4's fix-ups
    pretokenizer p = make("sarvam-moe", k_newlines, false);
    p.byte_encode = false;
    p.escape_whitespaces = true;
    return p;
}
constexpr pretokenizer gemma4() {
    pretokenizer p = make("gemma4", k_newlines, true);
    p.byte_encode = false;
    p.escape_whitespaces = true;
    p.newline_words_whole = true;
    return p;
}

constexpr pretokenizer k_pre_default = make("default", k_default, true);
constexpr pretokenizer k_pre_llama3 = with_llama3_flags(make("llama-bpe", k_llama3, true));
constexpr pretokenizer k_pre_llama3_plain = make("dbrx", k_llama3, true);         // dbrx, smaug-bpe
constexpr pretokenizer k_pre_glm4 = without_default_bos(make("glm4", k_llama3, true));
constexpr pretokenizer k_pre_deepseek_llm = make("deepseek-llm", k_deepseek_llm, false);
constexpr pretokenizer k_pre_deepseek_coder = make("deepseek-coder", k_deepseek_coder, false);
constexpr pretokenizer k_pre_deepseek3 = make("deepseek-v3", k_deepseek3, false);
constexpr pretokenizer k_pre_falcon = make("falcon", k_falcon, true);
constexpr pretokenizer k_pre_gpt2 = make("gpt-2", k_gpt2, true);                // also mpt, olmo, jais, exaone4, ...
constexpr pretokenizer k_pre_gpt2_keep = make("trillion", k_gpt2, false);       // trillion, granite-docling
constexpr pretokenizer k_pre_starcoder = make("starcoder", k_starcoder, true);  // also refact, codeshell, ...
constexpr pretokenizer k_pre_starcoder_keep = make("command-r", k_starcoder, false);  // command-r, smollm
constexpr pretokenizer k_pre_qwen2 = make("qwen2", k_qwen2, false);
constexpr pretokenizer k_pre_qwen2_clean = make("stablelm2", k_qwen2, true);    // stablelm2, megrez
constexpr pretokenizer k_pre_qwen35 = make("qwen35", k_qwen35, false);
constexpr pretokenizer k_pre_gpt4o = make("gpt-4o", k_gpt4o, false);
constexpr pretokenizer k_pre_tekken = with_llama3_flags(make("tekken", k_tekken, false));
constexpr pretokenizer k_pre_gemma4 = gemma4();
constexpr pretokenizer k_pre_sarvam = sarvam();
constexpr pretokenizer k_pre_tiny_aya = make("tiny_aya", k_tiny_aya, false);
constexpr pretokenizer k_pre_bailing = make("bailingmoe", k_bailing, false);
constexpr pretokenizer k_pre_afmoe = make("afmoe", k_afmoe, false);

struct named {
    const char* name;
    const pretokenizer* pre;
};

constexpr named k_names[] = {
    {"default", &k_pre_default},
    {"llama3", &k_pre_llama3}, {"llama-v3", &k_pre_llama3}, {"llama-bpe", &k_pre_llama3}, {"falcon3", &k_pre_llama3},
    {"falcon-h1", &k_pre_llama3}, {"pixtral", &k_pre_llama3}, {"midm-2.0", &k_pre_llama3}, {"lfm2", &k_pre_llama3},
    {"jina-v5-nano", &k_pre_llama3},
    {"dbrx", &k_pre_llama3_plain}, {"smaug-bpe", &k_pre_llama3_plain},
    {"glm4", &k_pre_glm4}, {"chatglm-bpe", &k_pre_glm4},
    {"deepseek-llm", &k_pre_deepseek_llm},
    {"deepseek-coder", &k_pre_deepseek_coder},
    {"deepseek-v3", &k_pre_deepseek3}, {"hunyuan-dense", &k_pre_deepseek3}, {"joyai-llm", &k_pre_deepseek3},
    {"hy_v4", &k_pre_deepseek3},
    {"falcon", &k_pre_falcon},
    {"gpt-2", &k_pre_gpt2}, {"phi-2", &k_pre_gpt2}, {"jina-es", &k_pre_gpt2}, {"jina-de", &k_pre_gpt2},
    {"gigachat", &k_pre_gpt2}, {"jina-v2-es", &k_pre_gpt2}, {"jina-v2-de", &k_pre_gpt2}, {"a.x-4.0", &k_pre_gpt2},
    {"mellum", &k_pre_gpt2}, {"modern-bert", &k_pre_gpt2}, {"jina-v1-en", &k_pre_gpt2}, {"jina-v2-code", &k_pre_gpt2},
    {"roberta-bpe", &k_pre_gpt2}, {"mpt", &k_pre_gpt2}, {"olmo", &k_pre_gpt2}, {"jais", &k_pre_gpt2},
    {"exaone4", &k_pre_gpt2},
    {"trillion", &k_pre_gpt2_keep}, {"granite-docling", &k_pre_gpt2_keep},
    {"starcoder", &k_pre_starcoder}, {"refact", &k_pre_starcoder}, {"codeshell", &k_pre_starcoder},
    {"exaone", &k_pre_starcoder}, {"minerva-7b", &k_pre_starcoder}, {"mellum2", &k_pre_starcoder},
    {"command-r", &k_pre_starcoder_keep}, {"smollm", &k_pre_starcoder_keep},
    {"qwen2", &k_pre_qwen2}, {"deepseek-r1-qwen", &k_pre_qwen2}, {"kormo", &k_pre_qwen2}, {"f2llmv2", &k_pre_qwen2},
    {"hunyuan", &k_pre_qwen2}, {"grok-2", &k_pre_qwen2}, {"solar-open", &k_pre_qwen2},
    {"stablelm2", &k_pre_qwen2_clean}, {"megrez", &k_pre_qwen2_clean},
    {"qwen35", &k_pre_qwen35},
    {"gpt-4o", &k_pre_gpt4o}, {"llama4", &k_pre_gpt4o}, {"kanana2", &k_pre_gpt4o}, {"talkie", &k_pre_gpt4o},
    {"minimax-m2", &k_pre_gpt4o},
    {"tekken", &k_pre_tekken},
    {"gemma4", &k_pre_gemma4}, {"granite-embed-multi-311m", &k_pre_gemma4},
    {"sarvam-moe", &k_pre_sarvam},
    {"tiny_aya", &k_pre_tiny_aya}, {"cohere2moe", &k_pre_tiny_aya},
    {"bailingmoe", &k_pre_bailing}, {"bailingmoe2", &k_pre_bailing}, {"llada-moe", &k_pre_bailing},
    {"afmoe", &k_pre_afmoe},
};

}  // namespace

const pretokenizer* find_pretokenizer(std::string_view name) noexcept {
    if (name.empty()) return &k_pre_default;  // llama.cpp: missing pre-tokenizer -> "default" (with a warning)
    for (const named& n : k_names)
        if (name == n.name) return n.pre;
    return nullptr;
}

const pretokenizer& gemma4_pretokenizer() noexcept { return k_pre_gemma4; }

}  // namespace tok
MOE_END_NAMESPACE
