// ir.hpp — the graph IR: values (shape, dtype, kind) and nodes (op + inputs + params), plus a validating builder.
// Architecture builders (src/arch) write graphs with graph_builder; the planner (src/plan) and executor run them.
#pragma once

#include <moe/dtype.hpp>
#include <moe/status.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

MOE_BEGIN_NAMESPACE

constexpr int max_rank = 4;

// Shapes are written outermost first (numpy order): {rows, cols} means `rows` rows of `cols` contiguous elements.
// A GGUF tensor with ne = {k, n} is shape {n, k}.
struct shape {
    int rank = 0;
    std::array<int64_t, max_rank> d{1, 1, 1, 1};

    shape() = default;
    shape(std::initializer_list<int64_t> dims);
    int64_t operator[](int i) const { return d[static_cast<size_t>(i)]; }
    int64_t last() const { return rank > 0 ? d[static_cast<size_t>(rank - 1)] : 1; }
    int64_t rows() const;      // product of all dims but the last
    int64_t elements() const;  // product of all dims
    bool operator==(const shape& o) const;
    bool operator!=(const shape& o) const { return !(*this == o); }
    std::string to_string() const;  // "[2, 3]"
};

using value_id = int32_t;
constexpr value_id no_value = -1;

// A backend-specific copy of a weight in another layout (value::packed), made once when the model loads
// (backends/cpu/weight_packing.cpp); the kernels that know the layout read it, everything else the file's bytes.
enum class packing : uint8_t {
    none = 0,
    q4_0x8 = 1,  // q4_0 rows interleaved eight at a time (backends/cpu/simd/simd.hpp)
    f16x8 = 2,   // f16 / bf16 rows interleaved element by element, eight at a time (same header)
    bf16x8 = 3,
    q8_0x8 = 4,  // q8_0 rows in the lanes, eight at a time (same header)
};

enum class value_kind : uint8_t {
    input,         // written by the host before each run (token ids, positions)
    weight,        // read-only model tensor; external data (mmap view, or a backend's repacked copy)
    state,         // persistent per-session buffer (KV cache); external data owned by the session
    intermediate,  // produced by a node; lives in the planned arena
};

struct value {
    std::string name;
    dtype type = dtype::f32;
    shape sh;
    value_kind kind = value_kind::intermediate;
    bool is_output = false;          // kept alive to the end of the run and readable afterwards
    value_id alias_of = no_value;    // a view: shares the storage of alias_of, starting alias_offset bytes in
    size_t alias_offset = 0;
    const void* external = nullptr;  // weight data (host pointer into the model file) or state buffer
    const void* packed = nullptr;    // weights: the same bytes in layout `packing`, or null
    packing packed_as = packing::none;
    int32_t producer = -1;           // node index, -1 for inputs, weights and states
    size_t bytes() const { return row_bytes(type, sh.last()) * static_cast<size_t>(sh.rows()); }
};

enum class op : uint8_t {
    get_rows,      // (table [V, d] any type, ids [T] i32) -> [T, d] f32
    rms_norm,      // (x [.., d], w [d]) -> x / sqrt(mean(x^2) + eps) * w          f[0] = eps
    mul_mat,       // (x [.., k] f32, w [n, k] any type) -> [.., n]               y = x W^T
    mul_mat_id,    // (x [T, s, k], w [E, n, k], ids [T, u] i32) -> [T, u, n]     s = 1 (shared input) or u
    add,           // (a [R.., d], b [d], [R.., 1] or a's shape) -> a + b     b broadcast over rows or columns
    mul,           // same broadcasting, a * b
    div,           // same broadcasting, a / b
    silu,          // x * sigmoid(x), written x / (1 + exp(-x))
    scale,         // x * f[0]
    swiglu,        // (gate, up) -> silu(gate) * up
    softmax,       // softmax over the last dim
    top_k,         // (x [R, n]) -> i32 [R, k] indices of the k largest, largest first     i[0] = k
    gather_cols,   // (x [R, n], ids [R, k] i32) -> [R, k]     out[r][j] = x[r][ids[r][j]]
    normalize_sum, // rows divided by their sum
    weighted_sum,  // (y [T, u, d], w [T, u]) -> [T, d]     sum over u of w * y
    rope,          // (x [T, H, D], pos [T] i32) -> same shape     i[0] = n_rot, i[1] = rope_mode, f[0] = base,
                   //                                              f[1] = freq_scale
    attention,     // (q [T, Hq, Dk], k [T, Hkv, Dk], v [T, Hkv, Dv], kcache [C, Hkv, Dk], vcache [C, Hkv, Dv])
                   //   -> [T, Hq * Dv]; writes k/v into the caches at rows n_past.. and attends causally
                   //   over rows 0 .. n_past + t.      f[0] = scale
                   //   Several sequences (i[3] = 1): the caches are [S, C, Hkv, D] (one slot of C rows per sequence)
                   //   and the last two inputs are positions [T] i32 and sequence ids [T] i32: token t's k/v go to
                   //   row pos[t] of slot seq[t], and it attends to rows 0 .. pos[t] of that slot (n_past unused).
                   //   The caches (of attention, attention_ext, attention_mla) are f32, or both f16: rows stored
                   //   rounded to binary16 and widened back for the arithmetic (session_params::kv_type).
    add_id,        // (x [T, u, n], b [E, n], ids [T, u] i32) -> x + b[ids[t][j]] per slot (ggml_add_id: expert biases)
    swiglu_oai,    // (gate, up) -> g / (1 + exp(-f[0] g)) * (u + 1), g = min(gate, f[1]), u = clamp(up, -f[1], f[1])
    rope_yarn,     // rope with YaRN scaling (ggml's rope_yarn): i[0..1], f[0..1] as rope; f[2] = ext_factor,
                   //   f[3] = attn_factor, i[2], i[3] = correction dims (low, high pair indices)
    attention_ext, // (q, k, v, kcache, vcache[, sinks [Hq] f32][, pos, seq]) -> as attention; i[0] = sliding window
                   //   (keys at positions > query - window only; 0: all), sinks: per-head logit added to the
                   //   softmax sum; i[3] = 1: several sequences, as attention
    sigmoid,       // 1 / (1 + exp(-x))
    expert_group_mask, // (x [R, n]) -> same: the n columns form i[0] equal groups, each scored by the sum of its
                   //   two largest values; columns outside the i[1] best groups become -inf (group-limited routing)
    cols,          // (x [.., D]) -> [.., i[1]]: columns i[0] .. i[0] + i[1] - 1 of the last dim (a copy)
    concat,        // (a [.., A], b [.., B]) -> [.., A + B]; b [T, 1, B] is repeated over a's heads [T, H, A]
    mul_mat_heads, // (x [T, H, k] f32, w [H, n, k] any type) -> [T, H, n]: head h of every token meets w[h]
    attention_mla, // (q [T, H, D], kv [T, 1, D], cache [C, 1, D]) -> [T, H, i[0]]: writes kv at cache rows
                   //   n_past.., attends causally with keys = cache rows and values = their first i[0] columns
                   //   (MLA: the cache holds the compressed latent + the RoPE key, one shared head). f[0] = scale;
                   //   i[3] = 1: several sequences, cache [S, C, 1, D] and inputs pos, seq last, as attention
    mul_mat_glu,   // (x, gate, up[, ids]) -> silu(x gate^T) * (x up^T): mul_mat (3 inputs) or mul_mat_id (with ids)
                   //   of gate and up, then swiglu. Architectures never build it: plan/fuse_glu.cpp writes it in
                   //   place of those three ops for a backend that runs it (the CPU; not the module ABI's backends)
    view,          // reshape or row-slice without copying (alias); shape and offset from the value
};
const char* op_name(op o) noexcept;

enum class rope_mode : int64_t { norm = 0, neox = 2 };  // ggml numbering: pairs (2i, 2i+1) or (i, i + n_rot/2)

// YaRN parameters of a rope_yarn node (ggml_rope_ext's ext_factor/attn_factor and ggml_rope_yarn_corr_dims).
struct rope_yarn_params {
    float ext_factor = 0.0f;              // 0: plain interpolation; 1: YaRN's ramp between the two angles
    float attn_factor = 1.0f;             // scales cos and sin (times 1 + 0.1 ln(1/freq_scale) if ext_factor != 0)
    int64_t corr_low = 0, corr_high = 0;  // the ramp runs over rotation pairs corr_low .. corr_high
};

constexpr int max_inputs = 8;

struct node {
    op kind = op::view;
    std::array<value_id, max_inputs> in{no_value, no_value, no_value, no_value,
                                        no_value, no_value, no_value, no_value};
    int n_in = 0;
    value_id out = no_value;
    std::array<float, 4> f{0, 0, 0, 0};
    std::array<int64_t, 4> i{0, 0, 0, 0};
};

struct graph {
    std::vector<value> values;
    std::vector<node> nodes;
    std::vector<value_id> outputs;
    const value& val(value_id id) const { return values[static_cast<size_t>(id)]; }
    // One line per node: "%5 = mul_mat(%3, blk.0.attn_q.weight) [7, 128] f32".
    std::string dump() const;
};

// Builds a graph op by op, inferring and checking shapes. The first error is kept, later calls become no-ops,
// and finish() returns it, so architecture code reads straight through without checking every line.
class graph_builder {
public:
    value_id input(const std::string& name, dtype type, shape sh);
    value_id weight(const std::string& name, dtype type, shape sh, const void* data, const void* packed = nullptr,
                    packing packed_as = packing::none);
    value_id state(const std::string& name, dtype type, shape sh, void* data);  // data: session-owned buffer

    value_id get_rows(value_id table, value_id ids);
    value_id rms_norm(value_id x, value_id w, float eps);
    value_id mul_mat(value_id x, value_id w);
    value_id mul_mat_id(value_id x, value_id w, value_id ids);
    value_id add(value_id a, value_id b);
    value_id mul(value_id a, value_id b);
    value_id div(value_id a, value_id b);
    value_id silu(value_id x);
    value_id scale(value_id x, float s);
    value_id swiglu(value_id gate, value_id up);
    value_id softmax(value_id x);
    value_id top_k(value_id x, int64_t k);
    value_id gather_cols(value_id x, value_id ids);
    value_id normalize_sum(value_id x);
    value_id weighted_sum(value_id y, value_id w);
    value_id rope(value_id x, value_id pos, int64_t n_rot, rope_mode mode, float base, float freq_scale);
    // pos/seq: no_value for one sequence (caches [C, H, D], rows from n_past); else positions and sequence ids
    // [T] i32 with caches [S, C, H, D] (see op::attention).
    value_id attention(value_id q, value_id k, value_id v, value_id kcache, value_id vcache, float scale,
                       value_id pos = no_value, value_id seq = no_value);
    value_id add_id(value_id x, value_id bias, value_id ids);
    value_id swiglu_oai(value_id gate, value_id up, float alpha, float limit);
    value_id rope_yarn(value_id x, value_id pos, int64_t n_rot, rope_mode mode, float base, float freq_scale,
                       const rope_yarn_params& yarn);
    // sinks: a [Hq] f32 value or no_value; window: 0 for full causal attention.
    value_id attention_ext(value_id q, value_id k, value_id v, value_id kcache, value_id vcache, value_id sinks,
                           float scale, int64_t window, value_id pos = no_value, value_id seq = no_value);
    value_id sigmoid(value_id x);
    value_id expert_group_mask(value_id x, int64_t n_group, int64_t n_group_used);
    value_id cols(value_id x, int64_t first, int64_t count);  // columns [first, first+count) of the last dim
    value_id concat(value_id a, value_id b);
    value_id mul_mat_heads(value_id x, value_id w);
    value_id attention_mla(value_id q, value_id kv, value_id cache, int64_t dv, float scale, value_id pos = no_value,
                           value_id seq = no_value);
    value_id reshape(value_id x, shape sh);
    value_id rows(value_id x, int64_t first, int64_t count);  // rows [first, first+count) of a 2-D value

    void mark_output(value_id v);
    const value& val(value_id id) const { return g_.val(id); }
    bool ok() const { return err_.ok(); }
    result<graph> finish();

private:
    bool check(bool cond, const std::string& what);
    bool is_f32(std::initializer_list<value_id> vs, const char* op);
    bool valid(value_id v) const;
    value_id add_value(value v);
    value_id add_node(op kind, std::initializer_list<value_id> in, dtype type, shape sh);
    // Checks pos/seq of a several-sequence attention op (both or neither given) and appends them to its inputs.
    bool sequence_inputs(value_id pos, value_id seq, int64_t T, const char* op);
    void append_sequence_inputs(value_id pos, value_id seq);
    value_id elementwise(op kind, value_id a, value_id b);
    graph g_;
    status err_;
};

MOE_END_NAMESPACE
