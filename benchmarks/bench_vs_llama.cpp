// bench_vs_llama — moe and llama.cpp side by side on the same GGUF files and thread count: pp (one p-token batch into
// an empty cache) and tg (n single-token decodes), alternating engines per repetition. Before: GGUF models (and
// llama.cpp's prebuilt CPU library from build/llama-ref). After: a Markdown table model × test → t/s, t/s, ratio.
#include "../examples/moe-bench/moe_timing.hpp"

#include <moe/moe.hpp>

#include <ggml-backend.h>
#include <llama.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
    std::vector<std::string> models;
    int64_t p = 512;
    int64_t n = 128;
    int threads = 0;
    int reps = 3;
    bool flash = false;
    bool kv_f32 = false;
    int64_t depth = 0;  // tokens in the KV cache before each test (llama-bench's -d)
    int batch_seqs = 0;  // > 1: also tg with this many sequences decoded together in both engines
};

void print_help(std::FILE* f) {
    std::fputs(
        "usage: bench_vs_llama -m FILE [-m FILE ...] [options]\n"
        "Times moe and llama.cpp on the same GGUF file and thread count, back to back, alternating which engine\n"
        "goes first each repetition: pp = one batch of p tokens into an empty cache, tg = n single-token decodes\n"
        "from an empty cache (llama-bench's definitions; one warm-up run of each first).\n"
        "\n"
        "  -m FILE        GGUF model (repeatable)\n"
        "  -p N           prompt tokens; 0 skips pp (default 512)\n"
        "  -n N           generated tokens; 0 skips tg (default 128)\n"
        "  -t N           threads for both engines (default: hardware threads)\n"
        "  -r N           repetitions (default 3)\n"
        "  --flash on|off llama.cpp flash attention (default off)\n"
        "  --kv f16|f32   KV cache type of both engines (default f16, llama-bench's default)\n"
        "  -d N           tokens already in both KV caches when pp and tg start (default 0), as llama-bench -d\n"
        "  --batch-seqs S also tg with S sequences decoded together (one batch of S tokens per step, a token per\n"
        "                 sequence, all from empty caches) in both engines: aggregate t/s\n"
        "environment: MOE_LLAMA_REF_LIB (folder of llama.cpp's libggml-cpu-*.so)\n",
        f);
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "bench_vs_llama: %s\n", msg.c_str());
    return 1;
}

// llama.cpp's log: errors, and which CPU variant (libggml-cpu-*.so) it loaded, go to stderr; the rest is dropped.
void quiet_log(enum ggml_log_level level, const char* text, void*) {
    if (level == GGML_LOG_LEVEL_ERROR || std::strstr(text, "loaded CPU backend") != nullptr) std::fputs(text, stderr);
}

std::string load_average() {
    double l[3] = {0, 0, 0};
    if (getloadavg(l, 3) != 3) return "unknown";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", l[0], l[1], l[2]);
    return buf;
}

// One llama.cpp context, reused across repetitions (its KV cache cleared before each).
class llama_timer {
public:
    ~llama_timer() {
        if (ctx_) llama_free(ctx_);
        if (model_ && !borrowed_) llama_model_free(model_);
    }
    llama_model* model() const { return model_; }
    // n_seq > 1: a context for time_tg_batched, n_seq sequences in one unified cache n_seq times as long; shared: a
    // model already loaded (another timer's), used and not freed.
    std::string open(const std::string& path, const options& o, int n_seq = 1, llama_model* shared = nullptr) {
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = 0;
        borrowed_ = shared != nullptr;
        model_ = shared != nullptr ? shared : llama_model_load_from_file(path.c_str(), mp);
        if (model_ == nullptr) return "llama.cpp could not load " + path;
        llama_context_params cp = llama_context_default_params();
        const int64_t p = o.p > 0 ? o.p : 1;
        cp.n_ctx = static_cast<uint32_t>(o.depth + o.p + o.n);
        cp.n_batch = static_cast<uint32_t>(std::max<int64_t>(p, 512));  // pp in one batch; the depth in 512s
        cp.n_ubatch = cp.n_batch;
        cp.n_seq_max = static_cast<uint32_t>(n_seq);
        if (n_seq > 1) cp.n_ctx *= static_cast<uint32_t>(n_seq), cp.kv_unified = true;
        cp.n_threads = o.threads;
        cp.n_threads_batch = o.threads;
        cp.flash_attn_type = o.flash ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
        cp.type_k = o.kv_f32 ? GGML_TYPE_F32 : GGML_TYPE_F16;
        cp.type_v = cp.type_k;
        cp.no_perf = true;
        ctx_ = llama_init_from_model(model_, cp);
        if (ctx_ == nullptr) return "llama.cpp could not create a context for " + path;
        depth_ = moe_bench::bench_tokens(o.depth, llama_vocab_n_tokens(llama_model_get_vocab(model_)), 999);
        return {};
    }
    // Empties the cache, or brings it to the depth tokens: evaluated once, then kept by removing what came after.
    bool reset() {
        llama_memory_t mem = llama_get_memory(ctx_);
        const auto d = static_cast<llama_pos>(depth_.size());
        if (d > 0 && filled_) return llama_memory_seq_rm(mem, 0, d, -1);
        llama_memory_clear(mem, true);
        for (llama_pos i = 0; i < d; i += 512) {
            const int32_t n = std::min<llama_pos>(512, d - i);
            if (llama_decode(ctx_, llama_batch_get_one(depth_.data() + i, n)) != 0) return false;
        }
        llama_synchronize(ctx_);
        return filled_ = true;
    }
    // Seconds for one batch of all `tokens` at positions 0.. into an empty cache; negative on failure.
    double time_pp(const std::vector<int32_t>& tokens) {
        if (!reset()) return -1.0;
        const int n = static_cast<int>(tokens.size());
        llama_batch b = llama_batch_init(n, 0, 1);
        for (int i = 0; i < n; ++i) {
            b.token[i] = tokens[static_cast<size_t>(i)];
            b.pos[i] = static_cast<llama_pos>(depth_.size()) + i;
            b.n_seq_id[i] = 1;
            b.seq_id[i][0] = 0;
            b.logits[i] = static_cast<int8_t>(i == n - 1);
        }
        b.n_tokens = n;
        const auto t0 = std::chrono::steady_clock::now();
        const int rc = llama_decode(ctx_, b);
        llama_synchronize(ctx_);
        const auto t1 = std::chrono::steady_clock::now();
        llama_batch_free(b);
        return rc == 0 ? std::chrono::duration<double>(t1 - t0).count() : -1.0;
    }
    // Seconds for tokens.size() single-token decodes into an empty cache; negative on failure.
    double time_tg(const std::vector<int32_t>& tokens) {
        if (!reset()) return -1.0;
        const auto t0 = std::chrono::steady_clock::now();
        for (int32_t tok : tokens) {
            llama_token t = tok;
            if (llama_decode(ctx_, llama_batch_get_one(&t, 1)) != 0) return -1.0;
            llama_synchronize(ctx_);
        }
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    // Seconds for tokens.size() steps of one batch holding a token for each of the context's sequences (the same
    // tokens as moe_timer::time_tg_batched), all caches empty first; negative on failure.
    double time_tg_batched(const std::vector<int32_t>& tokens, int n_seq) {
        llama_memory_clear(llama_get_memory(ctx_), true);
        const int32_t V = llama_vocab_n_tokens(llama_model_get_vocab(model_));
        llama_batch b = llama_batch_init(n_seq, 0, 1);
        const auto t0 = std::chrono::steady_clock::now();
        int rc = 0;
        for (size_t i = 0; i < tokens.size() && rc == 0; ++i) {
            for (int q = 0; q < n_seq; ++q) {
                b.token[q] = 1 + (tokens[i] + 7919 * q) % (V - 1);
                b.pos[q] = static_cast<llama_pos>(i);
                b.n_seq_id[q] = 1;
                b.seq_id[q][0] = q;
                b.logits[q] = 1;
            }
            b.n_tokens = n_seq;
            rc = llama_decode(ctx_, b);
            llama_synchronize(ctx_);
        }
        const auto t1 = std::chrono::steady_clock::now();
        llama_batch_free(b);
        return rc == 0 ? std::chrono::duration<double>(t1 - t0).count() : -1.0;
    }

private:
    bool borrowed_ = false;
    llama_model* model_ = nullptr;
    llama_context* ctx_ = nullptr;
    std::vector<int32_t> depth_;
    bool filled_ = false;
};

struct row {
    std::string model, test;
    moe_bench::rate_stats moe, llama;
};

// The ratio of each repetition's two runs, which ran back to back (the memory's bandwidth mode, which changes
// from minute to minute here, is then most likely the same for both): "min / median / max".
std::string paired_ratios(const row& r) {
    std::vector<double> q;
    for (size_t i = 0; i < r.moe.samples.size() && i < r.llama.samples.size(); ++i)
        if (r.llama.samples[i] > 0) q.push_back(r.moe.samples[i] / r.llama.samples[i]);
    if (q.empty()) return "-";
    std::sort(q.begin(), q.end());
    const size_t n = q.size();
    const double median = n % 2 ? q[n / 2] : 0.5 * (q[n / 2 - 1] + q[n / 2]);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f / %.2f / %.2f", q.front(), median, q.back());
    return buf;
}

// Seconds each engine took to load a file and make its context (once each, the file already in the page cache).
struct load_row {
    std::string model;
    double moe = 0, llama = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Reads the whole file once so that neither engine's load time includes the disk, whichever goes first.
void warm_page_cache(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return;
    std::vector<char> buf(size_t(8) << 20);
    while (std::fread(buf.data(), 1, buf.size(), f) == buf.size()) {
    }
    std::fclose(f);
}

std::string base_name(const std::string& path) {
    const size_t s = path.find_last_of('/');
    return s == std::string::npos ? path : path.substr(s + 1);
}

// Times one test (pp or tg) on both engines; false with a message on failure.
template <class MoeFn, class LlamaFn>
bool run_test(row& r, int reps, double work, MoeFn moe_fn, LlamaFn llama_fn, std::string& err) {
    for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up of both, not recorded
        for (int k = 0; k < 2; ++k) {
            const bool moe_turn = (k == 0) == (rep % 2 == 0 || rep < 0);
            if (moe_turn) {
                moe::result<double> s = moe_fn();
                if (!s) return err = "moe: " + s.error().to_string(), false;
                if (rep >= 0) r.moe.samples.push_back(work / *s);
            } else {
                const double s = llama_fn();
                if (s <= 0) return err = "llama.cpp: llama_decode failed", false;
                if (rep >= 0) r.llama.samples.push_back(work / s);
            }
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            print_help(stdout);
            return 0;
        }
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (v == nullptr) return fail(a + " needs a value (see --help)");
        ++i;
        int64_t x = 0;
        const std::string vs = v;
        if (a == "-m") o.models.push_back(vs);
        else if (a == "-p" && moe_bench::parse_int(v, 0, x)) o.p = x;
        else if (a == "-n" && moe_bench::parse_int(v, 0, x)) o.n = x;
        else if (a == "-t" && moe_bench::parse_int(v, 1, x)) o.threads = static_cast<int>(x);
        else if (a == "-r" && moe_bench::parse_int(v, 1, x)) o.reps = static_cast<int>(x);
        else if (a == "--flash" && (vs == "on" || vs == "off")) o.flash = vs == "on";
        else if (a == "--kv" && (vs == "f16" || vs == "f32")) o.kv_f32 = vs == "f32";
        else if (a == "-d" && moe_bench::parse_int(v, 0, x)) o.depth = x;
        else if (a == "--batch-seqs" && moe_bench::parse_int(v, 2, x)) o.batch_seqs = static_cast<int>(x);
        else return fail("invalid option or value: " + a + " " + vs);
    }
    if (o.models.empty()) return fail("no model (-m FILE); see --help");
    if (o.p == 0 && o.n == 0) return fail("nothing to time (-p 0 -n 0)");
    if (o.threads <= 0) {
        const unsigned hc = std::thread::hardware_concurrency();
        o.threads = hc ? static_cast<int>(hc) : 1;
    }

    llama_log_set(quiet_log, nullptr);
    const char* dir = std::getenv("MOE_LLAMA_REF_LIB");
    ggml_backend_load_all_from_path(dir && *dir ? dir : MOE_LLAMA_REF_LIB_DIR);
    if (ggml_backend_dev_count() == 0) return fail("no llama.cpp CPU backend could be loaded");
    llama_backend_init();

    const std::string load_before = load_average();
    const std::string at_depth = o.depth > 0 ? " @ d" + std::to_string(o.depth) : "";
    std::vector<row> rows;
    std::vector<load_row> loads;
    int rc = 0;
    for (const std::string& path : o.models) {
        warm_page_cache(path);
        load_row lr{base_name(path)};
        auto t0 = std::chrono::steady_clock::now();
        moe::result<moe::model> m = moe::model::load(path);
        if (!m) { rc = fail(path + ": " + m.error().to_string()); break; }
        moe::result<moe_bench::moe_timer> mt = moe_bench::moe_timer::create(
            *m, o.p, o.n, o.threads, "cpu", 1, o.kv_f32 ? moe::dtype::f32 : moe::dtype::f16, o.depth);
        if (!mt) { rc = fail(path + ": " + mt.error().to_string()); break; }
        lr.moe = seconds_since(t0);
        llama_timer lt;
        t0 = std::chrono::steady_clock::now();
        if (std::string e = lt.open(path, o); !e.empty()) { rc = fail(e); break; }
        lr.llama = seconds_since(t0);
        loads.push_back(lr);

        const int64_t n_vocab = m->info().n_vocab;
        const std::vector<int32_t> prompt = moe_bench::bench_tokens(o.p, n_vocab, 1234);
        const std::vector<int32_t> gen = moe_bench::bench_tokens(o.n, n_vocab, 4321);
        std::string err;
        if (o.p > 0) {
            row r{base_name(path), "pp" + std::to_string(o.p) + at_depth, {}, {}};
            if (!run_test(r, o.reps, static_cast<double>(o.p), [&] { return mt->time_pp(prompt); },
                          [&] { return lt.time_pp(prompt); }, err)) {
                rc = fail(path + ": pp: " + err);
                break;
            }
            rows.push_back(r);
        }
        if (o.n > 0) {
            row r{base_name(path), "tg" + std::to_string(o.n) + at_depth, {}, {}};
            if (!run_test(r, o.reps, static_cast<double>(o.n), [&] { return mt->time_tg(gen); },
                          [&] { return lt.time_tg(gen); }, err)) {
                rc = fail(path + ": tg: " + err);
                break;
            }
            rows.push_back(r);
        }
        if (o.n > 0 && o.batch_seqs > 1) {  // both engines' batched decode, from empty caches
            const int S = o.batch_seqs;
            moe::result<moe_bench::moe_timer> mb = moe_bench::moe_timer::create(
                *m, 0, o.n, o.threads, "cpu", S, o.kv_f32 ? moe::dtype::f32 : moe::dtype::f16, 0);
            if (!mb) { rc = fail(path + ": " + mb.error().to_string()); break; }
            llama_timer lb;
            options ob = o;
            ob.depth = 0, ob.p = 0;
            if (std::string e = lb.open(path, ob, S, lt.model()); !e.empty()) { rc = fail(e); break; }
            row r{base_name(path), "tg" + std::to_string(o.n) + " x" + std::to_string(S) + " seqs", {}, {}};
            if (!run_test(r, o.reps, static_cast<double>(o.n * S), [&] { return mb->time_tg_batched(gen); },
                          [&] { return lb.time_tg_batched(gen, S); }, err)) {
                rc = fail(path + ": batched tg: " + err);
                break;
            }
            rows.push_back(r);
        }
    }

    std::printf("| model | test | moe t/s | llama.cpp t/s | moe / llama.cpp | per repetition: min / median / max |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
    for (const row& r : rows) {
        const double ratio = r.llama.mean() > 0 ? r.moe.mean() / r.llama.mean() : 0;
        std::printf("| %s | %s | %.2f ± %.2f | %.2f ± %.2f | %.2f | %s |\n", r.model.c_str(), r.test.c_str(),
                    r.moe.mean(), r.moe.stddev(), r.llama.mean(), r.llama.stddev(), ratio, paired_ratios(r).c_str());
    }
    std::printf("\n| model | moe load s | llama.cpp load s | llama.cpp / moe |\n| --- | ---: | ---: | ---: |\n");
    for (const load_row& l : loads)
        std::printf("| %s | %.2f | %.2f | %.2f |\n", l.model.c_str(), l.moe, l.llama, l.moe > 0 ? l.llama / l.moe : 0);
    std::printf("\n%d threads, %d repetitions (alternating), llama.cpp flash attention %s, KV %s; load average "
                "%s before, %s after\n",
                o.threads, o.reps, o.flash ? "on" : "off", o.kv_f32 ? "f32" : "f16", load_before.c_str(),
                load_average().c_str());
    llama_backend_free();
    return rc;
}
