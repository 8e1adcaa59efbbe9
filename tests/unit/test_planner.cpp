// test_planner.cpp — checks src/plan/memory_planner: values alive at the same time never share arena bytes, views
// stay inside their root, outputs survive the run, and long chains reuse memory. Lifetimes are recomputed here.
#include "plan/memory_planner.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace moe;

namespace {

float dummy[1 << 12];

value_id root(const graph& g, value_id v) {
    while (g.val(v).alias_of != no_value) v = g.val(v).alias_of;
    return v;
}

// Byte offset of a view inside its root, summed along the alias chain.
size_t offset_in_root(const graph& g, value_id v) {
    size_t off = 0;
    while (g.val(v).alias_of != no_value) off += g.val(v).alias_offset, v = g.val(v).alias_of;
    return off;
}

// Independent lifetime of each arena root: [first, last] in node indices (inputs from -1: written before node 0).
// A root is live while it or any view of it is produced or read; output roots live past the last node.
struct lifetime {
    int first = 0, last = -2;
};

std::vector<lifetime> lifetimes(const graph& g) {
    std::vector<lifetime> lt(g.values.size());
    const int end = static_cast<int>(g.nodes.size());
    for (size_t i = 0; i < g.values.size(); ++i) {
        const value& v = g.values[i];
        if (v.alias_of != no_value) continue;
        if (v.kind == value_kind::input) lt[i] = {-1, -1};
        if (v.kind == value_kind::intermediate) lt[i] = {v.producer, v.producer};
    }
    for (int k = 0; k < end; ++k) {
        const node& n = g.nodes[static_cast<size_t>(k)];
        auto touch = [&](value_id v) {
            lifetime& l = lt[static_cast<size_t>(root(g, v))];
            l.last = std::max(l.last, k);
        };
        for (int j = 0; j < n.n_in; ++j) touch(n.in[static_cast<size_t>(j)]);
        touch(n.out);
    }
    for (value_id o : g.outputs) lt[static_cast<size_t>(root(g, o))].last = end;
    return lt;
}

bool in_arena(const value& v) { return v.kind == value_kind::input || v.kind == value_kind::intermediate; }

// Every property the executor relies on, checked against the graph alone.
void check_plan(const graph& g, const memory_plan& p, size_t alignment = 64) {
    REQUIRE(p.offset.size() == g.values.size());
    const std::vector<lifetime> lt = lifetimes(g);
    std::vector<value_id> roots;
    size_t naive = 0;
    for (size_t i = 0; i < g.values.size(); ++i) {
        const value& v = g.values[i];
        const value_id r = root(g, static_cast<value_id>(i));
        if (!in_arena(g.val(r))) {
            CHECK_MESSAGE(p.offset[i] == memory_plan::external, "value " << i << " rooted in a weight/state");
            continue;
        }
        REQUIRE(p.offset[i] != memory_plan::external);
        CHECK(p.offset[i] + v.bytes() <= p.arena_bytes);
        if (v.alias_of != no_value) {
            // a view sits at its root's offset plus its own offset, entirely inside the root
            CHECK(p.offset[i] == p.offset[static_cast<size_t>(r)] + offset_in_root(g, static_cast<value_id>(i)));
            CHECK(p.offset[i] + v.bytes() <= p.offset[static_cast<size_t>(r)] + g.val(r).bytes());
            continue;
        }
        CHECK(p.offset[i] % alignment == 0);
        roots.push_back(static_cast<value_id>(i));
        naive += (std::max<size_t>(v.bytes(), 1) + alignment - 1) / alignment * alignment;
    }
    CHECK(p.naive_bytes == naive);
    CHECK(p.arena_bytes <= p.naive_bytes);
    for (size_t a = 0; a < roots.size(); ++a)
        for (size_t b = a + 1; b < roots.size(); ++b) {
            const size_t va = static_cast<size_t>(roots[a]), vb = static_cast<size_t>(roots[b]);
            const bool live_together = lt[va].first <= lt[vb].last && lt[vb].first <= lt[va].last;
            if (!live_together) continue;
            const bool share = p.offset[va] < p.offset[vb] + g.values[vb].bytes() &&
                               p.offset[vb] < p.offset[va] + g.values[va].bytes();
            CHECK_MESSAGE(!share, "values " << va << " [" << lt[va].first << ", " << lt[va].last << "] and " << vb
                                            << " [" << lt[vb].first << ", " << lt[vb].last << "] share bytes");
        }

    // Simulated run: every byte remembers which root wrote it last. Each read must see its root's bytes, and the
    // outputs must still be intact after the last node.
    std::vector<int32_t> owner(p.arena_bytes, -1);
    auto write = [&](value_id v) {
        for (size_t b = 0; b < g.val(v).bytes(); ++b) owner[p.offset[static_cast<size_t>(v)] + b] = v;
    };
    auto intact = [&](value_id v) {
        const value_id r = root(g, v);
        if (!in_arena(g.val(r))) return true;
        for (size_t b = 0; b < g.val(v).bytes(); ++b)
            if (owner[p.offset[static_cast<size_t>(v)] + b] != r) return false;
        return true;
    };
    for (size_t i = 0; i < g.values.size(); ++i)
        if (g.values[i].kind == value_kind::input) write(static_cast<value_id>(i));
    for (size_t k = 0; k < g.nodes.size(); ++k) {
        const node& n = g.nodes[k];
        for (int j = 0; j < n.n_in; ++j)
            CHECK_MESSAGE(intact(n.in[static_cast<size_t>(j)]), "node " << k << " reads clobbered input " << j);
        if (g.val(n.out).alias_of == no_value) write(n.out);
    }
    for (value_id o : g.outputs) CHECK_MESSAGE(intact(o), "output " << o << " clobbered");
}

graph finish(graph_builder& gb) {
    result<graph> g = gb.finish();
    REQUIRE_MESSAGE(g.ok(), g.error().to_string());
    return std::move(*g);
}

}  // namespace

TEST_CASE("planner: a long chain reuses memory") {
    graph_builder gb;
    value_id x = gb.input("x", dtype::f32, {64, 64});
    value_id v = x;
    for (int i = 0; i < 100; ++i) v = i % 2 ? gb.scale(v, 1.5f) : gb.softmax(v);
    gb.mark_output(v);
    graph g = finish(gb);
    memory_plan p = plan_memory(g);
    check_plan(g, p);
    const size_t one = 64 * 64 * sizeof(float);
    CHECK(p.naive_bytes == 101 * one);
    CHECK(p.arena_bytes <= 3 * one);  // two live values at a time, at most one more for fragmentation
    CHECK(p.arena_bytes >= 2 * one);  // a node's input and output are live together
}

TEST_CASE("planner: diamond, views and multiple outputs") {
    graph_builder gb;
    value_id a = gb.input("a", dtype::f32, {8, 32});
    value_id w = gb.weight("w", dtype::f32, {32, 32}, dummy);
    value_id b = gb.scale(a, 2.0f);
    value_id c = gb.softmax(a);
    value_id d = gb.add(b, c);            // diamond: b and c both live here
    value_id e = gb.mul_mat(d, w);
    value_id r = gb.reshape(e, {4, 64});  // view of e
    value_id s = gb.rows(r, 1, 2);        // view of a view, 64 floats in
    value_id big = gb.input("big", dtype::f32, {64, 64});
    value_id f = gb.scale(big, 3.0f);     // produced while e is only reachable through s
    value_id t = gb.softmax(s);           // keeps e alive until here
    value_id u = gb.scale(t, 0.5f);
    value_id wv = gb.reshape(w, {1024});  // view of a weight
    value_id z = gb.softmax(wv);
    gb.mark_output(c);                    // an early value that must survive to the end
    gb.mark_output(u);
    gb.mark_output(z);
    graph g = finish(gb);
    memory_plan p = plan_memory(g);
    check_plan(g, p);
    CHECK(p.offset[static_cast<size_t>(w)] == memory_plan::external);
    CHECK(p.offset[static_cast<size_t>(wv)] == memory_plan::external);
    CHECK(p.offset[static_cast<size_t>(s)] == p.offset[static_cast<size_t>(e)] + 64 * sizeof(float));
    (void)f;
    (void)d;
}

TEST_CASE("planner: an output that is a view keeps its root") {
    graph_builder gb;
    value_id x = gb.input("x", dtype::f32, {16, 16});
    value_id y = gb.softmax(x);
    value_id v = gb.rows(y, 4, 4);
    value_id z = x;
    for (int i = 0; i < 10; ++i) z = gb.scale(z, 1.1f);
    gb.mark_output(v);
    gb.mark_output(z);
    graph g = finish(gb);
    memory_plan p = plan_memory(g);
    check_plan(g, p);
}

TEST_CASE("planner: alignment is honoured") {
    graph_builder gb;
    value_id x = gb.input("x", dtype::f32, {3, 5});  // 60 bytes
    value_id a = gb.scale(x, 1.0f);
    value_id b = gb.add(a, x);
    gb.mark_output(b);
    graph g = finish(gb);
    for (size_t align : {size_t(16), size_t(64), size_t(256)}) {
        memory_plan p = plan_memory(g, align);
        check_plan(g, p, align);
    }
}

TEST_CASE("planner: random graphs never overlap live values") {
    for (uint64_t seed = 1; seed <= 60; ++seed) {
        CAPTURE(seed);
        moe_test::rng rnd(seed);
        graph_builder gb;
        std::vector<value_id> pool;  // f32 2-D values to draw operands from
        const int64_t widths[] = {8, 16, 48, 128};
        const int64_t T = 1 + rnd.below(6);
        for (int i = 0; i < 3; ++i) pool.push_back(gb.input("in" + std::to_string(i), dtype::f32, {T, widths[rnd.below(4)]}));
        const int n_nodes = 20 + rnd.below(40);
        for (int i = 0; i < n_nodes && gb.ok(); ++i) {
            // Prefer recent values so lifetimes vary from very short to the whole graph.
            auto pick = [&]() {
                const int32_t n = static_cast<int32_t>(pool.size());
                return rnd.below(4) ? pool[static_cast<size_t>(n - 1 - rnd.below(std::min<int32_t>(n, 4)))]
                                    : pool[static_cast<size_t>(rnd.below(n))];
            };
            value_id a = pick();
            const shape sh = gb.val(a).sh;
            value_id out = no_value;
            switch (rnd.below(7)) {
            case 0: out = gb.scale(a, 0.5f); break;
            case 1: out = gb.softmax(a); break;
            case 2: {  // add with a same-shaped partner if one exists, else with itself
                value_id b = a;
                for (value_id c : pool)
                    if (c != a && gb.val(c).sh == sh && rnd.below(2)) b = c;
                out = gb.add(a, b);
                break;
            }
            case 3: {  // change the width through a weight
                const int64_t n = widths[rnd.below(4)];
                value_id w = gb.weight("w" + std::to_string(i), dtype::f32, {n, sh.last()}, dummy);
                out = gb.mul_mat(a, w);
                break;
            }
            case 4:  // view: flatten to one row or transpose-shaped reshape
                out = gb.reshape(a, rnd.below(2) ? shape{sh.elements()} : shape{sh.last(), sh.rows()});
                if (gb.val(out).sh.rank == 1) out = gb.reshape(out, sh);
                break;
            case 5:  // view: a row slice
                if (sh.rank == 2) {
                    const int64_t first = rnd.below(static_cast<int32_t>(sh[0]));
                    out = gb.rows(a, first, 1 + rnd.below(static_cast<int32_t>(sh[0] - first)));
                } else {
                    out = gb.scale(a, 2.0f);
                }
                break;
            default: out = gb.swiglu(a, a); break;
            }
            REQUIRE_MESSAGE(gb.ok(), "seed " << seed);
            pool.push_back(out);
            if (rnd.below(8) == 0) gb.mark_output(out);
        }
        gb.mark_output(pool.back());
        graph g = finish(gb);
        memory_plan p = plan_memory(g);
        check_plan(g, p);
    }
}
