// moe-run — command-line generation: load a GGUF model, evaluate a prompt of token ids, continue greedily.
// Also the logits hook for comparing engines: --logits-out writes every prompt position's logits as raw f32.
#include <moe/moe.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* usage =
    "usage: moe-run -m MODEL.gguf --tokens ID,ID,... [options]\n"
    "\n"
    "  -m, --model FILE       GGUF model to load\n"
    "  --tokens LIST          prompt as comma-separated token ids, e.g. 1,15043,3186\n"
    "  -p, --prompt TEXT      prompt as text (needs the tokenizer; not available in this version)\n"
    "  -n, --n-predict N      tokens to generate greedily after the prompt (default 32)\n"
    "  --print-ids            print the generated token ids, comma-separated, on stdout\n"
    "  --logits-out FILE      write the logits of every prompt position: raw little-endian float32,\n"
    "                         position-major (n_prompt x n_vocab)\n"
    "  -t, --threads N        CPU threads (default: all hardware threads)\n"
    "  -c, --ctx-size N       context length (default: the model's, at most 4096)\n"
    "  --backend NAME         auto, cpu or cuda (default auto)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Timings go to stderr so stdout stays clean for pipes.\n";

int fail(const std::string& msg) {
    std::fprintf(stderr, "moe-run: %s\n", msg.c_str());
    return 1;
}

bool parse_int(const char* s, long long& out) {
    char* end = nullptr;
    out = std::strtoll(s, &end, 10);
    return end && *end == '\0' && end != s;
}

bool parse_tokens(const std::string& s, std::vector<int32_t>& out) {
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        long long v;
        if (!parse_int(s.substr(i, j - i).c_str(), v) || v < 0 || v > 0x7fffffff) return false;
        out.push_back(static_cast<int32_t>(v));
        i = j + 1;
    }
    return !out.empty();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path, logits_out, tokens_arg;
    long long n_predict = 32, threads = 0, n_ctx = 0;
    bool print_ids = false;
    moe::session_params sp;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&](const char* what) -> const char* {
            if (i + 1 >= argc) return nullptr;
            (void)what;
            return argv[++i];
        };
        const char* v = nullptr;
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        } else if (a == "-m" || a == "--model") {
            if (!(v = next("model"))) return fail("-m needs a file");
            model_path = v;
        } else if (a == "--tokens") {
            if (!(v = next("tokens"))) return fail("--tokens needs a list of ids");
            tokens_arg = v;
        } else if (a == "-p" || a == "--prompt") {
            return fail("text prompts need the tokenizer, which this version does not have yet; use --tokens");
        } else if (a == "-n" || a == "--n-predict") {
            if (!(v = next("n")) || !parse_int(v, n_predict) || n_predict < 0) return fail("-n needs a count >= 0");
        } else if (a == "-t" || a == "--threads") {
            if (!(v = next("t")) || !parse_int(v, threads) || threads < 1 || threads > 1024)
                return fail("-t needs a thread count between 1 and 1024");
        } else if (a == "-c" || a == "--ctx-size") {
            if (!(v = next("c")) || !parse_int(v, n_ctx) || n_ctx < 1) return fail("-c needs a context length >= 1");
        } else if (a == "--backend") {
            if (!(v = next("backend"))) return fail("--backend needs auto, cpu or cuda");
            sp.backend = v;
        } else if (a == "--print-ids") {
            print_ids = true;
        } else if (a == "--logits-out") {
            if (!(v = next("logits-out"))) return fail("--logits-out needs a file");
            logits_out = v;
        } else {
            return fail("unknown argument '" + a + "' (see --help)");
        }
    }
    if (model_path.empty()) return fail("no model given (-m FILE); see --help");
    std::vector<int32_t> prompt;
    if (tokens_arg.empty()) return fail("no prompt given (--tokens 1,2,3); see --help");
    if (!parse_tokens(tokens_arg, prompt)) return fail("--tokens must be comma-separated non-negative integers");

    auto t0 = std::chrono::steady_clock::now();
    moe::result<moe::model> m = moe::model::load(model_path);
    if (!m) return fail(m.error().to_string());
    const double load_s = seconds_since(t0);

    sp.n_threads = static_cast<int>(threads);
    sp.n_ctx = n_ctx;
    moe::result<moe::session> s = moe::session::create(*m, sp);
    if (!s) return fail(s.error().to_string());

    t0 = std::chrono::steady_clock::now();
    const bool all = !logits_out.empty();
    moe::status st = s->eval(prompt.data(), prompt.size(), all ? moe::logits_mode::all : moe::logits_mode::last);
    if (!st.ok()) return fail(st.to_string());
    const double prompt_s = seconds_since(t0);

    if (all) {
        FILE* f = std::fopen(logits_out.c_str(), "wb");
        if (!f) return fail("cannot write '" + logits_out + "': " + std::strerror(errno));
        for (size_t i = 0; i < prompt.size(); ++i)
            if (std::fwrite(s->logits(static_cast<int64_t>(i)), sizeof(float), static_cast<size_t>(s->n_vocab()), f) !=
                static_cast<size_t>(s->n_vocab())) {
                std::fclose(f);
                return fail("short write to '" + logits_out + "'");
            }
        if (std::fclose(f) != 0) return fail("cannot write '" + logits_out + "'");
    }

    std::vector<int32_t> generated;
    t0 = std::chrono::steady_clock::now();
    for (long long k = 0; k < n_predict; ++k) {
        int32_t next = s->argmax();
        generated.push_back(next);
        if (k + 1 == n_predict) break;
        st = s->eval(&next, 1);
        if (!st.ok()) return fail(st.to_string());
    }
    const double gen_s = seconds_since(t0);

    // Without a detokenizer the ids are the only output, so they are printed with or without --print-ids.
    (void)print_ids;
    {
        std::string line;
        for (size_t i = 0; i < generated.size(); ++i) line += (i ? "," : "") + std::to_string(generated[i]);
        std::printf("%s\n", line.c_str());
    }
    std::fprintf(stderr, "moe-run: %s, %lld threads: load %.3f s, prompt %zu tokens %.1f tok/s, generated %zu tokens %.1f tok/s\n",
                 s->backend_name(), static_cast<long long>(threads), load_s, prompt.size(),
                 static_cast<double>(prompt.size()) / prompt_s, generated.size(),
                 gen_s > 0 ? static_cast<double>(generated.size() > 1 ? generated.size() - 1 : 0) / gen_s : 0.0);
    return 0;
}
