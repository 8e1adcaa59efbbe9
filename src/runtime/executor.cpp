// executor.cpp — binds every value of a graph to bytes (arena offset, weight, state) and runs nodes in order,
// each on the backend the scheduler chose. Input: graph from src/arch; output: values the session reads.
#include "runtime/executor.hpp"

#include "plan/fuse_glu.hpp"

MOE_BEGIN_NAMESPACE

result<executor> executor::create(graph g, const std::vector<backend*>& priority) {
    executor ex;
    fuse_glu(g, priority);
    result<schedule> s = schedule_graph(g, priority);
    if (!s) return s.error();
    ex.sched_ = std::move(*s);
    ex.backends_ = priority;
    ex.plan_ = plan_memory(g);

    // The arena holds inputs and intermediates, so it must be host memory the session can write token ids into.
    backend* host = nullptr;
    for (backend* b : priority)
        if (b->host_memory()) host = b;
    if (!host) return status(errc::unsupported, "no host-memory backend to hold the activation arena");
    result<backend_buffer> arena = backend_buffer::allocate(*host, ex.plan_.arena_bytes);
    if (!arena) return arena.error();
    ex.arena_ = std::move(*arena);

    ex.views_.resize(g.values.size());
    auto* base = static_cast<uint8_t*>(ex.arena_.data());
    for (size_t i = 0; i < g.values.size(); ++i) {
        const value& v = g.values[i];
        tensor_view& tv = ex.views_[i];
        tv.type = v.type, tv.sh = v.sh;
        if (ex.plan_.offset[i] != memory_plan::external) {
            tv.data = base + ex.plan_.offset[i];
            continue;
        }
        if (v.kind == value_kind::intermediate && v.producer < 0 && v.alias_of == no_value) continue;  // fused away
        // external root (weight or state), possibly through views
        size_t off = 0;
        value_id r = static_cast<value_id>(i);
        while (g.val(r).alias_of != no_value) off += g.val(r).alias_offset, r = g.val(r).alias_of;
        const void* ext = g.val(r).external;
        if (!ext) return status(errc::internal, "value '" + v.name + "' has no storage");
        tv.data = const_cast<uint8_t*>(static_cast<const uint8_t*>(ext)) + off;
        if (r == static_cast<value_id>(i)) tv.packed = v.packed, tv.packed_as = v.packed_as;  // views: file layout
    }
    ex.g_ = std::move(g);
    return ex;
}

status executor::run(const run_args& args) {
    tensor_view in[max_inputs];
    for (const segment& seg : sched_.segments) {
        backend* b = backends_[static_cast<size_t>(seg.backend)];
        for (int k = seg.first; k < seg.end; ++k) {
            const node& n = g_.nodes[static_cast<size_t>(k)];
            if (n.kind == op::view) continue;  // aliases need no work
            for (int j = 0; j < n.n_in; ++j) in[j] = views_[static_cast<size_t>(n.in[static_cast<size_t>(j)])];
            status st = b->run_node(g_, n, views_[static_cast<size_t>(n.out)], in, args);
            if (!st.ok()) return st;
        }
    }
    return {};
}

MOE_END_NAMESPACE
