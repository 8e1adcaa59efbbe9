// moe-bench — llama-bench for moe: pp/tg tokens/s (mean ± stddev over repetitions) and decode's achieved weight-read
// bandwidth next to the machine's measured read bandwidth. Before: a GGUF model. After: a Markdown or CSV table.
#include "moe_timing.hpp"
#include "read_bandwidth.hpp"
#include "weight_traffic.hpp"

#include <moe/moe.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
    std::vector<std::string> models;
    int64_t p = 512;
    int64_t n = 128;
    int threads = 0;
    int reps = 5;
    std::string output = "md";
    std::string backend = "cpu";
    bool bandwidth = true;
    bool pack = true;
    int batch_seqs = 1;  // > 1: also tg with this many sequences per eval_batch
    moe::dtype kv_type = moe::dtype::f32;
    int64_t depth = 0;  // tokens already in the KV cache when pp / tg start (llama-bench's -d)
};

void print_help(std::FILE* f) {
    std::fputs(
        "usage: moe-bench -m FILE [-m FILE ...] [options]\n"
        "Prompt processing (pp: one batch of p tokens into an empty cache) and generation (tg: n tokens one at a\n"
        "time from an empty cache) in tokens/s, mean +- stddev over the repetitions, after one warm-up run of each.\n"
        "tg also reports the weight bytes a token reads (dense tensors + n_expert_used/n_expert of the expert\n"
        "tensors) x tokens/s, next to the machine's read bandwidth measured with the same thread count.\n"
        "\n"
        "  -m, --model FILE     GGUF model (repeatable)\n"
        "  -p, --n-prompt N     prompt tokens; 0 skips pp (default 512)\n"
        "  -n, --n-gen N        generated tokens; 0 skips tg (default 128)\n"
        "  -d, --depth N        tokens already in the KV cache when pp and tg start (default 0), as llama-bench -d\n"
        "  -t, --threads N      CPU threads (default: hardware threads)\n"
        "  -r, --repetitions N  repetitions (default 5)\n"
        "  -o, --output FMT     md (default) or csv\n"
        "  --backend NAME       session backend (default cpu)\n"
        "  --batch-seqs N       also time tg with N sequences decoded together (one eval_batch of N tokens per\n"
        "                       step; aggregate t/s), alternating repetitions with single-sequence tg\n"
        "  --kv-type f32|f16    KV cache element type (default f32; llama-bench's -ctk/-ctv default is f16)\n"
        "  --no-bandwidth       skip the machine read-bandwidth test\n"
        "  --no-pack            the CPU kernels read the file's layout (model_params::pack_weights = false)\n"
        "  -h, --help           show this help\n",
        f);
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "moe-bench: %s\n", msg.c_str());
    return 1;
}

struct row {
    std::string model, test;
    double size_mib = 0, params_m = 0;
    moe_bench::rate_stats rate;
    double token_mib = 0;     // tg: weight MiB read per token
    double achieved_gbs = 0;  // tg: token bytes x mean t/s
};

std::string base_name(const std::string& path) {
    const size_t s = path.find_last_of('/');
    return s == std::string::npos ? path : path.substr(s + 1);
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        int64_t x = 0;
        if (a == "-h" || a == "--help") {
            print_help(stdout);
            return 0;
        } else if (a == "--no-pack") {
            o.pack = false;
            continue;
        } else if (a == "--no-bandwidth") {
            o.bandwidth = false;
            continue;
        }
        if (v == nullptr) return fail(a + " needs a value (see --help)");
        ++i;
        if (a == "-m" || a == "--model") o.models.push_back(v);
        else if (a == "-o" || a == "--output") o.output = v;
        else if (a == "--backend") o.backend = v;
        else if ((a == "-p" || a == "--n-prompt") && moe_bench::parse_int(v, 0, x)) o.p = x;
        else if ((a == "-n" || a == "--n-gen") && moe_bench::parse_int(v, 0, x)) o.n = x;
        else if ((a == "-d" || a == "--depth") && moe_bench::parse_int(v, 0, x)) o.depth = x;
        else if ((a == "-t" || a == "--threads") && moe_bench::parse_int(v, 1, x)) o.threads = static_cast<int>(x);
        else if ((a == "-r" || a == "--repetitions") && moe_bench::parse_int(v, 1, x)) o.reps = static_cast<int>(x);
        else if (a == "--batch-seqs" && moe_bench::parse_int(v, 1, x) && x <= 4096) o.batch_seqs = static_cast<int>(x);
        else if (a == "--kv-type" && (std::string(v) == "f32" || std::string(v) == "f16"))
            o.kv_type = std::string(v) == "f16" ? moe::dtype::f16 : moe::dtype::f32;
        else return fail("invalid option or value: " + a + " " + v);
    }
    if (o.models.empty()) return fail("no model (-m FILE); see --help");
    if (o.output != "md" && o.output != "csv") return fail("-o takes md or csv");
    if (o.depth > 0 && o.batch_seqs > 1) return fail("-d and --batch-seqs do not go together");
    if (o.threads <= 0) {
        const unsigned hc = std::thread::hardware_concurrency();
        o.threads = hc ? static_cast<int>(hc) : 1;
    }

    const std::string at_depth = o.depth > 0 ? " @ d" + std::to_string(o.depth) : "";
    std::vector<row> rows;
    std::vector<std::string> ratios;  // --batch-seqs: batched / single tg
    for (const std::string& path : o.models) {
        moe::model_params mp;
        mp.pack_weights = o.pack;
        moe::result<moe::model> m = moe::model::load(path, mp);
        if (!m) return fail(path + ": " + m.error().to_string());
        moe::result<moe_bench::weight_traffic> w = moe_bench::measure_weight_traffic(path);
        if (!w) return fail(path + ": " + w.error().to_string());
        moe::result<moe_bench::moe_timer> timer =
            moe_bench::moe_timer::create(*m, o.p, o.n, o.threads, o.backend, o.batch_seqs, o.kv_type, o.depth);
        if (!timer) return fail(path + ": " + timer.error().to_string());

        const moe::model_info& info = m->info();
        const std::vector<int32_t> prompt = moe_bench::bench_tokens(o.p, info.n_vocab, 1234);
        const std::vector<int32_t> gen = moe_bench::bench_tokens(o.n, info.n_vocab, 4321);
        row base;
        base.model = base_name(path);
        base.size_mib = static_cast<double>(info.weight_bytes) / (1024.0 * 1024.0);
        base.params_m = static_cast<double>(info.n_params) / 1e6;

        if (o.p > 0) {
            row r = base;
            r.test = "pp" + std::to_string(o.p) + at_depth;
            for (int rep = -1; rep < o.reps; ++rep) {  // rep -1: warm-up
                moe::result<double> s = timer->time_pp(prompt);
                if (!s) return fail(path + ": pp: " + s.error().to_string());
                if (rep >= 0) r.rate.samples.push_back(static_cast<double>(o.p) / *s);
            }
            rows.push_back(r);
        }
        if (o.n > 0) {
            row r = base, rb = base;
            r.test = "tg" + std::to_string(o.n) + at_depth;
            rb.test = "tg" + std::to_string(o.n) + " x" + std::to_string(o.batch_seqs) + " seqs (aggregate)";
            const bool batched = o.batch_seqs > 1;
            const std::vector<int32_t> warm(gen.begin(), gen.begin() + 1);
            if (moe::result<double> s = timer->time_tg(warm); !s) return fail(path + ": tg: " + s.error().to_string());
            if (batched)
                if (moe::result<double> s = timer->time_tg_batched(warm); !s)
                    return fail(path + ": tg batched: " + s.error().to_string());
            for (int rep = 0; rep < o.reps; ++rep) {  // batched and single repetitions alternate (a loaded machine)
                moe::result<double> s = timer->time_tg(gen);
                if (!s) return fail(path + ": tg: " + s.error().to_string());
                r.rate.samples.push_back(static_cast<double>(o.n) / *s);
                if (!batched) continue;
                s = timer->time_tg_batched(gen);
                if (!s) return fail(path + ": tg batched: " + s.error().to_string());
                rb.rate.samples.push_back(static_cast<double>(o.n * o.batch_seqs) / *s);
            }
            r.token_mib = static_cast<double>(w->per_token_bytes) / (1024.0 * 1024.0);
            r.achieved_gbs = static_cast<double>(w->per_token_bytes) * r.rate.mean() / 1e9;
            rows.push_back(r);
            if (batched) {
                rows.push_back(rb);
                double lo = 1e300, hi = 0;  // ratio of each alternating pair
                for (size_t k = 0; k < r.rate.samples.size(); ++k) {
                    const double q = rb.rate.samples[k] / r.rate.samples[k];
                    lo = q < lo ? q : lo, hi = q > hi ? q : hi;
                }
                ratios.push_back(base.model + ": " + rb.test + " / " + r.test + " = " +
                                 std::to_string(rb.rate.mean() / r.rate.mean()) + " (pairs " + std::to_string(lo) +
                                 " .. " + std::to_string(hi) + ")");
            }
        }
    }

    double load[3] = {0, 0, 0};
    const bool have_load = getloadavg(load, 3) == 3;
    moe_bench::read_bandwidth bw;
    if (o.bandwidth) bw = moe_bench::measure_read_bandwidth(o.threads);

    if (o.output == "csv") {
        std::printf("model,size_mib,params_m,backend,threads,test,ts_mean,ts_stddev,weight_mib_per_token,"
                    "achieved_gbs,machine_read_gbs\n");
        for (const row& r : rows) {
            std::printf("%s,%.2f,%.2f,%s,%d,%s,%.3f,%.3f,", r.model.c_str(), r.size_mib, r.params_m,
                        o.backend.c_str(), o.threads, r.test.c_str(), r.rate.mean(), r.rate.stddev());
            if (r.token_mib > 0) std::printf("%.3f,%.3f,%.2f\n", r.token_mib, r.achieved_gbs, bw.best_gbs);
            else std::printf(",,\n");
        }
        return 0;
    }
    std::printf("| model | size | params | backend | threads | test | t/s | weights/token | achieved read | "
                "machine read |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
    for (const row& r : rows) {
        std::printf("| %s | %.1f MiB | %.2f M | %s | %d | %s | %.2f ± %.2f |", r.model.c_str(), r.size_mib,
                    r.params_m, o.backend.c_str(), o.threads, r.test.c_str(), r.rate.mean(), r.rate.stddev());
        if (r.token_mib > 0 && bw.best_gbs > 0) {
            std::printf(" %.2f MiB | %.2f GB/s | %.2f GB/s (%.0f%%) |\n", r.token_mib, r.achieved_gbs, bw.best_gbs,
                        100.0 * r.achieved_gbs / bw.best_gbs);
        } else if (r.token_mib > 0) {
            std::printf(" %.2f MiB | %.2f GB/s | |\n", r.token_mib, r.achieved_gbs);
        } else {
            std::printf(" | | |\n");
        }
    }
    for (const std::string& q : ratios) std::printf("\n%s", q.c_str());
    if (!ratios.empty()) std::printf("\n");
    if (have_load) std::printf("\nload average after the runs: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    if (bw.best_gbs > 0) {
        std::printf("machine read bandwidth: %.2f GB/s best, %.2f GB/s mean (%d threads, %.0f MiB buffer, "
                    "5 passes)\n",
                    bw.best_gbs, bw.mean_gbs, bw.n_threads, static_cast<double>(bw.buffer_bytes) / (1024.0 * 1024.0));
    }
    return 0;
}
