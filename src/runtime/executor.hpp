// executor.hpp — a graph bound to backends and memory: schedule + arena + resolved tensor views, ready to run.
// Built once per graph shape by the session (src/model/session.cpp); run() then allocates nothing.
#pragma once

#include "graph/ir.hpp"
#include "plan/memory_planner.hpp"
#include "plan/scheduler.hpp"
#include "runtime/backend.hpp"

#include <vector>

MOE_BEGIN_NAMESPACE

class executor {
public:
    // Schedules the graph over the backends (priority order), plans memory and allocates the arena.
    static result<executor> create(graph g, const std::vector<backend*>& priority);

    const graph& g() const noexcept { return g_; }
    const schedule& sched() const noexcept { return sched_; }
    const memory_plan& plan() const noexcept { return plan_; }
    // Host pointer to an input or output value (valid while the executor lives). Inputs must be written before
    // every run: their arena bytes are reused by later values once consumed.
    void* data(value_id v) const noexcept { return views_[static_cast<size_t>(v)].data; }
    status run(const run_args& args);

private:
    graph g_;
    std::vector<backend*> backends_;
    schedule sched_;
    memory_plan plan_;
    backend_buffer arena_;
    std::vector<tensor_view> views_;  // per value
};

MOE_END_NAMESPACE
