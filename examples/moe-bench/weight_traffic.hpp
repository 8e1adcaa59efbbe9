// weight_traffic.hpp — how many bytes of weights one generated token reads, from a GGUF file's tensor table.
// Input: the model path moe-bench / bench_vs_llama were given. Output: the bytes/token behind the bandwidth column.
#pragma once

#include <moe/status.hpp>

#include <cstdint>
#include <string>

namespace moe_bench {

struct weight_traffic {
    uint64_t file_weight_bytes = 0;  // every tensor's data
    uint64_t expert_bytes = 0;       // routed-expert tensors (*_exps*), all experts
    uint64_t dense_bytes = 0;        // everything else that decode reads in full
    uint64_t embd_row_bytes = 0;     // one row of token_embd (the only part a token reads, unless the head is tied)
    int64_t n_expert = 0;
    int64_t n_expert_used = 0;
    // dense + embedding row + expert_bytes * n_expert_used / n_expert.
    uint64_t per_token_bytes = 0;
};

// Reads the GGUF tensor table of `path`. Routed-expert tensors are the ones whose name contains "_exps" and whose
// outermost dimension is n_expert; a token reads n_expert_used of them. token_embd counts as one row per token,
// or in full when there is no output.weight (the head then reuses it). Errors: those of opening/parsing the file.
moe::result<weight_traffic> measure_weight_traffic(const std::string& path);

}  // namespace moe_bench
