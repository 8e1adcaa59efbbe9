// test_tokenizer.cpp — tokenizers on hand-made vocabs with hand-computed ids: SPM scores, byte fallback, BPE ranks,
// special tokens, decode clean-up, the streaming detokenizer, and hostile metadata. Conformance with llama.cpp on
// real vocabs is tests/conformance/test_tokenizer_conformance.cpp; this file needs nothing but the library.
#include "gguf/gguf.hpp"
#include "testgen/model_writer.hpp"
#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/vocab.hpp"

#include <moe/model.hpp>
#include <moe/tokenizer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

using namespace moe;

namespace {

const std::string k_sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// ---- hand-made vocabs -------------------------------------------------------------------------------------------

// SPM: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then (id: text score)
//   259 ▁ -10   260 a -10   261 b -10   262 c -10   263 ▁a -3   264 ab -1   265 bc -4   266 ▁ab -2
//   267 <|user|> (user-defined)
struct spm_vocab {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    spm_vocab() {
        add("<unk>", 0, 2);
        add("<s>", 0, 3);
        add("</s>", 0, 3);
        for (int b = 0; b < 256; ++b) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "<0x%02X>", b);
            add(buf, 0, 6);
        }
        add(k_sp, -10, 1);
        add("a", -10, 1);
        add("b", -10, 1);
        add("c", -10, 1);
        add(k_sp + "a", -3, 1);
        add("ab", -1, 1);
        add("bc", -4, 1);
        add(k_sp + "ab", -2, 1);
        add("<|user|>", 0, 4);
    }
    void add(const std::string& t, float s, int32_t type) {
        tokens.push_back(t);
        scores.push_back(s);
        types.push_back(type);
    }
    gguf::writer writer() const {
        gguf::writer w;
        w.set_string("general.architecture", "llama");
        w.set_string("tokenizer.ggml.model", "llama");
        w.set_string_array("tokenizer.ggml.tokens", tokens);
        w.set_f32_array("tokenizer.ggml.scores", scores);
        w.set_i32_array("tokenizer.ggml.token_type", types);
        w.set_u32("tokenizer.ggml.bos_token_id", 1);
        w.set_u32("tokenizer.ggml.eos_token_id", 2);
        w.set_u32("tokenizer.ggml.unknown_token_id", 0);
        return w;
    }
};

// Byte-level BPE: ids 0..255 are the 256 byte characters in byte order (id == byte), then
//   256 ll  257 he  258 hell  259 hello  260 Ġw  261 or  262 Ġwor  263 Ġworl  264 Ġworld
//   265 <|endoftext|> (control)  266 <|im_start|> (control)
// merges, by rank: l l, h e, he ll, hell o, Ġ w, o r, Ġw or, Ġwor l, Ġworl d
struct bpe_vocab {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    std::vector<std::string> merges = {"l l", "h e", "he ll", "hell o", "\xC4\xA0 w", "o r", "\xC4\xA0w or",
                                       "\xC4\xA0wor l", "\xC4\xA0worl d"};
    bpe_vocab() {
        for (int b = 0; b < 256; ++b) {
            std::string s;
            unicode::append_utf8(s, unicode::byte_to_codepoint(static_cast<uint8_t>(b)));
            tokens.push_back(s);
            types.push_back(1);
        }
        for (const char* t : {"ll", "he", "hell", "hello", "\xC4\xA0w", "or", "\xC4\xA0wor", "\xC4\xA0worl",
                              "\xC4\xA0world"}) {
            tokens.push_back(t);
            types.push_back(1);
        }
        tokens.push_back("<|endoftext|>");
        types.push_back(3);
        tokens.push_back("<|im_start|>");
        types.push_back(3);
    }
    gguf::writer writer(const std::string& pre = "gpt-2") const {
        gguf::writer w;
        w.set_string("general.architecture", "gpt2");
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string("tokenizer.ggml.pre", pre);
        w.set_string_array("tokenizer.ggml.tokens", tokens);
        w.set_i32_array("tokenizer.ggml.token_type", types);
        w.set_string_array("tokenizer.ggml.merges", merges);
        w.set_u32("tokenizer.ggml.bos_token_id", 265);
        w.set_u32("tokenizer.ggml.eos_token_id", 265);
        return w;
    }
};

result<tokenizer> make(const gguf::writer& w) {
    const std::vector<uint8_t> bytes = w.finish();
    result<gguf::file> f = gguf::file::parse(bytes.data(), bytes.size());
    REQUIRE(f.ok());
    return tok::make_tokenizer(*f);  // copies what it needs: the bytes may go
}

tokenizer must(const gguf::writer& w) {
    result<tokenizer> t = make(w);
    if (!t) FAIL("make_tokenizer: " << t.error().to_string());
    return std::move(*t);
}

std::vector<int32_t> enc(const tokenizer& t, const std::string& s, bool add_special = false, bool parse = false) {
    result<std::vector<int32_t>> r = t.encode(s, add_special, parse);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    return *r;
}

using ids = std::vector<int32_t>;

}  // namespace

TEST_CASE("tokenizer: spm merges by score, with the leading space") {
    tokenizer t = must(spm_vocab().writer());
    CHECK(t.model_kind() == "llama");
    CHECK(t.n_vocab() == 268);
    CHECK(enc(t, "ab") == ids{266});               // ab (-1) first, then ▁ab (-2)
    CHECK(enc(t, "ab", true) == ids{1, 266});      // BOS (add_bos defaults on for llama vocabs)
    CHECK(enc(t, "abc") == ids{266, 262});         // bc (-4) goes stale once ab has merged
    CHECK(enc(t, "bc") == ids{259, 265});          // no ▁b: ▁ stays alone
    CHECK(enc(t, "a b") == ids{263, 259, 261});    // "▁a▁b"
    CHECK(enc(t, "") == ids{});
    CHECK(enc(t, "", true) == ids{1});
}

TEST_CASE("tokenizer: spm without the space prefix") {
    gguf::writer w = spm_vocab().writer();
    w.set_bool("tokenizer.ggml.add_space_prefix", false);
    tokenizer t = must(w);
    CHECK(enc(t, "ab") == ids{264});
    CHECK(t.decode({264}) == "ab");
}

TEST_CASE("tokenizer: spm byte fallback and invalid UTF-8") {
    tokenizer t = must(spm_vocab().writer());
    CHECK(enc(t, "\xC3\xA9") == ids{259, 3 + 0xC3, 3 + 0xA9});  // é is not a token: <0xC3><0xA9>
    CHECK(enc(t, "\xFF") == ids{259, 3 + 0xFF});                 // a lone invalid byte is its byte token
    CHECK(enc(t, "a\xC3") == ids{263, 3 + 0xC3});                // a cut-off sequence too
    CHECK(t.token_to_piece(3 + 0xC3) == "\xC3");
    CHECK(t.token_to_piece(259) == " ");
    CHECK(t.token_to_piece(266) == " ab");
}

TEST_CASE("tokenizer: spm special tokens in text") {
    tokenizer t = must(spm_vocab().writer());
    // parse_special: </s> is cut out, and the text after it gets its own leading space
    CHECK(enc(t, "a</s>b", false, true) == ids{263, 2, 259, 261});
    // without it, control tokens are plain text (bytes here); user-defined ones are always recognised
    CHECK(enc(t, "a</s>b") == ids{263, 3 + '<', 3 + '/', 3 + 's', 3 + '>', 261});
    CHECK(enc(t, "a<|user|>b") == ids{263, 267, 259, 261});
    CHECK(enc(t, "<s><s>", false, true) == ids{1, 1});
}

TEST_CASE("tokenizer: ids, flags and pieces") {
    tokenizer t = must(spm_vocab().writer());
    CHECK(t.bos() == 1);
    CHECK(t.eos() == 2);
    CHECK(t.unk() == 0);
    CHECK(t.eot() == tokenizer::null_token);
    CHECK(t.add_bos());
    CHECK_FALSE(t.add_eos());
    CHECK(t.is_eog(2));  // EOS, and "</s>" by name
    CHECK_FALSE(t.is_eog(1));
    CHECK_FALSE(t.is_eog(tokenizer::null_token));
    CHECK(t.is_control(1));
    CHECK_FALSE(t.is_control(266));
    CHECK(t.token_to_piece(1) == "");
    CHECK(t.token_to_piece(1, true) == "<s>");
    CHECK(t.token_to_piece(0) == "");  // unknown tokens render only with special
    CHECK(t.token_to_piece(-1) == "");
    CHECK(t.token_to_piece(100000) == "");
    CHECK(t.token_text(267) == "<|user|>");
    CHECK(t.token_text(-5) == "");
}

TEST_CASE("tokenizer: decode drops the first leading space, as llama_detokenize does") {
    tokenizer t = must(spm_vocab().writer());
    CHECK(t.decode({266}) == "ab");
    CHECK(t.decode({266, 263}) == "ab a");
    CHECK(t.decode({1, 266}) == " ab");            // the strip applies to the first token only (here BOS: "")
    CHECK(t.decode({1, 266}, true) == "<s> ab");
    CHECK(t.decode({259, 3 + 0xC3, 3 + 0xA9}) == "\xC3\xA9");
}

TEST_CASE("tokenizer: byte-level bpe merges by rank") {
    tokenizer t = must(bpe_vocab().writer());
    CHECK(t.model_kind() == "gpt2");
    CHECK(t.pre_tokenizer() == "gpt-2");
    CHECK(enc(t, "hello world") == ids{259, 264});
    CHECK(enc(t, "hello  world") == ids{259, ' ', 264});  // "  w": the first space stands alone
    CHECK(enc(t, "hello!!") == ids{259, '!', '!'});
    CHECK(enc(t, "\xC3\xA9") == ids{0xC3, 0xA9});        // é: its two byte characters
    CHECK(enc(t, "\xFF") == ids{0xEF, 0xBF, 0xBD});      // invalid byte -> U+FFFD
    CHECK(enc(t, "hello", true) == ids{259});            // gpt-2: no BOS unless add_bos_token says so
}

TEST_CASE("tokenizer: bpe special tokens and end of generation") {
    tokenizer t = must(bpe_vocab().writer());
    CHECK(enc(t, "<|endoftext|>hello", false, true) == ids{265, 259});
    CHECK(enc(t, "<|endoftext|>hello") ==
          ids{'<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>', 259});
    CHECK(t.eot() == 265);  // found by name
    CHECK(t.is_eog(265));
    CHECK_FALSE(t.is_eog(266));
    CHECK(t.is_control(266));
}

TEST_CASE("tokenizer: bpe decode and llama.cpp's space clean-up") {
    tokenizer t = must(bpe_vocab().writer());
    CHECK(t.decode({259, 264}) == "hello world");
    CHECK(t.decode({259, ' ', '!'}) == "hello!");        // " !" loses its space (gpt-2 cleans spaces)
    CHECK(t.decode({' ', '\'', 's'}) == "'s");
    CHECK(t.decode({259, 265}) == "hello");
    CHECK(t.decode({259, 265}, true) == "hello<|endoftext|>");
    CHECK(t.token_to_piece(0xC3) == "\xC3");
    CHECK(t.token_to_piece(260) == " w");
}

TEST_CASE("tokenizer: pre-tokenizer names") {
    for (const char* pre : {"default", "gpt-2", "llama-bpe", "llama3", "llama-v3", "qwen2", "deepseek-llm",
                            "deepseek-v3", "olmo", "gpt-4o", "starcoder", "refact", "command-r", "mpt", "falcon",
                            "deepseek-coder", "qwen35", "tekken", "bailingmoe", "afmoe", "cohere2moe", "sarvam-moe",
                            "gemma4"}) {
        CAPTURE(pre);
        CHECK(tok::find_pretokenizer(pre) != nullptr);
    }
    CHECK(tok::find_pretokenizer("") != nullptr);  // missing -> default, as llama.cpp
    CHECK(tok::find_pretokenizer("no-such-pre") == nullptr);
    // llama3 splits digits in threes and keeps "'re" apart; gpt-4o glues contractions to the word
    CHECK(tok::pretokenize(*tok::find_pretokenizer("llama3"), "12345 you're") ==
          std::vector<std::string>{"123", "45", "\xC4\xA0you", "'re"});
    CHECK(tok::pretokenize(*tok::find_pretokenizer("gpt-4o"), "12345 you're") ==
          std::vector<std::string>{"123", "45", "\xC4\xA0you're"});
}

TEST_CASE("unicode: classes, white space and llama.cpp's UTF-8 decoding") {
    using unicode::ucat;
    CHECK(unicode::category('a') == ucat::letter);
    CHECK(unicode::category(0x4E00) == ucat::letter);
    CHECK(unicode::category('7') == ucat::number);
    CHECK(unicode::category(0x0301) == ucat::mark);
    CHECK(unicode::category('!') == ucat::punctuation);
    CHECK(unicode::category('$') == ucat::symbol);
    CHECK(unicode::category(0x1FAE8) == ucat::symbol);  // Unicode 15 emoji, from the 15.1 supplement
    CHECK(unicode::category(0x31350) == ucat::letter);  // CJK Extension H
    CHECK(unicode::category(0x0378) == ucat::undefined);
    CHECK(unicode::category(0x110000) == ucat::undefined);
    CHECK(unicode::is_white_space(0x3000));
    CHECK(unicode::is_white_space(0x85));
    CHECK_FALSE(unicode::is_white_space(0x1C));  // str.isspace() says yes; White_Space says no
    CHECK_FALSE(unicode::is_white_space(0x200B));
    CHECK(unicode::decode("a\xC3\xA9\xFF") == std::vector<uint32_t>{'a', 0xE9, 0xFFFD});
    CHECK(unicode::decode("\xC0\x80") == std::vector<uint32_t>{0});                // overlong: accepted, as llama.cpp
    CHECK(unicode::decode("\xF4\x90\x80\x80").front() == unicode::k_replacement);  // past U+10FFFF: invalid here
    for (int b = 0; b < 256; ++b)
        CHECK(unicode::codepoint_to_byte(unicode::byte_to_codepoint(static_cast<uint8_t>(b))) == b);
    CHECK(unicode::byte_to_codepoint(' ') == 0x120);  // Ġ
}

TEST_CASE("detokenizer: holds back a character cut across tokens") {
    tokenizer t = must(bpe_vocab().writer());
    detokenizer d(t);
    CHECK(d.push(259) == "hello");
    CHECK(d.push(0xF0) == "");  // 🦙 = F0 9F A6 99, one byte per token
    CHECK(d.push(0x9F) == "");
    CHECK(d.push(0xA6) == "");
    CHECK(d.push(0x99) == "\xF0\x9F\xA6\x99");
    CHECK(d.push(0xC3) == "");
    CHECK(d.push(0xA9) == "\xC3\xA9");
    CHECK(d.flush() == "");
}

TEST_CASE("detokenizer: invalid bytes become U+FFFD and never stop the stream") {
    tokenizer t = must(bpe_vocab().writer());
    detokenizer d(t);
    CHECK(d.push(0xFF) == "\xEF\xBF\xBD");
    CHECK(d.push(0xC3) == "");
    CHECK(d.push('!') == "\xEF\xBF\xBD!");      // C3 then a non-continuation byte
    CHECK(d.push(0xED) == "");
    CHECK(d.push(0xA0) == "\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: ED is a maximal subpart, A0 is stray
    CHECK(d.push(0xE2) == "");
    CHECK(d.push(0x82) == "");
    CHECK(d.flush() == "\xEF\xBF\xBD");         // an unfinished character at the end
    CHECK(d.push(-1) == "");
    CHECK(d.push(1 << 30) == "");
    detokenizer s(t, true);
    CHECK(s.push(265) == "<|endoftext|>");
    detokenizer plain(t);
    CHECK(plain.push(265) == "");
}

TEST_CASE("detokenizer: spm byte tokens and spaces") {
    tokenizer t = must(spm_vocab().writer());
    detokenizer d(t);
    std::string out;
    for (int32_t id : enc(t, "ab \xE2\x82\xAC c")) out += d.push(id);  // € by three byte tokens
    out += d.flush();
    CHECK(out == " ab \xE2\x82\xAC c");  // raw pieces: the leading space stays (unlike decode)
}

TEST_CASE("tokenizer: hostile metadata is refused with a reason") {
    auto expect = [](const gguf::writer& w, errc code, const char* needle) {
        result<tokenizer> t = make(w);
        REQUIRE_FALSE(t.ok());
        CHECK(t.error().code() == code);
        CHECK_MESSAGE(t.error().message().find(needle) != std::string::npos, t.error().message());
    };
    spm_vocab v;
    {
        gguf::writer w = v.writer();
        std::vector<float> s = v.scores;
        s.pop_back();
        w.set_f32_array("tokenizer.ggml.scores", s);
        expect(w, errc::bad_format, "scores");
    }
    {
        gguf::writer w = v.writer();
        std::vector<int32_t> y = v.types;
        y.push_back(1);
        w.set_i32_array("tokenizer.ggml.token_type", y);
        expect(w, errc::bad_format, "token_type");
    }
    {
        gguf::writer w = v.writer();
        w.set_u32("tokenizer.ggml.bos_token_id", 268);
        expect(w, errc::bad_format, "bos_token_id");
    }
    {
        gguf::writer w = v.writer();
        w.set_i32("tokenizer.ggml.eos_token_id", -3);
        expect(w, errc::bad_format, "eos_token_id");
    }
    {
        gguf::writer w = v.writer();
        w.set_string("tokenizer.ggml.bos_token_id", "1");
        expect(w, errc::bad_format, "bos_token_id");
    }
    {
        gguf::writer w = v.writer();
        std::vector<std::string> tokens = v.tokens;
        tokens[260] = tokens[261];
        w.set_string_array("tokenizer.ggml.tokens", tokens);
        expect(w, errc::bad_format, "repeats");
    }
    {
        gguf::writer w = v.writer();
        w.set_i32_array("tokenizer.ggml.tokens", {1, 2, 3});
        expect(w, errc::bad_format, "tokenizer.ggml.tokens");
    }
    {
        gguf::writer w = v.writer();
        w.set_string_array("tokenizer.ggml.tokens", {});
        w.set_f32_array("tokenizer.ggml.scores", {});
        w.set_i32_array("tokenizer.ggml.token_type", {});
        expect(w, errc::bad_format, "empty");
    }
    {
        gguf::writer w = v.writer();
        std::vector<float> s = v.scores;
        s[5] = std::numeric_limits<float>::quiet_NaN();
        w.set_f32_array("tokenizer.ggml.scores", s);
        expect(w, errc::bad_format, "NaN");
    }
    {
        gguf::writer w = v.writer();
        w.set_string("tokenizer.ggml.add_bos_token", "yes");
        expect(w, errc::bad_format, "add_bos_token");
    }
    {
        gguf::writer w = v.writer();
        w.set_string("tokenizer.ggml.model", "bert");
        expect(w, errc::unsupported, "'bert'");
    }
    {
        gguf::writer w = bpe_vocab().writer("no-such-pre");
        expect(w, errc::unsupported, "'no-such-pre'");
    }
    {
        bpe_vocab b;
        gguf::writer w;
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string_array("tokenizer.ggml.tokens", b.tokens);
        expect(w, errc::bad_format, "merges");
    }
    {
        gguf::writer w;
        w.set_string("general.architecture", "llama");
        expect(w, errc::invalid_argument, "tokenizer.ggml.model");
    }
    {
        gguf::writer w = v.writer();
        w.set_u32("tokenizer.ggml.padding_token_id", 100000);  // ignored, as llama.cpp does
        tokenizer t = must(w);
        CHECK(t.pad() == tokenizer::null_token);
    }
}

TEST_CASE("tokenizer: model::load exposes the file's tokenizer") {
    testgen::model_spec spec;
    spec.n_vocab = 300;
    spec.n_embd = 32;
    spec.n_layer = 1;
    spec.n_ff = 64;
    spec.n_expert = 2;
    spec.n_expert_used = 1;
    result<std::vector<uint8_t>> bytes = testgen::make_random_model(spec);
    REQUIRE_MESSAGE(bytes.ok(), bytes.error().to_string());
    result<model> m = model::load_from_memory(bytes->data(), bytes->size());
    REQUIRE_MESSAGE(m.ok(), m.error().to_string());
    const tokenizer* t = m->tokenizer();
    REQUIRE(t != nullptr);
    CHECK(t->model_kind() == "llama");
    CHECK(t->n_vocab() == 300);
    result<std::vector<int32_t>> ids = t->encode("ab ba", true, false);
    REQUIRE(ids.ok());
    CHECK(ids->front() == 1);
    CHECK(t->decode(std::vector<int32_t>(ids->begin() + 1, ids->end())) == "ab ba");

    // the same model with a broken tokenizer does not load
    result<gguf::file> f = gguf::file::parse(bytes->data(), bytes->size());
    REQUIRE(f.ok());
    gguf::writer w;
    for (const auto& kv : f->kvs()) w.set_value(kv.first, kv.second);
    w.set_u32("tokenizer.ggml.eos_token_id", 5000);
    for (const gguf::tensor_info& ti : f->tensors()) {
        std::vector<int64_t> ne(ti.ne, ti.ne + ti.n_dims);
        REQUIRE(w.add_tensor(ti.name, ti.type, ne, ti.data, ti.nbytes).ok());
    }
    const std::vector<uint8_t> broken = w.finish();
    result<model> bad = model::load_from_memory(broken.data(), broken.size());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code() == errc::bad_format);
    CHECK(bad.error().message().find("eos_token_id") != std::string::npos);
}
