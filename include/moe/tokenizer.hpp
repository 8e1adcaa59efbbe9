// tokenizer.hpp — text <-> token ids from a GGUF file's tokenizer.ggml.* metadata, matching llama.cpp id for id.
// Comes from model::tokenizer() (include/moe/model.hpp); its ids feed session::eval and its pieces print output.
//
//   const moe::tokenizer* tok = model.tokenizer();              // nullptr when the file has no tokenizer
//   auto ids = tok->encode("Hello world", /*add_special*/ true, /*parse_special*/ false);
//   moe::detokenizer out(*tok);                                   // streaming: whole UTF-8 characters only
//   for (int32_t id : generated) fputs(out.push(id).c_str(), stdout);
//   fputs(out.flush().c_str(), stdout);
//
// Supported vocabularies: "llama" (SentencePiece-style BPE by scores, byte fallback), "gpt2" (byte-level BPE by
// merge rank, with the pre-tokenizer named by tokenizer.ggml.pre: default, gpt-2, llama-bpe/llama3, qwen2, qwen35,
// deepseek-llm, deepseek-coder, deepseek-v3, olmo, gpt-4o, starcoder, refact, command-r, mpt, falcon, tekken,
// bailingmoe, afmoe, tiny_aya/cohere2moe, sarvam-moe and llama.cpp's aliases of these) and "gemma4". Others are
// refused with errc::unsupported.
//
// Thread safety: a tokenizer is immutable once made; any number of threads may call its const members at once.
// A detokenizer holds per-stream state: one per stream, not shared between threads. A moved-from tokenizer may
// only be assigned to or destroyed.
#pragma once

#include <moe/config.hpp>
#include <moe/status.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

MOE_BEGIN_NAMESPACE

namespace detail {
struct tokenizer_impl;
struct tokenizer_access;
}  // namespace detail

class MOE_API tokenizer {
public:
    static constexpr int32_t null_token = -1;  // "no such token" (an absent BOS, EOT, ...)

    // Text -> ids, as llama_tokenize(vocab, text, add_special, parse_special):
    //   add_special: BOS first when the vocab's add_bos flag is set, EOS last when add_eos is set.
    //   parse_special: control tokens written in the text ("<|im_start|>") become their ids; user-defined tokens
    //   are always recognised, as in llama.cpp.
    // Invalid UTF-8 never fails: byte-level vocabs see each bad byte as U+FFFD, "llama" vocabs encode it with a
    // byte token. Unknown text: "llama" vocabs fall back to <0xNN> byte tokens (then the unknown token); byte-level
    // vocabs drop a byte that has no token, as llama.cpp does. Errors: invalid_argument (text over 1 GiB, a byte
    // with neither a byte token nor an unknown token, add_special on a vocab that asks for a BOS/EOS it lacks),
    // out_of_memory.
    result<std::vector<int32_t>> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The bytes of one token, as llama_token_to_piece(vocab, id, buf, n, 0, special): byte tokens give their byte,
    // "▁" gives a space, byte-level BPE characters give their bytes; control and unknown tokens give "" unless
    // `special`. May be a partial UTF-8 sequence. An id outside [0, n_vocab()) gives "" (so does running out of
    // memory: these string-returning calls never throw).
    std::string token_to_piece(int32_t id, bool special = false) const;

    // Ids -> text, as llama_detokenize(vocab, ids, ..., remove_special=false, unparse_special=special): pieces
    // joined, the leading space of "llama" vocabs dropped, and llama.cpp's clean-up of spaces before punctuation
    // for vocabs that ask for it. Raw bytes: the result may be invalid UTF-8 (use detokenizer for display).
    std::string decode(const std::vector<int32_t>& ids, bool special = false) const;

    int32_t n_vocab() const noexcept;
    int32_t bos() const noexcept;  // null_token when absent
    int32_t eos() const noexcept;
    int32_t eot() const noexcept;
    int32_t eom() const noexcept;
    int32_t unk() const noexcept;
    int32_t pad() const noexcept;
    bool add_bos() const noexcept;  // what encode(.., add_special=true, ..) adds
    bool add_eos() const noexcept;
    bool is_eog(int32_t id) const noexcept;      // ends generation: EOS, EOT, EOM and llama.cpp's by-name list
    bool is_control(int32_t id) const noexcept;  // control-type token (also those llama.cpp re-types as control)
    std::string_view token_text(int32_t id) const noexcept;  // the vocab's own string; "" when out of range

    const std::string& model_kind() const noexcept;     // tokenizer.ggml.model: "llama", "gpt2", "gemma4"
    const std::string& pre_tokenizer() const noexcept;  // tokenizer.ggml.pre as written ("" for "llama" vocabs)

    tokenizer(tokenizer&&) noexcept;
    tokenizer& operator=(tokenizer&&) noexcept;
    ~tokenizer();

private:
    friend struct detail::tokenizer_access;
    explicit tokenizer(std::shared_ptr<const detail::tokenizer_impl> impl);
    std::shared_ptr<const detail::tokenizer_impl> impl_;
};

// Streaming ids -> text for display. push() returns only whole, valid UTF-8 characters: a token that ends inside a
// multi-byte character holds its bytes back until a later token completes it. Invalid bytes never stop the
// stream: each maximal invalid sequence comes out as U+FFFD (so the output is always valid UTF-8). Pieces are
// raw token_to_piece(id, special) bytes: no leading-space removal and no clean-up (unlike tokenizer::decode), so
// the text continues a prompt exactly.
class MOE_API detokenizer {
public:
    explicit detokenizer(const tokenizer& tok, bool special = false);
    std::string push(int32_t id);  // "" while a character is incomplete
    std::string flush();           // whatever is held back; an unfinished character becomes U+FFFD
    void reset() noexcept;         // forget held-back bytes

private:
    std::string emit(const std::string& piece);
    std::shared_ptr<const detail::tokenizer_impl> impl_;  // shared: the detokenizer may outlive `tok`
    bool special_;
    std::string pending_;
};

MOE_END_NAMESPACE
