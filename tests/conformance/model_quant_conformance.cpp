// model_quant_conformance.cpp — moe-quantize vs llama-quantize on generated models, and mixed-type files in both
// engines. Before: conformance_shapes.hpp's F32 models, llama_ref model-quantize, moe::quantize_model. After: ctest.
//
// For each shape, the F32 file is quantized to each llama.cpp file type by llama.cpp (llama_model_quantize) and by
// moe. Criteria (issue 4):
//   types : every tensor gets the same type in both files (the Q*_K_S/M/L mixes, MXFP4_MOE, fallbacks for rows
//           a K-quant block does not divide, tensors left alone).
//   bytes : with reference_bytes, every tensor's bytes equal llama.cpp's.
//   error : moe's own quantizer (the default) gives every tensor a squared error vs the F32 weights at most
//           llama.cpp's (relative slack 1e-9 for summation order).
//   logits: on llama.cpp's Q4_K_M file (and MXFP4_MOE for gpt-oss and the Mixtral-like shape) the engine criteria
//           of conformance_main: our error vs llama.cpp's F32 logits <= 1.1 x llama.cpp's own, top-1 agreement >=
//           llama.cpp's batch-vs-single (one position of slack where that run itself shows a routing flip, i.e.
//           max rel-L2 > 1e-3: a near-tie expert choice flips on float rounding, and a 64-token prompt then
//           agrees 100% or 98.4% by luck); and moe's Q4_K_M file, run by moe, no further from the F32 logits than
//           1.1 x llama.cpp's file run by llama.cpp. (deepseek2's MXFP4_MOE file is checked for types, bytes and
//           error only: see the issue notes for its position-26 divergence.)
//   `moe_model_quant_conformance NAME` runs only the shapes whose name contains NAME.
#include "conformance_shapes.hpp"
#include "conformance_support.hpp"
#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"

#include <moe/quant.hpp>
#include <moe/quantize.hpp>

#include <map>
#include <random>

namespace {

struct loaded {
    moe::mapped_file map;
    moe::gguf::file file;
};

bool load(const std::string& path, loaded& out) {
    moe::result<moe::mapped_file> m = moe::mapped_file::open(path);
    if (!m) return false;
    moe::result<moe::gguf::file> f = moe::gguf::file::parse(m->data(), m->size());
    if (!f) return false;
    out.map = std::move(*m);
    out.file = std::move(*f);
    return true;
}

std::vector<float> to_f32(const moe::gguf::tensor_info& t) {
    const int64_t n = t.ne[0], rows = t.n_elements() / n;
    std::vector<float> out(static_cast<size_t>(t.n_elements()));
    const size_t rb = moe::row_bytes(t.type, n);
    for (int64_t r = 0; r < rows; ++r)
        (void)moe::dequantize_row(t.type, t.data + static_cast<size_t>(r) * rb, out.data() + r * n, n);
    return out;
}

double sq_err(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return s;
}

// Compares llama.cpp's file with moe's for one file type; returns whether the tensor types all agree.
struct file_compare {
    int tensors = 0, type_diffs = 0, byte_diffs = 0, worse = 0;
    double ours = 0, theirs = 0;  // summed squared error of the quantized tensors vs F32
    std::map<std::string, int> types;
};

file_compare compare_files(const loaded& f32, const loaded& llama, const loaded& ref_bytes, const loaded& ours,
                           const std::string& label) {
    file_compare c;
    const auto& lt = llama.file.tensors();
    check(lt.size() == ours.file.tensors().size(), label + ": tensor counts differ");
    for (const moe::gguf::tensor_info& l : lt) {
        ++c.tensors;
        ++c.types[moe::dtype_name(l.type)];
        const moe::gguf::tensor_info* o = ours.file.find_tensor(l.name);
        const moe::gguf::tensor_info* r = ref_bytes.file.find_tensor(l.name);
        const moe::gguf::tensor_info* x = f32.file.find_tensor(l.name);
        if (o == nullptr || r == nullptr || x == nullptr) {
            check(false, label + ": tensor " + l.name + " missing from moe's file");
            continue;
        }
        if (o->type != l.type) {
            ++c.type_diffs;
            check(false, label + ": " + l.name + " is " + moe::dtype_name(o->type) + " in moe's file, " +
                             moe::dtype_name(l.type) + " in llama.cpp's");
            continue;
        }
        if (r->nbytes != l.nbytes || std::memcmp(r->data, l.data, l.nbytes) != 0) {
            ++c.byte_diffs;
            check(false, label + ": " + l.name + " (" + moe::dtype_name(l.type) + "): reference bytes differ");
        }
        if (l.type == x->type) continue;  // not converted
        const std::vector<float> orig = to_f32(*x);
        const double eo = sq_err(to_f32(*o), orig), el = sq_err(to_f32(l), orig);
        c.ours += eo, c.theirs += el;
        if (eo > el * (1 + 1e-9)) {
            ++c.worse;
            check(false, label + ": " + l.name + " (" + moe::dtype_name(l.type) + "): moe's squared error " +
                             std::to_string(eo) + " > llama.cpp's " + std::to_string(el));
        }
    }
    return c;
}

// Engine criteria on a mixed file (see the header).
void check_logits(const shape_case& sc, const std::string& llama_file, const std::string& moe_file,
                  const std::string& f32_file, const char* ftype) {
    const int n_prompt = 64;
    std::mt19937 rng(1234);
    std::vector<int32_t> prompt{1};
    std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(sc.spec.n_vocab - 1));
    while (prompt.size() < n_prompt) prompt.push_back(tok(rng));
    const size_t V = static_cast<size_t>(sc.spec.n_vocab), want = V * prompt.size();
    const std::vector<float> f32 = llama_logits(f32_file, prompt, "batch");
    const std::vector<float> ref = llama_logits(llama_file, prompt, "batch");
    const std::vector<float> ref_single = llama_logits(llama_file, prompt, "single");
    const std::vector<float> ours = moe_logits(llama_file, prompt);
    const std::vector<float> ours_own = moe_logits(moe_file, prompt);
    const std::string label = sc.name + " " + ftype;
    if (f32.size() != want || ref.size() != want || ref_single.size() != want || ours.size() != want ||
        ours_own.size() != want) {
        check(false, label + ": logits missing");
        return;
    }
    const compare vs_llama = compare_logits(ours, ref, V), noise = compare_logits(ref_single, ref, V);
    const compare ours_vs_f32 = compare_logits(ours, f32, V), llama_vs_f32 = compare_logits(ref, f32, V);
    const compare own_vs_f32 = compare_logits(ours_own, f32, V);
    if (std::getenv("MOE_DEBUG_POS") != nullptr && *std::getenv("MOE_DEBUG_POS") != 0)
        for (size_t q = 0; q < prompt.size(); ++q)
            std::printf("pos %zu rel %.3e\n", q, rel_l2(ours.data() + q * V, ref.data() + q * V, V));
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %s | %.2e | %.3e | %.3e | %.1f%% | %.2e, %.1f%% | %.3e |\n", sc.name.c_str(),
                  ftype, vs_llama.max_rel, ours_vs_f32.total_rel, llama_vs_f32.total_rel, 100 * vs_llama.top1,
                  noise.max_rel, 100 * noise.top1, own_vs_f32.total_rel);
    report << line;
    std::fputs(line, stdout);
    std::fflush(stdout);
    check(ours_vs_f32.total_rel <= 1.1 * llama_vs_f32.total_rel,
          label + ": our error vs F32 " + std::to_string(ours_vs_f32.total_rel) + " > 1.1 x llama.cpp's " +
              std::to_string(llama_vs_f32.total_rel));
    // When llama.cpp's own batch and token-by-token runs already route some token differently (logits apart by more
    // than float rounding), its top-1 agreement with itself is a matter of luck; one position of slack then.
    const double slack = noise.max_rel > 1e-3 ? 1.0 / double(prompt.size()) : 0.0;
    check(vs_llama.top1 + slack >= noise.top1, label + ": top-1 agreement " + std::to_string(vs_llama.top1) +
                                                   " below llama.cpp's batch-vs-single " + std::to_string(noise.top1));
    check(own_vs_f32.total_rel <= 1.1 * llama_vs_f32.total_rel,
          label + ": moe's own file is further from F32 (" + std::to_string(own_vs_f32.total_rel) +
              ") than 1.1 x llama.cpp's file (" + std::to_string(llama_vs_f32.total_rel) + ")");
}

void run_shape(const shape_case& sc, const std::vector<moe::file_type>& ftypes) {
    moe::testgen::model_spec spec = sc.spec;
    spec.weight_type = moe::dtype::f32;
    const std::string base = tmpdir + "/" + sc.name;
    const std::string f32_path = base + "-f32.gguf";
    const moe::status st = moe::testgen::write_random_model(f32_path, spec);
    check(st.ok(), "write " + f32_path + ": " + st.to_string());
    loaded f32;
    if (!st.ok() || !load(f32_path, f32)) return;
    for (moe::file_type ft : ftypes) {
        const std::string name = moe::file_type_name(ft);
        const std::string lp = base + "-" + name + ".llama.gguf", rp = base + "-" + name + ".moe-ref.gguf",
                          mp = base + "-" + name + ".moe.gguf";
        if (!run(std::string(MOE_LLAMA_REF_EXE) + " model-quantize --ftype " +
                 std::to_string(static_cast<uint32_t>(ft)) + " -i " + f32_path + " -o " + lp + " >/dev/null 2>&1")) {
            check(false, sc.name + " " + name + ": llama.cpp could not quantize");
            continue;
        }
        moe::quantize_params p;
        p.type = ft;
        p.n_threads = 2;
        p.reference_bytes = true;
        const moe::status sr = moe::quantize_model(f32_path, rp, p);
        p.reference_bytes = false;
        const moe::status sm = moe::quantize_model(f32_path, mp, p);
        check(sr.ok() && sm.ok(), sc.name + " " + name + ": moe could not quantize: " + (sr.ok() ? sm : sr).to_string());
        loaded l, r, m;
        if (!sr.ok() || !sm.ok() || !load(lp, l) || !load(rp, r) || !load(mp, m)) {
            check(false, sc.name + " " + name + ": a quantized file does not parse");
            continue;
        }
        const file_compare c = compare_files(f32, l, r, m, sc.name + " " + name);
        std::string mix;
        for (const auto& t : c.types) mix += (mix.empty() ? "" : " ") + t.first + "×" + std::to_string(t.second);
        char line[512];
        std::snprintf(line, sizeof line, "| %s | %s | %s | %s | %s | %.4g |\n", sc.name.c_str(), name.c_str(),
                      mix.c_str(), c.type_diffs == 0 ? "same" : "DIFFERENT", c.byte_diffs == 0 ? "identical" : "DIFFERENT",
                      c.theirs > 0 ? c.ours / c.theirs : 1.0);
        std::fputs(line, stdout);
        std::fflush(stdout);
        const bool logits = ft == moe::file_type::q4_k_m || (ft == moe::file_type::mxfp4_moe && sc.spec.arch != "deepseek2");
        if (logits) check_logits(sc, lp, mp, f32_path, name.c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string only = argc > 1 ? argv[1] : "";
    std::printf("| model | file type | tensor types | types vs llama-quantize | --reference bytes | moe error / llama.cpp "
                "error |\n|---|---|---|---|---|---|\n");
    std::printf("(logit rows: | model | type | max rel-L2 vs llama.cpp, same file | our err vs llama F32 | llama err vs "
                "llama F32 | top-1 agree | llama batch-vs-single | moe's own file: err vs llama F32 |)\n");
    const std::vector<moe::file_type> all = moe::supported_file_types();
    const std::vector<moe::file_type> main_types = {moe::file_type::q4_k_m, moe::file_type::q5_k_m,
                                                    moe::file_type::q6_k, moe::file_type::q8_0,
                                                    moe::file_type::q3_k_m, moe::file_type::iq4_xs};
    // every file type on three shapes (8 experts triggers Mixtral's rules; MLA; gpt-oss's MXFP4), the common ones
    // on the others
    std::vector<shape_case> cases = conformance_shapes();
    for (const shape_case& c : cases) {
        if (c.name.find(only) == std::string::npos) continue;
        const bool everything = c.name == "llama-gqa-8x2" || c.name == "deepseek2-v3-mla-qlora-16x4-groups" ||
                                c.name == "gpt-oss-gqa-hd64-swa16-8x2";
        std::vector<moe::file_type> ft = everything ? all : main_types;
        if (c.spec.arch == "gpt-oss" && !everything) ft.push_back(moe::file_type::mxfp4_moe);
        run_shape(c, ft);
    }
    std::ofstream(tmpdir + "/model_quant_conformance.md") << report.str();
    std::printf("%s\n", failures == 0 ? "all checks passed" : (std::to_string(failures) + " checks failed").c_str());
    return failures == 0 ? 0 : 1;
}
