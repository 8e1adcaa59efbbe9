// test_fuse_glu.cpp — plan/fuse_glu.cpp and the CPU's mul_mat_glu: gate/up products + swiglu become one node where
// the CPU runs them, give the three ops' bits (expert and dense, file and packed layouts, 1 and 2 threads), and stay
// three nodes when the pattern is broken or the backend that would run them lacks the fused op.
#include "backends/cpu/weight_packing.hpp"
#include "plan/fuse_glu.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace moe;

namespace {

int count_ops(const graph& g, op kind) {
    int c = 0;
    for (const node& n : g.nodes) c += n.kind == kind;
    return c;
}

// Gate and up weights [E, n, k] (E = 0: dense [n, k]) in type t, packed as the CPU prefers when `pack`.
struct glu_weights {
    std::vector<uint8_t> gate, up, gate_packed, up_packed;
    packing layout = packing::none;
    glu_weights(moe_test::rng& rnd, dtype t, int64_t E, int64_t n, int64_t k, bool pack) {
        const int64_t rows = (E ? E : 1) * n;
        gate = moe_test::encode_rows(t, rnd.floats(static_cast<size_t>(rows * k)), rows, k);
        up = moe_test::encode_rows(t, rnd.floats(static_cast<size_t>(rows * k)), rows, k);
        const int64_t ne[3] = {k, n, E ? E : 1};
        const uint32_t dims = E ? 3 : 2;
        layout = pack ? cpu::preferred_packing(t, ne, dims) : packing::none;
        if (layout == packing::none) return;
        gate_packed.resize(gate.size()), up_packed.resize(up.size());
        const int64_t units = cpu::pack_units(layout, ne, dims);
        cpu::pack_tensor_units(layout, ne, gate.data(), gate_packed.data(), 0, units);
        cpu::pack_tensor_units(layout, ne, up.data(), up_packed.data(), 0, units);
    }
};

// swiglu(x gate^T, x up^T) with ids (E > 0) or dense; keep_gate marks the gate product an output (no fusion).
std::vector<float> run_glu(const glu_weights& w, dtype t, int64_t E, int64_t n, int64_t k, const std::vector<float>& x,
                           int64_t T, const std::vector<int32_t>& ids, int64_t U, int nt, bool keep_gate, int& fused) {
    graph_builder gb;
    const shape wsh = E ? shape{E, n, k} : shape{n, k};
    const void* gp = w.layout != packing::none ? w.gate_packed.data() : nullptr;
    const void* up = w.layout != packing::none ? w.up_packed.data() : nullptr;
    const value_id xi = gb.input("x", dtype::f32, E ? shape{T, 1, k} : shape{T, k});
    const value_id gi = gb.weight("gate", t, wsh, w.gate.data(), gp, w.layout);
    const value_id ui = gb.weight("up", t, wsh, w.up.data(), up, w.layout);
    const value_id ii = E ? gb.input("ids", dtype::i32, {T, U}) : no_value;
    const value_id g = E ? gb.mul_mat_id(xi, gi, ii) : gb.mul_mat(xi, gi);
    const value_id u = E ? gb.mul_mat_id(xi, ui, ii) : gb.mul_mat(xi, ui);
    const value_id out = gb.swiglu(g, u);
    gb.mark_output(out);
    if (keep_gate) gb.mark_output(g);
    moe_test::bound b = moe_test::bind(gb, nt);
    fused = count_ops(b.ex->g(), op::mul_mat_glu);
    b.set(xi, x);
    if (E) b.set(ii, ids);
    REQUIRE(b.run().ok());
    return b.get<float>(out);
}

// Claims the products and swiglu, not mul_mat_glu (as a backend module would); never runs anything.
class products_backend final : public backend {
public:
    const char* name() const noexcept override { return "products"; }
    bool host_memory() const noexcept override { return true; }
    bool supports(const graph&, const node& n) const override {
        return n.kind == op::mul_mat_id || n.kind == op::mul_mat || n.kind == op::swiglu;
    }
    result<void*> alloc(size_t) override { return status(errc::unsupported, "products"); }
    void free(void*) noexcept override {}
    status run_node(const graph&, const node&, const tensor_view&, const tensor_view*, const run_args&) override {
        return status(errc::unsupported, "products");
    }
};

}  // namespace

TEST_CASE("fuse_glu: gate, up and swiglu become one node with the three ops' bits") {
    int nt = 1;
    SUBCASE("1 thread") { nt = 1; }
    SUBCASE("2 threads") { nt = 2; }
    CAPTURE(nt);
    const int64_t E = 5, n = 48, k = 256, U = 2;
    for (dtype t : {dtype::f32, dtype::f16, dtype::bf16, dtype::q8_0, dtype::q4_0, dtype::q4_k}) {
        for (bool pack : {false, true}) {
            for (int64_t T : {int64_t(1), int64_t(3), int64_t(70)}) {  // decode, a short and a long prompt
                for (int64_t experts : {E, int64_t(0)}) {
                    CAPTURE(dtype_name(t));
                    CAPTURE(pack);
                    CAPTURE(T);
                    CAPTURE(experts);
                    moe_test::rng rnd(static_cast<uint64_t>(t) * 31 + static_cast<uint64_t>(T));
                    const glu_weights w(rnd, t, experts, n, k, pack);
                    const std::vector<float> x = rnd.floats(static_cast<size_t>(T * k), -2, 2);
                    std::vector<int32_t> ids(static_cast<size_t>(T * U));
                    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 3 + i / 5) % 4);
                    int fused = 0, unfused = 0;
                    const std::vector<float> want = run_glu(w, t, experts, n, k, x, T, ids, U, nt, true, unfused);
                    const std::vector<float> got = run_glu(w, t, experts, n, k, x, T, ids, U, nt, false, fused);
                    CHECK(unfused == 0);
                    // dense q4_k prompts of 4+ rows keep mul_mat (llama.cpp's GEMM order lives there)
                    CHECK(fused == (t == dtype::q4_k && !experts && T >= 4 ? 0 : 1));
                    REQUIRE(got.size() == want.size());
                    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
                }
            }
        }
    }
}

TEST_CASE("fuse_glu: the pattern must be whole, and the placing backend must run the fused op") {
    const int64_t n = 16, k = 64, T = 2;
    std::vector<float> wg(static_cast<size_t>(n * k), 0.25f), wu(static_cast<size_t>(n * k), -0.5f);
    std::vector<float> wo(static_cast<size_t>(n * k), 1.0f);
    graph_builder gb;
    const value_id x = gb.input("x", dtype::f32, {T, k});
    const value_id x2 = gb.input("x2", dtype::f32, {T, k});
    const value_id gi = gb.weight("gate", dtype::f32, {n, k}, wg.data());
    const value_id ui = gb.weight("up", dtype::f32, {n, k}, wu.data());
    const value_id oi = gb.weight("other", dtype::f16, {n, k}, wo.data());  // f16 bytes: only the type matters here
    const value_id whole = gb.swiglu(gb.mul_mat(x, gi), gb.mul_mat(x, ui));         // fuses
    const value_id two_inputs = gb.swiglu(gb.mul_mat(x, gi), gb.mul_mat(x2, ui));   // different activations
    const value_id two_types = gb.swiglu(gb.mul_mat(x, gi), gb.mul_mat(x, oi));     // gate f32, up f16
    const value_id shared_gate = gb.mul_mat(x, gi);
    const value_id reused = gb.swiglu(shared_gate, gb.mul_mat(x, ui));              // the gate feeds an add too
    const value_id sum = gb.add(shared_gate, reused);
    for (value_id v : {whole, two_inputs, two_types, sum}) gb.mark_output(v);
    result<graph> g = gb.finish();
    REQUIRE(g.ok());
    graph g_cpu = *g;
    cpu_backend cpu(1);
    std::vector<backend*> cpu_only = {&cpu};
    CHECK(fuse_glu(g_cpu, cpu_only) == 1);
    CHECK(count_ops(g_cpu, op::mul_mat_glu) == 1);
    CHECK(count_ops(g_cpu, op::mul_mat) == 6);
    for (size_t k2 = 0; k2 < g_cpu.nodes.size(); ++k2)  // producers renumbered with the node list
        CHECK(g_cpu.val(g_cpu.nodes[k2].out).producer == static_cast<int32_t>(k2));

    products_backend front;
    std::vector<backend*> with_front = {&front, &cpu};
    graph g_front = *g;
    CHECK(fuse_glu(g_front, with_front) == 0);
    CHECK(g_front.nodes.size() == g->nodes.size());
}
