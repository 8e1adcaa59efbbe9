// test_backend_registry.cpp — checks src/runtime/backend_registry with the test modules built from
// tests/modules/test_backend_module.cpp: loading, listing, creating, running through executor, and every refusal.
#include "runtime/backend_registry.hpp"

#include "backends/backend_module.h"
#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace moe;

namespace {

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

const backend_info* info_of(const std::vector<backend_info>& list, const std::string& name) {
    for (const backend_info& b : list)
        if (b.name == name) return &b;
    return nullptr;
}

// Reads one of the test module's counters, if the module is currently loaded (RTLD_NOLOAD never maps it).
int module_counter(const char* symbol) {
    void* h = dlopen(MOE_TEST_BACKEND_MODULE, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    REQUIRE_MESSAGE(h != nullptr, "test module not loaded");
    void* sym = dlsym(h, symbol);
    REQUIRE(sym != nullptr);
    int (*fn)(void);
    std::memcpy(&fn, &sym, sizeof(fn));
    const int v = fn();
    dlclose(h);
    return v;
}

bool module_mapped() {
    void* h = dlopen(MOE_TEST_BACKEND_MODULE, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (h) dlclose(h);
    return h != nullptr;
}

// Sets an environment variable for one scope.
struct scoped_env {
    const char* name;
    scoped_env(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
    ~scoped_env() { unsetenv(name); }
};

// x, y [3, 8]:  n0 a = x + y   n1 b = softmax(a)   n2 c = b + bias   n3 d = c * y   n4 e = d + a
struct add_graph {
    graph_builder gb;
    value_id x, y, e;
    float bias[8] = {1, -2, 0.5f, 0, 3, -0.25f, 0.125f, 2};
    add_graph() {
        x = gb.input("x", dtype::f32, {3, 8});
        y = gb.input("y", dtype::f32, {3, 8});
        value_id bi = gb.weight("bias", dtype::f32, {8}, bias);
        value_id a = gb.add(x, y);
        value_id b = gb.softmax(a);
        value_id c = gb.add(b, bi);
        value_id d = gb.mul(c, y);
        e = gb.add(d, a);
        gb.mark_output(e);
    }
};

std::vector<float> run_graph(const std::vector<backend*>& priority, const std::vector<float>& x,
                             const std::vector<float>& y, std::vector<int>* placement = nullptr) {
    add_graph m;
    result<graph> g = m.gb.finish();
    REQUIRE(g.ok());
    result<executor> ex = executor::create(std::move(*g), priority);
    REQUIRE_MESSAGE(ex.ok(), ex.error().to_string());
    std::memcpy(ex->data(m.x), x.data(), x.size() * sizeof(float));
    std::memcpy(ex->data(m.y), y.data(), y.size() * sizeof(float));
    status s = ex->run(run_args{});
    REQUIRE_MESSAGE(s.ok(), s.to_string());
    if (placement) *placement = ex->sched().node_backend;
    const float* o = static_cast<const float*>(ex->data(m.e));
    return std::vector<float>(o, o + 24);
}

}  // namespace

TEST_CASE("backend_registry: the built-in CPU backend") {
    backend_registry reg;
    const std::vector<backend_info> list = reg.list();
    REQUIRE(list.size() == 1);
    CHECK(list[0].name == "cpu");
    CHECK(list[0].available);
    CHECK(list[0].path.empty());
    CHECK(list[0].score > 0);
    result<std::unique_ptr<backend>> cpu = reg.create("cpu", 2);
    REQUIRE(cpu.ok());
    CHECK(std::string((*cpu)->name()) == "cpu");
    CHECK((*cpu)->host_memory());
    CHECK(static_cast<cpu_backend*>(cpu->get())->n_threads() == 2);

    result<std::unique_ptr<backend>> none = reg.create("warp-drive", 1);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code() == errc::backend_unavailable);
    CHECK(has(none.error().message(), "warp-drive"));
    CHECK(has(none.error().message(), "cpu"));  // lists what is registered

    SUBCASE("built-ins can be added, names stay unique") {
        int made = 0;
        CHECK(reg.add_builtin("cpu2", "another CPU", [&](int n) -> result<std::unique_ptr<backend>> {
                     ++made;
                     return std::unique_ptr<backend>(new cpu_backend(n));
                 }).ok());
        result<std::unique_ptr<backend>> b = reg.create("cpu2", 1);
        CHECK(b.ok());
        CHECK(made == 1);
        CHECK(reg.add_builtin("cpu", "dup", [](int) -> result<std::unique_ptr<backend>> {
                     return status(errc::internal, "never");
                 }).code() == errc::invalid_argument);
        CHECK(reg.add_builtin("x", "no factory", nullptr).code() == errc::invalid_argument);
        CHECK(reg.list().size() == 2);
    }
}

TEST_CASE("backend_registry: loads, lists and creates a module backend") {
    backend_registry reg;
    status s = reg.load_module(MOE_TEST_BACKEND_MODULE);
    REQUIRE_MESSAGE(s.ok(), s.to_string());
    const std::vector<backend_info> list = reg.list();
    REQUIRE(list.size() == 2);
    CHECK(list[0].name == "cpu");
    const backend_info* t = info_of(list, "test");
    REQUIRE(t != nullptr);
    CHECK(t->available);
    CHECK(t->path == MOE_TEST_BACKEND_MODULE);
    CHECK(t->score == 10);
    CHECK(t->reason == "test device (host memory, add only)");
    CHECK(has(t->description, "add only"));

    // loading it twice is refused: the name is taken
    status again = reg.load_module(MOE_TEST_BACKEND_MODULE);
    CHECK(again.code() == errc::invalid_argument);
    CHECK(has(again.message(), "already registered"));
    CHECK(reg.list().size() == 2);

    const int instances = module_counter("moe_test_backend_live_instances");
    {
        result<std::unique_ptr<backend>> b = reg.create("test", 3);
        REQUIRE_MESSAGE(b.ok(), b.error().to_string());
        backend& mb = **b;
        CHECK(std::string(mb.name()) == "test");
        CHECK(mb.host_memory());
        CHECK(module_counter("moe_test_backend_live_instances") == instances + 1);

        // supports: add (same shape and row broadcast) only, f32 only
        graph_builder gb;
        value_id x = gb.input("x", dtype::f32, {2, 4});
        value_id r = gb.input("r", dtype::f32, {4});
        value_id i = gb.input("i", dtype::i32, {2, 4});
        value_id a1 = gb.add(x, x);
        value_id a2 = gb.add(x, r);
        value_id m = gb.mul(x, x);
        value_id sm = gb.softmax(x);
        value_id v = gb.reshape(x, {8});
        value_id tk = gb.top_k(x, 2);
        (void)i;
        gb.mark_output(a1);
        result<graph> g = gb.finish();
        REQUIRE(g.ok());
        auto node_of = [&](value_id id) -> const node& { return g->nodes[static_cast<size_t>(g->val(id).producer)]; };
        CHECK(mb.supports(*g, node_of(a1)));
        CHECK(mb.supports(*g, node_of(a2)));
        CHECK_FALSE(mb.supports(*g, node_of(m)));
        CHECK_FALSE(mb.supports(*g, node_of(sm)));
        CHECK_FALSE(mb.supports(*g, node_of(v)));
        CHECK_FALSE(mb.supports(*g, node_of(tk)));
        // types reach the module: the same add over f16 values is refused
        graph g16 = *g;
        g16.values[static_cast<size_t>(x)].type = dtype::f16;
        CHECK_FALSE(mb.supports(g16, node_of(a1)));
        g16.values[static_cast<size_t>(x)].type = dtype::f32;
        g16.values[static_cast<size_t>(a1)].type = dtype::i32;
        CHECK_FALSE(mb.supports(g16, node_of(a1)));
        // and shapes: a row that does not match the last dim is refused
        g16 = *g;
        g16.values[static_cast<size_t>(r)].sh = shape{3};
        CHECK_FALSE(mb.supports(g16, node_of(a2)));

        // allocations go through the module and come back
        const int live = module_counter("moe_test_backend_live_allocs");
        {
            result<backend_buffer> buf = backend_buffer::allocate(mb, 1000);
            REQUIRE(buf.ok());
            CHECK(reinterpret_cast<uintptr_t>(buf->data()) % 64 == 0);
            CHECK(module_counter("moe_test_backend_live_allocs") == live + 1);
        }
        CHECK(module_counter("moe_test_backend_live_allocs") == live);

        // a node the module refuses at run time maps its code and message
        float xs[8] = {0}, out[8];
        tensor_view in[2];
        in[0].type = dtype::f32, in[0].sh = shape{2, 4}, in[0].data = xs;
        in[1] = in[0];
        tensor_view ov = in[0];
        ov.data = out;
        status bad = mb.run_node(*g, node_of(m), ov, in, run_args{});
        CHECK(bad.code() == errc::unsupported);
        CHECK(has(bad.message(), "test"));
        CHECK(has(bad.message(), "only adds"));
        // and a node it accepts runs
        for (int k = 0; k < 8; ++k) xs[k] = static_cast<float>(k);
        status good = mb.run_node(*g, node_of(a1), ov, in, run_args{});
        REQUIRE(good.ok());
        for (int k = 0; k < 8; ++k) CHECK(out[k] == 2.0f * static_cast<float>(k));
    }
    CHECK(module_counter("moe_test_backend_live_instances") == instances);  // destroy() was called
}

TEST_CASE("backend_registry: executor with [module, cpu] matches CPU only") {
    backend_registry reg;
    REQUIRE(reg.load_module(MOE_TEST_BACKEND_MODULE).ok());
    result<std::unique_ptr<backend>> mod = reg.create("test", 1);
    result<std::unique_ptr<backend>> cpu = reg.create("cpu", 2);
    REQUIRE(mod.ok());
    REQUIRE(cpu.ok());
    moe_test::rng rnd(31);
    const std::vector<float> x = rnd.floats(24, -2, 2), y = rnd.floats(24, -2, 2);

    const int adds_before = module_counter("moe_test_backend_add_calls");
    std::vector<int> placement;
    const std::vector<float> mixed = run_graph({mod->get(), cpu->get()}, x, y, &placement);
    CHECK(module_counter("moe_test_backend_add_calls") == adds_before + 3);
    CHECK(placement == std::vector<int>{0, 1, 0, 1, 0});

    const std::vector<float> cpu_only = run_graph({cpu->get()}, x, y);
    CHECK(mixed == cpu_only);  // add is exact on both sides
    CHECK(module_counter("moe_test_backend_add_calls") == adds_before + 3);  // CPU-only run never reached it
    CHECK(module_counter("moe_test_backend_live_allocs") == 0);
}

TEST_CASE("backend_registry: a backend outlives its registry") {
    std::unique_ptr<backend> b;
    {
        backend_registry reg;
        REQUIRE(reg.load_module(MOE_TEST_BACKEND_MODULE).ok());
        result<std::unique_ptr<backend>> r = reg.create("test", 1);
        REQUIRE(r.ok());
        b = std::move(*r);
    }
    REQUIRE(module_mapped());  // the backend keeps the module loaded
    backend_registry cpu_reg;
    result<std::unique_ptr<backend>> cpu = cpu_reg.create("cpu", 1);
    REQUIRE(cpu.ok());
    const std::vector<float> x(24, 1.5f), y(24, -0.25f);
    CHECK(run_graph({b.get(), cpu->get()}, x, y) == run_graph({cpu->get()}, x, y));
    CHECK(module_counter("moe_test_backend_live_instances") == 1);
    b.reset();
    CHECK_FALSE(module_mapped());  // the last user gone, the module is unloaded
}

TEST_CASE("backend_registry: every failure mode has its own status") {
    backend_registry reg;
    SUBCASE("missing file") {
        const std::string path = std::string(MOE_TEST_TMPDIR) + "/no/such/libmoe-backend-ghost.so";
        status s = reg.load_module(path);
        CHECK(s.code() == errc::backend_unavailable);
        CHECK(has(s.message(), path));
        CHECK(has(s.message(), "does not exist"));
    }
    SUBCASE("not a shared library") {
        const std::string path = std::string(MOE_TEST_TMPDIR) + "/libmoe-backend-text.so";
        std::ofstream(path) << "this is not an ELF file\n";
        status s = reg.load_module(path);
        CHECK(s.code() == errc::backend_unavailable);
        CHECK(has(s.message(), path));
        CHECK(has(s.message(), "cannot load"));
        std::remove(path.c_str());
    }
    SUBCASE("missing entry point") {
        status s = reg.load_module(MOE_TEST_BACKEND_NO_ENTRY);
        CHECK(s.code() == errc::unsupported);
        CHECK(has(s.message(), MOE_TEST_BACKEND_NO_ENTRY));
        CHECK(has(s.message(), "moe_backend_module_get"));
    }
    SUBCASE("wrong api_version") {
        status s = reg.load_module(MOE_TEST_BACKEND_BAD_VERSION);
        CHECK(s.code() == errc::unsupported);
        CHECK(has(s.message(), MOE_TEST_BACKEND_BAD_VERSION));
        CHECK(has(s.message(), "API version 99"));
        CHECK(has(s.message(), "version 1"));
    }
    SUBCASE("wrong struct_size") {
        status s = reg.load_module(MOE_TEST_BACKEND_BAD_SIZE);
        CHECK(s.code() == errc::unsupported);
        CHECK(has(s.message(), MOE_TEST_BACKEND_BAD_SIZE));
        CHECK(has(s.message(), "struct_size"));
        CHECK(has(s.message(), std::to_string(sizeof(moe_backend_module_v1))));
    }
    SUBCASE("device unavailable (module variant)") {
        status s = reg.load_module(MOE_TEST_BACKEND_NO_DEVICE);
        CHECK(s.code() == errc::backend_unavailable);
        CHECK(has(s.message(), MOE_TEST_BACKEND_NO_DEVICE));
        CHECK(has(s.message(), "simulated: no test device present"));
        // listed, with the reason, but cannot be created
        const std::vector<backend_info> list = reg.list();
        const backend_info* i = info_of(list, "test-nodevice");
        REQUIRE(i != nullptr);
        CHECK_FALSE(i->available);
        CHECK(i->score == 0);
        CHECK(i->reason == "simulated: no test device present");
        result<std::unique_ptr<backend>> b = reg.create("test-nodevice", 1);
        REQUIRE_FALSE(b.ok());
        CHECK(b.error().code() == errc::backend_unavailable);
        CHECK(has(b.error().message(), "simulated: no test device present"));
    }
    SUBCASE("device unavailable (environment)") {
        scoped_env env("MOE_TEST_BACKEND_UNAVAILABLE", "driver too old");
        status s = reg.load_module(MOE_TEST_BACKEND_MODULE);
        CHECK(s.code() == errc::backend_unavailable);
        CHECK(has(s.message(), "driver too old"));
        CHECK(reg.create("test", 1).error().code() == errc::backend_unavailable);
    }
    SUBCASE("create fails inside the module") {
        REQUIRE(reg.load_module(MOE_TEST_BACKEND_MODULE).ok());
        scoped_env env("MOE_TEST_BACKEND_FAIL_CREATE", "1");
        result<std::unique_ptr<backend>> b = reg.create("test", 1);
        REQUIRE_FALSE(b.ok());
        CHECK(b.error().code() == errc::backend_unavailable);
        CHECK(has(b.error().message(), "device busy"));
    }
    // none of the refused modules left a usable entry behind
    for (const backend_info& i : reg.list()) CHECK((i.name == "cpu" || !i.available || i.name == "test"));
}

TEST_CASE("backend_registry: find_modules scans a directory") {
    SUBCASE("the test module directory") {
        backend_registry reg;
        result<module_scan> scan = reg.find_modules(MOE_TEST_BACKEND_DIR);
        REQUIRE_MESSAGE(scan.ok(), scan.error().to_string());
        CHECK(scan->loaded == 1);
        REQUIRE(scan->failures.size() == 4);  // bad size, bad version, no device, no entry (file name order)
        CHECK(scan->failures[0].code() == errc::unsupported);
        CHECK(has(scan->failures[0].message(), "bad-size"));
        CHECK(scan->failures[1].code() == errc::unsupported);
        CHECK(has(scan->failures[1].message(), "bad-version"));
        CHECK(scan->failures[2].code() == errc::backend_unavailable);
        CHECK(has(scan->failures[2].message(), "no-device"));
        CHECK(scan->failures[3].code() == errc::unsupported);
        CHECK(has(scan->failures[3].message(), "no-entry"));
        const std::vector<backend_info> list = reg.list();
        CHECK(list.size() == 3);  // cpu, test-nodevice (unavailable), test
        REQUIRE(info_of(list, "test") != nullptr);
        CHECK(info_of(list, "test")->available);
        REQUIRE(info_of(list, "test-nodevice") != nullptr);
        CHECK_FALSE(info_of(list, "test-nodevice")->available);
        CHECK(reg.create("test", 1).ok());
    }
    SUBCASE("only libmoe-backend-*.so files are tried") {
        const std::string dir = std::string(MOE_TEST_TMPDIR) + "/scan_dir";
        mkdir(dir.c_str(), 0755);
        std::ofstream(dir + "/libmoe-backend-bogus.so") << "not a library";
        std::ofstream(dir + "/notes.txt") << "ignored";
        std::ofstream(dir + "/libmoe-backend-.so") << "no name: ignored";
        std::ofstream(dir + "/libother.so") << "ignored";
        backend_registry reg;
        result<module_scan> scan = reg.find_modules(dir + "/");
        REQUIRE(scan.ok());
        CHECK(scan->loaded == 0);
        REQUIRE(scan->failures.size() == 1);
        CHECK(scan->failures[0].code() == errc::backend_unavailable);
        CHECK(has(scan->failures[0].message(), "libmoe-backend-bogus.so"));
        CHECK(reg.list().size() == 1);
        for (const char* f : {"libmoe-backend-bogus.so", "notes.txt", "libmoe-backend-.so", "libother.so"})
            std::remove((dir + "/" + f).c_str());
        rmdir(dir.c_str());
    }
    SUBCASE("a directory that does not exist") {
        backend_registry reg;
        result<module_scan> scan = reg.find_modules(std::string(MOE_TEST_TMPDIR) + "/no_such_dir");
        REQUIRE_FALSE(scan.ok());
        CHECK(scan.error().code() == errc::io_error);
        CHECK(has(scan.error().message(), "no_such_dir"));
    }
}

TEST_CASE("backend_registry: registries are independent and movable") {
    backend_registry a;
    REQUIRE(a.load_module(MOE_TEST_BACKEND_MODULE).ok());
    backend_registry b;
    CHECK(info_of(b.list(), "test") == nullptr);  // no process-wide state
    CHECK(b.load_module(MOE_TEST_BACKEND_MODULE).ok());
    backend_registry c(std::move(a));
    CHECK(info_of(c.list(), "test") != nullptr);
    CHECK(c.create("test", 1).ok());
}
