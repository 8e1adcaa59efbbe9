// moe_soak.cpp — a long generation with context shifting that reports resident memory every N tokens and fails
// when memory keeps growing after warm-up. Before: any GGUF model (the demo model in CI). After: a table on stdout.
//
//   moe_soak MODEL [--tokens 100000] [--ctx 256] [--keep 16] [--every 5000] [--threads 2] [--seed 1]
//                  [--warmup 0.1] [--max-growth-kib 1024] [--csv FILE]
//
// Context shifting: when the context is full, the first `keep` tokens stay, the older half of the rest is dropped
// and the newer half is evaluated again behind the kept ones (session::truncate + eval), so generation never ends.
// Every token also goes through the sampler chain and the streaming detokenizer, as a chat front end would.
#include <moe/moe.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

struct options {
    std::string model;
    long tokens = 100000;
    long ctx = 256;
    long keep = 16;
    long every = 5000;
    int threads = 2;
    unsigned long seed = 1;
    double warmup = 0.1;
    long max_growth_kib = 1024;
    std::string csv;
};

bool parse(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&](long& v) {
            if (i + 1 >= argc) return false;
            char* end = nullptr;
            v = std::strtol(argv[++i], &end, 10);
            return end && *end == '\0';
        };
        long v = 0;
        if (a == "--tokens" && next(v)) o.tokens = v;
        else if (a == "--ctx" && next(v)) o.ctx = v;
        else if (a == "--keep" && next(v)) o.keep = v;
        else if (a == "--every" && next(v)) o.every = v;
        else if (a == "--threads" && next(v)) o.threads = static_cast<int>(v);
        else if (a == "--seed" && next(v)) o.seed = static_cast<unsigned long>(v);
        else if (a == "--max-growth-kib" && next(v)) o.max_growth_kib = v;
        else if (a == "--warmup" && i + 1 < argc) o.warmup = std::atof(argv[++i]);
        else if (a == "--csv" && i + 1 < argc) o.csv = argv[++i];
        else if (!a.empty() && a[0] != '-' && o.model.empty()) o.model = a;
        else return false;
    }
    return !o.model.empty() && o.tokens > 0 && o.ctx >= 8 && o.keep >= 0 && o.keep < o.ctx / 2 && o.every > 0 &&
           o.warmup >= 0 && o.warmup < 1;
}

// Resident set size in KiB, from /proc/self/statm (pages).
long rss_kib() {
    std::ifstream f("/proc/self/statm");
    long size = 0, resident = 0;
    f >> size >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (!parse(argc, argv, o)) {
        std::fprintf(stderr, "usage: moe_soak MODEL [--tokens N] [--ctx N] [--keep N] [--every N] [--threads N] "
                             "[--seed N] [--warmup FRACTION] [--max-growth-kib N] [--csv FILE]\n");
        return 2;
    }
    moe::result<moe::model> m = moe::model::load(o.model);
    if (!m) return std::fprintf(stderr, "moe_soak: %s\n", m.error().to_string().c_str()), 1;
    moe::session_params sp;
    sp.n_ctx = o.ctx;
    sp.n_threads = o.threads;
    moe::result<moe::session> s = moe::session::create(*m, sp);
    if (!s) return std::fprintf(stderr, "moe_soak: %s\n", s.error().to_string().c_str()), 1;
    moe::sampler_params pp;
    pp.seed = o.seed;
    pp.repeat_penalty = 1.1f;
    moe::result<moe::sampler> smp = moe::sampler::create(pp);
    if (!smp) return std::fprintf(stderr, "moe_soak: %s\n", smp.error().to_string().c_str()), 1;
    const moe::tokenizer* tok = m->tokenizer();
    std::unique_ptr<moe::detokenizer> detok(tok ? new moe::detokenizer(*tok) : nullptr);

    std::vector<int32_t> history;  // the tokens in the KV cache, in order
    history.reserve(static_cast<size_t>(o.ctx));
    int32_t first = tok && tok->bos() >= 0 ? tok->bos() : 0;
    history.push_back(first);
    moe::status st = s->eval(&first, 1);
    if (!st.ok()) return std::fprintf(stderr, "moe_soak: %s\n", st.to_string().c_str()), 1;

    std::FILE* csv = o.csv.empty() ? nullptr : std::fopen(o.csv.c_str(), "w");
    if (csv) std::fprintf(csv, "tokens,rss_kib,tokens_per_s,shifts\n");
    std::printf("| tokens | RSS (KiB) | tokens/s | context shifts |\n|---:|---:|---:|---:|\n");
    const long warm_end = static_cast<long>(o.warmup * static_cast<double>(o.tokens));
    long rss_at_warm = -1, rss_max_after = 0, shifts = 0, text_bytes = 0;
    auto t_last = std::chrono::steady_clock::now();
    for (long n = 1; n <= o.tokens; ++n) {
        const int32_t id = smp->sample(s->logits(), s->n_vocab());
        if (id < 0) return std::fprintf(stderr, "moe_soak: the sampler found no token at %ld\n", n), 1;
        smp->accept(id);
        if (detok) text_bytes += static_cast<long>(detok->push(id).size());
        if (s->n_past() == s->n_ctx()) {  // shift: keep the head, drop the older half of the rest
            const long rest = o.ctx - o.keep, drop = rest / 2;
            history.erase(history.begin() + o.keep, history.begin() + o.keep + drop);
            st = s->truncate(o.keep);
            if (st.ok()) st = s->eval(history.data() + o.keep, history.size() - static_cast<size_t>(o.keep));
            if (!st.ok()) return std::fprintf(stderr, "moe_soak: shift: %s\n", st.to_string().c_str()), 1;
            ++shifts;
        }
        history.push_back(id);
        st = s->eval(&id, 1);
        if (!st.ok()) return std::fprintf(stderr, "moe_soak: token %ld: %s\n", n, st.to_string().c_str()), 1;
        if (n == warm_end || (warm_end == 0 && n == 1)) rss_at_warm = rss_kib();
        if (n % o.every == 0 || n == o.tokens) {
            const auto now = std::chrono::steady_clock::now();
            const double secs = std::chrono::duration<double>(now - t_last).count();
            t_last = now;
            const long rss = rss_kib();
            const long span = n % o.every == 0 ? o.every : n % o.every;
            if (n > warm_end && rss > rss_max_after) rss_max_after = rss;
            std::printf("| %ld | %ld | %.0f | %ld |\n", n, rss, static_cast<double>(span) / secs, shifts);
            std::fflush(stdout);
            if (csv) std::fprintf(csv, "%ld,%ld,%.1f,%ld\n", n, rss, static_cast<double>(span) / secs, shifts);
        }
    }
    if (csv) std::fclose(csv);
    if (rss_max_after == 0) rss_max_after = rss_kib();
    const long growth = rss_max_after - rss_at_warm;
    std::printf("\n%ld tokens, %ld context shifts, %ld bytes of text; RSS after warm-up (%ld tokens): %ld KiB, "
                "highest later: %ld KiB, growth %ld KiB (limit %ld)\n",
                o.tokens, shifts, text_bytes, warm_end, rss_at_warm, rss_max_after, growth, o.max_growth_kib);
    if (growth > o.max_growth_kib) {
        std::printf("FAIL: resident memory grew by %ld KiB after warm-up\n", growth);
        return 1;
    }
    std::printf("OK: resident memory flat after warm-up\n");
    return 0;
}
