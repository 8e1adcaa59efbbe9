// test_tokenizer_conformance.cpp — moe's tokenizers vs llama.cpp's on llama.cpp's own vocab files (issue 3).
// Before: src/tokenizer and the llama_ref harness (tokenize / pieces / detokenize). After: ctest's verdict + table.
//
// First, in process against libllama's own (exported, internal) Unicode functions: the class of every codepoint, and
// every pre-tokenizer's word splits on the hard cases plus 4,000 seeded random strings (tokenizer_split_check.cpp).
// Then for every models/ggml-vocab-*.gguf shipped with llama.cpp whose tokenizer moe supports, plus copies of some
// of them with another tokenizer.ggml.pre (to cover pre-tokenizers llama.cpp ships no vocab for):
//   inp     llama.cpp's own .inp/.out pairs, read and run exactly as its tests/test-tokenizer-0.cpp does
//           (add_special = false, parse_special = false), compared with the stored .out ids;
//   corpus  our hard cases (tokenizer_corpus.cpp), this vocab's special tokens written into text and 300 seeded random
//           strings, in all four add_special x parse_special modes, compared with `llama_ref tokenize`;
//   pieces  every token's attributes, is_eog, is_control and llama_token_to_piece (special off and on), plus the
//           BOS/EOS/EOT/SEP/PAD ids and add_bos/add_eos, compared with `llama_ref pieces`;
//   detok   llama_detokenize of llama.cpp's ids for every corpus case (special off and on) vs tokenizer::decode.
// The bar is zero mismatches; every mismatch is printed with its input.
#include "tokenizer_conformance.hpp"

#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"
#include "tokenizer/vocab.hpp"

#include <moe/tokenizer.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifndef MOE_LLAMA_REF_EXE
#error "MOE_LLAMA_REF_EXE must name the llama_ref harness"
#endif

namespace {

const std::string k_ref = MOE_LLAMA_REF_EXE;
const std::string k_vocab_dir = MOE_LLAMA_VOCAB_DIR;
const std::string k_tmp = MOE_CONFORMANCE_TMPDIR;
const std::string k_sep = "\n__ggml_vocab_test__\n";  // llama.cpp's .inp separator

// ---- small helpers --------------------------------------------------------------------------------------------

bool read_file(const std::string& path, std::string& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return true;
}

bool write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary);
    f << data;
    return static_cast<bool>(f);
}

bool run(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    if (rc != 0) std::printf("  command failed (%d): %s\n", rc, cmd.c_str());
    return rc == 0;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::string line;
    std::istringstream in(s);
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

std::vector<int32_t> parse_ids(const std::string& s, char sep) {
    std::vector<int32_t> ids;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t next = s.find(sep, pos);
        if (next == std::string::npos) next = s.size();
        if (next > pos) ids.push_back(static_cast<int32_t>(std::stol(s.substr(pos, next - pos))));
        pos = next + 1;
    }
    return ids;
}

std::string join(const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
}

std::string hex(const std::string& s) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : s) {
        out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
        out.push_back(digits[static_cast<unsigned char>(c) & 15]);
    }
    return out;
}

// A text made printable for a failure message.
std::string shown(const std::string& s) {
    std::string out;
    for (char c : s) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else out.push_back(c);
    }
    if (out.size() > 160) out = out.substr(0, 160) + "...";
    return out;
}

std::vector<std::string> split_inputs(const std::string& raw) {  // as test-tokenizer-0's read_tests
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < raw.size()) {
        const size_t next = raw.find(k_sep, pos);
        if (next == std::string::npos) {
            out.push_back(raw.substr(pos));
            break;
        }
        out.push_back(raw.substr(pos, next - pos));
        pos = next + k_sep.size();
    }
    return out;
}

// ---- our side --------------------------------------------------------------------------------------------------

struct loaded {
    moe::mapped_file file;
    moe::gguf::file meta;
};

moe::status load_meta(const std::string& path, loaded& out) {
    moe::result<moe::mapped_file> f = moe::mapped_file::open(path);
    if (!f) return f.error();
    out.file = std::move(*f);
    moe::result<moe::gguf::file> g = moe::gguf::file::parse(out.file.data(), out.file.size());
    if (!g) return g.error();
    out.meta = std::move(*g);
    return moe::ok_status();
}

// Cases with this vocab's special tokens written in the text (matter when parse_special is on, and for
// user-defined tokens always).
std::vector<std::string> special_cases(const moe::tokenizer& t) {
    const auto& impl = *moe::detail::tokenizer_access::impl(t);
    std::vector<int32_t> picks;
    auto add = [&](int32_t id) {
        if (impl.valid(id) && std::find(picks.begin(), picks.end(), id) == picks.end()) picks.push_back(id);
    };
    add(impl.bos);
    add(impl.eos);
    add(impl.eot);
    int n_control = 0, n_user = 0;
    std::vector<int32_t> ids = impl.special_tokens;
    std::sort(ids.begin(), ids.end());
    for (int32_t id : ids) {
        const uint32_t a = impl.tokens[id].attr;
        if ((a & moe::tok::attr_control) && n_control < 5) { add(id); ++n_control; }
        if ((a & moe::tok::attr_user_defined) && n_user < 4) { add(id); ++n_user; }
    }
    std::vector<std::string> out;
    for (int32_t id : picks) {
        const std::string& s = impl.tokens[id].text;
        out.push_back(s);
        out.push_back("A " + s + " b" + s + s + "\n" + s + "c");
        out.push_back("  " + s + "  spaced\t" + s + " ");
    }
    if (picks.size() >= 2) {
        const std::string& a = impl.tokens[picks[0]].text;
        const std::string& b = impl.tokens[picks[1]].text;
        out.push_back(a + "user\nHello" + b + "\n" + a + "assistant\n");
        out.push_back(a.substr(0, a.size() / 2) + b + a.substr(a.size() / 2));  // a token cut in half around another
    }
    return out;
}

// ---- one vocab --------------------------------------------------------------------------------------------------

struct counts {
    int cases = 0, bad = 0;
    void add(bool ok) {
        ++cases;
        bad += ok ? 0 : 1;
    }
};

struct vocab_report {
    std::string name;
    std::string note;  // why skipped, or what it is
    counts inp, corpus, pieces, detok;
};

int g_printed = 0;
void mismatch(const std::string& vocab, const std::string& what) {
    if (++g_printed <= 200) std::printf("  MISMATCH %s: %s\n", vocab.c_str(), what.c_str());
}

void check_inp(const std::string& vocab_path, const std::string& name, const moe::tokenizer& t, counts& c) {
    std::string inp, out;
    if (!read_file(vocab_path + ".inp", inp) || !read_file(vocab_path + ".out", out)) return;
    const std::vector<std::string> inputs = split_inputs(inp);
    const std::vector<std::string> outputs = lines_of(out);
    if (inputs.size() != outputs.size()) {
        mismatch(name, ".inp has " + std::to_string(inputs.size()) + " inputs but .out " +
                           std::to_string(outputs.size()) + " lines");
        c.add(false);
        return;
    }
    std::map<std::string, std::vector<int32_t>> tests;  // test-tokenizer-0 keys its cases by input text
    for (size_t i = 0; i < inputs.size(); ++i) {
        std::string o = outputs[i];
        while (!o.empty() && (o.front() == ' ' || o.front() == '\t')) o.erase(o.begin());
        while (!o.empty() && (o.back() == ' ' || o.back() == '\t' || o.back() == '\r')) o.pop_back();
        tests[inputs[i]] = parse_ids(o, ' ');
    }
    for (const auto& kv : tests) {
        moe::result<std::vector<int32_t>> ids = t.encode(kv.first, false, false);
        const bool ok = ids && *ids == kv.second;
        c.add(ok);
        if (!ok)
            mismatch(name, ".inp '" + shown(kv.first) + "': llama.cpp " + join(kv.second) + ", moe " +
                               (ids ? join(*ids) : ids.error().to_string()));
    }
}

// Runs `llama_ref tokenize --batch --all-modes` once: ids per mode (add_special = mode & 1, parse_special =
// mode & 2) per case. False if it failed.
bool ref_tokenize(const std::string& vocab_path, const std::string& inputs_file, size_t n,
                  std::vector<std::vector<int32_t>> (&out)[4]) {
    const std::string out_file = inputs_file + ".ids";
    if (!run(k_ref + " tokenize -m '" + vocab_path + "' --text-file '" + inputs_file + "' --batch --all-modes > '" +
             out_file + "' 2>/dev/null"))
        return false;
    std::string text;
    read_file(out_file, text);
    const std::vector<std::string> lines = lines_of(text);
    if (lines.size() != 4 * n) {
        std::printf("  llama_ref tokenize gave %zu lines for 4 x %zu inputs\n", lines.size(), n);
        return false;
    }
    for (int mode = 0; mode < 4; ++mode) {
        out[mode].clear();
        for (size_t i = 0; i < n; ++i) out[mode].push_back(parse_ids(lines[mode * n + i], ','));
    }
    return true;
}

void check_corpus_and_detok(const std::string& vocab_path, const std::string& name, const moe::tokenizer& t,
                            counts& corpus, counts& detok) {
    std::vector<std::string> cases = tokconf::base_corpus();
    for (std::string& s : special_cases(t)) cases.push_back(std::move(s));
    {
        const auto& impl = *moe::detail::tokenizer_access::impl(t);
        std::vector<std::string> specials;
        const size_t n_special = impl.special_tokens.size();
        for (size_t k = 0; k < n_special && specials.size() < 4; k += 1 + n_special / 4)
            specials.push_back(impl.tokens[impl.special_tokens[k]].text);
        for (std::string& s : tokconf::fuzz_cases(specials, 300, 24, 20240531u)) cases.push_back(std::move(s));
    }
    if (t.model_kind() == "llama") {  // SPM never decodes UTF-8, so llama.cpp survives these there
        cases.push_back("\xf4\x90\x80\x80 past U+10FFFF");
        cases.push_back("\xf5\x80\x80\x80\xf7\xbf\xbf\xbf");
    }
    std::string joined;
    for (size_t i = 0; i < cases.size(); ++i) joined += cases[i] + (i + 1 < cases.size() ? k_sep : "");
    // a trailing empty case would vanish (the split stops at the end of the text): keep "" first, never last
    const std::string inputs_file = k_tmp + "/" + name + ".corpus.txt";
    write_file(inputs_file, joined);

    std::vector<std::vector<int32_t>> ref[4];
    if (!ref_tokenize(vocab_path, inputs_file, cases.size(), ref)) {
        corpus.add(false);
        mismatch(name, "llama_ref tokenize failed");
        return;
    }
    for (int mode = 0; mode < 4; ++mode) {
        const bool add_special = (mode & 1) != 0, parse_special = (mode & 2) != 0;
        for (size_t i = 0; i < cases.size(); ++i) {
            moe::result<std::vector<int32_t>> ids = t.encode(cases[i], add_special, parse_special);
            const bool ok = ids && *ids == ref[mode][i];
            corpus.add(ok);
            if (!ok)
                mismatch(name, std::string("corpus add_special=") + (add_special ? "1" : "0") + " parse_special=" +
                                   (parse_special ? "1" : "0") + " '" + shown(cases[i]) + "': llama.cpp " +
                                   join(ref[mode][i]) + ", moe " + (ids ? join(*ids) : ids.error().to_string()));
        }
    }

    // detokenize llama.cpp's own ids (add_special and parse_special on), without and with special
    const std::vector<std::vector<int32_t>>& detok_ids = ref[3];
    std::string ids_text;
    for (const auto& ids : detok_ids) ids_text += join(ids) + "\n";
    const std::string ids_file = k_tmp + "/" + name + ".ids.txt";
    write_file(ids_file, ids_text);
    const std::string out_file = ids_file + ".text";
    if (!run(k_ref + " detokenize -m '" + vocab_path + "' --ids-file '" + ids_file + "' --both > '" + out_file +
             "' 2>/dev/null")) {
        detok.add(false);
        return;
    }
    std::string text;
    read_file(out_file, text);
    const std::vector<std::string> lines = lines_of(text);
    for (size_t i = 0; i < detok_ids.size(); ++i) {
        const std::string ours = hex(t.decode(detok_ids[i], false)) + " " + hex(t.decode(detok_ids[i], true));
        const bool ok = i < lines.size() && lines[i] == ours;
        detok.add(ok);
        if (!ok)
            mismatch(name, "detokenize (plain, special) of '" + shown(cases[i]) + "': llama.cpp " +
                               (i < lines.size() ? lines[i] : "?") + ", moe " + ours);
    }
}

void check_pieces(const std::string& vocab_path, const std::string& name, const moe::tokenizer& t, counts& c) {
    const std::string out_file = k_tmp + "/" + name + ".pieces.txt";
    if (!run(k_ref + " pieces -m '" + vocab_path + "' > '" + out_file + "' 2>/dev/null")) {
        c.add(false);
        return;
    }
    std::string text;
    read_file(out_file, text);
    const std::vector<std::string> lines = lines_of(text);
    const auto& impl = *moe::detail::tokenizer_access::impl(t);
    char header[512];
    std::snprintf(header, sizeof header, "n_vocab=%d bos=%d eos=%d eot=%d sep=%d nl=", t.n_vocab(), impl.bos, impl.eos,
                  impl.eot, impl.sep);
    const bool header_ok = !lines.empty() && lines[0].compare(0, std::string(header).size(), header) == 0;
    char tail[128];
    std::snprintf(tail, sizeof tail, " pad=%d add_bos=%d add_eos=%d", impl.pad, t.add_bos() ? 1 : 0,
                  t.add_eos() ? 1 : 0);
    const bool tail_ok = !lines.empty() && lines[0].size() >= std::string(tail).size() &&
                         lines[0].compare(lines[0].size() - std::string(tail).size(), std::string::npos, tail) == 0;
    c.add(header_ok && tail_ok);
    if (!(header_ok && tail_ok))
        mismatch(name, "ids: llama.cpp '" + (lines.empty() ? std::string() : lines[0]) + "', moe '" + header + "..." +
                           tail + "'");
    if (lines.size() != static_cast<size_t>(t.n_vocab()) + 1) {
        mismatch(name, "llama_ref pieces gave " + std::to_string(lines.size() - 1) + " tokens");
        c.add(false);
        return;
    }
    for (int32_t id = 0; id < t.n_vocab(); ++id) {
        const std::string ours = std::to_string(id) + " " + std::to_string(impl.tokens[id].attr) + " " +
                                 (t.is_eog(id) ? "1" : "0") + " " + (t.is_control(id) ? "1" : "0") + " " +
                                 hex(t.token_to_piece(id, false)) + " " + hex(t.token_to_piece(id, true));
        const bool ok = lines[id + 1] == ours;
        c.add(ok);
        if (!ok)
            mismatch(name, "token " + std::to_string(id) + ": llama.cpp '" + lines[id + 1] + "', moe '" + ours + "'");
    }
}

vocab_report check_vocab(const std::string& path, const std::string& name, bool pieces = true) {
    vocab_report r;
    r.name = name;
    loaded l;
    moe::status st = load_meta(path, l);
    if (!st.ok()) {
        r.note = "cannot read: " + st.to_string();
        r.pieces.add(false);
        return r;
    }
    moe::result<moe::tokenizer> t = moe::tok::make_tokenizer(l.meta);
    if (!t) {
        r.note = "skipped: " + t.error().to_string();
        if (t.error().code() != moe::errc::unsupported) r.pieces.add(false);  // only "unsupported" may be skipped
        return r;
    }
    r.note = t->model_kind() + (t->pre_tokenizer().empty() ? "" : " / " + t->pre_tokenizer());
    std::printf("%s (%s)\n", name.c_str(), r.note.c_str());
    std::fflush(stdout);
    check_inp(path, name, *t, r.inp);
    if (pieces) check_pieces(path, name, *t, r.pieces);
    check_corpus_and_detok(path, name, *t, r.corpus, r.detok);
    return r;
}

// A copy of a shipped vocab with another tokenizer.ggml.pre ("" removes the key) and, when `model` is not empty,
// another tokenizer.ggml.model: pre-tokenizers llama.cpp ships no vocab file for. Returns the path, or "".
std::string derive_vocab(const std::string& base, const std::string& model, const std::string& pre,
                         const std::string& name) {
    loaded l;
    if (!load_meta(k_vocab_dir + "/" + base, l).ok()) return std::string();
    moe::gguf::writer w;
    for (const auto& kv : l.meta.kvs())
        if (kv.first != "tokenizer.ggml.pre" && kv.first != "general.alignment") w.set_value(kv.first, kv.second);
    if (!pre.empty()) w.set_string("tokenizer.ggml.pre", pre);
    if (!model.empty()) w.set_string("tokenizer.ggml.model", model);
    const std::string path = k_tmp + "/" + name + ".gguf";
    return w.write(path).ok() ? path : std::string();
}

}  // namespace

int main() {
    std::vector<std::string> files;
    if (DIR* d = opendir(k_vocab_dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n.rfind("ggml-vocab-", 0) == 0 && n.size() > 5 && n.compare(n.size() - 5, 5, ".gguf") == 0)
                files.push_back(n);
        }
        closedir(d);
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::printf("FAIL: no ggml-vocab-*.gguf in %s\n", k_vocab_dir.c_str());
        return 1;
    }

    std::vector<vocab_report> reports;

    // in-process: codepoint classes and word splits against llama.cpp's own functions
    {
        vocab_report r;
        r.name = "unicode classes U+0000..U+10FFFF";
        r.note = "category + White_Space";
        const tokconf::split_counts c = tokconf::check_codepoint_classes();
        r.pieces.cases = c.cases;
        r.pieces.bad = c.bad;
        reports.push_back(r);
        std::vector<std::string> texts = tokconf::base_corpus();
        for (std::string& s : tokconf::fuzz_cases({"<|endoftext|>", "<s>"}, 4000, 40, 7u))
            texts.push_back(std::move(s));
        for (const std::string& pre : tokconf::split_check_names()) {
            vocab_report sr;
            sr.name = "split " + pre;
            sr.note = "words vs unicode_regex_split";
            const tokconf::split_counts sc = tokconf::check_splits(pre, texts);
            sr.corpus.cases = sc.cases;
            sr.corpus.bad = sc.bad;
            reports.push_back(sr);
        }
    }

    for (const std::string& f : files) reports.push_back(check_vocab(k_vocab_dir + "/" + f, f.substr(0, f.size() - 5)));

    // pre-tokenizers with no vocab of their own in llama.cpp: run them on the Llama 3 and Qwen2 vocabs
    const struct {
        const char* base;
        const char* pre;
        const char* model;  // "" keeps the vocab's own
    } derived[] = {
        {"ggml-vocab-llama-bpe.gguf", "deepseek-v3", ""},    {"ggml-vocab-llama-bpe.gguf", "gpt-4o", ""},
        {"ggml-vocab-llama-bpe.gguf", "olmo", ""},           {"ggml-vocab-llama-bpe.gguf", "default", ""},
        {"ggml-vocab-llama-bpe.gguf", "tekken", ""},         {"ggml-vocab-llama-bpe.gguf", "deepseek-llm", ""},
        {"ggml-vocab-llama-bpe.gguf", "deepseek-coder", ""}, {"ggml-vocab-llama-bpe.gguf", "falcon", ""},
        {"ggml-vocab-llama-bpe.gguf", "qwen35", ""},         {"ggml-vocab-llama-bpe.gguf", "llama3", ""},
        {"ggml-vocab-llama-bpe.gguf", "bailingmoe", ""},     {"ggml-vocab-llama-bpe.gguf", "afmoe", ""},
        {"ggml-vocab-llama-bpe.gguf", "cohere2moe", ""},     {"ggml-vocab-qwen2.gguf", "deepseek-v3", ""},
        {"ggml-vocab-qwen2.gguf", "gpt-4o", ""},             {"ggml-vocab-qwen2.gguf", "bailingmoe", ""},
        {"ggml-vocab-gpt-2.gguf", "", ""},                   {"ggml-vocab-gemma-4.gguf", "sarvam-moe", "gpt2"},
        {"ggml-vocab-gemma-4.gguf", "gemma4", "gpt2"},
    };
    for (const auto& dv : derived) {
        const std::string base = std::string(dv.base).substr(11, std::string(dv.base).size() - 16);
        const std::string name = base + (dv.model[0] ? std::string("+model=") + dv.model : std::string()) + "+pre=" +
                                 (dv.pre[0] ? dv.pre : "(none)");
        const std::string path = derive_vocab(dv.base, dv.model, dv.pre, name);
        if (path.empty()) {
            vocab_report r;
            r.name = name;
            r.note = "could not write the derived vocab";
            r.pieces.add(false);
            reports.push_back(r);
            continue;
        }
        // pieces depend on the tokenizer model, not on the pre-tokenizer: check them only where the model changed
        reports.push_back(check_vocab(path, name, dv.model[0] != 0));
        std::remove(path.c_str());  // up to 15 MB each
    }

    int total_bad = 0;
    std::printf("\n%-34s %-26s %13s %13s %15s %13s\n", "vocab", "tokenizer", ".inp/.out", "corpus", "pieces", "detok");
    auto cell = [](const counts& c) {
        char buf[32];
        if (c.cases == 0) return std::string("-");
        std::snprintf(buf, sizeof buf, "%d/%d", c.bad, c.cases);
        return std::string(buf);
    };
    for (const vocab_report& r : reports) {
        std::printf("%-34s %-26s %13s %13s %15s %13s\n", r.name.c_str(), r.note.substr(0, 26).c_str(),
                    cell(r.inp).c_str(), cell(r.corpus).c_str(), cell(r.pieces).c_str(), cell(r.detok).c_str());
        total_bad += r.inp.bad + r.corpus.bad + r.pieces.bad + r.detok.bad;
    }
    std::printf("(cells: mismatches/cases)\n");
    for (const vocab_report& r : reports)
        if (r.note.rfind("skipped", 0) == 0) std::printf("%s: %s\n", r.name.c_str(), r.note.c_str());
    std::printf("%s: %d mismatches\n", total_bad == 0 ? "PASS" : "FAIL", total_bad);
    return total_bad == 0 ? 0 : 1;
}
