// matmul.cpp — kernels that read weights: embedding lookup (get_rows), dense and per-expert products.
// Activations are converted to the weight type's dot type once per call; rows then meet weights in the tiles of
// backends/cpu/simd (the active ISA's kernels, or the reference vec_dot where a type has none; bit-exact either way).
#include "backends/cpu/ref/ggml_f32_order.hpp"
#include "backends/cpu/ref/ref_kernels.hpp"
#include "backends/cpu/ref/vec_dot.hpp"
#include "backends/cpu/simd/simd.hpp"

#include <moe/quant.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>

MOE_BEGIN_NAMESPACE
namespace cpu {

float dot(const float* a, const float* b, int64_t n) {
    Eigen::Map<const Eigen::VectorXf> x(a, n), y(b, n);
    return x.dot(y);
}

namespace {
// Activation rows per tile call: their converted rows (4 KB or so each) stay in cache while the tile passes the
// thread's weight rows.
constexpr int64_t tile_rows = 64;

// Converts `rows` activation rows of length k to the weight type's dot type; returns the converted rows.
const uint8_t* convert_rows(context& c, dtype wtype, const float* x, int64_t rows, int64_t k) {
    const size_t rb = row_bytes(dot_type(wtype), k);
    uint8_t* a = c.activation_scratch(rb * static_cast<size_t>(rows));
    c.pool.parallel_for(rows, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) simd::convert_activation(wtype, x + i * k, a + static_cast<size_t>(i) * rb, k);
    });
    return a;
}

// Weight rows per unit of work: packed layouts keep groups of eight rows together, so threads split
// whole groups; the file's layout splits anywhere.
int64_t row_unit(const tensor_view& w) { return w.packed_as != packing::none ? 8 : 1; }

// Rows [r0, r1) of the weight matrix at wp (the file's layout, or w's packed one at the same offset) against na
// activation rows, through the tile that reads that layout.
void weight_tile(const tensor_view& w, const uint8_t* wp, size_t wrb, int64_t r0, int64_t r1, const uint8_t* const* a,
                 int na, float* const* out, int64_t k) {
    switch (w.packed_as) {
    case packing::q4_0x8: return simd::tile_q4_0x8(wp, wrb, r0, r1, a, na, out, k);
    case packing::q8_0x8: return simd::tile_q8_0x8(wp, wrb, r0, r1, a, na, out, k);
    case packing::f16x8:
    case packing::bf16x8: return simd::tile_h16x8(w.type, wp, wrb, r0, r1, a, na, out, k);
    default: return simd::tile(w.type, wp, wrb, r0, r1, a, na, out, k);
    }
}

// The matrix bytes the tiles read: the packed copy where the weight has one.
const uint8_t* weight_bytes(const tensor_view& w) {
    return static_cast<const uint8_t*>(w.packed_as != packing::none ? w.packed : w.data);
}

// Rows in order: activation row i and output row i (one "expert" holding every row, for the dense products).
void dense_rows(context& c, int64_t R, const uint8_t* a, size_t arb, float* op, int64_t n) {
    c.act_rows.resize(static_cast<size_t>(R));
    c.out_rows.resize(static_cast<size_t>(R));
    for (int64_t i = 0; i < R; ++i) {
        c.act_rows[static_cast<size_t>(i)] = a + static_cast<size_t>(i) * arb;
        c.out_rows[static_cast<size_t>(i)] = op + i * n;
    }
}
}  // namespace

status get_rows(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const tensor_view &table = in[0], &ids = in[1];
    const int64_t V = table.sh[0], d = table.sh[1], T = ids.sh[0];
    const int32_t* id = static_cast<const int32_t*>(ids.data);
    for (int64_t t = 0; t < T; ++t)
        if (id[t] < 0 || id[t] >= V)
            return status(errc::invalid_argument, "token id " + std::to_string(id[t]) + " outside the vocabulary (" +
                                                      std::to_string(V) + " tokens)");
    float* o = static_cast<float*>(out.data);
    c.pool.parallel_for(T, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const size_t rb = row_bytes(table.type, d);
            const uint8_t* src = static_cast<const uint8_t*>(table.data) + static_cast<size_t>(id[t]) * rb;
            (void)dequantize_row(table.type, src, o + t * d, d);
        }
    });
    return {};
}

// out [R, n] = x [R, k] * w [n, k]^T. Threads split the weight rows, so each weight row is read once; the tile meets
// it with up to four activation rows at a time.
status mul_mat(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const tensor_view &x = in[0], &w = in[1];
    const int64_t R = x.sh.rows(), k = x.sh.last(), n = w.sh[0];
    const uint8_t* a = convert_rows(c, w.type, static_cast<const float*>(x.data), R, k);
    const size_t arb = row_bytes(dot_type(w.type), k), wrb = row_bytes(w.type, k);
    const uint8_t* wp = weight_bytes(w);
    dense_rows(c, R, a, arb, static_cast<float*>(out.data), n);
    const uint8_t* const* ar = c.act_rows.data();
    float* const* orow = c.out_rows.data();
    // llama.cpp multiplies prompt rows 4 at a time with its repacked q4_k GEMM, which sums in its own order
    const int64_t gemm_rows = llama_dense_dot_path(w.type, n, 0, R) == dot_path::repacked_gemm ? R - R % 4 : 0;
    const int64_t unit = row_unit(w);
    c.pool.parallel_for(n / unit, [&](int64_t b, int64_t e) {
        b *= unit, e *= unit;
        for (int64_t i = 0; i < R;) {  // tiles never straddle the GEMM rows' end
            const int64_t end = std::min(i < gemm_rows ? gemm_rows : R, i + tile_rows);
            const int na = static_cast<int>(end - i);
            if (i < gemm_rows) simd::tile_q4_k_gemm(wp, wrb, b, e, ar + i, na, orow + i, k);
            else weight_tile(w, wp, wrb, b, e, ar + i, na, orow + i, k);
            i = end;
        }
    });
    return {};
}

namespace {

// The (t, j) slots of ids [T, U] grouped by expert (counting sort): offs [E + 1] into the slot list, in
// c.index_scratch; then c.act_rows / c.out_rows in that order: slot (t, j)'s activation row (a, arb bytes apart; x
// [T, S, k] with S = 1 shares one row across the slots) and its output row (op, n floats apart).
result<const int32_t*> expert_slots(context& c, const tensor_view& ids, int64_t E) {
    const int64_t T = ids.sh[0], U = ids.sh[1];
    const int32_t* id = static_cast<const int32_t*>(ids.data);
    std::vector<int32_t>& sc = c.index_scratch;
    sc.assign(static_cast<size_t>(2 * E + 1 + T * U), 0);
    int32_t* offs = sc.data();
    int32_t* list = offs + E + 1;
    int32_t* fill = list + T * U;
    for (int64_t s = 0; s < T * U; ++s) {
        if (id[s] < 0 || id[s] >= E)
            return status(errc::invalid_argument,
                          "expert id " + std::to_string(id[s]) + " outside " + std::to_string(E));
        ++offs[id[s] + 1];
    }
    for (int64_t e = 0; e < E; ++e) offs[e + 1] += offs[e];
    for (int64_t e = 0; e < E; ++e) fill[e] = offs[e];
    for (int64_t s = 0; s < T * U; ++s) list[fill[id[s]]++] = static_cast<int32_t>(s);
    return static_cast<const int32_t*>(offs);
}
void slot_rows(context& c, const int32_t* offs, int64_t E, int64_t U, int64_t S, const uint8_t* a, size_t arb,
               float* op, int64_t n) {
    const int32_t* list = offs + E + 1;
    const int64_t slots = offs[E];
    c.act_rows.resize(static_cast<size_t>(slots));
    c.out_rows.resize(static_cast<size_t>(slots));
    for (int64_t p = 0; p < slots; ++p) {
        const int64_t s = list[p], t = s / U, j = s % U;
        c.act_rows[static_cast<size_t>(p)] = a + static_cast<size_t>(t * S + (S == 1 ? 0 : j)) * arb;
        c.out_rows[static_cast<size_t>(p)] = op + s * n;
    }
}
}  // namespace

// out [T, u, n]: slot j of token t is multiplied by expert ids[t][j] of w [E, n, k]; x [T, s, k] with s = 1 shares
// one input row across the slots. Token lists are grouped per expert first, so each expert row is read once.
status mul_mat_id(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const tensor_view &x = in[0], &w = in[1], &ids = in[2];
    const int64_t T = ids.sh[0], U = ids.sh[1], E = w.sh[0], n = w.sh[1], k = w.sh[2], S = x.sh[1];
    result<const int32_t*> sorted = expert_slots(c, ids, E);
    if (!sorted) return sorted.error();
    const int32_t* offs = *sorted;
    const uint8_t* a = convert_rows(c, w.type, static_cast<const float*>(x.data), T * S, k);
    const size_t arb = row_bytes(dot_type(w.type), k), wrb = row_bytes(w.type, k);
    const size_t expert_bytes = wrb * static_cast<size_t>(n);
    slot_rows(c, offs, E, U, S, a, arb, static_cast<float*>(out.data), n);
    const uint8_t* const* ar = c.act_rows.data();
    float* const* orow = c.out_rows.data();
    const int64_t unit = row_unit(w);
    c.pool.parallel_for(n / unit, [&](int64_t b, int64_t e_row) {
        b *= unit, e_row *= unit;
        for (int64_t e = 0; e < E; ++e) {
            if (offs[e] == offs[e + 1]) continue;  // expert not selected: its bytes are never touched
            const uint8_t* we = weight_bytes(w) + static_cast<size_t>(e) * expert_bytes;
            for (int64_t p = offs[e]; p < offs[e + 1]; p += tile_rows) {
                const int na = static_cast<int>(offs[e + 1] - p < tile_rows ? offs[e + 1] - p : tile_rows);
                weight_tile(w, we, wrb, b, e_row, ar + p, na, orow + p, k);
            }
        }
    });
    return {};
}

// out = silu(x gate^T) * (x up^T) (op::mul_mat_glu): with ids, per slot as mul_mat_id; without, per row as mul_mat.
// x is converted once; each thread multiplies its weight rows of gate (into out) and of up (into its scratch) for
// an expert's rows, then applies swiglu's expression to those columns, so one job replaces three and the products
// never leave the thread's cache. Bit-identical to the three ops.
status mul_mat_glu(context& c, const node& nd, const tensor_view& out, const tensor_view* in, const run_args&) {
    const tensor_view &x = in[0], &gw = in[1], &uw = in[2];
    const bool experts = nd.n_in == 4;
    const int64_t k = x.sh.last(), n = experts ? gw.sh[1] : gw.sh[0], E = experts ? gw.sh[0] : 1;
    const int64_t rows = experts ? in[3].sh[0] * x.sh[1] : x.sh.rows();  // activation rows
    const int32_t dense_offs[2] = {0, static_cast<int32_t>(rows)};
    const int32_t* offs = dense_offs;
    if (experts) {
        result<const int32_t*> sorted = expert_slots(c, in[3], E);
        if (!sorted) return sorted.error();
        offs = *sorted;
    }
    const uint8_t* a = convert_rows(c, gw.type, static_cast<const float*>(x.data), rows, k);
    const size_t arb = row_bytes(dot_type(gw.type), k), wrb = row_bytes(gw.type, k);
    const size_t expert_bytes = wrb * static_cast<size_t>(n);
    float* op = static_cast<float*>(out.data);
    if (experts) slot_rows(c, offs, E, in[3].sh[1], x.sh[1], a, arb, op, n);
    else dense_rows(c, rows, a, arb, op, n);
    const uint8_t* const* ar = c.act_rows.data();
    float* const* orow = c.out_rows.data();
    const int64_t unit = row_unit(gw), units = n / unit;
    const int W = ggml_f32::lanes();
    const int64_t n_vec = W > 0 ? n / W * W : 0;
    c.pool.run([&](int ith, int nth) {
        const int64_t per = (units + nth - 1) / nth;
        const int64_t b = std::min(units, per * ith) * unit, e_row = std::min(units, per * (ith + 1)) * unit;
        if (b >= e_row) return;
        float* up = c.scratch(ith, static_cast<size_t>(tile_rows * n));
        float* ur[tile_rows];
        for (int64_t i = 0; i < tile_rows; ++i) ur[i] = up + i * n;
        for (int64_t e = 0; e < E; ++e) {
            if (offs[e] == offs[e + 1]) continue;
            const uint8_t* wg = weight_bytes(gw) + static_cast<size_t>(e) * expert_bytes;
            const uint8_t* wu = weight_bytes(uw) + static_cast<size_t>(e) * expert_bytes;
            for (int64_t p = offs[e]; p < offs[e + 1]; p += tile_rows) {
                const int na = static_cast<int>(offs[e + 1] - p < tile_rows ? offs[e + 1] - p : tile_rows);
                weight_tile(gw, wg, wrb, b, e_row, ar + p, na, orow + p, k);
                weight_tile(uw, wu, wrb, b, e_row, ar + p, na, ur, k);
                for (int i = 0; i < na; ++i)  // swiglu's, element r of a row of n: in llama.cpp's chunks if r < n_vec
                    simd::ggml_swiglu(W, orow[p + i] + b, ur[i] + b, orow[p + i] + b,
                                      std::min(e_row, n_vec) - std::min(b, n_vec), e_row - b);
            }
        }
    });
    return {};
}

// out [T, H, n]: row (t, h) of x [T, H, k] times w[h] [n, k]^T (ggml_mul_mat broadcasting a 3-D weight over heads;
// MLA's wk_b/wv_b). Threads split the (head, weight row) pairs, so each weight row is read once.
status mul_mat_heads(context& c, const node&, const tensor_view& out, const tensor_view* in, const run_args&) {
    const tensor_view &x = in[0], &w = in[1];
    const int64_t T = x.sh[0], H = x.sh[1], k = x.sh[2], n = w.sh[1];
    const uint8_t* a = convert_rows(c, w.type, static_cast<const float*>(x.data), T * H, k);
    const size_t arb = row_bytes(dot_type(w.type), k), wrb = row_bytes(w.type, k);
    const uint8_t* wp = weight_bytes(w);
    float* op = static_cast<float*>(out.data);
    // head h's activation rows (t * H + h for every t) and output rows, head by head
    c.act_rows.resize(static_cast<size_t>(H * T));
    c.out_rows.resize(static_cast<size_t>(H * T));
    for (int64_t h = 0; h < H; ++h) {
        for (int64_t t = 0; t < T; ++t) {
            c.act_rows[static_cast<size_t>(h * T + t)] = a + static_cast<size_t>(t * H + h) * arb;
            c.out_rows[static_cast<size_t>(h * T + t)] = op + (t * H + h) * n;
        }
    }
    const uint8_t* const* ar = c.act_rows.data();
    float* const* orow = c.out_rows.data();
    const int64_t unit = row_unit(w);  // n is a multiple of it: groups never straddle heads
    c.pool.parallel_for(H * n / unit, [&](int64_t b, int64_t e) {
        b *= unit, e *= unit;
        for (int64_t h = b / n; h < H && h * n < e; ++h) {
            const int64_t r0 = b > h * n ? b - h * n : 0, r1 = e < (h + 1) * n ? e - h * n : n;
            const uint8_t* wh = wp + static_cast<size_t>(h * n) * wrb;  // w[h]
            for (int64_t t = 0; t < T; t += tile_rows) {
                const int na = static_cast<int>(T - t < tile_rows ? T - t : tile_rows);
                weight_tile(w, wh, wrb, r0, r1, ar + h * T + t, na, orow + h * T + t, k);
            }
        }
    });
    return {};
}

}  // namespace cpu
MOE_END_NAMESPACE
