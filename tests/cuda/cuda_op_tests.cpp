// cuda_op_tests.cpp — moe_cuda_op_tests: every op on the CUDA module vs the CPU reference at model shapes.
// Before: libmoe-backend-cuda.so. After: nothing (ctest: exit 77 = skipped without a GPU). Like test-backend-ops.
//
// Shapes: MoE with 8, 64 and 128 experts and uneven tokens per expert, T = 1 and 37, head dims 64/128, MLA (one and
// several sequences); each op's tolerance and its reason are stated below.
//
//   moe_cuda_op_tests [--module PATH] [--cpu-vs-cpu] [--filter OP]
//     --cpu-vs-cpu  checks the harness itself on any machine: the "device" is a second CPU backend (errors must be 0),
//                   and every case must still be accepted by the CUDA module's supports().
// Exit: 0 all passed, 1 a case failed, 77 no usable CUDA device (the reason is printed).
#include "backends/backend_module.h"
#include "backends/cpu/cpu_backend.hpp"
#include "graph/ir.hpp"
#include "runtime/backend_registry.hpp"

#include <moe/quant.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace moe;

namespace {

// ---- tolerances: max |device - cpu| over the output, divided by max |cpu| -------------------------------------------
// exact: data movement, integer work, and float work done in the reference's order without contraction (the module
//        builds with -fmad=false); bit-equal results are expected.
constexpr double tol_exact = 0.0;
// transcendental: CUDA's expf/cosf/sinf are within 2 ulp, glibc's within 1: a few 1e-7 relative, 1e-6 leaves room.
constexpr double tol_transc = 1e-6;
// rope at positions up to 4095: cos/sin of large angles, 2 ulp of the result each, times |x| of a pair.
constexpr double tol_rope = 4e-6;
// reductions in another order: RMS_NORM and SOFTMAX sum in double (order is invisible after rounding to float).
constexpr double tol_reduce = 1e-6;
// weight products: activations quantize bit-exactly (tests/unit/test_cuda_math.cpp) and block sums are exact
// integers; only the float sum over k / block blocks (or k elements for f32/f16/bf16) runs in another order (warp
// lanes vs 8 SIMD lanes): relative error about sqrt(terms) * 2^-24 of the sum of |terms|, which for random data is
// ~sqrt(k) times the output's scale. 2e-5 covers k up to 4096 with margin.
constexpr double tol_matmul = 2e-5;
// attention: scores are float dots in another order (1e-7 relative), then exp and a weighted sum of values.
constexpr double tol_attention = 1e-5;

struct rng {
    uint64_t s;
    explicit rng(uint64_t seed) : s(seed * 2654435761u + 7) {}
    uint32_t next() {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<uint32_t>(s >> 33);
    }
    float uniform(float lo, float hi) { return lo + static_cast<float>(next() / 2147483648.0) * (hi - lo); }
    int32_t below(int32_t n) { return static_cast<int32_t>(next() % static_cast<uint32_t>(n)); }
};

// One single-node graph with its data: inputs (shared), weights (shared, external), states (copied per run).
struct test_case {
    std::string op, desc;
    double tol = 0;
    const char* why = "";
    int64_t n_past = 0;
    graph g;
    std::map<value_id, std::vector<uint8_t>> data;  // inputs, weights and the initial state bytes
};

class case_builder {
public:
    explicit case_builder(uint64_t seed) : r_(seed) {}
    graph_builder gb;

    value_id f32(const std::string& name, shape sh, float lo = -1, float hi = 1) {
        const value_id v = gb.input(name, dtype::f32, sh);
        std::vector<float> x(static_cast<size_t>(sh.elements()));
        for (float& e : x) e = r_.uniform(lo, hi) * 0.5f;
        put(v, x.data(), x.size() * sizeof(float));
        return v;
    }
    value_id i32(const std::string& name, shape sh, const std::vector<int32_t>& vals) {
        const value_id v = gb.input(name, dtype::i32, sh);
        put(v, vals.data(), vals.size() * sizeof(int32_t));
        return v;
    }
    value_id weight(const std::string& name, dtype t, shape sh) {
        std::vector<float> x(static_cast<size_t>(sh.elements()));
        for (size_t i = 0; i < x.size(); ++i)
            x[i] = r_.uniform(-1, 1) * 0.5f * (1.0f + static_cast<float>(i / 256 % 5));
        std::vector<uint8_t> bytes(row_bytes(t, sh.last()) * static_cast<size_t>(sh.rows()));
        const size_t rb = row_bytes(t, sh.last());
        for (int64_t r = 0; r < sh.rows(); ++r)
            (void)quantize_row(t, x.data() + r * sh.last(), bytes.data() + static_cast<size_t>(r) * rb, sh.last());
        weights_.push_back(std::move(bytes));
        const value_id v = gb.weight(name, t, sh, weights_.back().data());
        data_[v] = weights_.back();
        return v;
    }
    value_id state(const std::string& name, shape sh) {
        std::vector<float> x(static_cast<size_t>(sh.elements()));
        for (float& e : x) e = r_.uniform(-1, 1) * 0.5f;
        states_.push_back(std::vector<uint8_t>(x.size() * sizeof(float)));
        std::memcpy(states_.back().data(), x.data(), states_.back().size());
        const value_id v = gb.state(name, dtype::f32, sh, states_.back().data());
        data_[v] = states_.back();
        return v;
    }
    rng& r() { return r_; }

    test_case finish(const std::string& op, const std::string& desc, value_id out, double tol, const char* why,
                     int64_t n_past = 0) {
        gb.mark_output(out);
        test_case c;
        c.op = op, c.desc = desc, c.tol = tol, c.why = why, c.n_past = n_past;
        result<graph> g = gb.finish();
        if (!g) {
            std::fprintf(stderr, "cannot build %s %s: %s\n", op.c_str(), desc.c_str(), g.error().to_string().c_str());
            return c;
        }
        c.g = std::move(*g);
        c.data = std::move(data_);
        return c;
    }

private:
    void put(value_id v, const void* p, size_t n) {
        std::vector<uint8_t>& b = data_[v];
        b.resize(n);
        std::memcpy(b.data(), p, n);
    }
    rng r_;
    std::map<value_id, std::vector<uint8_t>> data_;
    std::vector<std::vector<uint8_t>> weights_, states_;  // graph_builder keeps pointers; data_ keeps the bytes
};

const char* tname(dtype t) { return dtype_name(t); }

// ---- the cases -----------------------------------------------------------------------------------------------------

const dtype weight_types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::q4_0, dtype::q8_0, dtype::q4_k, dtype::q6_k};

// Expert ids with uneven loads: a quarter of the slots go to expert 0, the rest spread over a few experts, many
// experts get nothing; no expert twice in one token.
std::vector<int32_t> uneven_ids(rng& r, int64_t T, int64_t U, int64_t E) {
    std::vector<int32_t> ids(static_cast<size_t>(T * U));
    const int64_t hot = std::max<int64_t>(U + 1, E / 4);
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t j = 0; j < U; ++j) {
            int32_t e;
            bool dup;
            do {
                e = (j == 0 && t % 4 != 3) ? 0 : r.below(static_cast<int32_t>(hot));
                if (j == 0 && t % 4 == 3) e = static_cast<int32_t>(E - 1);
                dup = false;
                for (int64_t q = 0; q < j; ++q) dup |= ids[static_cast<size_t>(t * U + q)] == e;
            } while (dup);
            ids[static_cast<size_t>(t * U + j)] = e;
        }
    }
    return ids;
}

std::vector<test_case> make_cases() {
    std::vector<test_case> cs;
    uint64_t seed = 1;
    auto S = [](std::initializer_list<int64_t> d) { return shape(d); };

    // weight products and embedding lookup, every supported weight type
    for (dtype t : weight_types) {
        for (int64_t T : {1, 37}) {
            case_builder b(seed++);
            value_id x = b.f32("x", S({T, 1024}), -2, 2);
            value_id w = b.weight("w", t, S({96, 1024}));
            cs.push_back(b.finish("MUL_MAT", "T=" + std::to_string(T) + " k=1024 n=96 " + tname(t), b.gb.mul_mat(x, w),
                                  tol_matmul, "block sums in another order"));
        }
        {
            case_builder b(seed++);
            value_id w = b.weight("embd", t, S({300, 512}));
            std::vector<int32_t> ids = {0, 299, 7, 7, 150};
            value_id i = b.i32("ids", S({5}), ids);
            cs.push_back(b.finish("GET_ROWS", "V=300 d=512 T=5 " + std::string(tname(t)), b.gb.get_rows(w, i),
                                  tol_exact, "dequantization is bit-exact"));
        }
        {
            case_builder b(seed++);
            value_id x = b.f32("x", S({37, 16, 512}), -2, 2);
            value_id w = b.weight("wkb", t, S({16, 128, 512}));
            cs.push_back(b.finish("MUL_MAT_HEADS", "T=37 H=16 k=512 n=128 " + std::string(tname(t)),
                                  b.gb.mul_mat_heads(x, w), tol_matmul, "block sums in another order"));
        }
        // MoE expert products: (E, U) of Mixtral/gpt-oss-like (8, 2), OLMoE/Qwen3-like (64, 8), (128, 8)
        const int64_t EU[3][2] = {{8, 2}, {64, 8}, {128, 8}};
        for (const auto& eu : EU) {
            for (int64_t T : {1, 37}) {
                for (int64_t shared : {1, 0}) {
                    if (eu[0] != 8 && !shared) continue;  // the per-slot input (down projection) once is enough
                    case_builder b(seed++);
                    const int64_t E = eu[0], U = eu[1], k = 512, n = 64;
                    value_id x = b.f32("x", S({T, shared ? 1 : U, k}), -2, 2);
                    value_id w = b.weight("exps", t, S({E, n, k}));
                    value_id ids = b.i32("ids", S({T, U}), uneven_ids(b.r(), T, U, E));
                    cs.push_back(b.finish("MUL_MAT_ID",
                                          "E=" + std::to_string(E) + " U=" + std::to_string(U) + " T=" +
                                              std::to_string(T) + (shared ? " shared x " : " per-slot x ") + tname(t),
                                          b.gb.mul_mat_id(x, w, ids), tol_matmul, "block sums in another order"));
                }
            }
        }
    }

    // element-wise and row ops at model widths
    for (int64_t T : {1, 37}) {
        const std::string tt = "T=" + std::to_string(T);
        {
            case_builder b(seed++);
            value_id x = b.f32("x", S({T, 2048}), -4, 4);
            value_id w = b.weight("norm", dtype::f32, S({2048}));
            cs.push_back(
                b.finish("RMS_NORM", tt + " d=2048", b.gb.rms_norm(x, w, 1e-6f), tol_reduce, "double sum order"));
        }
        {
            case_builder b(seed++);
            value_id x = b.f32("x", S({T, 16, 128}), -4, 4);
            value_id w = b.weight("qnorm", dtype::f32, S({128}));
            cs.push_back(b.finish("RMS_NORM", tt + " per head 16x128", b.gb.rms_norm(x, w, 1e-6f), tol_reduce,
                                  "double sum order"));
        }
        const char* bin[3] = {"ADD", "MUL", "DIV"};
        for (int k = 0; k < 3; ++k) {
            for (int mode = 0; mode < 3; ++mode) {
                case_builder b(seed++);
                value_id a = b.f32("a", S({T, 2048}), -3, 3);
                value_id c = mode == 0 ? b.f32("b", S({T, 2048}), 0.5f, 3) : mode == 1 ? b.f32("b", S({T, 1}), 0.5f, 3)
                                                                                   : b.f32("b", S({2048}), 0.5f, 3);
                value_id o = k == 0 ? b.gb.add(a, c) : k == 1 ? b.gb.mul(a, c) : b.gb.div(a, c);
                const char* m = mode == 0 ? " same shape" : mode == 1 ? " per row" : " row broadcast";
                cs.push_back(b.finish(bin[k], tt + m, o, tol_exact, "same IEEE operation"));
            }
        }
        {
            case_builder b(seed++);
            value_id x = b.f32("x", S({T, 2048}), -3, 3);
            cs.push_back(b.finish("SCALE", tt, b.gb.scale(x, 0.125f), tol_exact, "one multiplication"));
        }
        {
            case_builder b(seed++);
            value_id x = b.f32("x", S({T, 1408}), -12, 12);
            cs.push_back(b.finish("SILU", tt, b.gb.silu(x), tol_transc, "expf ulps"));
        }
        {
            case_builder b(seed++);
            value_id x = b.f32("x", S({T, 128}), -12, 12);
            cs.push_back(b.finish("SIGMOID", tt + " router 128", b.gb.sigmoid(x), tol_transc, "expf ulps"));
        }
        {
            case_builder b(seed++);
            value_id g = b.f32("g", S({T, 8, 768}), -12, 12), u = b.f32("u", S({T, 8, 768}), -6, 6);
            cs.push_back(b.finish("SWIGLU", tt + " 8x768", b.gb.swiglu(g, u), tol_transc, "expf ulps"));
        }
        {
            case_builder b(seed++);
            value_id g = b.f32("g", S({T, 4, 2880}), -12, 12), u = b.f32("u", S({T, 4, 2880}), -12, 12);
            cs.push_back(b.finish("SWIGLU_OAI", tt + " gpt-oss 4x2880", b.gb.swiglu_oai(g, u, 1.702f, 7.0f), tol_transc,
                                  "expf ulps"));
        }
        for (int64_t E : {8, 64, 128}) {
            const std::string te = tt + " E=" + std::to_string(E);
            {
                case_builder b(seed++);
                value_id x = b.f32("x", S({T, E}), -8, 8);
                cs.push_back(b.finish("SOFTMAX", te, b.gb.softmax(x), tol_transc, "expf ulps, double sum order"));
            }
            const int64_t k = E == 8 ? 2 : 8;
            {
                case_builder b(seed++);
                value_id x = b.f32("x", S({T, E}), -8, 8);
                cs.push_back(b.finish("TOP_K", te + " k=" + std::to_string(k), b.gb.top_k(x, k), tol_exact,
                                      "same insertion order"));
            }
            {
                case_builder b(seed++);
                value_id x = b.f32("x", S({T, E}), 0, 1);
                std::vector<int32_t> ids = uneven_ids(b.r(), T, k, E);
                value_id i = b.i32("ids", S({T, k}), ids);
                cs.push_back(b.finish("GATHER_COLS", te, b.gb.gather_cols(x, i), tol_exact, "a copy"));
            }
            {
                case_builder b(seed++);
                value_id x = b.f32("x", S({T, k}), 0.01f, 1);
                cs.push_back(b.finish("NORMALIZE_SUM", te, b.gb.normalize_sum(x), tol_exact, "same order"));
            }
            if (E >= 64) {
                case_builder b(seed++);
                value_id x = b.f32("x", S({T, E}), -3, 3);
                cs.push_back(b.finish("EXPERT_GROUP_MASK", te + " 8 groups, 4 kept", b.gb.expert_group_mask(x, 8, 4),
                                      tol_exact, "same selection"));
            }
            {
                case_builder b(seed++);
                value_id y = b.f32("y", S({T, k, 2048}), -3, 3), w = b.f32("w", S({T, k}), 0, 1);
                cs.push_back(
                    b.finish("WEIGHTED_SUM", te + " d=2048", b.gb.weighted_sum(y, w), tol_exact, "same order"));
            }
        }
        {
            case_builder b(seed++);
            const int64_t E = 32, U = 4, N = 2880;
            value_id x = b.f32("x", S({T, U, N}), -3, 3), bias = b.weight("bias", dtype::f32, S({E, N}));
            value_id ids = b.i32("ids", S({T, U}), uneven_ids(b.r(), T, U, E));
            cs.push_back(
                b.finish("ADD_ID", tt + " gpt-oss E=32 U=4", b.gb.add_id(x, bias, ids), tol_exact, "one addition"));
        }
        for (int64_t D : {64, 128}) {
            for (int mode = 0; mode < 2; ++mode) {
                case_builder b(seed++);
                value_id x = b.f32("x", S({T, 8, D}), -2, 2);
                std::vector<int32_t> pos(static_cast<size_t>(T));
                for (int64_t t = 0; t < T; ++t)
                    pos[static_cast<size_t>(t)] = static_cast<int32_t>(T == 1 ? 4095 : 100 + t);
                value_id p = b.i32("pos", S({T}), pos);
                const rope_mode rm = mode ? rope_mode::neox : rope_mode::norm;
                cs.push_back(b.finish("ROPE", tt + " D=" + std::to_string(D) + (mode ? " neox" : " norm"),
                                      b.gb.rope(x, p, D, rm, 1000000.0f, 1.0f), tol_rope, "cosf/sinf ulps"));
                case_builder y(seed++);
                value_id xy = y.f32("x", S({T, 8, D}), -2, 2);
                value_id py = y.i32("pos", S({T}), pos);
                rope_yarn_params yp;
                yp.ext_factor = 1.0f, yp.attn_factor = 1.0f, yp.corr_low = 8, yp.corr_high = 24;
                cs.push_back(y.finish("ROPE_YARN", tt + " D=" + std::to_string(D) + (mode ? " neox" : " norm"),
                                      y.gb.rope_yarn(xy, py, D, rm, 150000.0f, 1.0f / 32, yp), tol_rope,
                                      "cosf/sinf ulps"));
            }
        }
        {  // MLA's split and join
            case_builder b(seed++);
            value_id x = b.f32("x", S({T, 576}));
            cs.push_back(b.finish("COLS", tt + " 576 -> [512, 64)", b.gb.cols(x, 512, 64), tol_exact, "a copy"));
            case_builder c(seed++);
            value_id a = c.f32("a", S({T, 16, 128})), r = c.f32("r", S({T, 1, 64}));
            cs.push_back(c.finish("CONCAT", tt + " [T,16,128]+[T,1,64]", c.gb.concat(a, r), tol_exact, "a copy"));
            case_builder e(seed++);
            value_id a2 = e.f32("a", S({T, 16, 128})), r2 = e.f32("r", S({T, 16, 64}));
            cs.push_back(e.finish("CONCAT", tt + " same rows", e.gb.concat(a2, r2), tol_exact, "a copy"));
        }
    }

    // attention: GQA (Hq 8 / 32, Hkv 2 / 8), head dims 64 and 128, decode and prompt, empty and filled caches
    const int64_t C = 256;
    for (int64_t D : {64, 128}) {
        for (int64_t T : {1, 37}) {
            for (int64_t n_past : {0, 50}) {
                if (T == 1 && n_past == 0) continue;
                for (int ext = 0; ext < 2; ++ext) {
                    case_builder b(seed++);
                    const int64_t Hq = D == 64 ? 8 : 32, Hkv = D == 64 ? 2 : 8;
                    value_id q = b.f32("q", S({T, Hq, D}), -2, 2), k = b.f32("k", S({T, Hkv, D}), -2, 2);
                    value_id v = b.f32("v", S({T, Hkv, D}), -2, 2);
                    value_id kc = b.state("kc", S({C, Hkv, D})), vc = b.state("vc", S({C, Hkv, D}));
                    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
                    value_id o = ext ? b.gb.attention_ext(q, k, v, kc, vc, no_value, scale, 16)
                                     : b.gb.attention(q, k, v, kc, vc, scale);
                    cs.push_back(b.finish(ext ? "ATTENTION_EXT" : "ATTENTION",
                                          "D=" + std::to_string(D) + " Hq=" + std::to_string(Hq) + " Hkv=" +
                                              std::to_string(Hkv) + " T=" + std::to_string(T) + " n_past=" +
                                              std::to_string(n_past) + (ext ? " window 16" : ""),
                                          o, tol_attention, "dot order, expf", n_past));
                }
            }
        }
    }
    // MLA (DeepSeek-V2/V3): latent 512 + rope 64, values the first 512 columns; H 16; one and several sequences
    for (int64_t T : {1, 37}) {
        for (int64_t n_past : {0, 40}) {
            if (T == 1 && n_past == 0) continue;
            case_builder b(seed++);
            const int64_t H = 16, D = 576;
            value_id q = b.f32("q", S({T, H, D}), -1, 1), kv = b.f32("kv", S({T, 1, D}), -1, 1);
            value_id cache = b.state("cache", S({C, 1, D}));
            cs.push_back(b.finish("ATTENTION_MLA", "H=16 D=576 Dv=512 T=" + std::to_string(T) + " n_past=" +
                                                       std::to_string(n_past),
                                  b.gb.attention_mla(q, kv, cache, 512, 0.1352f, no_value, no_value), tol_attention,
                                  "dot order, expf", n_past));
        }
    }
    {
        case_builder b(seed++);
        const int64_t T = 7, H = 16, D = 576, Sq = 3;
        value_id q = b.f32("q", S({T, H, D}), -1, 1), kv = b.f32("kv", S({T, 1, D}), -1, 1);
        value_id cache = b.state("cache", S({Sq, C, 1, D}));
        value_id pos = b.i32("pos", S({T}), {30, 31, 0, 1, 2, 99, 100});
        value_id sq = b.i32("seq", S({T}), {0, 0, 1, 1, 1, 2, 2});
        cs.push_back(b.finish("ATTENTION_MLA", "3 sequences, T=7, H=16 D=576",
                              b.gb.attention_mla(q, kv, cache, 512, 0.1352f, pos, sq), tol_attention,
                              "dot order, expf"));
    }
    return cs;
}

// ---- running and comparing ------------------------------------------------------------------------------------------

struct run_result {
    status st;
    std::vector<uint8_t> out;
    std::map<value_id, std::vector<uint8_t>> states;
};

run_result run_on(backend& b, const test_case& c) {
    run_result r;
    const node& n = c.g.nodes.back();
    tensor_view in[max_inputs];
    for (int j = 0; j < n.n_in; ++j) {
        const value_id id = n.in[static_cast<size_t>(j)];
        const value& v = c.g.val(id);
        in[j].type = v.type, in[j].sh = v.sh;
        if (v.kind == value_kind::state) {
            r.states[id] = c.data.at(id);
            in[j].data = r.states[id].data();
        } else {
            in[j].data = const_cast<uint8_t*>(c.data.at(id).data());
        }
    }
    const value& o = c.g.val(n.out);
    r.out.assign(o.bytes(), 0);
    tensor_view out;
    out.type = o.type, out.sh = o.sh, out.data = r.out.data();
    run_args a;
    a.n_past = c.n_past;
    r.st = b.run_node(c.g, n, out, in, a);
    return r;
}

// max |a - b| / max |b| (infinities must match exactly); -1 when the outputs differ in kind (NaN, inf, sizes).
double compare(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, dtype t) {
    if (got.size() != want.size()) return -1;
    if (t == dtype::i32) return std::memcmp(got.data(), want.data(), got.size()) == 0 ? 0.0 : -1;
    const float* a = reinterpret_cast<const float*>(got.data());
    const float* b = reinterpret_cast<const float*>(want.data());
    const size_t n = got.size() / sizeof(float);
    double diff = 0, mag = 0;
    for (size_t i = 0; i < n; ++i) {
        if (std::isnan(a[i]) || std::isnan(b[i]) || std::isinf(a[i]) || std::isinf(b[i])) {
            if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && !(std::isnan(a[i]) && std::isnan(b[i]))) return -1;
            continue;
        }
        diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
        mag = std::max(mag, std::fabs(static_cast<double>(b[i])));
    }
    return mag > 0 ? diff / mag : diff;
}

// The module's own supports() for a case, through its C table (instance unused by this module's supports()).
bool module_supports(const moe_backend_module_v1* t, const test_case& c) {
    const node& n = c.g.nodes.back();
    moe_backend_node m;
    std::memset(&m, 0, sizeof m);
    static const std::map<op, int32_t> ops = {
        {op::get_rows, MOE_BACKEND_OP_GET_ROWS}, {op::rms_norm, MOE_BACKEND_OP_RMS_NORM},
        {op::mul_mat, MOE_BACKEND_OP_MUL_MAT}, {op::mul_mat_id, MOE_BACKEND_OP_MUL_MAT_ID},
        {op::add, MOE_BACKEND_OP_ADD}, {op::mul, MOE_BACKEND_OP_MUL}, {op::div, MOE_BACKEND_OP_DIV},
        {op::scale, MOE_BACKEND_OP_SCALE}, {op::silu, MOE_BACKEND_OP_SILU}, {op::sigmoid, MOE_BACKEND_OP_SIGMOID},
        {op::swiglu, MOE_BACKEND_OP_SWIGLU}, {op::swiglu_oai, MOE_BACKEND_OP_SWIGLU_OAI},
        {op::softmax, MOE_BACKEND_OP_SOFTMAX}, {op::top_k, MOE_BACKEND_OP_TOP_K},
        {op::gather_cols, MOE_BACKEND_OP_GATHER_COLS}, {op::normalize_sum, MOE_BACKEND_OP_NORMALIZE_SUM},
        {op::weighted_sum, MOE_BACKEND_OP_WEIGHTED_SUM}, {op::add_id, MOE_BACKEND_OP_ADD_ID},
        {op::expert_group_mask, MOE_BACKEND_OP_EXPERT_GROUP_MASK}, {op::rope, MOE_BACKEND_OP_ROPE},
        {op::rope_yarn, MOE_BACKEND_OP_ROPE_YARN}, {op::attention, MOE_BACKEND_OP_ATTENTION},
        {op::attention_ext, MOE_BACKEND_OP_ATTENTION_EXT}, {op::attention_mla, MOE_BACKEND_OP_ATTENTION_MLA},
        {op::cols, MOE_BACKEND_OP_COLS}, {op::concat, MOE_BACKEND_OP_CONCAT},
        {op::mul_mat_heads, MOE_BACKEND_OP_MUL_MAT_HEADS}};
    auto it = ops.find(n.kind);
    if (it == ops.end() || n.n_in > MOE_BACKEND_MAX_INPUTS) return false;
    m.op = it->second;
    m.n_inputs = n.n_in;
    auto conv = [](const value& v, moe_backend_tensor& bt) {
        bt.type = static_cast<uint32_t>(v.type);
        bt.rank = v.sh.rank;
        for (int k = 0; k < MOE_BACKEND_MAX_DIMS; ++k) bt.dims[k] = k < v.sh.rank ? v.sh[k] : 1;
    };
    conv(c.g.val(n.out), m.output);
    for (int j = 0; j < n.n_in; ++j) conv(c.g.val(n.in[static_cast<size_t>(j)]), m.inputs[j]);
    for (int k = 0; k < 4; ++k) m.f[k] = n.f[static_cast<size_t>(k)], m.i[k] = n.i[static_cast<size_t>(k)];
    return t->supports(nullptr, &m) == 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string module = MOE_CUDA_MODULE, filter;
    bool cpu_vs_cpu = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--module" && i + 1 < argc) module = argv[++i];
        else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
        else if (a == "--cpu-vs-cpu") cpu_vs_cpu = true;
        else {
            std::fprintf(stderr, "usage: %s [--module PATH] [--cpu-vs-cpu] [--filter OP]\n", argv[0]);
            return 2;
        }
    }
    void* dl = dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        std::fprintf(stderr, "cannot load %s: %s\n", module.c_str(), dlerror());
        return 1;
    }
    void* sym = dlsym(dl, MOE_BACKEND_ENTRY_SYMBOL);
    moe_backend_module_get_fn get = nullptr;
    if (sym) std::memcpy(&get, &sym, sizeof get);
    const moe_backend_module_v1* table = get ? get() : nullptr;
    if (!table) {
        std::fprintf(stderr, "%s is not a backend module\n", module.c_str());
        return 1;
    }

    std::unique_ptr<backend> device;
    backend_registry reg;
    if (cpu_vs_cpu) {
        device.reset(new cpu_backend(2));
        std::printf("harness check: a second CPU backend stands in for the device (all errors must be 0)\n");
    } else {
        const status s = reg.load_module(module);
        if (!s.ok()) {
            std::printf("CUDA op tests SKIPPED: %s\n", s.message().c_str());
            return 77;
        }
        result<std::unique_ptr<backend>> b = reg.create("cuda", 1);
        if (!b) {
            std::printf("the CUDA module reports a device but cannot create an instance: %s\n",
                        b.error().to_string().c_str());
            return 1;
        }
        device = std::move(*b);
    }
    cpu_backend cpu(2);

    const std::vector<test_case> cases = make_cases();
    int failed = 0, run = 0;
    std::printf("%-18s %-44s %12s %10s  %s\n", "op", "case", "max rel err", "tolerance", "result");
    for (const test_case& c : cases) {
        if (!filter.empty() && c.op != filter) continue;
        std::string verdict;
        double err = 0;
        if (c.g.nodes.empty()) {
            verdict = "FAIL (case did not build)";
        } else if (!module_supports(table, c)) {
            verdict = "FAIL (the CUDA module's supports() refuses it)";
        } else {
            const run_result want = run_on(cpu, c), got = run_on(*device, c);
            if (!want.st.ok()) verdict = "FAIL (cpu: " + want.st.to_string() + ")";
            else if (!got.st.ok()) verdict = "FAIL (device: " + got.st.to_string() + ")";
            else {
                err = compare(got.out, want.out, c.g.val(c.g.nodes.back().out).type);
                bool ok = err >= 0 && err <= c.tol;
                for (const auto& s : want.states)
                    if (got.states.at(s.first) != s.second) ok = false, verdict = "FAIL (KV cache rows differ)";
                if (verdict.empty()) verdict = ok ? "ok" : (err < 0 ? "FAIL (NaN/inf/size mismatch)" : "FAIL");
            }
        }
        ++run;
        if (verdict != "ok") ++failed;
        std::printf("%-18s %-44s %12.3g %10.1g  %s (%s)\n", c.op.c_str(), c.desc.c_str(), err, c.tol, verdict.c_str(),
                    c.why);
    }
    std::printf("%d cases, %d failed\n", run, failed);
    device.reset();
    return failed ? 1 : 0;
}
