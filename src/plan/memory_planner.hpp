// memory_planner.hpp — lays out a graph's inputs and intermediates in one arena, reusing bytes of dead values.
// Input: a built graph (src/graph). Output: offsets the executor binds to a backend buffer once per graph shape.
#pragma once

#include "graph/ir.hpp"

#include <cstddef>
#include <vector>

MOE_BEGIN_NAMESPACE

struct memory_plan {
    static constexpr size_t external = static_cast<size_t>(-1);
    std::vector<size_t> offset;  // per value: byte offset in the arena, or `external` for weights and states
    size_t arena_bytes = 0;
    size_t naive_bytes = 0;      // what one buffer per value would need (for reporting the reuse)
};

// Lifetime of a value: from its producer (inputs: from the start) to its last consumer, views included; outputs
// live to the end. Values whose lifetimes overlap never share bytes. Greedy placement, largest first.
memory_plan plan_memory(const graph& g, size_t alignment = 64);

MOE_END_NAMESPACE
