// test_cuda_module.cpp — the CUDA module as the host sees it on any machine: loading, table, supports(), sessions.
// Before: libmoe-backend-cuda.so in MOE_CUDA_MODULE_DIR. After: nothing; with and without a GPU.
#include "backends/backend_module.h"
#include "runtime/backend_registry.hpp"
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <dlfcn.h>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

struct loaded {
    void* dl = nullptr;
    const moe_backend_module_v1* t = nullptr;
    loaded() {
        dl = dlopen(MOE_CUDA_MODULE, RTLD_NOW | RTLD_LOCAL);
        REQUIRE_MESSAGE(dl, dlerror());
        void* sym = dlsym(dl, MOE_BACKEND_ENTRY_SYMBOL);
        REQUIRE(sym);
        moe_backend_module_get_fn get;
        std::memcpy(&get, &sym, sizeof get);
        t = get();
        REQUIRE(t);
    }
    ~loaded() {
        if (dl) dlclose(dl);
    }
    loaded(const loaded&) = delete;
    loaded& operator=(const loaded&) = delete;
};

// Whether this machine has a usable GPU, and the module's reason either way.
bool gpu_here(std::string& reason) {
    loaded m;
    char buf[256];
    std::memset(buf, 0x7f, sizeof buf);
    const int32_t s = m.t->score(buf, sizeof buf);
    reason = buf;
    return s > 0;
}

moe_backend_tensor tensor(uint32_t type, std::vector<int64_t> dims) {
    moe_backend_tensor t;
    std::memset(&t, 0, sizeof t);
    t.type = type;
    t.rank = static_cast<int32_t>(dims.size());
    for (int k = 0; k < MOE_BACKEND_MAX_DIMS; ++k) t.dims[k] = k < t.rank ? dims[static_cast<size_t>(k)] : 1;
    return t;
}

moe_backend_node node(int32_t op, moe_backend_tensor out, std::vector<moe_backend_tensor> in) {
    moe_backend_node n;
    std::memset(&n, 0, sizeof n);
    n.op = op;
    n.output = out;
    n.n_inputs = static_cast<int32_t>(in.size());
    for (size_t j = 0; j < in.size() && j < MOE_BACKEND_MAX_INPUTS; ++j) n.inputs[j] = in[j];
    return n;
}

std::string write_model(const std::string& arch = "llama", moe::dtype t = moe::dtype::q8_0) {
    moe::testgen::model_spec s;
    s.arch = arch;
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 96;
    s.n_expert = 8, s.n_expert_used = 2, s.seed = 9, s.weight_type = t;
    if (arch == "deepseek2") {  // V3-style: sigmoid gating with group-limited routing, YaRN rope
        s.n_head_kv = 4, s.head_dim = 48;
        s.deepseek2.n_group = 4, s.deepseek2.n_group_used = 2, s.deepseek2.sigmoid = true;
        s.deepseek2.weights_norm = true, s.deepseek2.yarn_factor = 4.0f;
    }
    const std::string path =
        std::string(MOE_TEST_TMPDIR) + "/cuda_module_" + arch + "_" + moe::dtype_name(t) + ".gguf";
    REQUIRE(moe::testgen::write_random_model(path, s).ok());
    return path;
}

// Relative L2 distance of two logit rows.
double rel_l2(const float* a, const float* b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t v = 0; v < n; ++v) num += (a[v] - b[v]) * (a[v] - b[v]), den += double(b[v]) * b[v];
    return std::sqrt(num / (den > 0 ? den : 1));
}

}  // namespace

TEST_CASE("cuda module: loads here and its table passes the registry's checks") {
    loaded m;
    CHECK(m.t->api_version == MOE_BACKEND_API_VERSION);
    CHECK(m.t->struct_size == sizeof(moe_backend_module_v1));
    CHECK(std::string(m.t->name) == "cuda");
    CHECK(m.t->description != nullptr);
    CHECK((m.t->score != nullptr));
    CHECK((m.t->create != nullptr));
    CHECK((m.t->destroy != nullptr));
    CHECK((m.t->host_memory != nullptr));
    CHECK((m.t->supports != nullptr));
    CHECK((m.t->alloc != nullptr));
    CHECK((m.t->free != nullptr));
    CHECK((m.t->run_node != nullptr));
    CHECK((m.t->last_error != nullptr));
    m.t->destroy(nullptr);  // a no-op
    CHECK(std::string(m.t->last_error(nullptr)).empty());

    // score() always writes a NUL-terminated reason, even into a tiny buffer
    char tiny[8];
    std::memset(tiny, 'x', sizeof tiny);
    (void)m.t->score(tiny, sizeof tiny);
    CHECK(std::memchr(tiny, '\0', sizeof tiny) != nullptr);

    moe::backend_registry reg;
    const moe::status s = reg.load_module(MOE_CUDA_MODULE);
    std::string reason;
    const bool gpu = gpu_here(reason);
    MESSAGE("CUDA module says: " << reason);
    bool listed = false;
    for (const moe::backend_info& b : reg.list()) {
        if (b.name != "cuda") continue;
        listed = true;
        CHECK(b.available == gpu);
        if (gpu) CHECK(b.reason.find("compute capability") != std::string::npos);  // free memory varies
        else CHECK(b.reason == reason);
        CHECK(b.path == MOE_CUDA_MODULE);
    }
    CHECK(listed);
    if (!gpu) {
        CHECK(s.code() == moe::errc::backend_unavailable);
        CHECK(s.message().find(reason) != std::string::npos);
        CHECK((reason.find("no CUDA driver") == 0 || reason.find("no CUDA device") == 0 ||
               reason.find("compute capability") != std::string::npos));
        const auto created = reg.create("cuda", 1);
        CHECK(created.error().code() == moe::errc::backend_unavailable);
        // the module's own create() says the same
        moe_backend_instance* inst = reinterpret_cast<moe_backend_instance*>(&listed);  // must be overwritten
        char err[256] = {0};
        moe_backend_create_params p;
        std::memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        CHECK(m.t->create(&p, &inst, err, sizeof err) == MOE_BACKEND_ERR_UNAVAILABLE);
        CHECK(inst == nullptr);
        CHECK(std::string(err) == reason);
    } else {
        CHECK(s.ok());
    }
}

TEST_CASE("cuda module: supports() takes the v1 forms it implements and refuses the rest") {
    loaded m;
    auto ok = [&](const moe_backend_node& n) { return m.t->supports(nullptr, &n) == 1; };
    const uint32_t f32 = MOE_BACKEND_TYPE_F32, i32 = MOE_BACKEND_TYPE_I32;
    for (uint32_t wt : {0u, 1u, 2u, 8u, 12u, 14u, 30u}) {  // f32 f16 q4_0 q8_0 q4_k q6_k bf16
        CAPTURE(wt);
        CHECK(ok(node(MOE_BACKEND_OP_MUL_MAT, tensor(f32, {3, 64}), {tensor(f32, {3, 512}), tensor(wt, {64, 512})})));
        CHECK(ok(node(MOE_BACKEND_OP_GET_ROWS, tensor(f32, {3, 512}), {tensor(wt, {100, 512}), tensor(i32, {3})})));
        CHECK(ok(node(MOE_BACKEND_OP_MUL_MAT_ID, tensor(f32, {5, 2, 64}),
                      {tensor(f32, {5, 1, 512}), tensor(wt, {8, 64, 512}), tensor(i32, {5, 2})})));
    }
    for (uint32_t wt :
         {3u, 6u, 7u, 10u, 11u, 13u, 20u, 23u, 39u}) {  // q4_1 q5_0 q5_1 q2_k q3_k q5_k iq4_nl iq4_xs mxfp4
        CAPTURE(wt);
        CHECK_FALSE(
            ok(node(MOE_BACKEND_OP_MUL_MAT, tensor(f32, {3, 64}), {tensor(f32, {3, 512}), tensor(wt, {64, 512})})));
        CHECK_FALSE(
            ok(node(MOE_BACKEND_OP_GET_ROWS, tensor(f32, {3, 512}), {tensor(wt, {100, 512}), tensor(i32, {3})})));
    }
    // a row length that is not a whole number of blocks
    CHECK_FALSE(ok(node(MOE_BACKEND_OP_MUL_MAT, tensor(f32, {3, 64}), {tensor(f32, {3, 100}), tensor(2, {64, 100})})));
    // attention: one sequence, five inputs
    const moe_backend_tensor q = tensor(f32, {2, 8, 64}), k = tensor(f32, {2, 2, 64}), kc = tensor(f32, {32, 2, 64});
    moe_backend_node att = node(MOE_BACKEND_OP_ATTENTION, tensor(f32, {2, 512}), {q, k, k, kc, kc});
    CHECK(ok(att));
    att.i[3] = 1;  // the several-sequence form (positions and ids would follow): not offered under v1, refused
    CHECK_FALSE(ok(att));
    moe_backend_node ext = node(MOE_BACKEND_OP_ATTENTION_EXT, tensor(f32, {2, 512}), {q, k, k, kc, kc});
    ext.i[0] = 16;
    CHECK(ok(ext));
    moe_backend_node mla = node(MOE_BACKEND_OP_ATTENTION_MLA, tensor(f32, {2, 8, 48}),
                                {tensor(f32, {2, 8, 80}), tensor(f32, {2, 1, 80}), tensor(f32, {32, 1, 80})});
    mla.i[0] = 48;
    CHECK(ok(mla));
    moe_backend_node mla_multi = node(MOE_BACKEND_OP_ATTENTION_MLA, tensor(f32, {2, 8, 48}),
                                      {tensor(f32, {2, 8, 80}), tensor(f32, {2, 1, 80}), tensor(f32, {3, 32, 1, 80}),
                                       tensor(i32, {2}), tensor(i32, {2})});
    mla_multi.i[0] = 48;
    mla_multi.i[3] = 1;
    CHECK(ok(mla_multi));
    // every op of the ABI has some supported form
    CHECK(ok(node(MOE_BACKEND_OP_SOFTMAX, tensor(f32, {4, 8}), {tensor(f32, {4, 8})})));
    moe_backend_node topk = node(MOE_BACKEND_OP_TOP_K, tensor(i32, {4, 2}), {tensor(f32, {4, 8})});
    topk.i[0] = 2;
    CHECK(ok(topk));
    topk.i[0] = 9;  // more than the row has
    CHECK_FALSE(ok(topk));
    CHECK_FALSE(ok(node(99, tensor(f32, {1}), {tensor(f32, {1})})));
}

TEST_CASE("cuda module: sessions ask for \"cuda\" and \"auto\" with the module in backend_dirs") {
    std::string reason;
    const bool gpu = gpu_here(reason);
    moe::result<moe::model> m = moe::model::load(write_model());
    REQUIRE(m.ok());
    moe::session_params p;
    p.backend_dirs = {std::string(MOE_CUDA_MODULE_DIR)};
    p.backend = "cuda";
    moe::result<moe::session> cuda = moe::session::create(*m, p);
    p.backend = "auto";
    moe::result<moe::session> autos = moe::session::create(*m, p);
    REQUIRE(autos.ok());
    MESSAGE("auto: " << std::string(autos->backend_note()));
    if (!gpu) {
        REQUIRE_FALSE(cuda.ok());
        CHECK(cuda.error().code() == moe::errc::backend_unavailable);
        CHECK(cuda.error().message().find(reason) != std::string::npos);
        CHECK(std::string(autos->backend_name()) == "cpu");
        const std::string note = autos->backend_note();
        CHECK(note.find("CUDA backend unavailable") != std::string::npos);
        CHECK(note.find(reason) != std::string::npos);
        CHECK(note.find("running on the CPU") != std::string::npos);
    } else {
        REQUIRE(cuda.ok());
        CHECK(std::string(cuda->backend_name()) == "cuda");
        // not validated on a GPU yet: "auto" stays on the CPU unless MOE_AUTO_CUDA=1
        CHECK(std::string(autos->backend_name()) == "cpu");
        CHECK(std::string(autos->backend_note()).find("MOE_AUTO_CUDA") != std::string::npos);
        setenv("MOE_AUTO_CUDA", "1", 1);
        moe::result<moe::session> opted = moe::session::create(*m, p);
        unsetenv("MOE_AUTO_CUDA");
        REQUIRE(opted.ok());
        CHECK(std::string(opted->backend_name()) == "cuda");
        CHECK(std::string(opted->backend_note()).find("using CUDA") != std::string::npos);
    }
    // "auto" still decodes (on whatever it chose)
    const int32_t tokens[] = {1, 5, 9, 13};
    REQUIRE(autos->eval(tokens, 4).ok());
    CHECK(autos->argmax() >= 0);

    // no module in the directory: "auto" says so and runs on the CPU
    p.backend_dirs = {std::string(MOE_TEST_TMPDIR)};
    moe::result<moe::session> none = moe::session::create(*m, p);
    REQUIRE(none.ok());
    CHECK(std::string(none->backend_name()) == "cpu");
    CHECK(std::string(none->backend_note()).find("no CUDA backend module found") != std::string::npos);
    p.backend = "cpu";
    moe::result<moe::session> cpu = moe::session::create(*m, p);
    REQUIRE(cpu.ok());
    CHECK(std::string(cpu->backend_note()).find("cpu") != std::string::npos);
}

// With a device (a GPU, or the host emulation of tests/cuda): whole sessions through the module give the CPU's
// logits, for the prompt and for decoded tokens, across architectures (llama MoE, DeepSeek-2 MLA with group routing,
// gpt-oss with sinks on the CPU and expert biases on the device) and a weight type the module refuses (q5_0: those
// products run on the CPU, the rest on the device). Float sums run in another order and a router tie could flip an
// expert, hence a relative L2 bound rather than equality.
TEST_CASE("cuda module: sessions through the module give the CPU's logits") {
    std::string reason;
    if (!gpu_here(reason)) {
        MESSAGE("no device (" << reason << "): nothing to compare");
        return;
    }
    const std::pair<std::string, moe::dtype> models[] = {{"llama", moe::dtype::q8_0},
                                                        {"llama", moe::dtype::q5_0},
                                                        {"llama", moe::dtype::f16},
                                                        {"qwen3moe", moe::dtype::q4_0},
                                                        {"deepseek2", moe::dtype::q8_0},
                                                        {"gpt-oss", moe::dtype::q8_0}};
    for (const auto& mt : models) {
        CAPTURE(mt.first);
        CAPTURE(moe::dtype_name(mt.second));
        moe::result<moe::model> m = moe::model::load(write_model(mt.first, mt.second));
        REQUIRE(m.ok());
        moe::session_params cp, gp;
        cp.backend = "cpu";
        gp.backend = "cuda";
        gp.backend_dirs = {std::string(MOE_CUDA_MODULE_DIR)};
        moe::result<moe::session> cpu_s = moe::session::create(*m, cp), gpu_s = moe::session::create(*m, gp);
        REQUIRE(cpu_s.ok());
        REQUIRE_MESSAGE(gpu_s.ok(), gpu_s.error().to_string());
        const int32_t prompt[] = {1, 17, 42, 99, 7, 3, 250, 11};
        REQUIRE(gpu_s->eval(prompt, 8, moe::logits_mode::all).ok());
        REQUIRE(cpu_s->eval(prompt, 8, moe::logits_mode::all).ok());
        for (int64_t i = 0; i < 8; ++i) CHECK(rel_l2(gpu_s->logits(i), cpu_s->logits(i), cpu_s->n_vocab()) < 1e-3);
        for (int step = 0; step < 4; ++step) {  // decode: one token at a time, the next one chosen by the CPU
            const int32_t next = cpu_s->argmax();
            CHECK(gpu_s->argmax() == next);
            REQUIRE(gpu_s->eval(&next, 1).ok());
            REQUIRE(cpu_s->eval(&next, 1).ok());
            CHECK(rel_l2(gpu_s->logits(), cpu_s->logits(), cpu_s->n_vocab()) < 1e-3);
        }
    }
}

// Several sequences in one batch (eval_batch): attention's several-sequence form has more inputs than API v1 carries
// and runs on the CPU; MLA's (5 inputs) runs on the device, with each sequence's own cache rows.
TEST_CASE("cuda module: several sequences per batch give the CPU's logits") {
    std::string reason;
    if (!gpu_here(reason)) {
        MESSAGE("no device (" << reason << "): nothing to compare");
        return;
    }
    for (const std::string arch : {"llama", "deepseek2"}) {
        CAPTURE(arch);
        moe::result<moe::model> m = moe::model::load(write_model(arch, moe::dtype::q8_0));
        REQUIRE(m.ok());
        moe::session_params cp, gp;
        cp.backend = "cpu", cp.n_seq = 3;
        gp.backend = "cuda", gp.n_seq = 3;
        gp.backend_dirs = {std::string(MOE_CUDA_MODULE_DIR)};
        moe::result<moe::session> cpu_s = moe::session::create(*m, cp), gpu_s = moe::session::create(*m, gp);
        REQUIRE(cpu_s.ok());
        REQUIRE(gpu_s.ok());
        const int32_t tokens[] = {1, 5, 9, 1, 44, 2, 3, 80};
        const int32_t seqs[] = {0, 0, 0, 1, 1, 2, 2, 2};
        REQUIRE(gpu_s->eval_batch(tokens, seqs, 8, moe::logits_mode::all).ok());
        REQUIRE(cpu_s->eval_batch(tokens, seqs, 8, moe::logits_mode::all).ok());
        for (int64_t i = 0; i < 8; ++i) CHECK(rel_l2(gpu_s->logits(i), cpu_s->logits(i), cpu_s->n_vocab()) < 1e-3);
        const int32_t next[] = {7, 8, 9};
        const int32_t next_seq[] = {2, 0, 1};
        REQUIRE(gpu_s->eval_batch(next, next_seq, 3, moe::logits_mode::all).ok());
        REQUIRE(cpu_s->eval_batch(next, next_seq, 3, moe::logits_mode::all).ok());
        for (int64_t i = 0; i < 3; ++i) CHECK(rel_l2(gpu_s->logits(i), cpu_s->logits(i), cpu_s->n_vocab()) < 1e-3);
    }
}

#if defined(MOE_CUDA_EMU_TEST)
#include <cstdlib>
// The emulated device reports MOE_EMU_FREE_BYTES of free memory: with 1.5 GiB the weight cache's cap (free memory
// minus 1 GiB and 5 % of 16 GiB) is 0, so the first weight fails with out_of_memory and a message, not a crash.
TEST_CASE("cuda module (emulated): a full weight cache is out_of_memory with a message") {
    moe::result<moe::model> m = moe::model::load(write_model());
    REQUIRE(m.ok());
    REQUIRE(setenv("MOE_EMU_FREE_BYTES", "1610612736", 1) == 0);
    moe::session_params gp;
    gp.backend = "cuda";
    gp.backend_dirs = {std::string(MOE_CUDA_MODULE_DIR)};
    moe::result<moe::session> s = moe::session::create(*m, gp);
    REQUIRE(unsetenv("MOE_EMU_FREE_BYTES") == 0);
    REQUIRE(s.ok());
    const int32_t prompt[] = {1, 2, 3};
    const moe::status st = s->eval(prompt, 3);
    CHECK(st.code() == moe::errc::out_of_memory);
    CHECK(st.message().find("CUDA weight cache full") != std::string::npos);
    CHECK(s->n_past() == 0);
}
#endif
