// moe-quantize — converts an F32/F16/BF16 GGUF model to a quantized file type, like llama-quantize.
// Before: a converter's GGUF. After: a file moe-run (or llama.cpp) loads. The work is moe::quantize_model.
#include <moe/quant.hpp>
#include <moe/quantize.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [options] INPUT.gguf OUTPUT.gguf TYPE [THREADS]\n"
                 "       %s --dry-run [options] INPUT.gguf TYPE\n\n"
                 "TYPE is a llama-quantize file type: Q4_K_M (or Q4_K), Q5_K_M, Q6_K, Q8_0, MXFP4_MOE, ...\n"
                 "options:\n"
                 "  --pure                     every quantizable matrix gets the type's base type (no mix)\n"
                 "  --reference                llama.cpp's exact bytes (default: moe's search, never a larger error)\n"
                 "  --allow-requantize         accept already quantized inputs\n"
                 "  --output-tensor-type T     type of output.weight (f16, q8_0, q6_k, ...)\n"
                 "  --token-embedding-type T   type of token_embd.weight\n"
                 "  --dry-run                  print each tensor's type and the sizes, write nothing\n"
                 "  -t N                       threads (default: all)\n"
                 "types:",
                 argv0, argv0);
    for (moe::file_type t : moe::supported_file_types()) std::fprintf(stderr, " %s", moe::file_type_name(t));
    std::fprintf(stderr, "\n");
}

bool parse_tensor_type(const char* s, moe::dtype& out) {
    for (uint32_t id = 0; id < 64; ++id) {
        const moe::dtype_traits* tr = moe::dtype_info(id);
        if (tr == nullptr || !moe::can_convert(static_cast<moe::dtype>(id))) continue;
        std::string a = tr->name, b = s;
        for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (a == b) {
            out = static_cast<moe::dtype>(id);
            return true;
        }
    }
    return false;
}

double mib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
    moe::quantize_params p;
    bool dry_run = false;
    std::vector<std::string> pos;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--pure") p.pure = true;
        else if (a == "--reference") p.reference_bytes = true;
        else if (a == "--allow-requantize") p.allow_requantize = true;
        else if (a == "--dry-run") dry_run = true;
        else if ((a == "--output-tensor-type" || a == "--token-embedding-type") && has_value) {
            moe::dtype t{};
            if (!parse_tensor_type(argv[++i], t)) {
                std::fprintf(stderr, "moe-quantize: unknown tensor type '%s'\n", argv[i]);
                return 1;
            }
            (a == "--output-tensor-type" ? p.output_type : p.token_embedding_type) = t;
        } else if (a == "-t" && has_value) p.n_threads = std::atoi(argv[++i]);
        else if (a == "-h" || a == "--help") {
            usage(argv[0]);
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "moe-quantize: unknown option '%s'\n", a.c_str());
            usage(argv[0]);
            return 1;
        } else pos.push_back(a);
    }
    const size_t need = dry_run ? 2 : 3;
    if (pos.size() != need && pos.size() != need + 1) {
        usage(argv[0]);
        return 1;
    }
    if (pos.size() == need + 1) p.n_threads = std::atoi(pos.back().c_str());
    moe::result<moe::file_type> ft = moe::parse_file_type(pos[need - 1]);
    if (!ft) {
        std::fprintf(stderr, "moe-quantize: %s\n", ft.error().message().c_str());
        return 1;
    }
    p.type = *ft;

    moe::result<std::vector<moe::tensor_plan_entry>> plan = moe::plan_quantization(pos[0], p);
    if (!plan) {
        std::fprintf(stderr, "moe-quantize: %s\n", plan.error().to_string().c_str());
        return 1;
    }
    uint64_t before = 0, after = 0;
    std::map<std::string, int> count;
    for (const moe::tensor_plan_entry& e : *plan) {
        before += e.bytes_from, after += e.bytes_to;
        ++count[moe::dtype_name(e.to)];
        if (dry_run)
            std::printf("%-40s [%5lld, %5lld, %4lld] %-6s -> %-6s %9.3f MiB\n", e.name.c_str(), static_cast<long long>(e.ne[0]),
                        static_cast<long long>(e.ne[1]), static_cast<long long>(e.ne[2]), moe::dtype_name(e.from),
                        moe::dtype_name(e.to), mib(e.bytes_to));
    }
    if (!dry_run) {
        const auto t0 = std::chrono::steady_clock::now();
        p.progress = [](size_t done, size_t all) {
            std::fprintf(stderr, "\rmoe-quantize: %zu/%zu tensors", done, all);
            return true;
        };
        moe::status st = moe::quantize_model(pos[0], pos[1], p);
        std::fprintf(stderr, "\n");
        if (!st.ok()) {
            std::fprintf(stderr, "moe-quantize: %s\n", st.to_string().c_str());
            return 1;
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("wrote %s (%s) in %.1f s\n", pos[1].c_str(), moe::file_type_name(p.type), s);
    }
    std::printf("size: %.2f MiB -> %.2f MiB; tensors by type:", mib(before), mib(after));
    for (const auto& c : count) std::printf(" %s %d", c.first.c_str(), c.second);
    std::printf("\n");
    return 0;
}
