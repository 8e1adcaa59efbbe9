// scheduler.cpp — per-op backend placement with fallback, and segmentation into same-backend runs.
// Called by the executor when it binds a graph; the CPU backend is normally last in the list and supports all ops.
#include "plan/scheduler.hpp"

MOE_BEGIN_NAMESPACE

result<schedule> schedule_graph(const graph& g, const std::vector<backend*>& priority) {
    if (priority.empty()) return status(errc::invalid_argument, "no backends to schedule on");
    schedule s;
    s.node_backend.assign(g.nodes.size(), -1);
    for (size_t k = 0; k < g.nodes.size(); ++k) {
        const node& n = g.nodes[k];
        if (n.kind == op::view) {  // a view is free: it stays with whatever produced its input
            const int32_t p = g.val(n.in[0]).producer;
            s.node_backend[k] = p >= 0 ? s.node_backend[static_cast<size_t>(p)]
                                       : (k > 0 ? s.node_backend[k - 1] : static_cast<int>(priority.size()) - 1);
            continue;
        }
        for (size_t b = 0; b < priority.size(); ++b) {
            if (priority[b]->supports(g, n)) {
                s.node_backend[k] = static_cast<int>(b);
                break;
            }
        }
        if (s.node_backend[k] < 0)
            return status(errc::unsupported, std::string("no backend supports ") + op_name(n.kind) + " with output " +
                                                 g.val(n.out).sh.to_string() + " " + dtype_name(g.val(n.out).type));
    }
    // A value produced on one backend and read on another must be reachable from both.
    for (size_t k = 0; k < g.nodes.size(); ++k) {
        const node& n = g.nodes[k];
        for (int j = 0; j < n.n_in; ++j) {
            const value& v = g.val(n.in[static_cast<size_t>(j)]);
            int from = v.producer >= 0 ? s.node_backend[static_cast<size_t>(v.producer)] : -1;
            int to = s.node_backend[k];
            bool shared = from < 0 || from == to ||
                          (priority[static_cast<size_t>(from)]->host_memory() && priority[static_cast<size_t>(to)]->host_memory());
            if (!shared)
                return status(errc::unsupported, std::string("value for ") + op_name(n.kind) + " crosses from " +
                                                     priority[static_cast<size_t>(from)]->name() + " to " +
                                                     priority[static_cast<size_t>(to)]->name() +
                                                     ": cross-device copies are not implemented yet");
        }
    }
    for (size_t k = 0; k < g.nodes.size(); ++k) {
        int b = s.node_backend[k];
        if (s.segments.empty() || s.segments.back().backend != b)
            s.segments.push_back({b, static_cast<int>(k), static_cast<int>(k)});
        s.segments.back().end = static_cast<int>(k) + 1;
    }
    return s;
}

MOE_END_NAMESPACE
