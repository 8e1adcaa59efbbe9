// capi_text.cpp — text on the C API: tokenize / detokenize / token pieces and special tokens through the model's
// tokenizer, and chat-template formatting (src/chat). Text comes from the caller; ids go to moe_session_eval.
#include "capi/capi_internal.hpp"

#include <vector>

namespace {

using moe_capi::fail;

const moe::tokenizer* tok_of(const moe_model* m) noexcept { return m ? m->state->m.tokenizer() : nullptr; }

// The model's tokenizer, or a recorded error (INVALID_ARGUMENT for NULL, UNSUPPORTED when it has none).
moe_status need_tokenizer(const char* fn, const moe_model* m, const moe::tokenizer*& tok) {
    if (!m) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "model is NULL");
    tok = m->state->m.tokenizer();
    if (!tok) return fail(fn, MOE_ERR_UNSUPPORTED, "the model file has no tokenizer");
    return MOE_OK;
}

}  // namespace

extern "C" {

int32_t moe_token_bos(const moe_model* model) { return tok_of(model) ? tok_of(model)->bos() : -1; }
int32_t moe_token_eos(const moe_model* model) { return tok_of(model) ? tok_of(model)->eos() : -1; }
int32_t moe_token_eot(const moe_model* model) { return tok_of(model) ? tok_of(model)->eot() : -1; }
bool moe_token_is_eog(const moe_model* model, int32_t token) { return tok_of(model) && tok_of(model)->is_eog(token); }

moe_status moe_tokenize(const moe_model* model, const char* text, size_t text_len, bool add_special,
                        bool parse_special, int32_t* tokens, size_t capacity, size_t* n_tokens) {
    const char* fn = "moe_tokenize";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!n_tokens) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "n_tokens is NULL");
        *n_tokens = 0;
        if (!text && text_len > 0) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "text is NULL");
        const moe::tokenizer* tok = nullptr;
        if (moe_status st = need_tokenizer(fn, model, tok); st != MOE_OK) return st;
        moe::result<std::vector<int32_t>> ids =
            tok->encode(std::string_view(text ? text : "", text_len), add_special, parse_special);
        if (!ids) return fail(fn, ids.error());
        *n_tokens = ids->size();
        if (ids->size() > capacity || (!tokens && !ids->empty()))
            return fail(fn, MOE_ERR_BUFFER_TOO_SMALL,
                        "the text has " + std::to_string(ids->size()) + " tokens, room for " +
                            std::to_string(tokens ? capacity : 0) + " given");
        std::copy(ids->begin(), ids->end(), tokens);
        return MOE_OK;
    });
}

moe_status moe_detokenize(const moe_model* model, const int32_t* tokens, size_t n, bool special, char* text,
                          size_t capacity, size_t* n_bytes) {
    const char* fn = "moe_detokenize";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "n_bytes is NULL");
        *n_bytes = 0;
        if (!tokens && n > 0) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "tokens is NULL");
        const moe::tokenizer* tok = nullptr;
        if (moe_status st = need_tokenizer(fn, model, tok); st != MOE_OK) return st;
        for (size_t i = 0; i < n; ++i)
            if (tokens[i] < 0 || tokens[i] >= tok->n_vocab())
                return fail(fn, MOE_ERR_INVALID_ARGUMENT,
                            "token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                " is outside the vocabulary (" + std::to_string(tok->n_vocab()) + ")");
        const std::string s = tok->decode(std::vector<int32_t>(tokens, tokens + n), special);
        return moe_capi::write_text(fn, s, text, capacity, n_bytes);
    });
}

moe_status moe_token_to_piece(const moe_model* model, int32_t token, bool special, char* text, size_t capacity,
                              size_t* n_bytes) {
    const char* fn = "moe_token_to_piece";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "n_bytes is NULL");
        *n_bytes = 0;
        const moe::tokenizer* tok = nullptr;
        if (moe_status st = need_tokenizer(fn, model, tok); st != MOE_OK) return st;
        if (token < 0 || token >= tok->n_vocab())
            return fail(fn, MOE_ERR_INVALID_ARGUMENT,
                        "token " + std::to_string(token) + " is outside the vocabulary (" +
                            std::to_string(tok->n_vocab()) + ")");
        return moe_capi::write_text(fn, tok->token_to_piece(token, special), text, capacity, n_bytes);
    });
}

moe_status moe_chat_template_name(const moe_model* model, const char** name) {
    const char* fn = "moe_chat_template_name";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!model || !name) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "model or name is NULL");
        *name = nullptr;
        const std::string& src = model->state->m.info().chat_template;
        if (src.empty()) return fail(fn, MOE_ERR_UNSUPPORTED, "the model has no chat template");
        moe::result<moe::chat_template_kind> kind = moe::detect_chat_template(src);
        if (!kind) return fail(fn, kind.error());
        *name = moe::chat_template_name(*kind);
        return MOE_OK;
    });
}

moe_status moe_chat_format(const moe_model* model, const char* template_name, const moe_chat_message* messages,
                           size_t n_messages, bool add_assistant_prompt, char* text, size_t capacity,
                           size_t* n_bytes) {
    const char* fn = "moe_chat_format";
    return moe_capi::guarded(fn, [&]() -> moe_status {
        if (!n_bytes) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "n_bytes is NULL");
        *n_bytes = 0;
        if (!messages && n_messages > 0) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "messages is NULL");
        if (!model && !template_name) return fail(fn, MOE_ERR_INVALID_ARGUMENT, "give a model or a template name");
        moe::result<moe::chat_template_kind> kind = moe::chat_template_kind::chatml;
        if (template_name) {
            kind = moe::chat_template_from_name(template_name);
        } else {
            const std::string& src = model->state->m.info().chat_template;
            if (src.empty()) return fail(fn, MOE_ERR_UNSUPPORTED, "the model has no chat template; name one");
            kind = moe::detect_chat_template(src);
        }
        if (!kind) return fail(fn, kind.error());
        std::vector<moe::chat_message> msgs;
        msgs.reserve(n_messages);
        for (size_t i = 0; i < n_messages; ++i) {
            if (!messages[i].role || !messages[i].content)
                return fail(fn, MOE_ERR_INVALID_ARGUMENT, "message " + std::to_string(i) + " has a NULL role or content");
            msgs.push_back({messages[i].role, messages[i].content});
        }
        moe::chat_format_options o;
        o.add_assistant_prompt = add_assistant_prompt;
        // The model's own BOS / EOS text, as moe-run's chat does, when the template writes them.
        if (const moe::tokenizer* tok = tok_of(model)) {
            if (tok->bos() >= 0) o.bos_token = std::string(tok->token_text(tok->bos()));
            if (tok->eos() >= 0) o.eos_token = std::string(tok->token_text(tok->eos()));
        }
        moe::result<std::string> s = moe::format_chat(*kind, msgs, o);
        if (!s) return fail(fn, s.error());
        return moe_capi::write_text(fn, *s, text, capacity, n_bytes);
    });
}

}  // extern "C"
