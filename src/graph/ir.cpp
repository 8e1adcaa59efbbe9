// ir.cpp — shape inference and validation for every op, and a text dump of graphs for debugging.
// Called by the architecture builders through graph_builder; produces the graph the planner lays out.
#include "graph/ir.hpp"

#include <sstream>

MOE_BEGIN_NAMESPACE

shape::shape(std::initializer_list<int64_t> dims) {
    rank = dims.size() <= static_cast<size_t>(max_rank) ? static_cast<int>(dims.size()) : -1;  // -1: invalid,
    size_t k = 0;                                                                            // rejected by builders
    for (int64_t v : dims) {
        if (k < d.size()) d[k] = v;
        ++k;
    }
}

int64_t shape::rows() const {
    int64_t r = 1;
    for (int k = 0; k + 1 < rank; ++k) r *= d[static_cast<size_t>(k)];
    return r;
}

int64_t shape::elements() const { return rows() * last(); }

bool shape::operator==(const shape& o) const {
    if (rank != o.rank) return false;
    for (int k = 0; k < rank; ++k)
        if (d[static_cast<size_t>(k)] != o.d[static_cast<size_t>(k)]) return false;
    return true;
}

std::string shape::to_string() const {
    std::string s = "[";
    for (int k = 0; k < rank; ++k) {
        if (k) s += ", ";
        s += std::to_string(d[static_cast<size_t>(k)]);
    }
    return s + "]";
}

const char* op_name(op o) noexcept {
    switch (o) {
    case op::get_rows: return "get_rows";
    case op::rms_norm: return "rms_norm";
    case op::mul_mat: return "mul_mat";
    case op::mul_mat_id: return "mul_mat_id";
    case op::add: return "add";
    case op::mul: return "mul";
    case op::div: return "div";
    case op::silu: return "silu";
    case op::scale: return "scale";
    case op::swiglu: return "swiglu";
    case op::softmax: return "softmax";
    case op::top_k: return "top_k";
    case op::gather_cols: return "gather_cols";
    case op::normalize_sum: return "normalize_sum";
    case op::weighted_sum: return "weighted_sum";
    case op::rope: return "rope";
    case op::attention: return "attention";
    case op::add_id: return "add_id";
    case op::swiglu_oai: return "swiglu_oai";
    case op::rope_yarn: return "rope_yarn";
    case op::attention_ext: return "attention_ext";
    case op::sigmoid: return "sigmoid";
    case op::expert_group_mask: return "expert_group_mask";
    case op::cols: return "cols";
    case op::concat: return "concat";
    case op::mul_mat_heads: return "mul_mat_heads";
    case op::attention_mla: return "attention_mla";
    case op::mul_mat_glu: return "mul_mat_glu";
    case op::view: return "view";
    }
    return "?";
}

std::string graph::dump() const {
    std::ostringstream os;
    auto name = [&](value_id v) {
        const value& x = val(v);
        if (x.kind == value_kind::intermediate) return "%" + std::to_string(v);
        return x.name;
    };
    for (const node& n : nodes) {
        const value& o = val(n.out);
        os << name(n.out) << " = " << op_name(n.kind) << "(";
        for (int k = 0; k < n.n_in; ++k) os << (k ? ", " : "") << name(n.in[static_cast<size_t>(k)]);
        os << ") " << o.sh.to_string() << " " << dtype_name(o.type) << (o.is_output ? " output" : "") << "\n";
    }
    return os.str();
}

// ---- builder ---------------------------------------------------------------------------------------------------

bool graph_builder::check(bool cond, const std::string& what) {
    if (!cond && err_.ok()) err_ = status(errc::shape_mismatch, what);
    return cond && err_.ok();
}

bool graph_builder::valid(value_id v) const { return v >= 0 && static_cast<size_t>(v) < g_.values.size(); }

value_id graph_builder::add_value(value v) {
    g_.values.push_back(std::move(v));
    return static_cast<value_id>(g_.values.size() - 1);
}

static bool shape_ok(const shape& sh) {
    if (sh.rank < 1 || sh.rank > max_rank) return false;
    for (int k = 0; k < sh.rank; ++k)
        if (sh[k] <= 0 || sh[k] > (int64_t(1) << 40)) return false;
    return true;
}

value_id graph_builder::input(const std::string& name, dtype type, shape sh) {
    if (!check(shape_ok(sh), "input '" + name + "' has an invalid shape " + sh.to_string())) return no_value;
    value v;
    v.name = name, v.type = type, v.sh = sh, v.kind = value_kind::input;
    return add_value(std::move(v));
}

value_id graph_builder::weight(const std::string& name, dtype type, shape sh, const void* data, const void* packed,
                              packing packed_as) {
    if (!check(shape_ok(sh), "weight '" + name + "' has an invalid shape " + sh.to_string())) return no_value;
    if (!check(data != nullptr, "weight '" + name + "' has no data")) return no_value;
    if (!check(sh.last() % traits(type).block_size == 0,
               "weight '" + name + "': rows of " + std::to_string(sh.last()) + " are not whole " + dtype_name(type) +
                   " blocks"))
        return no_value;
    value v;
    v.name = name, v.type = type, v.sh = sh, v.kind = value_kind::weight, v.external = data;
    if (packed != nullptr && packed_as != packing::none) v.packed = packed, v.packed_as = packed_as;
    return add_value(std::move(v));
}

value_id graph_builder::state(const std::string& name, dtype type, shape sh, void* data) {
    if (!check(shape_ok(sh), "state '" + name + "' has an invalid shape " + sh.to_string())) return no_value;
    if (!check(data != nullptr, "state '" + name + "' has no buffer")) return no_value;
    value v;
    v.name = name, v.type = type, v.sh = sh, v.kind = value_kind::state, v.external = data;
    return add_value(std::move(v));
}

value_id graph_builder::add_node(op kind, std::initializer_list<value_id> in, dtype type, shape sh) {
    if (!err_.ok()) return no_value;
    node n;
    n.kind = kind;
    for (value_id v : in) n.in[static_cast<size_t>(n.n_in++)] = v;
    value v;
    v.type = type, v.sh = sh, v.producer = static_cast<int32_t>(g_.nodes.size());
    n.out = add_value(std::move(v));
    g_.nodes.push_back(n);
    return n.out;
}

#define MOE_REQUIRE_VALID(...)                                            \
    do {                                                                  \
        for (value_id v_ : {__VA_ARGS__})                                 \
            if (!check(valid(v_), std::string(__func__) + ": invalid input value")) return no_value; \
    } while (0)

value_id graph_builder::get_rows(value_id table, value_id ids) {
    MOE_REQUIRE_VALID(table, ids);
    const value &t = val(table), &i = val(ids);
    if (!check(t.sh.rank == 2 && i.type == dtype::i32 && i.sh.rank == 1,
               "get_rows: needs table [V, d] and i32 ids [T], got " + t.sh.to_string() + " and " + i.sh.to_string()))
        return no_value;
    return add_node(op::get_rows, {table, ids}, dtype::f32, {i.sh[0], t.sh[1]});
}

value_id graph_builder::rms_norm(value_id x, value_id w, float eps) {
    MOE_REQUIRE_VALID(x, w);
    const value &a = val(x), &b = val(w);
    if (!check(a.type == dtype::f32 && b.type == dtype::f32 && b.sh.rank == 1 && b.sh[0] == a.sh.last(),
               "rms_norm: weight " + b.name + " " + b.sh.to_string() + " does not match input " + a.sh.to_string()))
        return no_value;
    value_id out = add_node(op::rms_norm, {x, w}, dtype::f32, a.sh);
    if (out != no_value) g_.nodes.back().f[0] = eps;
    return out;
}

value_id graph_builder::mul_mat(value_id x, value_id w) {
    MOE_REQUIRE_VALID(x, w);
    const value &a = val(x), &b = val(w);
    if (!check(a.type == dtype::f32 && b.sh.rank == 2 && b.sh[1] == a.sh.last(),
               "mul_mat: weight " + b.name + " " + b.sh.to_string() + " cannot multiply input " + a.sh.to_string()))
        return no_value;
    shape out = a.sh;
    out.d[static_cast<size_t>(out.rank - 1)] = b.sh[0];
    return add_node(op::mul_mat, {x, w}, dtype::f32, out);
}

value_id graph_builder::mul_mat_id(value_id x, value_id w, value_id ids) {
    MOE_REQUIRE_VALID(x, w, ids);
    const value &a = val(x), &b = val(w), &i = val(ids);
    bool ok = a.type == dtype::f32 && a.sh.rank == 3 && b.sh.rank == 3 && i.type == dtype::i32 && i.sh.rank == 2 &&
              a.sh[0] == i.sh[0] && (a.sh[1] == 1 || a.sh[1] == i.sh[1]) && a.sh[2] == b.sh[2];
    if (!check(ok, "mul_mat_id: experts " + b.name + " " + b.sh.to_string() + ", input " + a.sh.to_string() +
                       " and ids " + i.sh.to_string() + " do not fit"))
        return no_value;
    return add_node(op::mul_mat_id, {x, w, ids}, dtype::f32, {i.sh[0], i.sh[1], b.sh[1]});
}

value_id graph_builder::elementwise(op kind, value_id a, value_id b) {
    const value &x = val(a), &y = val(b);
    const bool column = y.sh.last() == 1 && y.sh.rows() == x.sh.rows() && y.sh.rank == x.sh.rank;
    bool ok = x.type == dtype::f32 && y.type == dtype::f32 &&
              (x.sh == y.sh || (y.sh.rank == 1 && y.sh[0] == x.sh.last()) || column);
    if (!check(ok, std::string(op_name(kind)) + ": shapes " + x.sh.to_string() + " and " + y.sh.to_string() +
                       " do not broadcast"))
        return no_value;
    return add_node(kind, {a, b}, dtype::f32, x.sh);
}

value_id graph_builder::add(value_id a, value_id b) {
    MOE_REQUIRE_VALID(a, b);
    return elementwise(op::add, a, b);
}

value_id graph_builder::mul(value_id a, value_id b) {
    MOE_REQUIRE_VALID(a, b);
    return elementwise(op::mul, a, b);
}

value_id graph_builder::div(value_id a, value_id b) {
    MOE_REQUIRE_VALID(a, b);
    return elementwise(op::div, a, b);
}

value_id graph_builder::silu(value_id x) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "silu")) return no_value;
    return add_node(op::silu, {x}, dtype::f32, val(x).sh);
}

bool graph_builder::is_f32(std::initializer_list<value_id> vs, const char* op) {
    for (value_id v : vs)
        if (!check(val(v).type == dtype::f32, std::string(op) + ": input " + std::to_string(v) + " is " +
                                                 dtype_name(val(v).type) + ", expected f32"))
            return false;
    return true;
}

value_id graph_builder::scale(value_id x, float s) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "scale")) return no_value;
    value_id out = add_node(op::scale, {x}, dtype::f32, val(x).sh);
    if (out != no_value) g_.nodes.back().f[0] = s;
    return out;
}

value_id graph_builder::swiglu(value_id gate, value_id up) {
    MOE_REQUIRE_VALID(gate, up);
    if (!is_f32({gate, up}, "swiglu")) return no_value;
    if (!check(val(gate).sh == val(up).sh, "swiglu: gate " + val(gate).sh.to_string() + " and up " +
                                              val(up).sh.to_string() + " differ"))
        return no_value;
    return add_node(op::swiglu, {gate, up}, dtype::f32, val(gate).sh);
}

value_id graph_builder::softmax(value_id x) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "softmax")) return no_value;
    return add_node(op::softmax, {x}, dtype::f32, val(x).sh);
}

value_id graph_builder::top_k(value_id x, int64_t k) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "top_k")) return no_value;
    const value& a = val(x);
    if (!check(a.sh.rank == 2 && k >= 1 && k <= a.sh[1],
               "top_k: k = " + std::to_string(k) + " does not fit " + a.sh.to_string()))
        return no_value;
    value_id out = add_node(op::top_k, {x}, dtype::i32, {a.sh[0], k});
    if (out != no_value) g_.nodes.back().i[0] = k;
    return out;
}

value_id graph_builder::gather_cols(value_id x, value_id ids) {
    MOE_REQUIRE_VALID(x, ids);
    if (!is_f32({x}, "gather_cols")) return no_value;
    const value &a = val(x), &i = val(ids);
    if (!check(a.sh.rank == 2 && i.sh.rank == 2 && i.type == dtype::i32 && a.sh[0] == i.sh[0],
               "gather_cols: " + a.sh.to_string() + " and ids " + i.sh.to_string() + " do not fit"))
        return no_value;
    return add_node(op::gather_cols, {x, ids}, dtype::f32, i.sh);
}

value_id graph_builder::normalize_sum(value_id x) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "normalize_sum")) return no_value;
    return add_node(op::normalize_sum, {x}, dtype::f32, val(x).sh);
}

value_id graph_builder::weighted_sum(value_id y, value_id w) {
    MOE_REQUIRE_VALID(y, w);
    if (!is_f32({y, w}, "weighted_sum")) return no_value;
    const value &a = val(y), &b = val(w);
    if (!check(a.sh.rank == 3 && b.sh.rank == 2 && a.sh[0] == b.sh[0] && a.sh[1] == b.sh[1],
               "weighted_sum: " + a.sh.to_string() + " and weights " + b.sh.to_string() + " do not fit"))
        return no_value;
    return add_node(op::weighted_sum, {y, w}, dtype::f32, {a.sh[0], a.sh[2]});
}

value_id graph_builder::rope(value_id x, value_id pos, int64_t n_rot, rope_mode mode, float base, float freq_scale) {
    MOE_REQUIRE_VALID(x, pos);
    if (!is_f32({x}, "rope")) return no_value;
    const value &a = val(x), &p = val(pos);
    if (!check(a.sh.rank == 3 && p.type == dtype::i32 && p.sh.rank == 1 && p.sh[0] == a.sh[0] && n_rot > 0 &&
                   n_rot % 2 == 0 && n_rot <= a.sh[2],
               "rope: input " + a.sh.to_string() + ", positions " + p.sh.to_string() + ", n_rot " +
                   std::to_string(n_rot)))
        return no_value;
    value_id out = add_node(op::rope, {x, pos}, dtype::f32, a.sh);
    if (out != no_value) {
        node& n = g_.nodes.back();
        n.i[0] = n_rot, n.i[1] = static_cast<int64_t>(mode), n.f[0] = base, n.f[1] = freq_scale;
    }
    return out;
}

// Whether q/k/v and the two caches fit one attention op (shared by attention and attention_ext). `multi`: the
// caches hold one slot per sequence, [S, C, H, D]; else [C, H, D].
static bool attention_fits(const value& Q, const value& K, const value& V, const value& KC, const value& VC,
                           bool multi) {
    const int r = multi ? 4 : 3, o = multi ? 1 : 0;  // cache rank, offset of the row dim
    return Q.sh.rank == 3 && K.sh.rank == 3 && V.sh.rank == 3 && Q.sh[0] == K.sh[0] && K.sh[0] == V.sh[0] &&
           Q.sh[2] == K.sh[2] && K.sh[1] == V.sh[1] && K.sh[1] > 0 && Q.sh[1] % K.sh[1] == 0 &&
           KC.kind == value_kind::state && VC.kind == value_kind::state && KC.sh.rank == r && VC.sh.rank == r &&
           KC.sh[o + 1] == K.sh[1] && KC.sh[o + 2] == K.sh[2] && VC.sh[o + 1] == V.sh[1] && VC.sh[o + 2] == V.sh[2] &&
           KC.sh[0] == VC.sh[0] && KC.sh[o] == VC.sh[o] && (KC.type == dtype::f32 || KC.type == dtype::f16) &&
           VC.type == KC.type;
}

bool graph_builder::sequence_inputs(value_id pos, value_id seq, int64_t T, const char* op) {
    if (pos == no_value && seq == no_value) return true;
    if (!check(pos != no_value && seq != no_value, std::string(op) + ": positions and sequence ids come together"))
        return false;
    if (!check(valid(pos) && valid(seq), std::string(op) + ": invalid positions or sequence ids")) return false;
    const value &p = val(pos), &s = val(seq);
    return check(p.type == dtype::i32 && s.type == dtype::i32 && p.sh.rank == 1 && s.sh.rank == 1 && p.sh[0] == T &&
                     s.sh[0] == T,
                 std::string(op) + ": positions " + p.sh.to_string() + " and sequence ids " + s.sh.to_string() +
                     " must be i32 [" + std::to_string(T) + "]");
}

void graph_builder::append_sequence_inputs(value_id pos, value_id seq) {
    if (pos == no_value || !err_.ok()) return;
    node& n = g_.nodes.back();
    n.in[static_cast<size_t>(n.n_in++)] = pos;
    n.in[static_cast<size_t>(n.n_in++)] = seq;
    n.i[3] = 1;
}

value_id graph_builder::attention(value_id q, value_id k, value_id v, value_id kcache, value_id vcache, float scale,
                                  value_id pos, value_id seq) {
    MOE_REQUIRE_VALID(q, k, v, kcache, vcache);
    if (!is_f32({q, k, v}, "attention")) return no_value;
    const value &Q = val(q), &K = val(k), &V = val(v), &KC = val(kcache), &VC = val(vcache);
    if (!sequence_inputs(pos, seq, Q.sh[0], "attention")) return no_value;
    if (!check(attention_fits(Q, K, V, KC, VC, pos != no_value),
               "attention: q " + Q.sh.to_string() + ", k " + K.sh.to_string() + ", v " + V.sh.to_string() +
                   ", caches " + KC.sh.to_string() + " " + VC.sh.to_string() + " do not fit"))
        return no_value;
    value_id out = add_node(op::attention, {q, k, v, kcache, vcache}, dtype::f32, {Q.sh[0], Q.sh[1] * V.sh[2]});
    if (out != no_value) g_.nodes.back().f[0] = scale;
    append_sequence_inputs(pos, seq);
    return out;
}

value_id graph_builder::attention_ext(value_id q, value_id k, value_id v, value_id kcache, value_id vcache,
                                      value_id sinks, float scale, int64_t window, value_id pos, value_id seq) {
    MOE_REQUIRE_VALID(q, k, v, kcache, vcache);
    if (sinks != no_value) MOE_REQUIRE_VALID(sinks);
    if (!is_f32({q, k, v}, "attention_ext")) return no_value;
    const int64_t T = val(q).sh[0], Hq = val(q).sh[1], Dv = val(v).sh[2];
    if (!sequence_inputs(pos, seq, T, "attention_ext")) return no_value;
    if (!check(attention_fits(val(q), val(k), val(v), val(kcache), val(vcache), pos != no_value),
               "attention_ext: q " + val(q).sh.to_string() + ", k " + val(k).sh.to_string() + ", v " +
                   val(v).sh.to_string() + ", caches " + val(kcache).sh.to_string() + " " +
                   val(vcache).sh.to_string() + " do not fit"))
        return no_value;
    if (sinks != no_value && !check(val(sinks).type == dtype::f32 && val(sinks).sh.rank == 1 && val(sinks).sh[0] == Hq,
                                    "attention_ext: sinks " + val(sinks).sh.to_string() + " must be f32 [" +
                                        std::to_string(Hq) + "]"))
        return no_value;
    if (!check(window >= 0, "attention_ext: negative sliding window")) return no_value;
    value_id out = sinks != no_value
                       ? add_node(op::attention_ext, {q, k, v, kcache, vcache, sinks}, dtype::f32, {T, Hq * Dv})
                       : add_node(op::attention_ext, {q, k, v, kcache, vcache}, dtype::f32, {T, Hq * Dv});
    if (out != no_value) g_.nodes.back().f[0] = scale, g_.nodes.back().i[0] = window;
    append_sequence_inputs(pos, seq);
    return out;
}

value_id graph_builder::add_id(value_id x, value_id bias, value_id ids) {
    MOE_REQUIRE_VALID(x, bias, ids);
    if (!is_f32({x, bias}, "add_id")) return no_value;
    const value &a = val(x), &b = val(bias), &i = val(ids);
    if (!check(a.sh.rank == 3 && b.sh.rank == 2 && i.type == dtype::i32 && i.sh.rank == 2 && a.sh[0] == i.sh[0] &&
                   a.sh[1] == i.sh[1] && a.sh[2] == b.sh[1],
               "add_id: input " + a.sh.to_string() + ", biases " + b.sh.to_string() + " and ids " + i.sh.to_string() +
                   " do not fit"))
        return no_value;
    return add_node(op::add_id, {x, bias, ids}, dtype::f32, a.sh);
}

value_id graph_builder::swiglu_oai(value_id gate, value_id up, float alpha, float limit) {
    MOE_REQUIRE_VALID(gate, up);
    if (!is_f32({gate, up}, "swiglu_oai")) return no_value;
    if (!check(val(gate).sh == val(up).sh, "swiglu_oai: gate " + val(gate).sh.to_string() + " and up " +
                                              val(up).sh.to_string() + " differ"))
        return no_value;
    value_id out = add_node(op::swiglu_oai, {gate, up}, dtype::f32, val(gate).sh);
    if (out != no_value) g_.nodes.back().f[0] = alpha, g_.nodes.back().f[1] = limit;
    return out;
}

value_id graph_builder::rope_yarn(value_id x, value_id pos, int64_t n_rot, rope_mode mode, float base, float freq_scale,
                                  const rope_yarn_params& y) {
    value_id out = rope(x, pos, n_rot, mode, base, freq_scale);
    if (out == no_value) return no_value;
    node& n = g_.nodes.back();
    n.kind = op::rope_yarn;
    n.f[2] = y.ext_factor, n.f[3] = y.attn_factor, n.i[2] = y.corr_low, n.i[3] = y.corr_high;
    return out;
}

// ---- MLA and group-limited routing (DeepSeek-V2/V3) -----------------------------------------------------------

value_id graph_builder::sigmoid(value_id x) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "sigmoid")) return no_value;
    return add_node(op::sigmoid, {x}, dtype::f32, val(x).sh);
}

value_id graph_builder::expert_group_mask(value_id x, int64_t n_group, int64_t n_group_used) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "expert_group_mask")) return no_value;
    const value& a = val(x);
    const int64_t n = a.sh.last();
    if (!check(a.sh.rank == 2 && n_group >= 2 && n % n_group == 0 && n / n_group >= 2 && n_group_used >= 1 &&
                   n_group_used <= n_group,
               "expert_group_mask: " + a.sh.to_string() + " cannot form " + std::to_string(n_group) +
                   " groups of at least two columns with " + std::to_string(n_group_used) + " kept"))
        return no_value;
    value_id out = add_node(op::expert_group_mask, {x}, dtype::f32, a.sh);
    if (out != no_value) g_.nodes.back().i[0] = n_group, g_.nodes.back().i[1] = n_group_used;
    return out;
}

value_id graph_builder::cols(value_id x, int64_t first, int64_t count) {
    MOE_REQUIRE_VALID(x);
    if (!is_f32({x}, "cols")) return no_value;
    shape sh = val(x).sh;
    if (!check(first >= 0 && count >= 1 && first + count <= sh.last(),
               "cols: [" + std::to_string(first) + ", +" + std::to_string(count) + ") outside " + sh.to_string()))
        return no_value;
    sh.d[static_cast<size_t>(sh.rank - 1)] = count;
    value_id out = add_node(op::cols, {x}, dtype::f32, sh);
    if (out != no_value) g_.nodes.back().i[0] = first, g_.nodes.back().i[1] = count;
    return out;
}

value_id graph_builder::concat(value_id a, value_id b) {
    MOE_REQUIRE_VALID(a, b);
    if (!is_f32({a, b}, "concat")) return no_value;
    const shape &x = val(a).sh, &y = val(b).sh;
    bool ok = x.rank == y.rank;
    for (int k = 0; ok && k + 1 < x.rank; ++k)
        ok = x[k] == y[k] || (x.rank == 3 && k == 1 && y[k] == 1);  // b's single head repeats over a's heads
    if (!check(ok, "concat: " + x.to_string() + " and " + y.to_string() + " differ outside the last dim"))
        return no_value;
    shape sh = x;
    sh.d[static_cast<size_t>(sh.rank - 1)] = x.last() + y.last();
    return add_node(op::concat, {a, b}, dtype::f32, sh);
}

value_id graph_builder::mul_mat_heads(value_id x, value_id w) {
    MOE_REQUIRE_VALID(x, w);
    const value &a = val(x), &b = val(w);
    if (!check(a.type == dtype::f32 && a.sh.rank == 3 && b.sh.rank == 3 && b.sh[0] == a.sh[1] && b.sh[2] == a.sh[2],
               "mul_mat_heads: weight " + b.name + " " + b.sh.to_string() + " cannot multiply input " +
                   a.sh.to_string()))
        return no_value;
    return add_node(op::mul_mat_heads, {x, w}, dtype::f32, {a.sh[0], a.sh[1], b.sh[1]});
}

value_id graph_builder::attention_mla(value_id q, value_id kv, value_id cache, int64_t dv, float scale, value_id pos,
                                      value_id seq) {
    MOE_REQUIRE_VALID(q, kv, cache);
    if (!is_f32({q, kv}, "attention_mla")) return no_value;
    const value &Q = val(q), &K = val(kv), &C = val(cache);
    if (!sequence_inputs(pos, seq, Q.sh[0], "attention_mla")) return no_value;
    const int r = pos != no_value ? 4 : 3, o = r - 3;  // [S, C, 1, D] with several sequences, else [C, 1, D]
    const bool ok = Q.sh.rank == 3 && K.sh.rank == 3 && C.sh.rank == r && K.sh[0] == Q.sh[0] && K.sh[1] == 1 &&
                    C.sh[o + 1] == 1 && K.sh[2] == Q.sh[2] && C.sh[o + 2] == Q.sh[2] && C.kind == value_kind::state &&
                    (C.type == dtype::f32 || C.type == dtype::f16) && dv >= 1 && dv <= Q.sh[2];
    if (!check(ok, "attention_mla: q " + Q.sh.to_string() + ", kv " + K.sh.to_string() + ", cache " +
                       C.sh.to_string() + " and value width " + std::to_string(dv) + " do not fit"))
        return no_value;
    const int64_t T = Q.sh[0], H = Q.sh[1];
    value_id out = add_node(op::attention_mla, {q, kv, cache}, dtype::f32, {T, H, dv});
    if (out != no_value) g_.nodes.back().f[0] = scale, g_.nodes.back().i[0] = dv;
    append_sequence_inputs(pos, seq);
    return out;
}

value_id graph_builder::reshape(value_id x, shape sh) {
    MOE_REQUIRE_VALID(x);
    const value& a = val(x);
    if (!check(shape_ok(sh) && sh.elements() == a.sh.elements() && !is_quantized(a.type),
               "reshape: " + a.sh.to_string() + " cannot become " + sh.to_string()))
        return no_value;
    value_id out = add_node(op::view, {x}, a.type, sh);
    if (out != no_value) g_.values[static_cast<size_t>(out)].alias_of = x;
    return out;
}

value_id graph_builder::rows(value_id x, int64_t first, int64_t count) {
    MOE_REQUIRE_VALID(x);
    const value& a = val(x);
    if (!check(a.sh.rank == 2 && first >= 0 && count >= 1 && first + count <= a.sh[0] && !is_quantized(a.type),
               "rows: [" + std::to_string(first) + ", +" + std::to_string(count) + ") outside " + a.sh.to_string()))
        return no_value;
    const dtype type = a.type;  // copies: add_node may reallocate the value list `a` points into
    const int64_t cols = a.sh[1];
    value_id out = add_node(op::view, {x}, type, {count, cols});
    if (out != no_value) {
        value& o = g_.values[static_cast<size_t>(out)];
        o.alias_of = x;
        o.alias_offset = static_cast<size_t>(first) * row_bytes(type, cols);
    }
    return out;
}

void graph_builder::mark_output(value_id v) {
    if (!check(valid(v) && val(v).kind == value_kind::intermediate, "mark_output: not an intermediate value")) return;
    g_.values[static_cast<size_t>(v)].is_output = true;
    g_.outputs.push_back(v);
}

result<graph> graph_builder::finish() {
    if (!err_.ok()) return err_;
    if (g_.outputs.empty()) return status(errc::internal, "graph has no outputs");
    return std::move(g_);
}

MOE_END_NAMESPACE
