// tokenizer_conformance.hpp — shared parts of moe_tokenizer_conformance: the hard-case corpus and the split check.
// Used by test_tokenizer_conformance.cpp (main, vocab checks) and tokenizer_split_check.cpp (in-process checks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tokconf {

// Hand-written hard cases: white space of every kind, digits, scripts, emoji sequences, combining marks, code,
// contractions, invalid UTF-8 that llama.cpp survives, long words and runs. Starts with "" (never ends with it).
std::vector<std::string> base_corpus();

// `count` random strings of 1..max_pieces pieces from a pool of edge characters plus `specials` and their halves.
std::vector<std::string> fuzz_cases(const std::vector<std::string>& specials, size_t count, size_t max_pieces,
                                    uint32_t seed);

struct split_counts {
    int cases = 0, bad = 0;
};
// Every codepoint's class and White_Space flag vs llama.cpp's unicode_cpt_flags_from_cpt (0x110000 cases).
split_counts check_codepoint_classes();
// Our pre-tokenizer named `pre` vs llama.cpp's unicode_regex_split with that pre type's regex list, word by word.
split_counts check_splits(const std::string& pre, const std::vector<std::string>& texts);
// The pre-tokenizer names check_splits knows (one per distinct regex list).
std::vector<std::string> split_check_names();

}  // namespace tokconf
