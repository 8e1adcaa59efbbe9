// options.cpp — moe-run argument parsing and --help. Every bad argument gives one clear line and exit code 1.
// Consumed by main.cpp; the sampling flags fill moe::sampler_params (include/moe/sampler.hpp).
#include "options.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

const char* usage =
    "usage: moe-run -m MODEL.gguf (-p TEXT | --tokens IDS | --chat) [options]\n"
    "\n"
    "  -m, --model FILE        GGUF model to load\n"
    "  -p, --prompt TEXT       prompt text; the continuation streams to stdout\n"
    "  --tokens LIST           prompt as comma-separated token ids (e.g. 1,15043,3186); generation is greedy\n"
    "                          unless --temp is given, and the generated ids are printed\n"
    "  --chat                  chat with the model's own chat template: reads user turns from stdin (or takes -p as\n"
    "                          the single turn), keeps the history, stops each reply at end-of-generation tokens\n"
    "  --system TEXT           system message for --chat\n"
    "  --chat-template NAME    use this template instead of the model's (chatml, qwen2, qwen2.5, qwen3, deepseek2,\n"
    "                          deepseek3, deepseek-r1, deepseek3.1, mistral-v1, mistral-v3, mistral-v7, llama3,\n"
    "                          llama3.1, olmoe, gpt-oss, ...)\n"
    "  -n, --n-predict N       tokens to generate (default 128 for -p/--tokens; chat replies run to the end of turn;\n"
    "                          -1: until an end-of-generation token or a full context)\n"
    "  --temp T                temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K               keep the K most likely tokens (default 40; 0 = off)\n"
    "  --top-p P               nucleus sampling (default 0.95; 1 = off)\n"
    "  --min-p M               drop tokens below M x the top probability (default 0.05; 0 = off)\n"
    "  --repeat-penalty R      penalise the last 64 tokens (default 1.0 = off)\n"
    "  --seed S                random seed (default: random; the seed used is printed)\n"
    "  -t, --threads N         CPU threads (default: all hardware threads)\n"
    "  -c, --ctx-size N        context length (default: the model's, at most 4096)\n"
    "  --backend NAME          auto, cpu or cuda (default auto)\n"
    "  --kv-type f32|f16       KV cache element type (default f32; f16 halves its memory)\n"
    "  --print-ids             also print the generated token ids, comma-separated, on stdout\n"
    "  --logits-out FILE       write the logits of every prompt position: raw little-endian float32,\n"
    "                          position-major (n_prompt x n_vocab)\n"
    "  --no-progress           no loading progress bar\n"
    "  -h, --help              show this help\n"
    "\n"
    "Load time, prompt and generation speed go to stderr, so stdout stays clean for pipes.\n"
    "Ctrl-C stops the current reply; in chat, Ctrl-C at the prompt (or end of input) quits.\n";

int fail(const std::string& msg) {
    std::fprintf(stderr, "moe-run: %s\n", msg.c_str());
    return 1;
}

bool parse_ll(const char* s, long long& out) {
    char* end = nullptr;
    errno = 0;
    out = std::strtoll(s, &end, 10);
    return end && *end == '\0' && end != s && errno == 0;
}

bool parse_float(const char* s, float& out) {
    char* end = nullptr;
    out = std::strtof(s, &end);
    return end && *end == '\0' && end != s;
}

bool parse_tokens(const std::string& s, std::vector<int32_t>& out) {
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        long long v;
        if (!parse_ll(s.substr(i, j - i).c_str(), v) || v < 0 || v > 0x7fffffff) return false;
        out.push_back(static_cast<int32_t>(v));
        i = j + 1;
    }
    return !out.empty();
}

}  // namespace

int parse_options(int argc, char** argv, run_options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = nullptr;
        auto value = [&]() {
            v = i + 1 < argc ? argv[++i] : nullptr;
            return v != nullptr;
        };
        long long n = 0;
        float f = 0;
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return 2;
        } else if (a == "-m" || a == "--model") {
            if (!value()) return fail("-m needs a file");
            o.model_path = v;
        } else if (a == "-p" || a == "--prompt") {
            if (!value()) return fail("-p needs text");
            o.prompt = v;
        } else if (a == "--tokens") {
            if (!value() || !parse_tokens(v, o.tokens)) return fail("--tokens needs comma-separated token ids");
            o.have_tokens = true;
        } else if (a == "--chat") {
            o.chat = true;
        } else if (a == "--system") {
            if (!value()) return fail("--system needs text");
            o.system_prompt = v;
        } else if (a == "--chat-template") {
            if (!value()) return fail("--chat-template needs a name");
            o.chat_template = v;
        } else if (a == "-n" || a == "--n-predict") {
            if (!value() || !parse_ll(v, o.n_predict) || o.n_predict < -1) return fail("-n needs a count >= -1");
        } else if (a == "--temp") {
            if (!value() || !parse_float(v, f) || !(f >= 0.0f)) return fail("--temp needs a number >= 0");
            o.sampling.temp = f;
            o.temp_given = true;
        } else if (a == "--top-k") {
            if (!value() || !parse_ll(v, n) || n < 0 || n > 0x7fffffff) return fail("--top-k needs a count >= 0");
            o.sampling.top_k = static_cast<int32_t>(n);
        } else if (a == "--top-p") {
            if (!value() || !parse_float(v, f) || !(f > 0.0f && f <= 1.0f)) return fail("--top-p needs a number in (0, 1]");
            o.sampling.top_p = f;
        } else if (a == "--min-p") {
            if (!value() || !parse_float(v, f) || !(f >= 0.0f && f <= 1.0f)) return fail("--min-p needs a number in [0, 1]");
            o.sampling.min_p = f;
        } else if (a == "--repeat-penalty") {
            if (!value() || !parse_float(v, f) || !(f > 0.0f)) return fail("--repeat-penalty needs a number > 0");
            o.sampling.repeat_penalty = f;
        } else if (a == "--seed") {
            if (!value() || !parse_ll(v, n) || n < 0) return fail("--seed needs a non-negative integer");
            o.sampling.seed = static_cast<uint64_t>(n);
        } else if (a == "-t" || a == "--threads") {
            if (!value() || !parse_ll(v, n) || n < 1 || n > 1024) return fail("-t needs a thread count between 1 and 1024");
            o.threads = static_cast<int>(n);
        } else if (a == "-c" || a == "--ctx-size") {
            if (!value() || !parse_ll(v, o.n_ctx) || o.n_ctx < 1) return fail("-c needs a context length >= 1");
        } else if (a == "--backend") {
            if (!value()) return fail("--backend needs auto, cpu or cuda");
            o.backend = v;
        } else if (a == "--kv-type") {
            if (!value() || (std::string(v) != "f32" && std::string(v) != "f16")) return fail("--kv-type needs f32 or f16");
            o.kv_f16 = std::string(v) == "f16";
        } else if (a == "--print-ids") {
            o.print_ids = true;
        } else if (a == "--logits-out") {
            if (!value()) return fail("--logits-out needs a file");
            o.logits_out = v;
        } else if (a == "--no-progress") {
            o.no_progress = true;
        } else {
            return fail("unknown argument '" + a + "' (see --help)");
        }
    }
    if (o.model_path.empty()) return fail("no model given (-m FILE); see --help");
    if (!o.chat && o.prompt.empty() && !o.have_tokens) return fail("no prompt: give -p TEXT, --tokens IDS or --chat");
    if (o.have_tokens && !o.prompt.empty()) return fail("give either -p or --tokens, not both");
    if (o.chat && o.have_tokens) return fail("--chat works with text, not --tokens");
    if (!o.logits_out.empty() && !o.have_tokens && o.prompt.empty()) return fail("--logits-out needs a prompt");
    if (o.have_tokens && !o.temp_given) o.sampling.temp = 0.0f;  // token-id runs are greedy unless asked
    return 0;
}
