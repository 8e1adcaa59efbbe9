// chat.cpp — the chat loop: read a user line, append it to the history, format with the chat template, eval the
// new tokens (re-evaluating from the start only if the formatted history changed), generate until end-of-turn.
#include "chat.hpp"

#include "generate.hpp"

#include <moe/chat.hpp>
#include <moe/tokenizer.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

int fail(const std::string& msg) {
    std::fprintf(stderr, "moe-run: %s\n", msg.c_str());
    return 1;
}

// Reads one line from stdin; false at end of input or on Ctrl-C.
bool read_line(std::string& line) {
    std::fprintf(stderr, "\n> ");
    std::fflush(stderr);
    line.clear();
    int c;
    while ((c = std::fgetc(stdin)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
    if (g_interrupted) return false;
    return c != EOF || !line.empty();
}

}  // namespace

int run_chat(const run_options& o, const moe::model& m, moe::session& s, moe::sampler& smp) {
    const moe::tokenizer* tok = m.tokenizer();
    if (!tok) return fail("--chat needs a model with a tokenizer");
    moe::result<moe::chat_template_kind> kind =
        !o.chat_template.empty() ? moe::chat_template_from_name(o.chat_template)
                                 : moe::detect_chat_template(m.info().chat_template);
    if (!kind) {
        if (o.chat_template.empty() && m.info().chat_template.empty())
            return fail("the model has no chat template; name one with --chat-template (e.g. chatml)");
        return fail(kind.error().message() + " (name a template with --chat-template)");
    }
    moe::chat_format_options fo;
    if (tok->bos() >= 0) fo.bos_token = std::string(tok->token_text(tok->bos()));
    if (tok->eos() >= 0) fo.eos_token = std::string(tok->token_text(tok->eos()));

    std::vector<moe::chat_message> history;
    if (!o.system_prompt.empty()) history.push_back({"system", o.system_prompt});
    std::vector<int32_t> evaluated;  // tokens in the session's KV cache, in order
    const bool single_turn = !o.prompt.empty();
    install_interrupt_handler();
    for (int turn = 0;; ++turn) {
        std::string user;
        if (single_turn) {
            if (turn > 0) break;
            user = o.prompt;
        } else if (!read_line(user)) {
            break;
        }
        if (user.empty()) continue;
        history.push_back({"user", user});
        moe::result<std::string> text = moe::format_chat(*kind, history, fo);
        if (!text) return fail(text.error().message());
        // The template writes BOS itself when the family has one; do not add another.
        moe::result<std::vector<int32_t>> ids = tok->encode(*text, false, true);
        if (!ids) return fail(ids.error().message());
        size_t common = 0;
        while (common < evaluated.size() && common < ids->size() && evaluated[common] == (*ids)[common]) ++common;
        if (common < evaluated.size() || common == ids->size()) {  // history rewritten: start over
            s.clear();
            evaluated.clear();
            common = 0;
        }
        if (static_cast<int64_t>(ids->size()) >= s.n_ctx())
            return fail("the conversation no longer fits the context (" + std::to_string(s.n_ctx()) + " tokens); use -c");
        moe::status st = s.eval(ids->data() + common, ids->size() - common);
        if (!st.ok()) return fail(st.to_string());
        evaluated = *ids;

        std::string reply;
        std::vector<int32_t> reply_ids;
        generation_stats gs;
        const int64_t budget = o.n_predict >= 0 ? o.n_predict : -1;
        st = generate(s, smp, tok, budget, [&](int32_t id) { reply_ids.push_back(id); },
                      [&](const std::string& piece) {
                          reply += piece;
                          std::fputs(piece.c_str(), stdout);
                          std::fflush(stdout);
                      },
                      gs);
        std::fputs("\n", stdout);
        std::fflush(stdout);
        if (!st.ok()) return fail(st.to_string());
        evaluated.insert(evaluated.end(), reply_ids.begin(), reply_ids.begin() + gs.n_evaluated);
        history.push_back({"assistant", tok->decode(reply_ids)});
        std::fprintf(stderr, "[%lld tokens, %.1f tok/s%s]\n", static_cast<long long>(gs.n_generated),
                     gs.seconds > 0 ? static_cast<double>(gs.n_generated) / gs.seconds : 0.0,
                     gs.interrupted ? ", stopped" : gs.context_full ? ", context full" : "");
        g_interrupted = 0;
    }
    return 0;
}
