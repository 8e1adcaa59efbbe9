// scheduler.hpp — places each node on a backend (first in priority order that supports it; CPU catches the rest)
// and cuts the node list into segments that run on one backend. Input: graph. Output: used by the executor.
#pragma once

#include "graph/ir.hpp"
#include "runtime/backend.hpp"

#include <vector>

MOE_BEGIN_NAMESPACE

struct segment {
    int backend = 0;  // index into the priority list
    int first = 0;    // first node
    int end = 0;      // one past the last node
};

struct schedule {
    std::vector<int> node_backend;  // per node: index into the priority list
    std::vector<segment> segments;
};

// Fails with errc::unsupported naming the op and shapes when no backend runs a node, and when a value would have
// to cross between backends that do not share host memory (device-to-device copies are not implemented yet).
result<schedule> schedule_graph(const graph& g, const std::vector<backend*>& priority);

MOE_END_NAMESPACE
