// memory_planner.cpp — interval-based arena layout: largest value first, at the lowest offset free for its lifetime.
// Runs once per graph shape (the session caches plans), so decoding a token allocates nothing.
#include "plan/memory_planner.hpp"

#include <algorithm>

MOE_BEGIN_NAMESPACE

namespace {

value_id root_of(const graph& g, value_id v) {
    while (g.val(v).alias_of != no_value) v = g.val(v).alias_of;
    return v;
}

size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

struct interval {
    value_id v;
    int first, last;
    size_t bytes;
    size_t offset = 0;
};

}  // namespace

memory_plan plan_memory(const graph& g, size_t alignment) {
    const size_t n = g.values.size();
    const int end = static_cast<int>(g.nodes.size());
    memory_plan plan;
    plan.offset.assign(n, memory_plan::external);

    // first/last use of every root value
    std::vector<int> first(n, -1), last(n, -1);
    std::vector<bool> planned(n, false);
    for (size_t i = 0; i < n; ++i) {
        const value& v = g.values[i];
        if (v.alias_of != no_value) continue;
        if (v.kind == value_kind::input) planned[i] = true, first[i] = 0, last[i] = 0;
        // an intermediate with no producer was fused away (plan/fuse_glu.cpp): it is never stored
        if (v.kind == value_kind::intermediate && v.producer >= 0)
            planned[i] = true, first[i] = v.producer, last[i] = v.producer;
    }
    for (int k = 0; k < end; ++k) {
        const node& nd = g.nodes[static_cast<size_t>(k)];
        for (int j = 0; j < nd.n_in; ++j) {
            size_t r = static_cast<size_t>(root_of(g, nd.in[static_cast<size_t>(j)]));
            last[r] = std::max(last[r], k);
        }
        if (g.val(nd.out).alias_of != no_value) {  // a view keeps its root alive while it is produced
            size_t r = static_cast<size_t>(root_of(g, nd.out));
            last[r] = std::max(last[r], k);
        }
    }
    for (value_id o : g.outputs) last[static_cast<size_t>(root_of(g, o))] = end;

    std::vector<interval> items;
    for (size_t i = 0; i < n; ++i) {
        if (!planned[i]) continue;
        size_t bytes = align_up(std::max<size_t>(g.values[i].bytes(), 1), alignment);
        items.push_back({static_cast<value_id>(i), first[i], last[i], bytes});
        plan.naive_bytes += bytes;
    }
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    // Largest first, ties in value order (std::sort with the index as tie-breaker: stable_sort's temporary buffer
    // trips a false alloc-dealloc-mismatch report under GCC 12's AddressSanitizer).
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return items[a].bytes != items[b].bytes ? items[a].bytes > items[b].bytes : a < b;
    });

    std::vector<size_t> placed;  // indices into items, already given an offset
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t idx : order) {
        interval& it = items[idx];
        busy.clear();
        for (size_t p : placed) {
            const interval& o = items[p];
            if (o.first <= it.last && it.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
        }
        std::sort(busy.begin(), busy.end());
        size_t off = 0;
        for (auto& b : busy) {
            if (off + it.bytes <= b.first) break;
            off = std::max(off, b.second);
        }
        it.offset = off;
        plan.arena_bytes = std::max(plan.arena_bytes, off + it.bytes);
        placed.push_back(idx);
        plan.offset[static_cast<size_t>(it.v)] = off;
    }
    // views: root's offset plus their own offset
    for (size_t i = 0; i < n; ++i) {
        if (g.values[i].alias_of == no_value) continue;
        size_t off = 0;
        value_id v = static_cast<value_id>(i);
        while (g.val(v).alias_of != no_value) off += g.val(v).alias_offset, v = g.val(v).alias_of;
        if (plan.offset[static_cast<size_t>(v)] != memory_plan::external) plan.offset[i] = plan.offset[static_cast<size_t>(v)] + off;
    }
    return plan;
}

MOE_END_NAMESPACE
