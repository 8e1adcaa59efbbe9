// perplexity_conformance.cpp — the demo model's validation perplexity from moe and from llama.cpp (its own
// tokenizer and chunking, through `llama_ref perplexity`) must agree within 0.5% for F16, Q8_0 and Q4_0.
// Before: the demo model (examples/demo-model) and its text. After: ctest's verdict and a table for the notes.
#include <moe/moe.hpp>
#include <moe/tokenizer.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

// The validation split the training script holds out: from the first line start at or after 90% of the text.
std::string validation_split(const std::string& text) {
    size_t cut = text.size() * 9 / 10;
    while (cut < text.size() && cut > 0 && text[cut - 1] != '\n') ++cut;
    return text.substr(cut);
}

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

}  // namespace

int main() {
    const std::string dir = MOE_DEMO_MODEL_DIR, tmp = MOE_CONFORMANCE_TMPDIR;
    const long n_ctx = 256, chunks = 40;  // 40 chunks x 128 scored tokens keep CI short
    std::string text;
    if (!read_file(MOE_DEMO_TEXT, text)) {
        std::printf("perplexity_conformance: cannot read %s (the shared data folder beside the repository)\n", MOE_DEMO_TEXT);
        std::printf("0 passed, 1 failed\n");
        return 1;
    }
    const std::string val = validation_split(text);
    const std::string val_path = tmp + "/validation.txt";
    std::ofstream(val_path, std::ios::binary) << val;

    int failed = 0;
    std::printf("| file | moe ppl | llama.cpp ppl | rel. diff | tokens moe / llama.cpp |\n|---|---|---|---|---|\n");
    for (const char* type : {"f16", "q8_0", "q4_0"}) {
        const std::string model = dir + "/shakespeare-moe-" + type + ".gguf";
        const std::string out = tmp + "/ppl-" + type + ".txt";
        const std::string cmd = std::string(MOE_LLAMA_REF_EXE) + " perplexity -m " + model + " --text-file " + val_path +
                                " -c " + std::to_string(n_ctx) + " --chunks " + std::to_string(chunks) +
                                " --kv f16 --flash auto -t 2 > " + out;
        double ref_ppl = 0;
        long ref_tokens = 0;
        std::string line;
        if (std::system(cmd.c_str()) != 0 || !read_file(out, line) ||
            std::sscanf(line.c_str(), "ppl=%lf nll=%*f n_scored=%*d n_tokens=%ld", &ref_ppl, &ref_tokens) != 2) {
            std::printf("FAIL: llama.cpp perplexity failed for %s\n", model.c_str());
            ++failed;
            continue;
        }
        moe::result<moe::model> m = moe::model::load(model);
        if (!m || !m->tokenizer()) {
            std::printf("FAIL: moe cannot load %s: %s\n", model.c_str(), m ? "no tokenizer" : m.error().to_string().c_str());
            ++failed;
            continue;
        }
        moe::result<std::vector<int32_t>> ids = m->tokenizer()->encode(val, true, false);
        moe::perplexity_params pp;
        pp.n_ctx = n_ctx, pp.max_chunks = chunks, pp.n_threads = 2;
        pp.bos = m->tokenizer()->add_bos() ? m->tokenizer()->bos() : -1;
        moe::result<moe::perplexity_result> r = ids ? moe::perplexity(*m, *ids, pp)
                                                    : moe::result<moe::perplexity_result>(ids.error());
        if (!r) {
            std::printf("FAIL: moe perplexity: %s\n", r.error().to_string().c_str());
            ++failed;
            continue;
        }
        const double rel = std::fabs(r->ppl - ref_ppl) / ref_ppl;
        std::printf("| %s | %.4f | %.4f | %.3f%% | %zu / %ld |\n", type, r->ppl, ref_ppl, 100 * rel, ids->size(), ref_tokens);
        if (rel > 0.005) {
            std::printf("FAIL: %s perplexity differs by %.3f%% (> 0.5%%)\n", type, 100 * rel);
            ++failed;
        }
        if (static_cast<long>(ids->size()) != ref_tokens) {
            std::printf("FAIL: %s: moe tokenized %zu tokens, llama.cpp %ld\n", type, ids->size(), ref_tokens);
            ++failed;
        }
    }
    std::printf("%d passed, %d failed\n", failed == 0 ? 1 : 0, failed == 0 ? 0 : 1);
    return failed == 0 ? 0 : 1;
}
