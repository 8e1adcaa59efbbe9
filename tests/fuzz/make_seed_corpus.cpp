// make_seed_corpus.cpp — moe_fuzz_seeds: writes the fuzzers' seed corpus from generated models (src/testgen), the
// demo models and the chat templates. After: the libFuzzer binaries and the replay tests read OUT/<harness>/.
//
// usage: moe_fuzz_seeds OUT [DEMO_MODEL_DIR] [CHAT_TEMPLATE_DIR]
#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"
#include "testgen/model_writer.hpp"
#include "tokenizer/unicode.hpp"

#include <moe/chat.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace moe;
namespace fs = std::filesystem;

namespace {

int n_written = 0;

bool put(const fs::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", (dir / name).string().c_str());
        return false;
    }
    ++n_written;
    return true;
}

std::vector<uint8_t> with_text(std::vector<uint8_t> gguf_bytes, const std::string& text) {
    gguf_bytes.insert(gguf_bytes.end(), text.begin(), text.end());
    return gguf_bytes;
}

// The metadata of a parsed file, without tensors: a vocabulary-only GGUF.
std::vector<uint8_t> metadata_only(const gguf::file& f) {
    gguf::writer w(f.alignment());
    for (const auto& kv : f.kvs()) {
        if (kv.first != "general.alignment") w.set_value(kv.first, kv.second);
    }
    return w.finish();
}

const char* const k_texts[] = {
    "Hello world",
    " ROMEO:\nBut soft, what light through yonder window breaks?\n\n",
    "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 123456 don't   tabs\there",
    "<|endoftext|><|im_start|>user\nhi<|im_end|> <s></s>",
    "\xFF\xFE\xC3 invalid \x80\x80 utf8 \xED\xA0\x80",
};

struct tiny {
    const char* name;
    testgen::model_spec spec;
};

std::vector<tiny> tiny_specs() {
    std::vector<tiny> out;
    auto base = [](const char* arch) {
        testgen::model_spec s;
        s.arch = arch;
        s.n_vocab = 260;
        s.n_embd = 32;
        s.n_layer = 1;
        s.n_head = 2;
        s.n_head_kv = 1;
        s.n_ff = 32;
        s.n_expert = 4;
        s.n_expert_used = 2;
        s.n_ctx_train = 64;
        return s;
    };
    out.push_back({"llama-moe", base("llama")});
    testgen::model_spec dense = base("llama");
    dense.n_expert = 0;
    dense.n_expert_used = 0;
    dense.tie_output = true;
    out.push_back({"llama-dense", dense});
    out.push_back({"qwen3moe", base("qwen3moe")});
    out.push_back({"qwen2moe", base("qwen2moe")});
    testgen::model_spec ol = base("olmoe");
    ol.n_head_kv = 2;  // OLMoE has no grouped-query attention
    out.push_back({"olmoe", ol});
    testgen::model_spec ds = base("deepseek2");
    ds.n_layer = 2;
    ds.head_dim = 48;  // 32 without RoPE + 16 with: multiples of 32 for the block types
    ds.deepseek2.kv_lora_rank = 32;
    out.push_back({"deepseek2", ds});
    testgen::model_spec ds3 = ds;
    ds3.deepseek2.q_lora_rank = 32;
    ds3.deepseek2.sigmoid = true;
    ds3.deepseek2.n_group = 2;
    ds3.deepseek2.n_group_used = 1;
    out.push_back({"deepseek3", ds3});
    testgen::model_spec oss = base("gpt-oss");
    oss.n_layer = 2;
    oss.head_dim = 16;
    oss.gpt_oss.sliding_window = 8;
    out.push_back({"gpt-oss", oss});
    testgen::model_spec gr = base("granitemoe");
    gr.n_ff_shexp = 32;
    out.push_back({"granitemoe", gr});
    return out;
}

// A small byte-level BPE vocabulary (tokenizer.ggml.model "gpt2") with the given pre-tokenizer.
std::vector<uint8_t> bpe_vocab(const std::string& pre) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (int b = 0; b < 256; ++b) {
        std::string s;
        unicode::append_utf8(s, unicode::byte_to_codepoint(static_cast<uint8_t>(b)));
        tokens.push_back(s);
        types.push_back(1);
    }
    for (const char* t : {"ll", "he", "hell", "hello", "\xC4\xA0w", "or", "\xC4\xA0wor", "\xC4\xA0world"}) {
        tokens.push_back(t);
        types.push_back(1);
    }
    for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
        tokens.push_back(t);
        types.push_back(3);
    }
    gguf::writer w;
    w.set_string("general.architecture", "qwen2moe");
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", pre);
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    w.set_string_array("tokenizer.ggml.merges", {"l l", "h e", "he ll", "hell o", "\xC4\xA0 w", "o r",
                                                 "\xC4\xA0w or", "\xC4\xA0wor ld"});
    w.set_u32("tokenizer.ggml.bos_token_id", 264);
    w.set_u32("tokenizer.ggml.eos_token_id", 264);
    return w.finish();
}

std::vector<uint8_t> chat_seed(int kind, uint8_t flags, const std::vector<std::string>& fields) {
    std::vector<uint8_t> b = {static_cast<uint8_t>(kind), flags, 0xE9, 0x07, 3, 5};  // 2025-03-05
    for (size_t k = 0; k < fields.size(); ++k) {
        if (k) b.push_back(0);
        b.insert(b.end(), fields[k].begin(), fields[k].end());
    }
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: moe_fuzz_seeds OUT [DEMO_MODEL_DIR] [CHAT_TEMPLATE_DIR]\n");
        return 2;
    }
    const fs::path out(argv[1]);
    for (const char* h : {"gguf", "model", "tokenizer", "chat"}) {
        std::error_code ec;
        fs::create_directories(out / h, ec);
        if (ec) {
            std::fprintf(stderr, "cannot create %s: %s\n", (out / h).string().c_str(), ec.message().c_str());
            return 1;
        }
    }
    bool ok = true;

    // Generated models: every architecture, a few weight types. They seed the reader, the loader and (their llama
    // vocabulary, without tensors) the tokenizer.
    const dtype types[] = {dtype::f32, dtype::f16, dtype::q8_0, dtype::q4_0};
    for (const tiny& t : tiny_specs()) {
        for (dtype ty : types) {
            testgen::model_spec s = t.spec;
            s.weight_type = ty;
            result<std::vector<uint8_t>> m = testgen::make_random_model(s);
            if (!m) {
                std::fprintf(stderr, "%s/%s: %s\n", t.name, dtype_name(ty), m.error().to_string().c_str());
                ok = false;
                continue;
            }
            const std::string name = std::string(t.name) + "-" + dtype_name(ty) + ".gguf";
            ok = put(out / "model", name, *m) && ok;
            if (ty == dtype::q4_0) ok = put(out / "gguf", name, *m) && ok;
            if (ty == dtype::f32) {
                result<gguf::file> f = gguf::file::parse(m->data(), m->size());
                if (f) ok = put(out / "tokenizer", std::string(t.name) + "-vocab", with_text(metadata_only(*f), k_texts[1])) && ok;
            }
        }
    }

    // Byte-level BPE vocabularies with each family's pre-tokenizer, and texts that reach its regex branches.
    int n = 0;
    for (const char* pre : {"gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-v3", "olmo", "gpt-4o",
                            "tekken", "default", "command-r", "refact", "starcoder"}) {
        const std::vector<uint8_t> v = bpe_vocab(pre);
        for (const char* text : k_texts) {
            ok = put(out / "tokenizer", "bpe-" + std::string(pre) + "-" + std::to_string(n++), with_text(v, text)) && ok;
        }
    }

    // The demo models: their metadata (vocabulary included) for the reader and the tokenizer.
    if (argc > 2) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(argv[2], ec)) {
            if (e.path().extension() != ".gguf") continue;
            result<mapped_file> mf = mapped_file::open(e.path().string());
            if (!mf) continue;
            result<gguf::file> f = gguf::file::parse(mf->data(), mf->size());
            if (!f) {
                std::fprintf(stderr, "%s: %s\n", e.path().string().c_str(), f.error().to_string().c_str());
                ok = false;
                continue;
            }
            const std::vector<uint8_t> meta = metadata_only(*f);
            const std::string stem = e.path().stem().string();
            ok = put(out / "gguf", stem + "-metadata.gguf", meta) && ok;
            for (size_t k = 0; k < sizeof k_texts / sizeof k_texts[0]; ++k)
                ok = put(out / "tokenizer", stem + "-vocab-" + std::to_string(k), with_text(meta, k_texts[k])) && ok;
        }
    }

    // Chat: every family with a plain conversation, with thinking / BOS / EOS / effort variants.
    const int n_kinds = static_cast<int>(chat_template_kind::gpt_oss) + 1;
    for (int k = 0; k < n_kinds; ++k) {
        const std::string base = std::to_string(k);
        ok = put(out / "chat", "conv-" + base, chat_seed(k, 0x01, {"0", "Be brief.", "1", "Hi!", "2", "Hello.", "1", "Bye"})) && ok;
        ok = put(out / "chat", "user-" + base, chat_seed(k, 0x03, {"1", "What is 2+2?"})) && ok;
        ok = put(out / "chat", "opts-" + base,
                 chat_seed(k, 0x7D, {"<s>", "</s>", "high", "3", "Dev note", "1", "<think>x</think>", "2",
                                     "<think>r</think>answer"})) && ok;
    }
    if (argc > 3) {
        std::error_code ec;
        int j = 0;
        for (const auto& e : fs::directory_iterator(argv[3], ec)) {
            std::ifstream in(e.path(), std::ios::binary);
            std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            ok = put(out / "chat", "jinja-" + std::to_string(j++), bytes) && ok;
        }
    }
    std::printf("wrote %d seed files under %s\n", n_written, out.string().c_str());
    return ok ? 0 : 1;
}
