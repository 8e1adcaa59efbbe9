// fuse_glu.hpp — rewrites gate/up products followed by swiglu into one mul_mat_glu node where the backend that would
// run them runs it. Called by executor::create before scheduling; the graph from src/arch is otherwise unchanged.
#pragma once

#include "graph/ir.hpp"
#include "runtime/backend.hpp"

#include <vector>

MOE_BEGIN_NAMESPACE

// swiglu(mul_mat(x, gate), mul_mat(x, up)) and the same with mul_mat_id(x, gate, ids) / mul_mat_id(x, up, ids):
// when the two products' results feed nothing else and are not outputs, and the first backend in priority order
// that runs the products also runs mul_mat_glu on these inputs, the three nodes become one mul_mat_glu producing
// swiglu's value. The products' values stay in the graph with no producer (never stored); node order is kept.
// Returns the number of fusions.
int fuse_glu(graph& g, const std::vector<backend*>& priority);

MOE_END_NAMESPACE
