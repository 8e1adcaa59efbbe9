// cuda_dispatch.cu — supports() (ops, types, shapes) and run_node(): checks, inputs up, launch, output back.
// Before: the host's module_backend adapter (src/runtime/backend_registry.cpp). After: the launchers in the op files.
#include "backends/cuda/cuda_common.cuh"

#include <cstddef>
#include <new>

namespace moe_cuda {

namespace {

bool is_weight_type(uint32_t t) {
    switch (t) {
    case t_f32:
    case t_f16:
    case t_bf16:
    case t_q4_0:
    case t_q8_0:
    case t_q4_k:
    case t_q6_k: return true;
    default: return false;
    }
}

bool f32(const moe_backend_tensor& t) { return t.type == t_f32; }
bool i32(const moe_backend_tensor& t) { return t.type == t_i32; }
bool all_f32(const moe_backend_node& n) {
    for (int j = 0; j < n.n_inputs; ++j)
        if (!f32(n.inputs[j])) return false;
    return f32(n.output);
}

// Largest head dimension the attention kernels take (one thread block holds a query row and an output row).
constexpr int64_t max_head_dim = 1024;

bool supports_node(const moe_backend_node& n) {
    if (n.n_inputs < 1 || n.n_inputs > MOE_BACKEND_MAX_INPUTS) return false;
    for (int j = 0; j < n.n_inputs; ++j)
        if (n.inputs[j].rank < 1 || n.inputs[j].rank > MOE_BACKEND_MAX_DIMS) return false;
    if (n.output.rank < 1 || n.output.rank > MOE_BACKEND_MAX_DIMS) return false;
    const moe_backend_tensor* in = n.inputs;
    const moe_backend_tensor& out = n.output;
    switch (n.op) {
    case MOE_BACKEND_OP_VIEW: return true;  // host memory (API v1): any view is addressable
    case MOE_BACKEND_OP_GET_ROWS:
        return n.n_inputs == 2 && is_weight_type(in[0].type) && in[0].rank == 2 && i32(in[1]) && f32(out) &&
               in[0].dims[1] % block_elems(in[0].type) == 0;
    case MOE_BACKEND_OP_MUL_MAT:
        return n.n_inputs == 2 && f32(in[0]) && f32(out) && is_weight_type(in[1].type) && in[1].rank == 2 &&
               last(in[0]) == in[1].dims[1] && in[1].dims[1] % block_elems(in[1].type) == 0;
    case MOE_BACKEND_OP_MUL_MAT_HEADS:
        return n.n_inputs == 2 && f32(in[0]) && f32(out) && is_weight_type(in[1].type) && in[0].rank == 3 &&
               in[1].rank == 3 && in[0].dims[1] == in[1].dims[0] && in[0].dims[2] == in[1].dims[2] &&
               in[1].dims[2] % block_elems(in[1].type) == 0;
    case MOE_BACKEND_OP_MUL_MAT_ID:
        return n.n_inputs == 3 && f32(in[0]) && f32(out) && is_weight_type(in[1].type) && i32(in[2]) &&
               in[0].rank == 3 && in[1].rank == 3 && in[2].rank == 2 && in[0].dims[2] == in[1].dims[2] &&
               (in[0].dims[1] == 1 || in[0].dims[1] == in[2].dims[1]) && in[0].dims[0] == in[2].dims[0] &&
               in[1].dims[2] % block_elems(in[1].type) == 0;
    case MOE_BACKEND_OP_RMS_NORM: return n.n_inputs == 2 && all_f32(n) && elements(in[1]) == last(in[0]);
    case MOE_BACKEND_OP_ADD:
    case MOE_BACKEND_OP_MUL:
    case MOE_BACKEND_OP_DIV: {
        if (n.n_inputs != 2 || !all_f32(n)) return false;
        const bool same = elements(in[1]) == elements(in[0]);
        const bool column = last(in[1]) == 1 && rows(in[1]) == rows(in[0]);
        return same || column || elements(in[1]) == last(in[0]);
    }
    case MOE_BACKEND_OP_SCALE:
    case MOE_BACKEND_OP_SILU:
    case MOE_BACKEND_OP_SIGMOID:
    case MOE_BACKEND_OP_SOFTMAX:
    case MOE_BACKEND_OP_NORMALIZE_SUM: return n.n_inputs == 1 && all_f32(n);
    case MOE_BACKEND_OP_SWIGLU:
    case MOE_BACKEND_OP_SWIGLU_OAI: return n.n_inputs == 2 && all_f32(n) && elements(in[0]) == elements(in[1]);
    case MOE_BACKEND_OP_TOP_K: return n.n_inputs == 1 && f32(in[0]) && i32(out) && n.i[0] >= 1 && n.i[0] <= last(in[0]);
    case MOE_BACKEND_OP_GATHER_COLS:
        return n.n_inputs == 2 && f32(in[0]) && i32(in[1]) && f32(out) && rows(in[1]) == rows(in[0]);
    case MOE_BACKEND_OP_WEIGHTED_SUM:
        return n.n_inputs == 2 && all_f32(n) && in[0].rank == 3 && elements(in[1]) == in[0].dims[0] * in[0].dims[1];
    case MOE_BACKEND_OP_ADD_ID:
        return n.n_inputs == 3 && f32(in[0]) && f32(in[1]) && i32(in[2]) && f32(out) && in[1].rank == 2 &&
               in[1].dims[1] == last(in[0]) && elements(in[2]) == rows(in[0]);
    case MOE_BACKEND_OP_EXPERT_GROUP_MASK:  // one thread per row keeps the group scores in registers: <= 64 groups
        return n.n_inputs == 1 && all_f32(n) && n.i[0] >= 1 && n.i[0] <= 64;
    case MOE_BACKEND_OP_ROPE:
    case MOE_BACKEND_OP_ROPE_YARN:
        return n.n_inputs == 2 && f32(in[0]) && i32(in[1]) && f32(out) && in[0].rank == 3 &&
               elements(in[1]) == in[0].dims[0] && n.i[0] >= 2 && n.i[0] % 2 == 0 && n.i[0] <= in[0].dims[2] &&
               (n.i[1] == 0 || n.i[1] == 2);
    case MOE_BACKEND_OP_ATTENTION:
    case MOE_BACKEND_OP_ATTENTION_EXT:
        // five inputs and one sequence only: sinks (a 6th input) and the several-sequence form (positions and ids
        // after the caches) never reach a v1 module anyway (more than MOE_BACKEND_MAX_INPUTS inputs)
        return n.n_inputs == 5 && n.i[3] == 0 && all_f32(n) && in[0].rank == 3 && in[1].rank == 3 &&
               in[2].rank == 3 && in[3].rank == 3 && in[4].rank == 3 && in[1].dims[1] > 0 &&
               in[0].dims[1] % in[1].dims[1] == 0 && in[0].dims[2] == in[1].dims[2] &&
               in[3].dims[1] == in[1].dims[1] && in[3].dims[2] == in[1].dims[2] && in[4].dims[1] == in[2].dims[1] &&
               in[4].dims[2] == in[2].dims[2] && in[3].dims[0] == in[4].dims[0] && in[0].dims[2] <= max_head_dim &&
               in[2].dims[2] <= max_head_dim && (n.op == MOE_BACKEND_OP_ATTENTION || n.i[0] >= 0);
    case MOE_BACKEND_OP_ATTENTION_MLA: {
        const bool one = n.n_inputs == 3 && n.i[3] == 0 && in[2].rank == 3;
        const bool several = n.n_inputs == 5 && n.i[3] == 1 && in[2].rank == 4 && i32(in[3]) && i32(in[4]);
        if (!(one || several)) return false;
        for (int j = 0; j < 3; ++j)
            if (!f32(in[j])) return false;
        return f32(out) && in[0].rank == 3 && in[1].rank == 3 && in[0].dims[2] == in[1].dims[2] &&
               last(in[2]) == in[0].dims[2] && in[0].dims[2] <= max_head_dim && n.i[0] >= 1 && n.i[0] <= in[0].dims[2];
    }
    case MOE_BACKEND_OP_COLS: return n.n_inputs == 1 && all_f32(n);
    case MOE_BACKEND_OP_CONCAT: return n.n_inputs == 2 && all_f32(n);
    default: return false;
    }
}

// Inputs that are model weights (read-only for the model's life), served from the device cache. Other inputs are
// copied per node. API v1 does not mark weights, so this follows the graph builders: these slots are always weights.
bool weight_slot(int32_t op, int j) {
    switch (op) {
    case MOE_BACKEND_OP_MUL_MAT:
    case MOE_BACKEND_OP_MUL_MAT_ID:
    case MOE_BACKEND_OP_MUL_MAT_HEADS:
    case MOE_BACKEND_OP_RMS_NORM:
    case MOE_BACKEND_OP_ADD_ID: return j == 1;
    default: return false;
    }
}
// Inputs the launcher moves itself: GET_ROWS' table (only the rows asked for go up), attention's new k/v rows and
// KV caches.
bool self_moved(const moe_backend_node& n, int j) {
    switch (n.op) {
    case MOE_BACKEND_OP_GET_ROWS: return j == 0;
    case MOE_BACKEND_OP_ATTENTION:
    case MOE_BACKEND_OP_ATTENTION_EXT: return j >= 1 && j <= 4;  // k, v go into the host caches, then up with them
    case MOE_BACKEND_OP_ATTENTION_MLA: return j == 1 || j == 2;
    default: return false;
    }
}

// Ids are checked on the host (they are host memory under v1) with the CPU reference's messages.
int32_t check_ids(inst_t& inst, const moe_backend_tensor& ids, int64_t bound, const char* what) {
    const int32_t* id = static_cast<const int32_t*>(ids.data);
    const int64_t n = elements(ids);
    for (int64_t s = 0; s < n; ++s)
        if (id[s] < 0 || id[s] >= bound)
            return fail(inst, MOE_BACKEND_ERR_INVALID_ARGUMENT,
                        std::string(what) + " " + std::to_string(id[s]) + " outside " + std::to_string(bound));
    return MOE_BACKEND_OK;
}

int32_t validate(inst_t& inst, const moe_backend_node& n) {
    for (int j = 0; j < n.n_inputs; ++j)
        if (!n.inputs[j].data) return fail(inst, MOE_BACKEND_ERR_INVALID_ARGUMENT, "input without data");
    if (!n.output.data) return fail(inst, MOE_BACKEND_ERR_INVALID_ARGUMENT, "output without data");
    switch (n.op) {
    case MOE_BACKEND_OP_GET_ROWS: return check_ids(inst, n.inputs[1], n.inputs[0].dims[0], "token id");
    case MOE_BACKEND_OP_MUL_MAT_ID: return check_ids(inst, n.inputs[2], n.inputs[1].dims[0], "expert id");
    case MOE_BACKEND_OP_ADD_ID: return check_ids(inst, n.inputs[2], n.inputs[1].dims[0], "add_id: expert id");
    case MOE_BACKEND_OP_GATHER_COLS: return check_ids(inst, n.inputs[1], last(n.inputs[0]), "gather_cols: index");
    case MOE_BACKEND_OP_COLS:
        if (n.i[0] < 0 || n.i[1] < 1 || n.i[0] + n.i[1] > last(n.inputs[0]))
            return fail(inst, MOE_BACKEND_ERR_INVALID_ARGUMENT, "cols: range outside the row");
        return MOE_BACKEND_OK;
    case MOE_BACKEND_OP_EXPERT_GROUP_MASK: {
        const int64_t d = last(n.inputs[0]), G = n.i[0], K = n.i[1], per = G > 0 ? d / G : 0;
        if (G < 1 || K < 1 || K > G || per < 2 || per * G != d)
            return fail(inst, MOE_BACKEND_ERR_INVALID_ARGUMENT, "expert_group_mask: bad group counts");
        return MOE_BACKEND_OK;
    }
    default: return MOE_BACKEND_OK;
    }
}

int32_t launch(inst_t& inst, const dnode& d) {
    switch (d.n->op) {
    case MOE_BACKEND_OP_GET_ROWS: return run_get_rows(inst, d);
    case MOE_BACKEND_OP_MUL_MAT: return run_mul_mat(inst, d);
    case MOE_BACKEND_OP_MUL_MAT_HEADS: return run_mul_mat_heads(inst, d);
    case MOE_BACKEND_OP_MUL_MAT_ID: return run_mul_mat_id(inst, d);
    case MOE_BACKEND_OP_RMS_NORM:
    case MOE_BACKEND_OP_ADD:
    case MOE_BACKEND_OP_MUL:
    case MOE_BACKEND_OP_DIV:
    case MOE_BACKEND_OP_SCALE:
    case MOE_BACKEND_OP_SILU:
    case MOE_BACKEND_OP_SIGMOID:
    case MOE_BACKEND_OP_SWIGLU:
    case MOE_BACKEND_OP_SWIGLU_OAI:
    case MOE_BACKEND_OP_SOFTMAX: return run_elementwise(inst, d);
    case MOE_BACKEND_OP_ROPE:
    case MOE_BACKEND_OP_ROPE_YARN: return run_rope(inst, d);
    case MOE_BACKEND_OP_COLS:
    case MOE_BACKEND_OP_CONCAT: return run_layout(inst, d);
    case MOE_BACKEND_OP_TOP_K:
    case MOE_BACKEND_OP_GATHER_COLS:
    case MOE_BACKEND_OP_NORMALIZE_SUM:
    case MOE_BACKEND_OP_WEIGHTED_SUM:
    case MOE_BACKEND_OP_ADD_ID:
    case MOE_BACKEND_OP_EXPERT_GROUP_MASK: return run_moe_route(inst, d);
    case MOE_BACKEND_OP_ATTENTION:
    case MOE_BACKEND_OP_ATTENTION_EXT:
    case MOE_BACKEND_OP_ATTENTION_MLA: return run_attention(inst, d);
    default: return fail(inst, MOE_BACKEND_ERR_UNSUPPORTED, "op " + std::to_string(d.n->op) + " has no CUDA kernel");
    }
}

int32_t run_checked(inst_t& inst, const moe_backend_node& n, const moe_backend_run_args* args) {
    if (n.op == MOE_BACKEND_OP_VIEW) return MOE_BACKEND_OK;
    if (!supports_node(n))
        return fail(inst, MOE_BACKEND_ERR_UNSUPPORTED, "node (op " + std::to_string(n.op) + ") not supported by CUDA");
    MOE_TRY_RC(validate(inst, n));
    MOE_CU(inst, cudaSetDevice(inst.device));
    dnode d;
    d.n = &n;
    d.n_past = args && args->struct_size >= offsetof(moe_backend_run_args, n_past) + sizeof(int64_t) ? args->n_past : 0;
    // weights first: a first upload synchronises the stream and reuses the staging buffer
    for (int j = 0; j < n.n_inputs; ++j)
        if (weight_slot(n.op, j)) MOE_TRY_RC(weight(inst, n.inputs[j], &d.in[j]));
    for (int j = 0; j < n.n_inputs; ++j) {
        if (weight_slot(n.op, j) || self_moved(n, j)) continue;
        void* p = nullptr;
        MOE_TRY_RC(upload_tensor(inst, n.inputs[j], &p));
        d.in[j] = p;
    }
    const size_t out_bytes = tensor_bytes(n.output);
    if (out_bytes == 0) return end_node(inst);  // nothing to compute (and no empty launches)
    MOE_TRY_RC(scratch_alloc(inst, out_bytes, &d.out));
    MOE_TRY_RC(launch(inst, d));
    MOE_TRY_RC(download(inst, n.output.data, d.out, out_bytes));
    return end_node(inst);
}

}  // namespace

int32_t supports(const moe_backend_instance*, const moe_backend_node* node) {
    if (!node) return 0;
    try {
        return supports_node(*node) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

int32_t run_node(moe_backend_instance* inst, const moe_backend_node* node, const moe_backend_run_args* args) {
    if (!inst || !node) return MOE_BACKEND_ERR_INVALID_ARGUMENT;
    try {
        inst->err.clear();
        const int32_t rc = run_checked(*inst, *node, args);
        if (rc != MOE_BACKEND_OK) abort_node(*inst);
        return rc;
    } catch (const std::bad_alloc&) {
        abort_node(*inst);
        inst->err = "out of host memory in the CUDA backend";
        return MOE_BACKEND_ERR_OUT_OF_MEMORY;
    } catch (...) {
        abort_node(*inst);
        inst->err = "unexpected exception in the CUDA backend";
        return MOE_BACKEND_ERR_INTERNAL;
    }
}

}  // namespace moe_cuda
