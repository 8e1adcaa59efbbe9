// test_unaligned_weights.cpp — weights at addresses no kernel expects: general.alignment = 1 (tensor data at odd file
// offsets) and a model buffer that starts one byte past an aligned address. Logits must equal the aligned file's.
#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"

#include <moe/model.hpp>
#include <moe/session.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace moe;

namespace {

using bytes = std::vector<uint8_t>;

// The same tensors and metadata re-written with another general.alignment.
bytes with_alignment(const bytes& src, uint32_t alignment) {
    result<gguf::file> f = gguf::file::parse(src.data(), src.size());
    REQUIRE(f.ok());
    gguf::writer w(alignment);
    for (const auto& kv : f->kvs())
        if (kv.first != "general.alignment") w.set_value(kv.first, kv.second);
    for (const gguf::tensor_info& t : f->tensors()) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        REQUIRE(w.add_tensor(t.name, t.type, ne, t.data, t.nbytes).ok());
    }
    return w.finish();
}

// Logits of every position of a short prompt.
std::vector<float> logits_of(const void* data, size_t size) {
    result<model> m = model::load_from_memory(data, size);
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    session_params sp;
    sp.n_ctx = 16;
    sp.n_threads = 1;
    result<session> s = session::create(*m, sp);
    REQUIRE(s.ok());
    const int32_t prompt[5] = {1, 7, 42, 3, 99};
    REQUIRE(s->eval(prompt, 5, logits_mode::all).ok());
    std::vector<float> out;
    for (int64_t i = 0; i < 5; ++i) out.insert(out.end(), s->logits(i), s->logits(i) + s->n_vocab());
    return out;
}

}  // namespace

TEST_CASE("unaligned weights: alignment 1 and an odd buffer address give the aligned file's logits") {
    for (dtype wt : {dtype::f32, dtype::f16, dtype::q8_0, dtype::q4_0, dtype::q4_k, dtype::q6_k, dtype::mxfp4}) {
        CAPTURE(dtype_name(wt));
        testgen::model_spec spec;
        spec.arch = "qwen3moe";
        spec.n_vocab = 300;
        spec.n_embd = 256;  // a multiple of every block size (q4_K: 256)
        spec.n_layer = 1;
        spec.n_ff = 256;
        spec.n_expert = 4;
        spec.weight_type = wt;
        result<bytes> aligned = testgen::make_random_model(spec);
        REQUIRE(aligned.ok());
        const bytes packed = with_alignment(*aligned, 1);
        result<gguf::file> f = gguf::file::parse(packed.data(), packed.size());
        REQUIRE(f.ok());
        REQUIRE(f->alignment() == 1);
        bool odd = false;  // the point of the test: some tensor really starts at an odd offset
        for (const gguf::tensor_info& t : f->tensors()) odd = odd || (f->data_offset() + t.offset) % 2 == 1;
        REQUIRE(odd);

        const std::vector<float> want = logits_of(aligned->data(), aligned->size());
        CHECK(logits_of(packed.data(), packed.size()) == want);
        // The aligned file one byte past a 64-byte boundary: every tensor is misaligned.
        std::vector<uint8_t> storage(aligned->size() + 64);
        auto base = reinterpret_cast<uintptr_t>(storage.data());
        uint8_t* shifted = storage.data() + (64 - base % 64) % 64 + 1;
        std::memcpy(shifted, aligned->data(), aligned->size());
        CHECK(logits_of(shifted, aligned->size()) == want);
    }
}
