// test_scheduler.cpp — checks src/plan/scheduler with a fake backend placed before the CPU: op placement, maximal
// same-backend segments, refusals (cross-device values, unsupported ops), and executor results against CPU-only runs.
#include "plan/scheduler.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace moe;

namespace {

// Runs op::add (with [d] broadcast) and nothing else; optionally pretends its memory is not host memory.
class fake_backend final : public backend {
public:
    explicit fake_backend(bool host, const char* name = "fake") : host_(host), name_(name) {}
    const char* name() const noexcept override { return name_; }
    bool host_memory() const noexcept override { return host_; }
    bool supports(const graph& g, const node& n) const override {
        if (n.kind != op::add) return false;
        for (int j = 0; j < n.n_in; ++j)
            if (g.val(n.in[static_cast<size_t>(j)]).type != dtype::f32) return false;
        return true;
    }
    result<void*> alloc(size_t bytes) override {
        void* p = std::malloc(bytes ? bytes : 1);
        if (!p) return status(errc::out_of_memory, "fake");
        ++allocs;
        return p;
    }
    void free(void* p) noexcept override { std::free(p); }
    status run_node(const graph&, const node& n, const tensor_view& out, const tensor_view* in,
                    const run_args&) override {
        if (n.kind != op::add) return status(errc::unsupported, "fake backend only adds");
        ++adds;
        const int64_t d = in[0].sh.last(), R = in[0].sh.rows();
        const bool bcast = in[1].sh.elements() != in[0].sh.elements();
        const float* a = static_cast<const float*>(in[0].data);
        const float* b = static_cast<const float*>(in[1].data);
        float* o = static_cast<float*>(out.data);
        for (int64_t r = 0; r < R; ++r)
            for (int64_t i = 0; i < d; ++i) o[r * d + i] = a[r * d + i] + b[bcast ? i : r * d + i];
        return {};
    }
    int adds = 0;
    int allocs = 0;

private:
    bool host_;
    const char* name_;
};

// x, y [4, 8]:  n0 a = x + y   n1 b = a * 2   n2 c = b + y   n3 d = c + bias   n4 e = softmax(d)   n5 f = e + a
struct mixed_graph {
    graph_builder gb;
    value_id x, y, bias, f;
    float bias_data[8] = {0.5f, -1, 2, 0, 0.25f, 3, -0.75f, 1};
    mixed_graph() {
        x = gb.input("x", dtype::f32, {4, 8});
        y = gb.input("y", dtype::f32, {4, 8});
        bias = gb.weight("bias", dtype::f32, {8}, bias_data);
        value_id a = gb.add(x, y);
        value_id b = gb.scale(a, 2.0f);
        value_id c = gb.add(b, y);
        value_id d = gb.add(c, bias);
        value_id e = gb.softmax(d);
        f = gb.add(e, a);
        gb.mark_output(f);
    }
};

// Segments must tile [0, nodes) in order, each with one backend, and neighbours must differ (maximal runs).
void check_segments(const schedule& s, size_t n_nodes) {
    REQUIRE(s.node_backend.size() == n_nodes);
    int next = 0;
    for (size_t i = 0; i < s.segments.size(); ++i) {
        const segment& seg = s.segments[i];
        CHECK(seg.first == next);
        CHECK(seg.end > seg.first);
        for (int k = seg.first; k < seg.end; ++k) CHECK(s.node_backend[static_cast<size_t>(k)] == seg.backend);
        if (i > 0) CHECK(s.segments[i - 1].backend != seg.backend);
        next = seg.end;
    }
    CHECK(next == static_cast<int>(n_nodes));
}

}  // namespace

TEST_CASE("scheduler: add goes to the fake backend, the rest to the CPU, in maximal segments") {
    mixed_graph m;
    result<graph> g = m.gb.finish();
    REQUIRE(g.ok());
    fake_backend fake(true);
    cpu_backend cpu(1);
    result<schedule> s = schedule_graph(*g, {&fake, &cpu});
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    CHECK(s->node_backend == std::vector<int>{0, 1, 0, 0, 1, 0});
    check_segments(*s, g->nodes.size());
    REQUIRE(s->segments.size() == 5);
    CHECK(s->segments[2].backend == 0);
    CHECK(s->segments[2].first == 2);
    CHECK(s->segments[2].end == 4);

    SUBCASE("CPU first takes everything in one segment") {
        result<schedule> s2 = schedule_graph(*g, {&cpu, &fake});
        REQUIRE(s2.ok());
        CHECK(s2->node_backend == std::vector<int>(6, 0));
        REQUIRE(s2->segments.size() == 1);
        CHECK(s2->segments[0].first == 0);
        CHECK(s2->segments[0].end == 6);
    }
}

TEST_CASE("scheduler: refusals") {
    cpu_backend cpu(1);
    SUBCASE("no backends") {
        mixed_graph m;
        result<graph> g = m.gb.finish();
        REQUIRE(g.ok());
        result<schedule> s = schedule_graph(*g, {});
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code() == errc::invalid_argument);
    }
    SUBCASE("a value crossing from a non-host backend") {
        mixed_graph m;
        result<graph> g = m.gb.finish();
        REQUIRE(g.ok());
        fake_backend dev(false, "fakedev");
        result<schedule> s = schedule_graph(*g, {&dev, &cpu});
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code() == errc::unsupported);
        const std::string& msg = s.error().message();
        CHECK_MESSAGE(msg.find("crosses") != std::string::npos, msg);
        CHECK_MESSAGE(msg.find("fakedev") != std::string::npos, msg);
        CHECK_MESSAGE(msg.find("cpu") != std::string::npos, msg);
    }
    SUBCASE("an all-device graph needs no crossing") {
        graph_builder gb;
        value_id x = gb.input("x", dtype::f32, {2, 4});
        value_id a = gb.add(x, x);
        value_id b = gb.add(a, x);
        gb.mark_output(b);
        result<graph> g = gb.finish();
        REQUIRE(g.ok());
        fake_backend dev(false, "fakedev");
        result<schedule> s = schedule_graph(*g, {&dev, &cpu});
        REQUIRE_MESSAGE(s.ok(), s.error().to_string());
        CHECK(s->node_backend == std::vector<int>{0, 0});
        CHECK(s->segments.size() == 1);
    }
    SUBCASE("an op no backend supports") {
        graph_builder gb;
        value_id x = gb.input("x", dtype::f32, {2, 4});
        value_id a = gb.add(x, x);
        value_id b = gb.softmax(a);
        gb.mark_output(b);
        result<graph> g = gb.finish();
        REQUIRE(g.ok());
        fake_backend fake(true);
        result<schedule> s = schedule_graph(*g, {&fake});
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code() == errc::unsupported);
        CHECK_MESSAGE(s.error().message().find("softmax") != std::string::npos, s.error().message());
    }
    SUBCASE("a weight type the CPU cannot read") {
        static uint8_t iq2[66 * 4];
        graph_builder gb;
        value_id x = gb.input("x", dtype::f32, {2, 256});
        value_id w = gb.weight("wk", static_cast<dtype>(16), {4, 256}, iq2);  // iq2_xxs: not readable by moe
        value_id y = gb.mul_mat(x, w);
        gb.mark_output(y);
        result<graph> g = gb.finish();
        REQUIRE(g.ok());
        result<schedule> s = schedule_graph(*g, {&cpu});
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code() == errc::unsupported);
        CHECK_MESSAGE(s.error().message().find("mul_mat") != std::string::npos, s.error().message());
        // executor::create reports the same refusal
        result<executor> ex = executor::create(std::move(*g), {&cpu});
        REQUIRE_FALSE(ex.ok());
        CHECK(ex.error().code() == errc::unsupported);
    }
}

TEST_CASE("scheduler: executor with the fake backend matches a CPU-only run") {
    moe_test::rng rnd(7);
    const std::vector<float> x = rnd.floats(32, -2, 2), y = rnd.floats(32, -2, 2);

    mixed_graph m1;
    fake_backend fake(true);
    moe_test::bound mixed = moe_test::bind(m1.gb, 2, {&fake});
    CHECK(mixed.ex->sched().segments.size() == 5);
    mixed.set(m1.x, x);
    mixed.set(m1.y, y);
    REQUIRE(mixed.run().ok());
    CHECK(fake.adds == 4);
    CHECK(fake.allocs == 0);  // the arena comes from the last host-memory backend (the CPU)

    mixed_graph m2;
    moe_test::bound cpu_only = moe_test::bind(m2.gb, 1);
    cpu_only.set(m2.x, x);
    cpu_only.set(m2.y, y);
    REQUIRE(cpu_only.run().ok());

    const std::vector<float> a = mixed.get<float>(m1.f), b = cpu_only.get<float>(m2.f);
    REQUIRE(a.size() == 32);
    CHECK(a == b);  // add is exact either way, so the results agree to the bit

    // and a second run reuses the same binding (inputs are rewritten: their bytes are reused once consumed)
    mixed.set(m1.x, x);
    mixed.set(m1.y, y);
    REQUIRE(mixed.run().ok());
    CHECK(fake.adds == 8);
    CHECK(mixed.get<float>(m1.f) == b);
}
