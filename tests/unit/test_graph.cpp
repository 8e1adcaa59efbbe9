// test_graph.cpp — checks src/graph: shape/dtype inference of graph_builder for every op, rejection of bad shapes
// with errc::shape_mismatch, the sticky first error, and graph::dump(). The planner and executor consume these graphs.
#include "graph/ir.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace moe;

namespace {

// Any non-null pointer will do: the builder never reads weight or state bytes.
float dummy[16];

// Expects the builder to hold a shape_mismatch whose message contains `needle`, and finish() to return it.
void expect_rejected(graph_builder& gb, const std::string& needle) {
    CHECK_FALSE(gb.ok());
    result<graph> g = gb.finish();
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().code() == errc::shape_mismatch);
    CHECK_MESSAGE(g.error().message().find(needle) != std::string::npos, g.error().message());
}

}  // namespace

TEST_CASE("graph: shape helpers") {
    shape s{2, 3, 5};
    CHECK(s.rank == 3);
    CHECK(s.last() == 5);
    CHECK(s.rows() == 6);
    CHECK(s.elements() == 30);
    CHECK(s.to_string() == "[2, 3, 5]");
    CHECK(s == shape{2, 3, 5});
    CHECK(s != shape{2, 3, 4});
    CHECK(s != shape{6, 5});
    CHECK(shape{7}.rows() == 1);
}

TEST_CASE("graph: builder infers output shapes and types for every op") {
    graph_builder gb;
    const int64_t T = 3, d = 64, V = 10, n = 8, E = 4, u = 2, H = 4, Hkv = 2, D = 16, Dv = 12, C = 32;
    value_id ids = gb.input("ids", dtype::i32, {T});
    value_id pos = gb.input("pos", dtype::i32, {T});
    value_id x = gb.input("x", dtype::f32, {T, d});
    value_id emb = gb.weight("emb", dtype::q4_0, {V, d}, dummy);
    value_id nw = gb.weight("norm", dtype::f32, {d}, dummy);
    value_id w = gb.weight("w", dtype::q8_0, {n, d}, dummy);
    value_id we = gb.weight("experts", dtype::q4_0, {E, n, d}, dummy);
    value_id kc = gb.state("kc", dtype::f32, {C, Hkv, D}, dummy);
    value_id vc = gb.state("vc", dtype::f32, {C, Hkv, Dv}, dummy);
    REQUIRE(gb.ok());
    CHECK(gb.val(emb).kind == value_kind::weight);
    CHECK(gb.val(emb).external == dummy);
    CHECK(gb.val(kc).kind == value_kind::state);
    CHECK(gb.val(x).kind == value_kind::input);
    CHECK(gb.val(x).producer == -1);

    auto expect = [&](value_id id, dtype t, shape sh) {
        REQUIRE(id != no_value);
        CHECK(gb.val(id).type == t);
        CHECK_MESSAGE(gb.val(id).sh == sh, gb.val(id).sh.to_string() << " vs " << sh.to_string());
        CHECK(gb.val(id).kind == value_kind::intermediate);
    };

    value_id rows = gb.get_rows(emb, ids);
    expect(rows, dtype::f32, {T, d});
    value_id nrm = gb.rms_norm(x, nw, 1e-5f);
    expect(nrm, dtype::f32, {T, d});
    value_id mm = gb.mul_mat(nrm, w);
    expect(mm, dtype::f32, {T, n});
    value_id x3 = gb.input("x3", dtype::f32, {2, T, d});
    expect(gb.mul_mat(x3, w), dtype::f32, {2, T, n});
    value_id eids = gb.input("eids", dtype::i32, {T, u});
    value_id xs = gb.reshape(x, {T, 1, d});
    expect(xs, dtype::f32, {T, 1, d});
    expect(gb.mul_mat_id(xs, we, eids), dtype::f32, {T, u, n});
    value_id xu = gb.input("xu", dtype::f32, {T, u, d});
    value_id mmid = gb.mul_mat_id(xu, we, eids);
    expect(mmid, dtype::f32, {T, u, n});
    expect(gb.add(x, nrm), dtype::f32, {T, d});
    expect(gb.add(x, nw), dtype::f32, {T, d});  // broadcast of [d]
    expect(gb.mul(x, nw), dtype::f32, {T, d});
    expect(gb.mul(x3, nw), dtype::f32, {2, T, d});
    expect(gb.scale(x, 0.5f), dtype::f32, {T, d});
    expect(gb.swiglu(x, nrm), dtype::f32, {T, d});
    value_id sm = gb.softmax(mm);
    expect(sm, dtype::f32, {T, n});
    value_id tk = gb.top_k(sm, 3);
    expect(tk, dtype::i32, {T, 3});
    value_id gc = gb.gather_cols(sm, tk);
    expect(gc, dtype::f32, {T, 3});
    expect(gb.normalize_sum(gc), dtype::f32, {T, 3});
    value_id wts = gb.input("wts", dtype::f32, {T, u});
    expect(gb.weighted_sum(mmid, wts), dtype::f32, {T, n});
    value_id q = gb.input("q", dtype::f32, {T, H, D});
    value_id k = gb.input("k", dtype::f32, {T, Hkv, D});
    value_id v = gb.input("v", dtype::f32, {T, Hkv, Dv});
    value_id qr = gb.rope(q, pos, 8, rope_mode::neox, 10000.0f, 0.5f);
    expect(qr, dtype::f32, {T, H, D});
    value_id att = gb.attention(qr, k, v, kc, vc, 0.25f);
    expect(att, dtype::f32, {T, H * Dv});
    value_id rs = gb.reshape(att, {T * H, Dv});
    expect(rs, dtype::f32, {T * H, Dv});
    value_id sl = gb.rows(rs, 2, 5);
    expect(sl, dtype::f32, {5, Dv});
    gb.mark_output(sl);
    gb.mark_output(mm);
    REQUIRE(gb.ok());

    result<graph> g = gb.finish();
    REQUIRE(g.ok());
    const graph& G = *g;
    // parameters land in the node
    auto node_of = [&](value_id id) -> const node& { return G.nodes[static_cast<size_t>(G.val(id).producer)]; };
    CHECK(node_of(nrm).kind == op::rms_norm);
    CHECK(node_of(nrm).f[0] == 1e-5f);
    CHECK(node_of(tk).kind == op::top_k);
    CHECK(node_of(tk).i[0] == 3);
    CHECK(node_of(qr).i[0] == 8);
    CHECK(node_of(qr).i[1] == static_cast<int64_t>(rope_mode::neox));
    CHECK(node_of(qr).f[0] == 10000.0f);
    CHECK(node_of(qr).f[1] == 0.5f);
    CHECK(node_of(att).f[0] == 0.25f);
    CHECK(node_of(att).n_in == 5);
    CHECK(node_of(mmid).n_in == 3);
    CHECK(node_of(mmid).in[2] == eids);
    // views alias their input; rows() offsets by whole rows
    CHECK(node_of(rs).kind == op::view);
    CHECK(G.val(rs).alias_of == att);
    CHECK(G.val(rs).alias_offset == 0);
    CHECK(G.val(sl).alias_of == rs);
    CHECK(G.val(sl).alias_offset == 2 * Dv * sizeof(float));
    // outputs are recorded in order and flagged
    REQUIRE(G.outputs.size() == 2);
    CHECK(G.outputs[0] == sl);
    CHECK(G.outputs[1] == mm);
    CHECK(G.val(sl).is_output);
    CHECK_FALSE(G.val(nrm).is_output);
    // producers point back at their nodes
    for (size_t k2 = 0; k2 < G.nodes.size(); ++k2) CHECK(G.val(G.nodes[k2].out).producer == static_cast<int32_t>(k2));
    // value bytes follow the type's block layout
    CHECK(G.val(emb).bytes() == static_cast<size_t>(V) * 2 * 18);
    CHECK(G.val(x).bytes() == static_cast<size_t>(T * d) * 4);
    CHECK(G.val(tk).bytes() == static_cast<size_t>(T * 3) * 4);
}

TEST_CASE("graph: builder rejects bad shapes with shape_mismatch") {
    graph_builder gb;
    value_id x = gb.input("x", dtype::f32, {4, 64});
    REQUIRE(gb.ok());

    SUBCASE("mul_mat: k mismatch") {
        value_id w = gb.weight("wq", dtype::f32, {8, 32}, dummy);
        CHECK(gb.mul_mat(x, w) == no_value);
        expect_rejected(gb, "mul_mat");
    }
    SUBCASE("mul_mat: non-f32 activation") {
        value_id xi = gb.input("xi", dtype::i32, {4, 64});
        value_id w = gb.weight("wq", dtype::f32, {8, 64}, dummy);
        CHECK(gb.mul_mat(xi, w) == no_value);
        expect_rejected(gb, "mul_mat");
    }
    SUBCASE("mul_mat_id: token count mismatch") {
        value_id x3 = gb.input("x3", dtype::f32, {4, 1, 64});
        value_id we = gb.weight("we", dtype::f32, {3, 8, 64}, dummy);
        value_id ids = gb.input("ids", dtype::i32, {5, 2});
        CHECK(gb.mul_mat_id(x3, we, ids) == no_value);
        expect_rejected(gb, "mul_mat_id");
    }
    SUBCASE("mul_mat_id: per-slot input with the wrong slot count") {
        value_id x3 = gb.input("x3", dtype::f32, {4, 3, 64});
        value_id we = gb.weight("we", dtype::f32, {3, 8, 64}, dummy);
        value_id ids = gb.input("ids", dtype::i32, {4, 2});
        CHECK(gb.mul_mat_id(x3, we, ids) == no_value);
        expect_rejected(gb, "mul_mat_id");
    }
    SUBCASE("rms_norm: weight length") {
        value_id w = gb.weight("nw", dtype::f32, {63}, dummy);
        CHECK(gb.rms_norm(x, w, 1e-6f) == no_value);
        expect_rejected(gb, "rms_norm");
    }
    SUBCASE("add: shapes that do not broadcast") {
        value_id y = gb.input("y", dtype::f32, {64, 4});
        CHECK(gb.add(x, y) == no_value);
        expect_rejected(gb, "add");
    }
    SUBCASE("mul: broadcast over the wrong dim") {
        value_id y = gb.input("y", dtype::f32, {4});
        CHECK(gb.mul(x, y) == no_value);
        expect_rejected(gb, "mul");
    }
    SUBCASE("swiglu: gate and up differ") {
        value_id y = gb.input("y", dtype::f32, {4, 32});
        CHECK(gb.swiglu(x, y) == no_value);
        expect_rejected(gb, "swiglu");
    }
    SUBCASE("rope: odd n_rot") {
        value_id q = gb.input("q", dtype::f32, {4, 2, 16});
        value_id p = gb.input("p", dtype::i32, {4});
        CHECK(gb.rope(q, p, 7, rope_mode::norm, 10000.0f, 1.0f) == no_value);
        expect_rejected(gb, "rope");
    }
    SUBCASE("rope: n_rot larger than the head") {
        value_id q = gb.input("q", dtype::f32, {4, 2, 16});
        value_id p = gb.input("p", dtype::i32, {4});
        CHECK(gb.rope(q, p, 18, rope_mode::norm, 10000.0f, 1.0f) == no_value);
        expect_rejected(gb, "rope");
    }
    SUBCASE("rope: positions of the wrong length") {
        value_id q = gb.input("q", dtype::f32, {4, 2, 16});
        value_id p = gb.input("p", dtype::i32, {3});
        CHECK(gb.rope(q, p, 16, rope_mode::norm, 10000.0f, 1.0f) == no_value);
        expect_rejected(gb, "rope");
    }
    SUBCASE("attention: query heads not a multiple of kv heads") {
        value_id q = gb.input("q", dtype::f32, {4, 3, 8});
        value_id k = gb.input("k", dtype::f32, {4, 2, 8});
        value_id v = gb.input("v", dtype::f32, {4, 2, 8});
        value_id kc = gb.state("kc", dtype::f32, {16, 2, 8}, dummy);
        value_id vc = gb.state("vc", dtype::f32, {16, 2, 8}, dummy);
        CHECK(gb.attention(q, k, v, kc, vc, 1.0f) == no_value);
        expect_rejected(gb, "attention");
    }
    SUBCASE("attention: cache heads differ from k heads") {
        value_id q = gb.input("q", dtype::f32, {4, 4, 8});
        value_id k = gb.input("k", dtype::f32, {4, 2, 8});
        value_id v = gb.input("v", dtype::f32, {4, 2, 8});
        value_id kc = gb.state("kc", dtype::f32, {16, 4, 8}, dummy);
        value_id vc = gb.state("vc", dtype::f32, {16, 2, 8}, dummy);
        CHECK(gb.attention(q, k, v, kc, vc, 1.0f) == no_value);
        expect_rejected(gb, "attention");
    }
    SUBCASE("attention: caches must be states") {
        value_id q = gb.input("q", dtype::f32, {4, 4, 8});
        value_id k = gb.input("k", dtype::f32, {4, 2, 8});
        value_id v = gb.input("v", dtype::f32, {4, 2, 8});
        value_id kc = gb.input("kc", dtype::f32, {16, 2, 8});
        value_id vc = gb.state("vc", dtype::f32, {16, 2, 8}, dummy);
        CHECK(gb.attention(q, k, v, kc, vc, 1.0f) == no_value);
        expect_rejected(gb, "attention");
    }
    SUBCASE("top_k: k > n") {
        CHECK(gb.top_k(x, 65) == no_value);
        expect_rejected(gb, "top_k");
    }
    SUBCASE("top_k: k = 0") {
        CHECK(gb.top_k(x, 0) == no_value);
        expect_rejected(gb, "top_k");
    }
    SUBCASE("gather_cols: row count mismatch") {
        value_id ids = gb.input("ids", dtype::i32, {3, 2});
        CHECK(gb.gather_cols(x, ids) == no_value);
        expect_rejected(gb, "gather_cols");
    }
    SUBCASE("weighted_sum: slot mismatch") {
        value_id y = gb.input("y", dtype::f32, {4, 2, 16});
        value_id w = gb.input("w", dtype::f32, {4, 3});
        CHECK(gb.weighted_sum(y, w) == no_value);
        expect_rejected(gb, "weighted_sum");
    }
    SUBCASE("get_rows: ids must be i32") {
        value_id t = gb.weight("emb", dtype::f32, {10, 64}, dummy);
        value_id ids = gb.input("ids", dtype::f32, {3});
        CHECK(gb.get_rows(t, ids) == no_value);
        expect_rejected(gb, "get_rows");
    }
    SUBCASE("rows: range past the end") {
        CHECK(gb.rows(x, 2, 3) == no_value);
        expect_rejected(gb, "rows");
    }
    SUBCASE("rows: negative first") {
        CHECK(gb.rows(x, -1, 2) == no_value);
        expect_rejected(gb, "rows");
    }
    SUBCASE("rows: empty range") {
        CHECK(gb.rows(x, 1, 0) == no_value);
        expect_rejected(gb, "rows");
    }
    SUBCASE("rows: quantized values cannot be sliced") {
        value_id q = gb.weight("wq", dtype::q8_0, {4, 64}, dummy);
        CHECK(gb.rows(q, 0, 2) == no_value);
        expect_rejected(gb, "rows");
    }
    SUBCASE("reshape: element count mismatch") {
        CHECK(gb.reshape(x, {4, 65}) == no_value);
        expect_rejected(gb, "reshape");
    }
    SUBCASE("reshape: quantized values cannot be reshaped") {
        value_id q = gb.weight("wq", dtype::q4_0, {4, 64}, dummy);
        CHECK(gb.reshape(q, {2, 128}) == no_value);
        expect_rejected(gb, "reshape");
    }
    SUBCASE("input: zero dim") {
        CHECK(gb.input("bad", dtype::f32, {4, 0}) == no_value);
        expect_rejected(gb, "bad");
    }
    SUBCASE("weight: no data") {
        CHECK(gb.weight("wnull", dtype::f32, {4, 4}, nullptr) == no_value);
        expect_rejected(gb, "wnull");
    }
    SUBCASE("invalid value id") {
        CHECK(gb.scale(12345, 1.0f) == no_value);
        expect_rejected(gb, "invalid input value");
    }
}

TEST_CASE("graph: the first error sticks and finish() returns it") {
    graph_builder gb;
    value_id x = gb.input("x", dtype::f32, {4, 64});
    value_id w = gb.weight("wbad", dtype::f32, {8, 32}, dummy);
    value_id bad = gb.mul_mat(x, w);  // first error
    CHECK(bad == no_value);
    CHECK_FALSE(gb.ok());
    // everything after is a no-op, valid or not, including using the failed value
    CHECK(gb.scale(x, 2.0f) == no_value);
    CHECK(gb.top_k(x, 100) == no_value);
    CHECK(gb.softmax(bad) == no_value);
    CHECK(gb.input("late", dtype::f32, {2}) == no_value);
    gb.mark_output(x);
    result<graph> g = gb.finish();
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().code() == errc::shape_mismatch);
    CHECK(g.error().message().find("mul_mat") != std::string::npos);
    CHECK(g.error().message().find("wbad") != std::string::npos);
    CHECK(g.error().message().find("top_k") == std::string::npos);
    CHECK(g.error().to_string().find("shape mismatch") == 0);
}

TEST_CASE("graph: mark_output and finish() preconditions") {
    SUBCASE("no outputs") {
        graph_builder gb;
        value_id x = gb.input("x", dtype::f32, {4});
        (void)gb.scale(x, 1.0f);
        result<graph> g = gb.finish();
        REQUIRE_FALSE(g.ok());
        CHECK(g.error().code() == errc::internal);
    }
    SUBCASE("inputs and weights cannot be outputs") {
        graph_builder gb;
        value_id x = gb.input("x", dtype::f32, {4});
        gb.mark_output(x);
        CHECK_FALSE(gb.ok());
        CHECK(gb.finish().error().code() == errc::shape_mismatch);
    }
}

TEST_CASE("graph: dump names ops, values and outputs") {
    graph_builder gb;
    value_id x = gb.input("tokens_embd", dtype::f32, {7, 64});
    value_id w = gb.weight("blk.0.attn_q.weight", dtype::q8_0, {128, 64}, dummy);
    value_id y = gb.mul_mat(x, w);
    value_id z = gb.softmax(y);
    value_id t = gb.top_k(z, 2);
    gb.mark_output(t);
    result<graph> g = gb.finish();
    REQUIRE(g.ok());
    const std::string d = g->dump();
    CHECK(d.find("mul_mat(tokens_embd, blk.0.attn_q.weight) [7, 128] f32") != std::string::npos);
    CHECK(d.find("softmax(%" + std::to_string(y) + ")") != std::string::npos);
    CHECK(d.find("top_k") != std::string::npos);
    CHECK(d.find("[7, 2] i32 output") != std::string::npos);
    // one line per node
    size_t lines = 0;
    for (char c : d) lines += c == '\n';
    CHECK(lines == g->nodes.size());
}

TEST_CASE("graph: op_name covers every op") {
    const op all[] = {op::get_rows, op::rms_norm,    op::mul_mat,       op::mul_mat_id,   op::add,
                      op::mul,      op::scale,       op::swiglu,        op::softmax,      op::top_k,
                      op::gather_cols, op::normalize_sum, op::weighted_sum, op::rope, op::attention, op::view};
    for (op o : all) CHECK(std::string(op_name(o)) != "?");
    CHECK(std::string(op_name(op::weighted_sum)) == "weighted_sum");
}
