// chat — interactive chat over the C++ API: each stdin line is a user turn, formatted with the model's chat template,
// evaluated on top of the KV cache kept from earlier turns, answered by a sampler. Before: simple-c. After: game-loop.
#include <moe/chat.hpp>
#include <moe/moe.hpp>
#include <moe/sampler.hpp>
#include <moe/tokenizer.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#ifndef MOE_DEMO_MODEL
#define MOE_DEMO_MODEL "shakespeare-moe-q8_0.gguf"
#endif

namespace {

struct options {
    std::string model = MOE_DEMO_MODEL;
    std::string template_name;  // empty: the model's own template, or a plain transcript when it has none
    std::string system;
    uint64_t seed = 42;
    int max_reply = 64;  // tokens per reply
};

// The conversation as prompt text: the chat template's, or (for a model without one, like the demo model) a plain
// play-script transcript "USER:\n...\n\nASSISTANT:\n" whose replies end at a blank line.
struct formatter {
    std::optional<moe::chat_template_kind> kind;
    moe::chat_format_options opts;

    moe::result<std::string> format(const std::vector<moe::chat_message>& history) const {
        if (kind) return moe::format_chat(*kind, history, opts);
        std::string text;
        for (const moe::chat_message& m : history) {
            if (m.role == "user") text += "USER:\n";
            if (m.role == "assistant") text += "ASSISTANT:\n";
            text += m.content + "\n\n";
        }
        return text + "ASSISTANT:\n";
    }
};

// The conversation as token ids. A template writes BOS itself; the plain transcript asks the vocabulary for it.
moe::result<std::vector<int32_t>> encode(const formatter& fmt, const moe::tokenizer& tok,
                                         const std::vector<moe::chat_message>& history) {
    moe::result<std::string> text = fmt.format(history);
    if (!text) return text.error();
    return tok.encode(*text, /*add_special*/ !fmt.kind, /*parse_special*/ true);
}

int fail(const std::string& message) {
    std::fprintf(stderr, "chat: %s\n", message.c_str());
    return 1;
}

bool parse(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--template" && has_value) o.template_name = argv[++i];
        else if (a == "--system" && has_value) o.system = argv[++i];
        else if (a == "--seed" && has_value) o.seed = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "-n" && has_value) o.max_reply = std::atoi(argv[++i]);
        else if (!a.empty() && a[0] != '-') o.model = a;
        else return false;
    }
    return o.max_reply > 0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (!parse(argc, argv, o))
        return fail("usage: moe-chat [MODEL.gguf] [--template NAME] [--system TEXT] [--seed N] [-n REPLY_TOKENS]");
    moe::result<moe::model> m = moe::model::load(o.model);
    if (!m) return fail(m.error().to_string());
    const moe::tokenizer* tok = m->tokenizer();
    if (!tok) return fail("the model has no tokenizer");
    moe::result<moe::session> s = moe::session::create(*m);
    if (!s) return fail(s.error().to_string());
    moe::sampler_params sp;
    sp.seed = o.seed;
    sp.repeat_penalty = 1.1f;
    moe::result<moe::sampler> smp = moe::sampler::create(sp);
    if (!smp) return fail(smp.error().to_string());

    formatter fmt;
    if (!o.template_name.empty() || !m->info().chat_template.empty()) {
        auto kind = o.template_name.empty() ? moe::detect_chat_template(m->info().chat_template)
                                            : moe::chat_template_from_name(o.template_name);
        if (!kind) return fail(kind.error().message() + " (name one with --template, e.g. chatml)");
        fmt.kind = *kind;
        // The template writes BOS/EOS as text: use the vocabulary's own strings for them.
        if (tok->bos() >= 0) fmt.opts.bos_token = std::string(tok->token_text(tok->bos()));
        if (tok->eos() >= 0) fmt.opts.eos_token = std::string(tok->token_text(tok->eos()));
    }
    std::fprintf(stderr, "chat: %s, template %s, %lld-token context. One line per turn; end with Ctrl-D.\n",
                 m->info().name.c_str(), fmt.kind ? moe::chat_template_name(*fmt.kind) : "none (plain transcript)",
                 static_cast<long long>(s->n_ctx()));

    std::vector<moe::chat_message> history;
    if (!o.system.empty()) history.push_back({"system", o.system});
    const size_t first_turn = history.size();
    std::vector<int32_t> cached;  // the tokens in the session's KV cache, in order
    std::string line;
    int turn = 0;
    while (std::fprintf(stderr, "> "), std::getline(std::cin, line)) {
        if (line.empty()) continue;
        ++turn;
        history.push_back({"user", line});
        // Format the whole conversation, then evaluate only what the KV cache does not hold yet.
        moe::result<std::vector<int32_t>> ids = encode(fmt, *tok, history);
        const auto too_long = [&] { return ids && static_cast<int64_t>(ids->size()) + o.max_reply > s->n_ctx(); };
        if (too_long() && history.size() > first_turn + 1) {  // forget the earlier turns
            std::fprintf(stderr, "chat: the context is full; the conversation starts over from this line\n");
            history.erase(history.begin() + static_cast<std::ptrdiff_t>(first_turn), history.end() - 1);
            ids = encode(fmt, *tok, history);
        }
        if (!ids) return fail(ids.error().message());
        if (too_long()) {
            std::fprintf(stderr, "chat: that line does not fit the %lld-token context\n",
                         static_cast<long long>(s->n_ctx()));
            history.pop_back();
            continue;
        }
        size_t keep = 0;
        while (keep < cached.size() && keep < ids->size() && cached[keep] == (*ids)[keep]) ++keep;
        if (keep == ids->size()) --keep;  // something must be evaluated to get fresh logits
        if (moe::status st = s->truncate(static_cast<int64_t>(keep)); !st.ok()) return fail(st.to_string());
        if (moe::status st = s->eval(ids->data() + keep, ids->size() - keep); !st.ok()) return fail(st.to_string());
        cached = *ids;

        // Generate the reply token by token: sample, accept, print, evaluate.
        moe::detokenizer out(*tok);
        std::string reply;
        int n = 0;
        while (n < o.max_reply) {
            const int32_t id = smp->sample(s->logits(), s->n_vocab());
            if (id < 0) return fail("nothing to sample");
            smp->accept(id);
            if (tok->is_eog(id)) break;
            const std::string piece = out.push(id);
            std::fputs(piece.c_str(), stdout);
            std::fflush(stdout);
            reply += piece;
            if (moe::status st = s->eval(&id, 1); !st.ok()) return fail(st.to_string());
            cached.push_back(id);
            ++n;
            if (!fmt.kind && reply.size() >= 2 && reply.compare(reply.size() - 2, 2, "\n\n") == 0) break;
        }
        reply += out.flush();
        while (!reply.empty() && reply.back() == '\n') reply.pop_back();
        std::fputs("\n", stdout);
        std::fflush(stdout);
        history.push_back({"assistant", reply});
        std::fprintf(stderr, "[turn %d: %zu prompt tokens, %zu reused from the KV cache, %d generated]\n", turn,
                     ids->size(), keep, n);
    }
    std::fputs("\n", stderr);
    return 0;
}
