// fuzz_tokenizer.cpp — libFuzzer harness for tokenizer construction from GGUF metadata and tokenize/detokenize.
// Input: a tensorless GGUF file (the vocabulary) followed by arbitrary text bytes. Before: moe_fuzz_seeds' vocab files.
#include "gguf/gguf.hpp"
#include "tokenizer/vocab.hpp"

#include <moe/tokenizer.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace moe;

namespace {

void exercise(const tokenizer& t, std::string_view text) {
    const int32_t n = t.n_vocab();
    if (n <= 0) __builtin_trap();
    for (int flags = 0; flags < 4; ++flags) {
        result<std::vector<int32_t>> ids = t.encode(text, (flags & 1) != 0, (flags & 2) != 0);
        if (!ids) continue;
        for (int32_t id : *ids) {
            if (id < 0 || id >= n) __builtin_trap();  // encode must only give ids in the vocabulary
        }
        (void)t.decode(*ids, (flags & 2) != 0);
        detokenizer d(t, (flags & 1) != 0);
        std::string out;
        for (int32_t id : *ids) out += d.push(id);
        out += d.flush();
    }
    // The text's bytes read as ids, in range or not (negative, past n_vocab): pieces, decode and the streamer.
    std::vector<int32_t> raw;
    for (size_t k = 0; k + 1 < text.size() && raw.size() < 512; k += 2) {
        const auto v = static_cast<int16_t>(static_cast<uint16_t>(static_cast<uint8_t>(text[k]) |
                                                                  (static_cast<uint8_t>(text[k + 1]) << 8)));
        raw.push_back(v);
    }
    for (int32_t id : raw) {
        (void)t.token_to_piece(id, true);
        (void)t.token_to_piece(id, false);
        (void)t.token_text(id);
        (void)t.is_eog(id);
        (void)t.is_control(id);
    }
    (void)t.decode(raw, false);
    (void)t.decode(raw, true);
    detokenizer d(t, true);
    for (int32_t id : raw) (void)d.push(id);
    (void)d.flush();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    result<gguf::file> f = gguf::file::parse(data, size);
    if (!f) return 0;
    if (!f->tensors().empty()) return 0;  // the text starts where the data section would
    const size_t text_at = static_cast<size_t>(f->data_offset());
    if (text_at > size) __builtin_trap();
    const std::string_view text(reinterpret_cast<const char*>(data) + text_at, size - text_at);
    if (!tok::has_tokenizer(*f)) return 0;
    result<tokenizer> t = tok::make_tokenizer(*f);
    if (!t) {
        if (t.error().message().empty()) __builtin_trap();
        return 0;
    }
    exercise(*t, text);
    return 0;
}
