/* backend_module.h — the C ABI a loadable backend module (libmoe-backend-<name>.so, e.g. the CUDA backend) exports.
 * The core loads modules with src/runtime/backend_registry and wraps them as a moe::backend for the scheduler. */
#ifndef MOE_BACKEND_MODULE_H
#define MOE_BACKEND_MODULE_H

/*
 * Index
 *   1. Versioning and the entry point
 *   2. Result codes
 *   3. Ops and element types (stable numbers)
 *   4. Plain tensor and node descriptors
 *   5. The module table (score, create/destroy, the instance v-table)
 *
 * A module is a shared library that exports exactly one function, moe_backend_module_get(), returning a pointer to a
 * static moe_backend_module_v1 table. The host (moe) checks api_version and struct_size, asks score() whether the
 * device is usable, and then creates instances. The rules every module follows:
 *   - No C++ exception, longjmp or abort crosses this boundary: every function returns a result code or a value.
 *   - The host calls one instance from one thread at a time; distinct instances may be used from different threads.
 *   - Strings returned by the module (name, description, last_error) are NUL-terminated UTF-8. name/description
 *     live as long as the module is loaded; last_error stays valid until the next call on the same instance.
 *   - Nothing here owns process-wide state on the host side; a module may keep global driver state of its own.
 *
 * Minimal module:
 *     static const moe_backend_module_v1 table = { MOE_BACKEND_API_VERSION, sizeof(moe_backend_module_v1),
 *                                                  "mydev", "my device", my_score, my_create, ... };
 *     MOE_BACKEND_MODULE_EXPORT const moe_backend_module_v1* moe_backend_module_get(void) { return &table; }
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. Versioning and the entry point ---------------------------------------------------------------------- */

/* Bumped whenever a field of moe_backend_module_v1 or of the descriptors below changes meaning or layout. The host
 * refuses a module whose api_version differs from its own. */
#define MOE_BACKEND_API_VERSION 1

/* Name of the exported entry point, for dlsym(). */
#define MOE_BACKEND_ENTRY_SYMBOL "moe_backend_module_get"

/* File names the registry scans for in a directory: MOE_BACKEND_FILE_PREFIX "<name>" MOE_BACKEND_FILE_SUFFIX. */
#define MOE_BACKEND_FILE_PREFIX "libmoe-backend-"
#define MOE_BACKEND_FILE_SUFFIX ".so"

#if defined(_WIN32)
#define MOE_BACKEND_MODULE_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define MOE_BACKEND_MODULE_EXPORT __attribute__((visibility("default")))
#else
#define MOE_BACKEND_MODULE_EXPORT
#endif

struct moe_backend_module_v1;

/* The one symbol a module exports. Returns a pointer to a table that stays valid until the module is unloaded;
 * must not fail (report an unusable device through score() instead). */
typedef const struct moe_backend_module_v1* (*moe_backend_module_get_fn)(void);

/* ---- 2. Result codes ---------------------------------------------------------------------------------------- */

/* Returned by the fallible functions. The numbers match moe::errc so the host can map them one to one. Details go
 * to last_error(). Unknown codes are treated as MOE_BACKEND_ERR_INTERNAL. */
#define MOE_BACKEND_OK 0
#define MOE_BACKEND_ERR_INVALID_ARGUMENT 1 /* bad node or pointer from the host */
#define MOE_BACKEND_ERR_UNSUPPORTED 4      /* the op, type or shape is not implemented */
#define MOE_BACKEND_ERR_SHAPE_MISMATCH 5   /* shapes of the node do not fit the op */
#define MOE_BACKEND_ERR_OUT_OF_MEMORY 6    /* device or host allocation failed */
#define MOE_BACKEND_ERR_CONTEXT_FULL 7     /* attention: n_past + T exceeds the cache rows */
#define MOE_BACKEND_ERR_UNAVAILABLE 8      /* the device went away (driver reset, lost context) */
#define MOE_BACKEND_ERR_INTERNAL 10        /* a bug or an unexpected driver error */

/* ---- 3. Ops and element types ------------------------------------------------------------------------------- */

/* Op numbers are part of the ABI: new ops are appended, numbers are never reused. Shapes are written outermost
 * first ({rows, cols}); "f[i]"/"i[i]" are the node's float/int parameters. */
#define MOE_BACKEND_OP_GET_ROWS 0      /* (table [V, d] any type, ids [T] i32) -> [T, d] f32 */
#define MOE_BACKEND_OP_RMS_NORM 1      /* (x [.., d], w [d]) -> x / sqrt(mean(x^2) + f[0]) * w */
#define MOE_BACKEND_OP_MUL_MAT 2       /* (x [.., k] f32, w [n, k]) -> [.., n], y = x W^T */
#define MOE_BACKEND_OP_MUL_MAT_ID 3    /* (x [T, s, k], w [E, n, k], ids [T, u] i32) -> [T, u, n]; s = 1 or u */
#define MOE_BACKEND_OP_ADD 4           /* (a [R.., d], b [d], [R.., 1] or shape of a) -> a + b */
#define MOE_BACKEND_OP_MUL 5           /* (a, b) -> a * b, broadcast as ADD */
#define MOE_BACKEND_OP_SCALE 6         /* x * f[0] */
#define MOE_BACKEND_OP_SWIGLU 7        /* (gate, up) -> silu(gate) * up */
#define MOE_BACKEND_OP_SOFTMAX 8       /* softmax over the last dim */
#define MOE_BACKEND_OP_TOP_K 9         /* (x [R, n]) -> i32 [R, i[0]]: indices of the largest, largest first */
#define MOE_BACKEND_OP_GATHER_COLS 10  /* (x [R, n], ids [R, k] i32) -> [R, k], out[r][j] = x[r][ids[r][j]] */
#define MOE_BACKEND_OP_NORMALIZE_SUM 11 /* rows divided by their sum */
#define MOE_BACKEND_OP_WEIGHTED_SUM 12 /* (y [T, u, d], w [T, u]) -> [T, d], sum over u of w * y */
#define MOE_BACKEND_OP_ROPE 13         /* (x [T, H, D], pos [T] i32) -> same; i[0] n_rot, i[1] mode (0 norm, 2 neox),
                                          f[0] base, f[1] freq_scale */
#define MOE_BACKEND_OP_ATTENTION 14    /* (q [T, Hq, Dk], k [T, Hkv, Dk], v [T, Hkv, Dv], kcache [C, Hkv, Dk],
                                          vcache [C, Hkv, Dv]) -> [T, Hq * Dv]; writes k/v at cache rows n_past..,
                                          attends causally; f[0] scale */
#define MOE_BACKEND_OP_VIEW 15         /* reshape/row slice: does no work; the host never calls run_node for it.
                                          supports() says whether the module can address its input's memory. */
#define MOE_BACKEND_OP_DIV 16          /* (a, b) -> a / b, broadcast as ADD */
#define MOE_BACKEND_OP_SILU 17         /* x / (1 + exp(-x)) */
#define MOE_BACKEND_OP_ADD_ID 18       /* (x [T, u, n], b [E, n], ids [T, u] i32) -> x + b[ids[t][j]] per slot */
#define MOE_BACKEND_OP_SWIGLU_OAI 19   /* (gate, up) -> g / (1 + exp(-f[0] g)) * (u + 1) with g = min(gate, f[1]),
                                          u = clamp(up, -f[1], f[1]) */
#define MOE_BACKEND_OP_ROPE_YARN 20    /* ROPE with YaRN (ggml's rope_yarn): f[2] ext_factor, f[3] attn_factor,
                                          i[2], i[3] correction dims (ramp over pairs i[2] .. i[3]) */
#define MOE_BACKEND_OP_ATTENTION_EXT 21 /* ATTENTION with i[0] a sliding window (0: none; key rows j with
                                          n_past + t - j < i[0] only) and, as a 6th input, per-head sinks [Hq] f32
                                          (a logit in every softmax sum). Nodes with sinks have more inputs than
                                          MOE_BACKEND_MAX_INPUTS and are never offered to modules of API v1. */
#define MOE_BACKEND_OP_SIGMOID 22       /* 1 / (1 + exp(-x)) */
#define MOE_BACKEND_OP_EXPERT_GROUP_MASK 23 /* (x [R, n]) -> same; n columns in i[0] equal groups scored by the sum
                                          of their two largest values; columns outside the i[1] best become -inf */
#define MOE_BACKEND_OP_COLS 24          /* (x [.., D]) -> [.., i[1]]: columns i[0] .. i[0] + i[1] - 1 (a copy) */
#define MOE_BACKEND_OP_CONCAT 25        /* (a [.., A], b [.., B]) -> [.., A + B]; b [T, 1, B] repeats over a [T, H, A] */
#define MOE_BACKEND_OP_MUL_MAT_HEADS 26 /* (x [T, H, k] f32, w [H, n, k]) -> [T, H, n]; head h uses w[h] */
#define MOE_BACKEND_OP_ATTENTION_MLA 27 /* (q [T, H, D], kv [T, 1, D], cache [C, 1, D]) -> [T, H, i[0]]; writes kv
                                          at cache rows n_past.., attends causally, values = first i[0] columns
                                          of the cache rows; f[0] scale */

/* Element types use GGUF's ggml_type numbers (0 f32, 1 f16, 2 q4_0, 8 q8_0, 26 i32, 30 bf16, ...). Quantized types
 * are stored in GGUF's block layouts, rows contiguous. */
#define MOE_BACKEND_TYPE_F32 0
#define MOE_BACKEND_TYPE_F16 1
#define MOE_BACKEND_TYPE_Q4_0 2
#define MOE_BACKEND_TYPE_Q8_0 8
#define MOE_BACKEND_TYPE_I32 26
#define MOE_BACKEND_TYPE_BF16 30

/* ---- 4. Plain tensor and node descriptors ------------------------------------------------------------------- */

#define MOE_BACKEND_MAX_DIMS 4
#define MOE_BACKEND_MAX_INPUTS 5

/* One tensor: element type, shape and where its contiguous bytes are. */
typedef struct moe_backend_tensor {
    uint32_t type;                       /* GGUF type id, see MOE_BACKEND_TYPE_* */
    int32_t rank;                        /* 1 .. MOE_BACKEND_MAX_DIMS */
    int64_t dims[MOE_BACKEND_MAX_DIMS];  /* outermost first; entries past rank are 1 */
    void* data;                          /* NULL in supports(). In run_node() the tensor's contiguous bytes.
                                            Hosts of API v1 keep activations in one arena allocated by a
                                            host-memory backend and pass weights and states as host pointers,
                                            so a device module must be ready for host pointers here (check or
                                            copy) until device-resident arenas are added in a later version. */
} moe_backend_tensor;

/* One graph node: the op, its output and inputs, and its parameters. */
typedef struct moe_backend_node {
    int32_t op;                                       /* MOE_BACKEND_OP_* */
    int32_t n_inputs;                                 /* 1 .. MOE_BACKEND_MAX_INPUTS */
    moe_backend_tensor output;
    moe_backend_tensor inputs[MOE_BACKEND_MAX_INPUTS]; /* [n_inputs ..] are zeroed */
    float f[4];                                       /* float parameters (see the op list) */
    int64_t i[4];                                     /* integer parameters (see the op list) */
} moe_backend_node;

/* Per-run arguments that change between runs of the same graph. */
typedef struct moe_backend_run_args {
    uint32_t struct_size; /* sizeof(moe_backend_run_args) as the host saw it; fields may be appended later */
    int64_t n_past;       /* KV cache rows filled before this batch (attention) */
} moe_backend_run_args;

/* What the host asks for when it creates an instance. */
typedef struct moe_backend_create_params {
    uint32_t struct_size; /* sizeof(moe_backend_create_params) as the host saw it */
    int32_t n_threads;    /* host threads the instance may use (CPU-side work); <= 0: the module decides */
    int32_t device;       /* device index for multi-device modules; 0 = first */
} moe_backend_create_params;

/* Opaque instance, defined by the module. */
typedef struct moe_backend_instance moe_backend_instance;

/* ---- 5. The module table ------------------------------------------------------------------------------------ */

typedef struct moe_backend_module_v1 {
    /* MOE_BACKEND_API_VERSION the module was compiled against. Checked first. */
    uint32_t api_version;
    /* sizeof(moe_backend_module_v1) as the module saw it. The host refuses a table smaller than its own. */
    uint32_t struct_size;
    /* Short unique backend name ("cuda"), used to pick the backend by name. */
    const char* name;
    /* One-line human description ("NVIDIA CUDA, compute capability >= 7.0"); may be NULL. */
    const char* description;

    /* Device availability. Returns 0 when the backend cannot run here (no device, driver too old, ...) and a
     * positive preference otherwise (higher is better). Writes a NUL-terminated reason or device summary into
     * reason[0 .. reason_size) either way ("no CUDA device", "NVIDIA H100, 80 GiB"). Cheap; may be called often. */
    int32_t (*score)(char* reason, size_t reason_size);

    /* Creates an instance. On success stores it in *out and returns MOE_BACKEND_OK; on failure returns a code and
     * writes a NUL-terminated message into err[0 .. err_size). params->struct_size tells which fields exist. */
    int32_t (*create)(const moe_backend_create_params* params, moe_backend_instance** out, char* err,
                      size_t err_size);
    /* Destroys an instance created by create(). The host frees all its allocations first. NULL is a no-op. */
    void (*destroy)(moe_backend_instance* inst);

    /* --- the instance v-table --- */

    /* 1 when alloc() returns plain host memory the CPU can read and write (values then cross freely between this
     * backend and the CPU), 0 for device memory. Must not change over the instance's life. */
    int32_t (*host_memory)(const moe_backend_instance* inst);
    /* 1 when run_node() can execute this node (op, types, shapes); 0 otherwise. Tensor data pointers are NULL.
     * Must be a pure function of the node. */
    int32_t (*supports)(const moe_backend_instance* inst, const moe_backend_node* node);
    /* Allocates `bytes` (0 allowed) of this backend's memory, aligned to at least 64 bytes, into *out. */
    int32_t (*alloc)(moe_backend_instance* inst, size_t bytes, void** out);
    /* Frees memory from alloc(). NULL is a no-op. */
    void (*free)(moe_backend_instance* inst, void* p);
    /* Executes one node whose inputs are ready; the output is complete when the call returns (a device module
     * synchronises, or orders later work on the same stream and synchronises before host reads - API v1 hosts
     * expect completion). `node` was accepted by supports(). */
    int32_t (*run_node)(moe_backend_instance* inst, const moe_backend_node* node, const moe_backend_run_args* args);
    /* Message for the last failing call on this instance ("" when none). Never NULL. */
    const char* (*last_error)(const moe_backend_instance* inst);
} moe_backend_module_v1;

/* Declaration of the entry point, for modules to define and the host to look up. */
MOE_BACKEND_MODULE_EXPORT const moe_backend_module_v1* moe_backend_module_get(void);

#ifdef __cplusplus
}
#endif

#endif /* MOE_BACKEND_MODULE_H */
