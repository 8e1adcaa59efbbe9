// consumer.cpp — a C++17 program using moe only through its installed C++ API (moe.hpp): load a model, evaluate a
// prompt, print a few greedy tokens. Built by consumer/CMakeLists.txt; run by ../run_package_test.cmake.
#include <moe/moe.hpp>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    auto m = moe::model::load(argv[1]);
    if (!m) {
        std::fprintf(stderr, "%s\n", m.error().to_string().c_str());
        return 1;
    }
    auto s = moe::session::create(*m, {});
    if (!s) return 1;
    auto ids = m->tokenizer()->encode("JULIET:", true, false);
    if (!ids || !s->eval(ids->data(), ids->size()).ok()) return 1;
    moe::detokenizer out(*m->tokenizer());
    for (int i = 0; i < 8; ++i) {
        int32_t next = s->argmax();
        std::fputs(out.push(next).c_str(), stdout);
        if (!s->eval(&next, 1).ok()) return 1;
    }
    std::printf("\n%s: %lld tokens in the cache\n", m->info().architecture.c_str(),
                static_cast<long long>(s->n_past()));
    return 0;
}
