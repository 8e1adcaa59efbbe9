// fuzz_gguf.cpp — libFuzzer harness for the GGUF reader: parses arbitrary bytes, reads every value and tensor back.
// Before: seeds from moe_fuzz_seeds (make_seed_corpus.cpp). After: a parse that succeeds is re-written and re-parsed.
#include "gguf/gguf.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

using namespace moe;

namespace {

// Every typed getter on every key: none may crash whatever the value's type.
void read_all(const gguf::file& f) {
    volatile uint64_t sink = 0;
    for (const auto& kv : f.kvs()) {
        const std::string& k = kv.first;
        if (auto r = f.get_uint(k)) sink = sink + *r;
        if (auto r = f.get_int(k)) sink = sink + static_cast<uint64_t>(*r);
        if (auto r = f.get_float(k)) sink = sink + static_cast<uint64_t>(*r == *r);
        if (auto r = f.get_bool(k)) sink = sink + *r;
        if (auto r = f.get_string(k)) sink = sink + r->size();
        if (auto r = f.get_string_array(k)) sink = sink + r->size();
        if (auto r = f.get_float_array(k)) sink = sink + r->size();
        if (auto r = f.get_int_array(k)) sink = sink + r->size();
        if (f.find(k) != &kv.second) __builtin_trap();
    }
    for (const gguf::tensor_info& t : f.tensors()) {
        if (f.find_tensor(t.name) != &t) __builtin_trap();
        if (t.nbytes > 0) sink = sink + t.data[0] + t.data[t.nbytes - 1];  // ASan checks both ends are in the input
    }
    (void)sink;
}

// A file that parsed must survive the writer and parse again with the same keys and tensors.
void round_trip(const gguf::file& f) {
    gguf::writer w(f.alignment());
    for (const auto& kv : f.kvs()) {
        if (kv.first == "general.alignment") continue;  // the writer writes its own
        w.set_value(kv.first, kv.second);
    }
    for (const gguf::tensor_info& t : f.tensors()) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        if (!w.add_tensor(t.name, t.type, ne, t.data, t.nbytes).ok()) return;  // the writer may be stricter
    }
    const std::vector<uint8_t> bytes = w.finish();
    result<gguf::file> g = gguf::file::parse(bytes.data(), bytes.size());
    if (!g) __builtin_trap();
    if (g->tensors().size() != f.tensors().size()) __builtin_trap();
    for (const auto& kv : f.kvs()) {
        if (g->find(kv.first) == nullptr) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    result<gguf::file> f = gguf::file::parse(data, size);
    if (f) {
        read_all(*f);
        if (size < (size_t(1) << 20)) round_trip(*f);
    }
    // Tight caps must fail cleanly, never read past what they allow.
    gguf::parse_limits tight;
    tight.max_kv = 8;
    tight.max_tensors = 8;
    tight.max_string_bytes = 64;
    tight.max_array_elements = 16;
    tight.max_array_depth = 1;
    result<gguf::file> g = gguf::file::parse(data, size, tight);
    if (g) read_all(*g);
    return 0;
}
