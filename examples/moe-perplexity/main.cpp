// moe-perplexity — perplexity of a model over a text file, computed as llama.cpp's perplexity tool does (chunks
// of the context length, second half of each chunk scored), and KL divergence against a base model (--kl-base).
#include <moe/moe.hpp>
#include <moe/tokenizer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

const char* usage =
    "usage: moe-perplexity -m MODEL.gguf -f TEXT.txt [options]\n"
    "\n"
    "  -m, --model FILE      model to score\n"
    "  -f, --file FILE       text to score (tokenized with the model's tokenizer, BOS added as the vocab says)\n"
    "  -c, --ctx-size N      chunk length (default 512); each chunk starts from an empty context and only its\n"
    "                        second half is scored, as llama.cpp's perplexity tool does\n"
    "  --chunks N            score at most N chunks (default: all)\n"
    "  --kl-base FILE        also run this model (e.g. the F16 original of a quantized MODEL) over the same\n"
    "                        chunks and report KL(base || model), both perplexities and top-1 agreement\n"
    "  -t, --threads N       CPU threads (default: all hardware threads)\n"
    "  -h, --help            show this help\n";

int fail(const std::string& msg) {
    std::fprintf(stderr, "moe-perplexity: %s\n", msg.c_str());
    return 1;
}

bool parse_ll(const char* s, long long& out) {
    char* end = nullptr;
    out = std::strtoll(s, &end, 10);
    return end && *end == '\0' && end != s;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path, text_path, base_path;
    long long n_ctx = 512, chunks = -1, threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        auto need = [&](const char* what) {
            if (!v) return false;
            ++i;
            (void)what;
            return true;
        };
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        } else if (a == "-m" || a == "--model") {
            if (!need("model")) return fail("-m needs a file");
            model_path = v;
        } else if (a == "-f" || a == "--file") {
            if (!need("file")) return fail("-f needs a file");
            text_path = v;
        } else if (a == "--kl-base") {
            if (!need("base")) return fail("--kl-base needs a file");
            base_path = v;
        } else if (a == "-c" || a == "--ctx-size") {
            if (!need("c") || !parse_ll(v, n_ctx) || n_ctx < 4) return fail("-c needs a length >= 4");
        } else if (a == "--chunks") {
            if (!need("chunks") || !parse_ll(v, chunks) || chunks < 1) return fail("--chunks needs a count >= 1");
        } else if (a == "-t" || a == "--threads") {
            if (!need("t") || !parse_ll(v, threads) || threads < 1 || threads > 1024) return fail("-t needs 1..1024");
        } else {
            return fail("unknown argument '" + a + "' (see --help)");
        }
    }
    if (model_path.empty() || text_path.empty()) return fail("give -m MODEL and -f TEXT (see --help)");

    std::ifstream in(text_path, std::ios::binary);
    if (!in) return fail("cannot read '" + text_path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();

    moe::result<moe::model> m = moe::model::load(model_path);
    if (!m) return fail(m.error().to_string());
    const moe::tokenizer* tok = m->tokenizer();
    if (!tok) return fail("'" + model_path + "' has no tokenizer");
    moe::result<std::vector<int32_t>> tokens = tok->encode(text, true, false);
    if (!tokens) return fail(tokens.error().to_string());

    moe::perplexity_params pp;
    pp.n_ctx = n_ctx;
    pp.n_threads = static_cast<int>(threads);
    pp.max_chunks = chunks;
    pp.bos = tok->add_bos() ? tok->bos() : -1;
    pp.progress = [](int64_t done, int64_t total, double ppl) {
        std::fprintf(stderr, "\r[%lld/%lld] perplexity so far %.4f", static_cast<long long>(done),
                     static_cast<long long>(total), ppl);
        return true;
    };
    std::fprintf(stderr, "moe-perplexity: %zu tokens, chunks of %lld\n", tokens->size(), n_ctx);
    const auto t0 = std::chrono::steady_clock::now();
    if (base_path.empty()) {
        moe::result<moe::perplexity_result> r = moe::perplexity(*m, *tokens, pp);
        std::fputs("\n", stderr);
        if (!r) return fail(r.error().to_string());
        std::printf("perplexity: %.4f +/- %.5f over %lld chunks (%lld scored tokens)\n", r->ppl, r->ppl_error,
                    static_cast<long long>(r->n_chunks), static_cast<long long>(r->n_scored));
    } else {
        moe::result<moe::model> base = moe::model::load(base_path);
        if (!base) return fail(base.error().to_string());
        moe::result<moe::kl_divergence_result> r = moe::kl_divergence(*base, *m, *tokens, pp);
        std::fputs("\n", stderr);
        if (!r) return fail(r.error().to_string());
        std::printf("base perplexity:  %.4f +/- %.5f\n", r->base.ppl, r->base.ppl_error);
        std::printf("model perplexity: %.4f +/- %.5f\n", r->test.ppl, r->test.ppl_error);
        std::printf("KL(base || model): mean %.6f +/- %.6f, max %.6f nats\n", r->mean_kl, r->kl_error, r->max_kl);
        std::printf("top-1 agreement: %.2f%% over %lld scored tokens\n", 100.0 * r->top1_agreement,
                    static_cast<long long>(r->test.n_scored));
    }
    std::fprintf(stderr, "moe-perplexity: %.1f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
}
