// moe-make-test-model — command-line front end of testgen::write_random_model: writes a random-weight GGUF model.
// Its files feed moe-run, the unit/conformance tests and llama.cpp comparisons; nothing runs before it.
#include "testgen/model_writer.hpp"

#include <moe/dtype.hpp>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void print_help(std::FILE* f) {
    std::fputs(
        "usage: moe-make-test-model -o FILE [options]\n"
        "Writes a random-weight GGUF model: llama (Mixtral-style MoE, or dense with --experts 0), qwen3moe,\n"
        "qwen2moe or olmoe, with each family's tensors and metadata as llama.cpp reads them.\n"
        "\n"
        "  -o, --output FILE     output path (required)\n"
        "  --type T              weight type: f32 (default), f16, bf16, q8_0, q4_0\n"
        "  --vocab N             vocabulary size, >= 259 (default 512)\n"
        "  --embd N              embedding width (default 128)\n"
        "  --layers N            number of layers (default 2)\n"
        "  --heads N             attention heads (default 4)\n"
        "  --kv-heads N          key/value heads (default 2)\n"
        "  --head-dim N          head dimension; 0 = embd / heads (default 0)\n"
        "  --ff N                (expert) FFN width (default 256)\n"
        "  --experts N           experts per layer; 0 = dense FFN (default 8)\n"
        "  --experts-used N      experts used per token (default 2)\n"
        "  --arch NAME           llama (default), qwen3moe, qwen2moe, olmoe, deepseek2 (MLA: --head-dim is the\n"
        "                        q/k head; V2-Lite-style routing; its shape options below),\n"
        "                        gpt-oss (sinks, biases, 128-token window on even layers, YaRN x32), granitemoe\n"
        "  deepseek2 only:\n"
        "  --kv-lora N           KV latent width, kv_lora_rank (default 64)\n"
        "  --q-lora N            query latent width; 0 = one attn_q matrix, as V2-Lite (default 0)\n"
        "  --rope-dim N          RoPE part of each q/k head (default 16)\n"
        "  --v-head-dim N        value head; 0 = head-dim - rope-dim (default 0)\n"
        "  --dense-lead N        leading dense layers (default 1)\n"
        "  --ff-dense N          their FFN width; 0 = 2 x --ff (default 0)\n"
        "  --shared-experts N    shared experts, --ff wide each (default 1)\n"
        "  DeepSeek-V2-Lite's shape: --arch deepseek2 --vocab 102400 --embd 2048 --heads 16 --kv-heads 16\n"
        "    --head-dim 192 --rope-dim 64 --v-head-dim 128 --kv-lora 512 --ff 1408 --ff-dense 10944\n"
        "    --experts 64 --experts-used 6 --shared-experts 2 (--layers 27)\n"
        "  --ff-shexp N          qwen2moe shared-expert FFN width (default: --ff); granitemoe: shared experts\n"
        "                        of this width (default: none)\n"
        "  --seed S              random seed (default 1)\n"
        "  --tie-output          no output.weight: the head reuses token_embd\n"
        "  -h, --help            show this help\n",
        f);
}

bool parse_i64(const char* s, int64_t& out) {
    if (s == nullptr || *s == '\0') return false;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') return false;
    out = static_cast<int64_t>(v);
    return true;
}

bool parse_u64(const char* s, uint64_t& out) {
    if (s == nullptr || *s == '\0' || *s == '-') return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') return false;
    out = static_cast<uint64_t>(v);
    return true;
}

bool parse_type(const std::string& s, moe::dtype& out) {
    if (s == "f32") out = moe::dtype::f32;
    else if (s == "f16") out = moe::dtype::f16;
    else if (s == "bf16") out = moe::dtype::bf16;
    else if (s == "q8_0") out = moe::dtype::q8_0;
    else if (s == "q4_0") out = moe::dtype::q4_0;
    else return false;
    return true;
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "moe-make-test-model: %s\n", msg.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    moe::testgen::model_spec spec;
    std::string out_path;

    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&](const char*& v) {
            if (i + 1 >= argc) return false;
            v = argv[++i];
            return true;
        };
        const char* v = nullptr;
        struct int_opt {
            const char* name;
            int64_t* dst;
        };
        const int_opt int_opts[] = {
            {"--vocab", &spec.n_vocab},   {"--embd", &spec.n_embd},       {"--layers", &spec.n_layer},
            {"--heads", &spec.n_head},    {"--kv-heads", &spec.n_head_kv}, {"--head-dim", &spec.head_dim},
            {"--ff", &spec.n_ff},         {"--experts", &spec.n_expert},  {"--experts-used", &spec.n_expert_used},
            {"--ff-shexp", &spec.n_ff_shexp},
            {"--kv-lora", &spec.deepseek2.kv_lora_rank},     {"--q-lora", &spec.deepseek2.q_lora_rank},
            {"--rope-dim", &spec.deepseek2.rope_dim},        {"--v-head-dim", &spec.deepseek2.v_head_dim},
            {"--dense-lead", &spec.deepseek2.n_dense_lead},  {"--ff-dense", &spec.deepseek2.n_ff_dense},
            {"--shared-experts", &spec.deepseek2.n_expert_shared},
        };
        bool handled = false;
        for (const int_opt& o : int_opts) {
            if (arg != o.name) continue;
            if (!next(v)) return fail(arg + " needs a value");
            if (!parse_i64(v, *o.dst)) return fail(arg + ": not an integer: '" + v + "'");
            handled = true;
            break;
        }
        if (handled) continue;

        if (arg == "-h" || arg == "--help") {
            print_help(stdout);
            return 0;
        } else if (arg == "-o" || arg == "--output") {
            if (!next(v)) return fail(arg + " needs a value");
            out_path = v;
        } else if (arg == "--type") {
            if (!next(v)) return fail(arg + " needs a value");
            if (!parse_type(v, spec.weight_type)) {
                return fail(std::string("--type: unknown type '") + v + "' (f32, f16, bf16, q8_0, q4_0)");
            }
        } else if (arg == "--seed") {
            if (!next(v)) return fail(arg + " needs a value");
            if (!parse_u64(v, spec.seed)) return fail(std::string("--seed: not an unsigned integer: '") + v + "'");
        } else if (arg == "--arch") {
            if (!next(v)) return fail(arg + " needs a value");
            spec.arch = v;
        } else if (arg == "--tie-output") {
            spec.tie_output = true;
        } else {
            return fail("unknown option '" + arg + "' (see --help)");
        }
    }
    if (out_path.empty()) return fail("missing -o FILE (see --help)");

    const moe::status s = moe::testgen::write_random_model(out_path, spec);
    if (!s.ok()) return fail(s.to_string());
    return 0;
}
