// kv_rows.hpp — where each token of an attention op's batch sits in the KV cache: one sequence (rows n_past + t) or
// several (slot seq[t], row pos[t]). Used by attention.cpp, attention_ext.cpp and attention_mla.cpp before they attend.
#pragma once

#include "runtime/backend.hpp"

#include <cstdint>
#include <string>

MOE_BEGIN_NAMESPACE
namespace cpu {

// Token t writes its k/v at cache row row(t) and attends to rows first(t) .. row(t) (first(t) is its slot's row 0).
struct kv_rows {
    const int32_t* pos = nullptr;  // several sequences: positions and sequence ids [T]; null for one sequence
    const int32_t* seq = nullptr;
    int64_t n_past = 0;  // one sequence: rows already filled
    int64_t C = 0;       // rows per sequence slot

    int64_t position(int64_t t) const { return pos ? pos[t] : n_past + t; }
    int64_t first(int64_t t) const { return seq ? seq[t] * C : 0; }
    int64_t row(int64_t t) const { return first(t) + position(t); }

    // Reads the layout of node n (cache input `cache` of rank 3, or rank 4 [S, C, ..] with i[3] = 1) and checks that
    // every token's row is inside the cache: context_full for a position past C, invalid_argument for a bad sequence.
    status init(const node& n, const tensor_view* in, int cache, int64_t T, const run_args& args) {
        const tensor_view& kc = in[cache];
        if (n.i[3] == 0) {
            C = kc.sh[0], n_past = args.n_past;
            if (n_past < 0 || n_past + T > C)
                return status(errc::context_full, "KV cache holds " + std::to_string(C) + " positions; " +
                                                      std::to_string(n_past) + " used, " + std::to_string(T) +
                                                      " more asked");
            return {};
        }
        const int64_t S = kc.sh[0];
        C = kc.sh[1];
        pos = static_cast<const int32_t*>(in[n.n_in - 2].data);
        seq = static_cast<const int32_t*>(in[n.n_in - 1].data);
        for (int64_t t = 0; t < T; ++t) {
            if (seq[t] < 0 || seq[t] >= S)
                return status(errc::invalid_argument, "sequence id " + std::to_string(seq[t]) + " of token " +
                                                          std::to_string(t) + " outside 0.." + std::to_string(S - 1));
            if (pos[t] < 0 || pos[t] >= C)
                return status(errc::context_full, "position " + std::to_string(pos[t]) + " of token " +
                                                      std::to_string(t) + " outside the " + std::to_string(C) +
                                                      " rows of a sequence's KV cache");
        }
        return {};
    }
};

}  // namespace cpu
MOE_END_NAMESPACE
