// fuzz_model.cpp — libFuzzer harness for model building: model::load_from_memory on arbitrary bytes (hyperparameters,
// tensor shapes and types, tokenizer, chat template). Before: seeds from moe_fuzz_seeds. After: a tiny eval if small.
#include <moe/model.hpp>
#include <moe/session.hpp>
#include <moe/tokenizer.hpp>

#include <cstddef>
#include <cstdint>

using namespace moe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    result<model> m = model::load_from_memory(data, size);
    if (!m) {
        if (m.error().message().empty()) __builtin_trap();  // every failure must say why
        return 0;
    }
    const model_info& info = m->info();
    // Weights are whatever the input holds (NaN, Inf, garbage): one token through a tiny model must not crash.
    if (size <= (size_t(256) << 10) && info.n_vocab > 0 && info.n_params <= 200000) {
        session_params sp;
        sp.n_ctx = 4;
        sp.n_threads = 1;
        sp.backend = "cpu";
        result<session> s = session::create(*m, sp);
        if (s) {
            const int32_t tok = 0;
            if (s->eval(&tok, 1).ok()) (void)s->argmax();
        }
    }
    return 0;
}
