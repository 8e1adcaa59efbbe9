// moe-run — command-line generation: load a GGUF model, then continue a text prompt (streamed), chat with the
// model's template, or (--tokens) continue a prompt of token ids — the logits hook for comparing engines.
#include "chat.hpp"
#include "generate.hpp"
#include "options.hpp"

#include <moe/moe.hpp>
#include <moe/sampler.hpp>
#include <moe/tokenizer.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

int fail(const std::string& msg) {
    std::fprintf(stderr, "moe-run: %s\n", msg.c_str());
    return 1;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool write_logits(const std::string& path, const moe::session& s, size_t n) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i)
        ok = std::fwrite(s.logits(static_cast<int64_t>(i)), sizeof(float), static_cast<size_t>(s.n_vocab()), f) ==
             static_cast<size_t>(s.n_vocab());
    return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
    run_options o;
    const int pr = parse_options(argc, argv, o);
    if (pr == 2) return 0;
    if (pr != 0) return 1;

    // ---- load, with a progress bar on a terminal ----
    auto t0 = std::chrono::steady_clock::now();
    moe::model_params mp;
    const bool bar = !o.no_progress && isatty(2);
    if (bar)
        mp.progress = [](float p) {
            const int w = 30, filled = static_cast<int>(p * w);
            std::fprintf(stderr, "\rloading [%.*s%*s] %3d%%", filled, "##############################", w - filled, "",
                         static_cast<int>(p * 100));
            return true;
        };
    moe::result<moe::model> m = moe::model::load(o.model_path, mp);
    if (bar) std::fputs("\r\033[K", stderr);
    if (!m) return fail(m.error().to_string());
    const double load_s = seconds_since(t0);

    moe::session_params sp;
    sp.n_threads = o.threads;
    sp.n_ctx = o.n_ctx;
    sp.backend = o.backend;
    sp.kv_type = o.kv_f16 ? moe::dtype::f16 : moe::dtype::f32;
    moe::result<moe::session> s = moe::session::create(*m, sp);
    if (!s) return fail(s.error().to_string());
    moe::result<moe::sampler> smp = moe::sampler::create(o.sampling);
    if (!smp) return fail(smp.error().to_string());
    std::fprintf(stderr, "moe-run: %s (%s, %lld layers, %lld experts) on %s, seed %llu\n", o.model_path.c_str(),
                 m->info().architecture.c_str(), static_cast<long long>(m->info().n_layer),
                 static_cast<long long>(m->info().n_expert), s->backend_name(),
                 static_cast<unsigned long long>(smp->seed()));
    if (o.backend == "auto") std::fprintf(stderr, "moe-run: %s\n", s->backend_note());  // CUDA used, or why not

    if (o.chat) return run_chat(o, *m, *s, *smp);

    // ---- prompt: ids, or text through the tokenizer ----
    const moe::tokenizer* tok = m->tokenizer();
    std::vector<int32_t> prompt = o.tokens;
    if (!o.have_tokens) {
        if (!tok) return fail("the model has no tokenizer; give the prompt as --tokens");
        moe::result<std::vector<int32_t>> ids = tok->encode(o.prompt, true, true);
        if (!ids) return fail(ids.error().to_string());
        prompt = std::move(*ids);
        if (prompt.empty()) return fail("the prompt tokenized to nothing");
    }
    t0 = std::chrono::steady_clock::now();
    const bool all = !o.logits_out.empty();
    moe::status st = s->eval(prompt.data(), prompt.size(), all ? moe::logits_mode::all : moe::logits_mode::last);
    if (!st.ok()) return fail(st.to_string());
    const double prompt_s = seconds_since(t0);
    if (all && !write_logits(o.logits_out, *s, prompt.size()))
        return fail("cannot write '" + o.logits_out + "': " + std::strerror(errno));

    // ---- generate ----
    if (!o.have_tokens) {
        std::fputs(o.prompt.c_str(), stdout);
        std::fflush(stdout);
    }
    install_interrupt_handler();
    std::vector<int32_t> ids;
    generation_stats gs;
    const int64_t budget = o.n_predict == -2 ? 128 : o.n_predict;
    st = generate(*s, *smp, o.have_tokens ? nullptr : tok, budget, [&](int32_t id) { ids.push_back(id); },
                  [](const std::string& piece) {
                      std::fputs(piece.c_str(), stdout);
                      std::fflush(stdout);
                  },
                  gs);
    if (!o.have_tokens) std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!st.ok()) return fail(st.to_string());
    if (o.have_tokens || o.print_ids) {
        std::string line;
        for (size_t i = 0; i < ids.size(); ++i) line += (i ? "," : "") + std::to_string(ids[i]);
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    }
    std::fprintf(stderr, "moe-run: load %.2f s | prompt %zu tokens, %.1f tok/s | generated %lld tokens, %.1f tok/s%s\n",
                 load_s, prompt.size(), static_cast<double>(prompt.size()) / prompt_s,
                 static_cast<long long>(gs.n_generated),
                 gs.seconds > 0 ? static_cast<double>(gs.n_generated) / gs.seconds : 0.0,
                 gs.interrupted ? " (stopped by Ctrl-C)" : gs.context_full ? " (context full)" : "");
    return 0;
}
