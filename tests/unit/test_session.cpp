// test_session.cpp — end-to-end behaviour of model::load and session on generated models: batch splitting,
// token-by-token vs batch, shared models, error statuses, and that decoding allocates nothing after warm-up.
// Before: the model writer (src/testgen). After: nothing — this is the user-facing contract of include/moe.
#include "alloc_hooks.hpp"
#include "backends/cpu/simd/simd.hpp"
#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <moe/moe.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>


namespace {

moe::testgen::model_spec small_spec(moe::dtype t = moe::dtype::f32) {
    moe::testgen::model_spec s;
    s.n_vocab = 300, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 96;
    s.n_expert = 4, s.n_expert_used = 2, s.seed = 5, s.weight_type = t;
    return s;
}

std::string write_model(const std::string& name, const moe::testgen::model_spec& spec) {
    const std::string path = std::string(MOE_TEST_TMPDIR) + "/" + name;
    REQUIRE(moe::testgen::write_random_model(path, spec).ok());
    return path;
}

std::vector<int32_t> prompt(size_t n) {
    std::vector<int32_t> p{1};
    for (size_t i = 1; i < n; ++i) p.push_back(static_cast<int32_t>(3 + (i * 37) % 290));
    return p;
}

double rel_l2(const float* a, const float* b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
    return std::sqrt(num / den);
}

moe::session make_session(const moe::model& m, int threads = 2, int64_t max_batch = 512, int64_t n_ctx = 128) {
    moe::session_params sp;
    sp.n_threads = threads, sp.max_batch = max_batch, sp.n_ctx = n_ctx;
    moe::result<moe::session> s = moe::session::create(m, sp);
    REQUIRE(s.ok());
    return std::move(*s);
}

// Rewrites a GGUF file through gguf::writer, letting `edit` drop or change keys and tensors.
template <class Edit>
std::string rewrite(const std::string& src, const std::string& name, Edit edit) {
    moe::result<moe::model> unused = moe::model::load(src);  // keeps the check that the source itself is valid
    REQUIRE(unused.ok());
    std::FILE* f = std::fopen(src.c_str(), "rb");
    REQUIRE(f);
    std::vector<uint8_t> bytes;
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
    moe::result<moe::gguf::file> g = moe::gguf::file::parse(bytes.data(), bytes.size());
    REQUIRE(g.ok());
    moe::gguf::writer w;
    edit(*g, w);
    const std::string path = std::string(MOE_TEST_TMPDIR) + "/" + name;
    REQUIRE(w.write(path).ok());
    return path;
}

void copy_kvs(const moe::gguf::file& g, moe::gguf::writer& w, const std::string& skip = "") {
    for (const auto& kv : g.kvs())
        if (kv.first != skip) w.set_value(kv.first, kv.second);
}

}  // namespace

TEST_CASE("session: batch, split batches and token-by-token give the same logits (f32 model)") {
    const std::string path = write_model("session_f32.gguf", small_spec());
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    CHECK(m->info().architecture == "llama");
    CHECK(m->info().n_expert == 4);
    CHECK(m->info().n_vocab == 300);
    const std::vector<int32_t> p = prompt(20);

    moe::session whole = make_session(*m);
    REQUIRE(whole.eval(p.data(), p.size(), moe::logits_mode::all).ok());
    CHECK(whole.n_past() == 20);

    moe::session split = make_session(*m, 1, 7);  // 7 + 7 + 6, one thread
    REQUIRE(split.eval(p.data(), p.size(), moe::logits_mode::all).ok());

    moe::session single = make_session(*m);
    for (size_t i = 0; i < p.size(); ++i) {
        REQUIRE(single.eval(&p[i], 1).ok());
        const float* a = whole.logits(static_cast<int64_t>(i));
        REQUIRE(a != nullptr);
        CHECK(rel_l2(single.logits(), a, 300) < 1e-5);
        CHECK(rel_l2(split.logits(static_cast<int64_t>(i)), a, 300) < 1e-5);
    }
    CHECK(single.argmax() == whole.argmax());
}

TEST_CASE("session: logits availability and argmax") {
    const std::string path = write_model("session_modes.gguf", small_spec());
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    moe::session s = make_session(*m);
    CHECK(s.logits() == nullptr);  // nothing evaluated yet
    CHECK(s.argmax() == -1);
    const std::vector<int32_t> p = prompt(5);
    REQUIRE(s.eval(p.data(), p.size()).ok());
    CHECK(s.logits(4) != nullptr);
    CHECK(s.logits(-1) == s.logits(4));
    CHECK(s.logits(0) == nullptr);  // mode last: earlier positions were not computed
    CHECK(s.logits(5) == nullptr);
    const float* l = s.logits();
    int32_t best = 0;
    for (int32_t v = 1; v < 300; ++v)
        if (l[v] > l[best]) best = v;
    CHECK(s.argmax() == best);
    s.clear();
    CHECK(s.n_past() == 0);
    CHECK(s.logits() == nullptr);
}

TEST_CASE("session: two sessions on one model are independent and identical") {
    const std::string path = write_model("session_shared.gguf", small_spec(moe::dtype::q8_0));
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    moe::session a = make_session(*m), b = make_session(*m, 1);
    const std::vector<int32_t> p = prompt(9);
    REQUIRE(a.eval(p.data(), p.size()).ok());
    REQUIRE(b.eval(p.data(), 4).ok());
    REQUIRE(b.eval(p.data() + 4, 5).ok());
    CHECK(rel_l2(a.logits(), b.logits(), 300) < 1e-5);
}

TEST_CASE("session: decoding allocates nothing after warm-up") {
    const std::string path = write_model("session_alloc.gguf", small_spec(moe::dtype::q4_0));
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    moe::session s = make_session(*m, 2);
    const std::vector<int32_t> p = prompt(8);
    REQUIRE(s.eval(p.data(), p.size()).ok());
    int32_t tok = s.argmax();
    for (int i = 0; i < 3; ++i) {  // warm-up: the single-token executor and scratch buffers are created here
        REQUIRE(s.eval(&tok, 1).ok());
        tok = s.argmax();
    }
    if (!alloc_hooks::active()) {
        MESSAGE("allocation hooks unavailable in this build (ThreadSanitizer): skipped");
        return;
    }
    alloc_hooks::start_counting();
    bool ok = true;
    for (int i = 0; i < 16; ++i) {
        ok = ok && s.eval(&tok, 1).ok();
        tok = s.argmax();
    }
    const long allocs = alloc_hooks::stop_counting();
    CHECK(ok);
    CHECK(allocs == 0);
}

TEST_CASE("session: decoding a deepseek2 (MLA, grouped sigmoid routing) model allocates nothing after warm-up") {
    moe::testgen::model_spec sp = small_spec(moe::dtype::q4_0);
    sp.arch = "deepseek2", sp.n_layer = 3, sp.n_head_kv = 1, sp.head_dim = 48, sp.n_ff = 32, sp.n_expert = 8;
    moe::testgen::model_spec::deepseek2_spec& d = sp.deepseek2;
    d.q_lora_rank = 32, d.kv_lora_rank = 32, d.rope_dim = 16, d.n_ff_dense = 64, d.n_group = 4, d.n_group_used = 2;
    d.sigmoid = true, d.weights_norm = true, d.yarn_factor = 4.0f, d.yarn_orig_ctx = 256;
    const std::string path = write_model("session_alloc_deepseek2.gguf", sp);
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    moe::session s = make_session(*m, 2);
    const std::vector<int32_t> p = prompt(8);
    REQUIRE(s.eval(p.data(), p.size()).ok());
    int32_t tok = s.argmax();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(s.eval(&tok, 1).ok());
        tok = s.argmax();
    }
    if (!alloc_hooks::active()) {
        MESSAGE("allocation hooks unavailable in this build (ThreadSanitizer): skipped");
        return;
    }
    alloc_hooks::start_counting();
    bool ok = true;
    for (int i = 0; i < 16; ++i) {
        ok = ok && s.eval(&tok, 1).ok();
        tok = s.argmax();
    }
    const long allocs = alloc_hooks::stop_counting();
    CHECK(ok);
    CHECK(allocs == 0);
}

TEST_CASE("session: errors come back as statuses") {
    const std::string path = write_model("session_errors.gguf", small_spec());
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    moe::session s = make_session(*m, 1, 512, 16);
    const int32_t bad = 300;
    CHECK(s.eval(&bad, 1).code() == moe::errc::invalid_argument);
    CHECK(s.eval(nullptr, 0).code() == moe::errc::invalid_argument);
    CHECK(s.n_past() == 0);
    const std::vector<int32_t> p = prompt(17);
    moe::status full = s.eval(p.data(), p.size());
    CHECK(full.code() == moe::errc::context_full);
    CHECK(full.message().find("16") != std::string::npos);
    CHECK(s.n_past() == 0);  // nothing was evaluated
    REQUIRE(s.eval(p.data(), 16).ok());
    CHECK(s.eval(p.data(), 1).code() == moe::errc::context_full);

    moe::session_params cuda;
    cuda.backend = "cuda";
    cuda.backend_dirs = {std::string(MOE_TEST_TMPDIR)};  // no modules there
    moe::result<moe::session> no_gpu = moe::session::create(*m, cuda);
    CHECK(no_gpu.error().code() == moe::errc::backend_unavailable);
    CHECK(no_gpu.error().message().find("no CUDA backend module") != std::string::npos);
    moe::session_params unknown;
    unknown.backend = "tpu";
    CHECK(moe::session::create(*m, unknown).error().code() == moe::errc::invalid_argument);
}

TEST_CASE("model: load from memory matches load from file; progress can cancel") {
    const std::string path = write_model("model_mem.gguf", small_spec(moe::dtype::f16));
    moe::result<std::vector<uint8_t>> bytes = moe::testgen::make_random_model(small_spec(moe::dtype::f16));
    REQUIRE(bytes.ok());
    moe::result<moe::model> a = moe::model::load(path);
    moe::result<moe::model> b = moe::model::load_from_memory(bytes->data(), bytes->size());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    moe::session sa = make_session(*a), sb = make_session(*b);
    const std::vector<int32_t> p = prompt(6);
    REQUIRE(sa.eval(p.data(), p.size()).ok());
    REQUIRE(sb.eval(p.data(), p.size()).ok());
    CHECK(rel_l2(sa.logits(), sb.logits(), 300) == 0.0);

    std::vector<float> seen;
    moe::model_params mp;
    mp.progress = [&](float x) {
        seen.push_back(x);
        return true;
    };
    REQUIRE(moe::model::load(path, mp).ok());
    REQUIRE(seen.size() >= 2);
    CHECK(seen.front() == 0.0f);
    CHECK(seen.back() == 1.0f);
    mp.progress = [](float x) { return x < 0.5f; };
    CHECK(moe::model::load(path, mp).error().code() == moe::errc::aborted);
    CHECK(moe::model::load_from_memory(nullptr, 0).error().code() == moe::errc::invalid_argument);
}

TEST_CASE("model: clear errors for bad files") {
    const std::string path = write_model("model_good.gguf", small_spec());

    SUBCASE("missing file") {
        moe::result<moe::model> m = moe::model::load(std::string(MOE_TEST_TMPDIR) + "/does-not-exist.gguf");
        CHECK(m.error().code() == moe::errc::io_error);
        CHECK(m.error().message().find("does-not-exist.gguf") != std::string::npos);
    }
    SUBCASE("unknown architecture names it and the supported list") {
        const std::string bad = rewrite(path, "model_arch.gguf", [](const moe::gguf::file& g, moe::gguf::writer& w) {
            copy_kvs(g, w, "general.architecture");
            w.set_string("general.architecture", "mamba9");
            for (const auto& t : g.tensors()) REQUIRE(w.add_tensor(t.name, t.type, {t.ne, t.ne + t.n_dims}, t.data, t.nbytes).ok());
        });
        moe::result<moe::model> m = moe::model::load(bad);
        CHECK(m.error().code() == moe::errc::unsupported);
        CHECK(m.error().message().find("mamba9") != std::string::npos);
        CHECK(m.error().message().find("llama") != std::string::npos);
        CHECK(m.error().message().find("model_arch.gguf") != std::string::npos);
    }
    SUBCASE("missing tensor is named") {
        const std::string bad = rewrite(path, "model_missing.gguf", [](const moe::gguf::file& g, moe::gguf::writer& w) {
            copy_kvs(g, w);
            for (const auto& t : g.tensors())
                if (t.name != "blk.1.ffn_up_exps.weight")
                    REQUIRE(w.add_tensor(t.name, t.type, {t.ne, t.ne + t.n_dims}, t.data, t.nbytes).ok());
        });
        moe::result<moe::model> m = moe::model::load(bad);
        CHECK(m.error().code() == moe::errc::shape_mismatch);
        CHECK(m.error().message().find("blk.1.ffn_up_exps.weight") != std::string::npos);
    }
    SUBCASE("mis-shaped tensor names expected and found shapes") {
        const std::string bad = rewrite(path, "model_shape.gguf", [](const moe::gguf::file& g, moe::gguf::writer& w) {
            copy_kvs(g, w);
            for (const auto& t : g.tensors()) {
                std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
                if (t.name == "blk.0.attn_q.weight") ne = {ne[1], ne[0]};  // same bytes, transposed shape: 64x64 -> ok
                if (t.name == "blk.0.attn_k.weight") ne = {ne[0] * ne[1] / 2, 2};
                REQUIRE(w.add_tensor(t.name, t.type, ne, t.data, t.nbytes).ok());
            }
        });
        moe::result<moe::model> m = moe::model::load(bad);
        CHECK(m.error().code() == moe::errc::shape_mismatch);
        CHECK(m.error().message().find("blk.0.attn_k.weight") != std::string::npos);
        CHECK(m.error().message().find("[32, 64]") != std::string::npos);  // expected, outermost first
    }
    SUBCASE("missing hyperparameter is named") {
        const std::string bad = rewrite(path, "model_hparam.gguf", [](const moe::gguf::file& g, moe::gguf::writer& w) {
            copy_kvs(g, w, "llama.embedding_length");
            for (const auto& t : g.tensors()) REQUIRE(w.add_tensor(t.name, t.type, {t.ne, t.ne + t.n_dims}, t.data, t.nbytes).ok());
        });
        moe::result<moe::model> m = moe::model::load(bad);
        CHECK(m.error().code() == moe::errc::bad_format);
        CHECK(m.error().message().find("llama.embedding_length") != std::string::npos);
    }
    SUBCASE("truncated file") {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        REQUIRE(f);
        std::vector<uint8_t> bytes(4096);
        REQUIRE(std::fread(bytes.data(), 1, bytes.size(), f) == bytes.size());
        std::fclose(f);
        moe::result<moe::model> m = moe::model::load_from_memory(bytes.data(), bytes.size());
        CHECK(m.error().code() == moe::errc::bad_format);
    }
}

TEST_CASE("session: a backend module placed before the CPU gives the CPU's answers") {
    const std::string path = write_model("session_module.gguf", small_spec(moe::dtype::q8_0));
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    moe::session_params sp;
    sp.backend = "test";  // tests/modules/test_backend_module.cpp: host memory, runs `add` only
    sp.backend_dirs = {std::string(MOE_TEST_BACKEND_DIR)};
    sp.n_threads = 2;
    moe::result<moe::session> with_module = moe::session::create(*m, sp);
    REQUIRE(with_module.ok());
    CHECK(std::string(with_module->backend_name()) == "test");
    moe::session cpu_only = make_session(*m);
    const std::vector<int32_t> p = prompt(7);
    REQUIRE(with_module->eval(p.data(), p.size(), moe::logits_mode::all).ok());
    REQUIRE(cpu_only.eval(p.data(), p.size(), moe::logits_mode::all).ok());
    for (int64_t i = 0; i < 7; ++i) CHECK(rel_l2(with_module->logits(i), cpu_only.logits(i), 300) < 1e-6);

    sp.backend = "test-nodevice";  // listed, but its score() reports no device
    moe::result<moe::session> unavailable = moe::session::create(*m, sp);
    CHECK(unavailable.error().code() == moe::errc::backend_unavailable);
}

TEST_CASE("session: the memory budget caps the KV cache and the compute buffers") {
    const std::string path = write_model("session_budget.gguf", small_spec());
    moe::result<moe::model> m = moe::model::load(path);
    REQUIRE(m.ok());
    // KV cache of this model: 2 layers x n_ctx x 2 KV heads x (16 + 16) floats = 512 bytes per token.
    moe::session_params sp;
    sp.n_ctx = 64, sp.n_threads = 1;
    sp.max_memory = 64 * 512 - 1;
    moe::result<moe::session> s = moe::session::create(*m, sp);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == moe::errc::out_of_memory);
    CHECK(s.error().message().find("memory budget") != std::string::npos);
    // Room for the KV cache but not for the compute buffers: create works, eval fails cleanly, nothing changes.
    sp.max_memory = 64 * 512 + 100;
    s = moe::session::create(*m, sp);
    REQUIRE(s.ok());
    const std::vector<int32_t> p = prompt(8);
    moe::status st = s->eval(p.data(), p.size());
    CHECK(st.code() == moe::errc::out_of_memory);
    CHECK(st.message().find("session_params::max_memory") != std::string::npos);
    CHECK(s->n_past() == 0);
    // A context no machine holds, with the default budget (physical memory): an error, not an attempt.
    sp.max_memory = 0;
    sp.n_ctx = int64_t(1) << 40;
    s = moe::session::create(*m, sp);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == moe::errc::out_of_memory);
    CHECK(s.error().message().find("physical memory") != std::string::npos);
    // Enough budget: works, same as unlimited.
    sp.n_ctx = 64, sp.max_memory = 64 << 20;
    s = moe::session::create(*m, sp);
    REQUIRE(s.ok());
    CHECK(s->eval(p.data(), p.size()).ok());
}

TEST_CASE("session: weights the CPU repacks at load give the file layout's logits bit for bit") {
    moe::testgen::model_spec ds = small_spec(moe::dtype::q4_0);
    ds.arch = "deepseek2", ds.n_layer = 2, ds.n_head_kv = 1, ds.head_dim = 48, ds.n_ff = 32, ds.n_expert = 8;
    ds.deepseek2.q_lora_rank = 32, ds.deepseek2.kv_lora_rank = 32, ds.deepseek2.rope_dim = 16;
    ds.deepseek2.n_ff_dense = 64, ds.deepseek2.n_group = 4, ds.deepseek2.n_group_used = 2;
    const std::pair<const char*, moe::testgen::model_spec> models[] = {{"packed_qwen.gguf", small_spec(moe::dtype::q4_0)},
                                                                       {"packed_deepseek2.gguf", ds},
                                                                       {"packed_q8_0.gguf", small_spec(moe::dtype::q8_0)},
                                                                       {"packed_f16.gguf", small_spec(moe::dtype::f16)},
                                                                       {"packed_bf16.gguf", small_spec(moe::dtype::bf16)}};
    for (const auto& entry : models) {
        const std::string name = entry.first;  // not a structured binding: clang's C++17 cannot capture those
        const moe::testgen::model_spec& spec = entry.second;
        CAPTURE(name);
        const std::string path = write_model(name, spec);
        moe::model_params plain_params;
        plain_params.pack_weights = false;
        moe::result<moe::model> packed = moe::model::load(path), plain = moe::model::load(path, plain_params);
        REQUIRE(packed.ok());
        REQUIRE(plain.ok());
        CHECK(plain->info().packed_bytes == 0);
        const moe::cpu::simd::kernel_table& kt = moe::cpu::simd::active();  // a kernel for the layout: packed
        const moe::dtype t = spec.weight_type;
        const bool has_kernel = t == moe::dtype::q4_0 ? kt.q4_0x8 != nullptr
                                : t == moe::dtype::q8_0 ? kt.q8_0x8 != nullptr  // AVX-512 VNNI only
                                : t == moe::dtype::f16  ? kt.f16x8 != nullptr
                                                        : kt.bf16x8 != nullptr;
        CHECK((packed->info().packed_bytes > 0) == has_kernel);
        const int64_t V = packed->info().n_vocab;
        for (int threads : {1, 2}) {
            CAPTURE(threads);
            moe::session a = make_session(*packed, threads), b = make_session(*plain, threads);
            const std::vector<int32_t> p = prompt(13);
            REQUIRE(a.eval(p.data(), p.size()).ok());
            REQUIRE(b.eval(p.data(), p.size()).ok());
            CHECK(std::memcmp(a.logits(), b.logits(), static_cast<size_t>(V) * sizeof(float)) == 0);
            for (int i = 0; i < 3; ++i) {  // one token at a time: the decode kernels
                const int32_t tok = a.argmax();
                REQUIRE(a.eval(&tok, 1).ok());
                REQUIRE(b.eval(&tok, 1).ok());
                CHECK(std::memcmp(a.logits(), b.logits(), static_cast<size_t>(V) * sizeof(float)) == 0);
            }
        }
    }
}
