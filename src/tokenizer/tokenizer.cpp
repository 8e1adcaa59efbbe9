// tokenizer.cpp — moe::tokenizer: encode (special-token split + SPM/BPE), pieces, decode, and the accessors.
// Before: make_tokenizer built the shared, read-only tokenizer_impl. After: callers feed ids to a session.
#include "tokenizer/vocab.hpp"

#include <exception>
#include <new>

MOE_BEGIN_NAMESPACE

namespace {

using detail::tokenizer_impl;

std::string escape_spaces(std::string_view s) {  // ' ' -> U+2581
    std::string out;
    out.reserve(s.size() + s.size() / 4);
    for (char c : s) {
        if (c == ' ')
            out += "\xE2\x96\x81";
        else
            out.push_back(c);
    }
    return out;
}

// llama_detokenize's clean-up (clean_up_tokenization_spaces), pass for pass, in place as llama.cpp does it.
void clean_spaces(std::string& text) {
    int total = static_cast<int>(text.size());
    // " ?" " !" " ." " ," -> drop the space
    const int total1 = total;
    total = total ? 1 : 0;
    for (int i = 1; i < total1; ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
        text[total++] = x;
    }
    // " ' " -> "'"
    const int total2 = total;
    total = total ? 1 : 0;
    for (int i = 1; i < total2; ++i) {
        const char x = text[i];
        if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            --total;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    // " 's" " 'm" " 're" " 've" -> drop the space (" 't", " 'd", " 'll" keep it)
    const int total3 = total;
    total = total ? 1 : 0;
    for (int i = 1; i < total3; ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
            const char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                --total;
            } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
                const char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
            }
        }
        text[total++] = x;
    }
    text.resize(static_cast<size_t>(total));
}

}  // namespace

tokenizer::tokenizer(std::shared_ptr<const tokenizer_impl> impl) : impl_(std::move(impl)) {}
tokenizer::tokenizer(tokenizer&&) noexcept = default;
tokenizer& tokenizer::operator=(tokenizer&&) noexcept = default;
tokenizer::~tokenizer() = default;

result<std::vector<int32_t>> tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const tokenizer_impl& v = *impl_;
    if (text.size() > tok::k_max_text_bytes)
        return status(errc::invalid_argument,
                      "text of " + std::to_string(text.size()) + " bytes is over the 1 GiB limit");
    try {
        std::vector<int32_t> out;
        if (add_special && v.add_bos) {
            if (v.bos == null_token)
                return status(errc::invalid_argument, "the vocab asks for a BOS token but has none");
            out.push_back(v.bos);
        }
        const std::vector<tok::fragment> frags = tok::split_special(v, text, parse_special);
        bool prev_special = true;  // "llama": a space goes before the first text and any text after a special token
        for (const tok::fragment& f : frags) {
            if (f.token != null_token) {
                out.push_back(f.token);
                prev_special = true;
                continue;
            }
            const std::string_view raw = text.substr(f.offset, f.length);
            if (v.kind == tok::vocab_kind::spm) {
                std::string s = (v.add_space_prefix && prev_special) ? std::string(" ") : std::string();
                s.append(raw.data(), raw.size());
                if (!tok::spm_encode(v, escape_spaces(s), out))
                    return status(errc::invalid_argument, "the text has a byte with no byte token and the vocab has no "
                                                          "unknown token");
            } else {
                tok::bpe_encode(v, v.escape_whitespaces ? escape_spaces(raw) : std::string(raw), out);
            }
            prev_special = false;
        }
        if (add_special && v.add_eos) {
            if (v.eos == null_token)
                return status(errc::invalid_argument, "the vocab asks for an EOS token but has none");
            out.push_back(v.eos);
        }
        return out;
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory encoding " + std::to_string(text.size()) + " bytes");
    } catch (const std::exception& e) {
        return status(errc::internal, std::string("unexpected exception encoding text: ") + e.what());
    }
}

std::string tokenizer::token_to_piece(int32_t id, bool special) const {
    try {
        return tok::piece(*impl_, id, special);
    } catch (const std::exception&) {  // out of memory
        return std::string();
    }
}

std::string tokenizer::decode(const std::vector<int32_t>& ids, bool special) const {
    try {
        const tokenizer_impl& v = *impl_;
        std::string text;
        bool remove_space = v.add_space_prefix;
        for (int32_t id : ids) {
            text += tok::piece(v, id, special, remove_space ? 1 : 0);
            remove_space = false;
        }
        if (v.clean_spaces) clean_spaces(text);
        return text;
    } catch (const std::exception&) {  // out of memory
        return std::string();
    }
}

int32_t tokenizer::n_vocab() const noexcept { return static_cast<int32_t>(impl_->tokens.size()); }
int32_t tokenizer::bos() const noexcept { return impl_->bos; }
int32_t tokenizer::eos() const noexcept { return impl_->eos; }
int32_t tokenizer::eot() const noexcept { return impl_->eot; }
int32_t tokenizer::eom() const noexcept { return impl_->eom; }
int32_t tokenizer::unk() const noexcept { return impl_->unk; }
int32_t tokenizer::pad() const noexcept { return impl_->pad; }
bool tokenizer::add_bos() const noexcept { return impl_->add_bos; }
bool tokenizer::add_eos() const noexcept { return impl_->add_eos; }
bool tokenizer::is_eog(int32_t id) const noexcept { return id != null_token && impl_->eog.count(id) > 0; }
bool tokenizer::is_control(int32_t id) const noexcept {
    return impl_->valid(id) && (impl_->tokens[id].attr & tok::attr_control) != 0;
}
std::string_view tokenizer::token_text(int32_t id) const noexcept {
    return impl_->valid(id) ? std::string_view(impl_->tokens[id].text) : std::string_view();
}
const std::string& tokenizer::model_kind() const noexcept { return impl_->model_kind; }
const std::string& tokenizer::pre_tokenizer() const noexcept { return impl_->pre_name; }

MOE_END_NAMESPACE
