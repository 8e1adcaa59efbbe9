// fuse_glu.cpp — the gate/up/swiglu fusion (fuse_glu.hpp): finds the pattern, asks the backends, rebuilds the node
// list without the fused products. Before: a finished graph. After: schedule_graph and plan_memory see the result.
#include "plan/fuse_glu.hpp"

MOE_BEGIN_NAMESPACE

namespace {

// The backend a node would be placed on (schedule_graph's rule), or -1.
int placement(const graph& g, const node& n, const std::vector<backend*>& priority) {
    for (size_t b = 0; b < priority.size(); ++b)
        if (priority[b]->supports(g, n)) return static_cast<int>(b);
    return -1;
}

}  // namespace

int fuse_glu(graph& g, const std::vector<backend*>& priority) {
    std::vector<int> uses(g.values.size(), 0);
    for (const node& n : g.nodes)
        for (int j = 0; j < n.n_in; ++j) ++uses[static_cast<size_t>(n.in[static_cast<size_t>(j)])];
    for (value_id o : g.outputs) ++uses[static_cast<size_t>(o)];

    // The node producing v alone and read only by the swiglu, or null.
    auto product = [&](value_id v) -> const node* {
        const value& val = g.val(v);
        if (val.kind != value_kind::intermediate || val.producer < 0 || uses[static_cast<size_t>(v)] != 1)
            return nullptr;
        const node& p = g.nodes[static_cast<size_t>(val.producer)];
        return p.kind == op::mul_mat || p.kind == op::mul_mat_id ? &p : nullptr;
    };
    std::vector<bool> drop(g.nodes.size(), false);
    int fused = 0;
    for (node& s : g.nodes) {
        if (s.kind != op::swiglu) continue;
        const node* gate = product(s.in[0]);
        const node* up = product(s.in[1]);
        if (!gate || !up || gate == up || gate->kind != up->kind || gate->in[0] != up->in[0]) continue;
        const bool experts = gate->kind == op::mul_mat_id;
        if (experts && gate->in[2] != up->in[2]) continue;  // the same routing
        const value &gw = g.val(gate->in[1]), &uw = g.val(up->in[1]);
        if (gw.type != uw.type || gw.sh != uw.sh) continue;
        node f;
        f.kind = op::mul_mat_glu;
        f.in[0] = gate->in[0], f.in[1] = gate->in[1], f.in[2] = up->in[1];
        if (experts) f.in[3] = gate->in[2];
        f.n_in = experts ? 4 : 3;
        f.out = s.out;
        const int where = placement(g, *gate, priority);
        if (where < 0 || where != placement(g, *up, priority) || where != placement(g, s, priority) ||
            where != placement(g, f, priority))
            continue;
        drop[static_cast<size_t>(g.val(s.in[0]).producer)] = true;
        drop[static_cast<size_t>(g.val(s.in[1]).producer)] = true;
        s = f;
        ++fused;
    }
    if (fused == 0) return 0;
    std::vector<node> kept;
    kept.reserve(g.nodes.size());
    for (size_t k = 0; k < g.nodes.size(); ++k) {
        if (drop[k]) {
            g.values[static_cast<size_t>(g.nodes[k].out)].producer = -1;  // no longer computed
            continue;
        }
        kept.push_back(g.nodes[k]);
    }
    g.nodes = std::move(kept);
    for (size_t k = 0; k < g.nodes.size(); ++k)
        g.values[static_cast<size_t>(g.nodes[k].out)].producer = static_cast<int32_t>(k);
    return fused;
}

MOE_END_NAMESPACE
