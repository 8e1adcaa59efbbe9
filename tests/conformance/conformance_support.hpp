// conformance_support.hpp — what the conformance tests share: running commands, logits from llama.cpp (llama_ref)
// and from moe, and comparing them. Before: generated GGUF files. After: each test's table and verdict.
#pragma once

#include <moe/moe.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#ifndef MOE_LLAMA_REF_EXE
#error "MOE_LLAMA_REF_EXE must name the llama_ref harness"
#endif

inline std::string tmpdir = MOE_CONFORMANCE_TMPDIR;
inline int failures = 0;
inline std::ostringstream report;

inline void check(bool ok, const std::string& what) {
    if (!ok) {
        ++failures;
        std::printf("FAIL: %s\n", what.c_str());
    }
}

inline bool run(const std::string& cmd) {
    int rc = std::system(cmd.c_str());
    if (rc != 0) std::printf("command failed (%d): %s\n", rc, cmd.c_str());
    return rc == 0;
}

inline std::vector<float> read_f32(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<float> v(bytes.size() / sizeof(float));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
    return v;
}

inline std::string join(const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
}

// llama.cpp's logits for every prompt position: batch or token-by-token, f32 (or f16) KV, no flash attention.
inline std::vector<float> llama_logits(const std::string& model, const std::vector<int32_t>& prompt, const char* mode,
                                       const char* kv = "f32") {
    const std::string out = model + "." + mode + "." + kv + ".llama.f32";
    if (!run(std::string(MOE_LLAMA_REF_EXE) + " logits -m " + model + " --tokens " + join(prompt) + " --mode " + mode +
             " --kv " + kv + " --flash off -t 2 -o " + out + " 2>/dev/null"))
        return {};
    return read_f32(out);
}

inline std::vector<float> moe_logits(const std::string& path, const std::vector<int32_t>& prompt, bool single = false,
                                     moe::dtype kv_type = moe::dtype::f32) {
    moe::result<moe::model> m = moe::model::load(path);
    if (!m) {
        std::printf("moe could not load %s: %s\n", path.c_str(), m.error().to_string().c_str());
        return {};
    }
    moe::session_params sp;
    sp.n_threads = 2;
    sp.kv_type = kv_type;
    moe::result<moe::session> s = moe::session::create(*m, sp);
    if (!s) return {};
    std::vector<float> out;
    if (single) {  // token by token: every position is a decode step against the cache
        for (size_t i = 0; i < prompt.size(); ++i) {
            if (!s->eval(&prompt[i], 1).ok()) return {};
            out.insert(out.end(), s->logits(0), s->logits(0) + s->n_vocab());
        }
        return out;
    }
    if (!s->eval(prompt.data(), prompt.size(), moe::logits_mode::all).ok()) return {};
    for (size_t i = 0; i < prompt.size(); ++i)
        out.insert(out.end(), s->logits(static_cast<int64_t>(i)), s->logits(static_cast<int64_t>(i)) + s->n_vocab());
    return out;
}

inline double rel_l2(const float* a, const float* b, size_t n) {  // ||a - b|| / ||b||
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
    return std::sqrt(num / den);
}

struct compare {
    double max_rel = 0;    // worst position
    double total_rel = 0;  // over all positions together
    double top1 = 0;       // fraction of positions with the same argmax
};

inline compare compare_logits(const std::vector<float>& a, const std::vector<float>& b, size_t n_vocab) {
    compare c;
    const size_t P = a.size() / n_vocab;
    double num = 0, den = 0;
    size_t agree = 0;
    for (size_t p = 0; p < P; ++p) {
        const float* x = a.data() + p * n_vocab;
        const float* y = b.data() + p * n_vocab;
        c.max_rel = std::max(c.max_rel, rel_l2(x, y, n_vocab));
        size_t ax = 0, ay = 0;
        for (size_t v = 0; v < n_vocab; ++v) {
            num += (double(x[v]) - y[v]) * (double(x[v]) - y[v]), den += double(y[v]) * y[v];
            if (x[v] > x[ax]) ax = v;
            if (y[v] > y[ay]) ay = v;
        }
        agree += ax == ay;
    }
    c.total_rel = std::sqrt(num / den);
    c.top1 = double(agree) / double(P);
    return c;
}

inline double mean_top1_prob(const std::vector<float>& logits, size_t n_vocab) {
    const size_t P = logits.size() / n_vocab;
    double sum = 0;
    for (size_t p = 0; p < P; ++p) {
        const float* x = logits.data() + p * n_vocab;
        float mx = x[0];
        for (size_t v = 1; v < n_vocab; ++v) mx = std::max(mx, x[v]);
        double z = 0;
        for (size_t v = 0; v < n_vocab; ++v) z += std::exp(double(x[v]) - mx);
        sum += 1.0 / z;
    }
    return sum / double(P);
}


