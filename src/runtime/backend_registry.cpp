// backend_registry.cpp — built-in backend factories, dlopen'd backend modules checked against the C ABI, and the
// adapter that turns a module's C v-table into a moe::backend. Input: module files; output: backends for executor.
#include "runtime/backend_registry.hpp"

#include "backends/backend_module.h"
#include "backends/cpu/cpu_backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#if !defined(_WIN32)
#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>
#endif

MOE_BEGIN_NAMESPACE

namespace {

// ---- the loaded shared object ------------------------------------------------------------------------------------

// Keeps a module mapped; shared by the registry entry and every backend created from it.
struct module_handle {
    void* dl = nullptr;
    const moe_backend_module_v1* table = nullptr;
    std::string path;
    module_handle() = default;
    module_handle(const module_handle&) = delete;
    module_handle& operator=(const module_handle&) = delete;
    ~module_handle() {
#if !defined(_WIN32)
        if (dl) dlclose(dl);
#endif
    }
};

errc errc_from_module(int32_t code) {
    switch (code) {
    case MOE_BACKEND_ERR_INVALID_ARGUMENT: return errc::invalid_argument;
    case MOE_BACKEND_ERR_UNSUPPORTED: return errc::unsupported;
    case MOE_BACKEND_ERR_SHAPE_MISMATCH: return errc::shape_mismatch;
    case MOE_BACKEND_ERR_OUT_OF_MEMORY: return errc::out_of_memory;
    case MOE_BACKEND_ERR_CONTEXT_FULL: return errc::context_full;
    case MOE_BACKEND_ERR_UNAVAILABLE: return errc::backend_unavailable;
    default: return errc::internal;
    }
}

// The ABI's op numbers are fixed; op's are internal, so map them by name rather than by value.
bool op_to_module(op o, int32_t& out) {
    switch (o) {
    case op::get_rows: out = MOE_BACKEND_OP_GET_ROWS; return true;
    case op::rms_norm: out = MOE_BACKEND_OP_RMS_NORM; return true;
    case op::mul_mat: out = MOE_BACKEND_OP_MUL_MAT; return true;
    case op::mul_mat_id: out = MOE_BACKEND_OP_MUL_MAT_ID; return true;
    case op::add: out = MOE_BACKEND_OP_ADD; return true;
    case op::mul: out = MOE_BACKEND_OP_MUL; return true;
    case op::div: out = MOE_BACKEND_OP_DIV; return true;
    case op::silu: out = MOE_BACKEND_OP_SILU; return true;
    case op::scale: out = MOE_BACKEND_OP_SCALE; return true;
    case op::swiglu: out = MOE_BACKEND_OP_SWIGLU; return true;
    case op::softmax: out = MOE_BACKEND_OP_SOFTMAX; return true;
    case op::top_k: out = MOE_BACKEND_OP_TOP_K; return true;
    case op::gather_cols: out = MOE_BACKEND_OP_GATHER_COLS; return true;
    case op::normalize_sum: out = MOE_BACKEND_OP_NORMALIZE_SUM; return true;
    case op::weighted_sum: out = MOE_BACKEND_OP_WEIGHTED_SUM; return true;
    case op::rope: out = MOE_BACKEND_OP_ROPE; return true;
    case op::attention: out = MOE_BACKEND_OP_ATTENTION; return true;
    case op::add_id: out = MOE_BACKEND_OP_ADD_ID; return true;
    case op::swiglu_oai: out = MOE_BACKEND_OP_SWIGLU_OAI; return true;
    case op::rope_yarn: out = MOE_BACKEND_OP_ROPE_YARN; return true;
    case op::attention_ext: out = MOE_BACKEND_OP_ATTENTION_EXT; return true;
    case op::sigmoid: out = MOE_BACKEND_OP_SIGMOID; return true;
    case op::expert_group_mask: out = MOE_BACKEND_OP_EXPERT_GROUP_MASK; return true;
    case op::cols: out = MOE_BACKEND_OP_COLS; return true;
    case op::concat: out = MOE_BACKEND_OP_CONCAT; return true;
    case op::mul_mat_heads: out = MOE_BACKEND_OP_MUL_MAT_HEADS; return true;
    case op::attention_mla: out = MOE_BACKEND_OP_ATTENTION_MLA; return true;
    case op::view: out = MOE_BACKEND_OP_VIEW; return true;
    case op::mul_mat_glu: return false;  // a host-side fusion (plan/fuse_glu.cpp); modules run the three ops
    }
    return false;
}

moe_backend_tensor to_module(dtype type, const shape& sh, void* data) {
    moe_backend_tensor t;
    std::memset(&t, 0, sizeof(t));
    t.type = static_cast<uint32_t>(type);  // dtype values are GGUF's type ids, as the ABI uses
    t.rank = sh.rank;
    for (int k = 0; k < MOE_BACKEND_MAX_DIMS; ++k) t.dims[k] = k < sh.rank ? sh[k] : 1;
    t.data = data;
    return t;
}

// Fills everything but the tensors' data pointers; false for an op the ABI does not know.
bool node_header(const node& n, moe_backend_node& c) {
    std::memset(&c, 0, sizeof(c));
    if (!op_to_module(n.kind, c.op)) return false;
    if (n.n_in > MOE_BACKEND_MAX_INPUTS) return false;  // e.g. attention_ext with sinks: the CPU runs it
    c.n_inputs = n.n_in;
    for (int k = 0; k < 4; ++k) c.f[k] = n.f[static_cast<size_t>(k)], c.i[k] = n.i[static_cast<size_t>(k)];
    return true;
}

// NUL-terminates a buffer a module filled (or did not).
std::string from_buffer(char* buf, size_t size) {
    buf[size - 1] = '\0';
    return std::string(buf);
}

// ---- the adapter: a module instance as a moe::backend ------------------------------------------------------------

class module_backend final : public backend {
public:
    module_backend(std::shared_ptr<module_handle> mod, moe_backend_instance* inst)
        : mod_(std::move(mod)), t_(mod_->table), inst_(inst), name_(t_->name),
          host_(t_->host_memory(inst_) != 0) {}
    ~module_backend() override { t_->destroy(inst_); }
    module_backend(const module_backend&) = delete;
    module_backend& operator=(const module_backend&) = delete;

    const char* name() const noexcept override { return name_.c_str(); }
    bool host_memory() const noexcept override { return host_; }

    bool supports(const graph& g, const node& n) const override {
        moe_backend_node c;
        if (!node_header(n, c)) return false;
        const value& o = g.val(n.out);
        c.output = to_module(o.type, o.sh, nullptr);
        for (int j = 0; j < n.n_in; ++j) {
            const value& v = g.val(n.in[static_cast<size_t>(j)]);
            c.inputs[j] = to_module(v.type, v.sh, nullptr);
        }
        return t_->supports(inst_, &c) != 0;
    }

    result<void*> alloc(size_t bytes) override {
        void* p = nullptr;
        const int32_t rc = t_->alloc(inst_, bytes, &p);
        if (rc != MOE_BACKEND_OK) return error(rc, "allocating " + std::to_string(bytes) + " bytes");
        if (!p) return status(errc::internal, "backend '" + name_ + "' returned no memory and no error");
        return p;
    }

    void free(void* p) noexcept override { t_->free(inst_, p); }

    status run_node(const graph&, const node& n, const tensor_view& out, const tensor_view* in,
                    const run_args& args) override {
        if (n.kind == op::view) return {};  // aliases need no work
        moe_backend_node c;
        if (!node_header(n, c))
            return status(errc::unsupported, "backend '" + name_ + "': op " + op_name(n.kind) + " has no ABI number");
        c.output = to_module(out.type, out.sh, out.data);
        for (int j = 0; j < n.n_in; ++j) c.inputs[j] = to_module(in[j].type, in[j].sh, in[j].data);
        moe_backend_run_args a;
        std::memset(&a, 0, sizeof(a));
        a.struct_size = static_cast<uint32_t>(sizeof(a));
        a.n_past = args.n_past;
        const int32_t rc = t_->run_node(inst_, &c, &a);
        if (rc != MOE_BACKEND_OK) return error(rc, std::string("running ") + op_name(n.kind));
        return {};
    }

private:
    status error(int32_t rc, const std::string& what) const {
        const char* msg = t_->last_error(inst_);
        return status(errc_from_module(rc), "backend '" + name_ + "' failed " + what + ": " +
                                                (msg && *msg ? msg : "(no message)"));
    }

    std::shared_ptr<module_handle> mod_;  // keeps the code of t_ mapped while this instance lives
    const moe_backend_module_v1* t_;
    moe_backend_instance* inst_;
    std::string name_;
    bool host_;
};

result<std::unique_ptr<backend>> create_cpu(int n_threads) {
    return std::unique_ptr<backend>(new cpu_backend(n_threads));
}

}  // namespace

// ---- registry ----------------------------------------------------------------------------------------------------

struct backend_registry::entry {
    backend_info info;
    factory_fn factory;                    // built-ins
    std::shared_ptr<module_handle> module;  // modules (null when unavailable)
};

backend_registry::backend_registry() {
    const unsigned hw = std::thread::hardware_concurrency();
    auto e = std::unique_ptr<entry>(new entry);
    e->info.name = "cpu";
    e->info.description = "built-in CPU backend (reference kernels)";
    e->info.available = true;
    e->info.score = 1;
    e->info.reason = "host CPU, " + std::to_string(hw ? hw : 1) + " hardware threads";
    e->factory = create_cpu;
    entries_.push_back(std::move(e));
}

backend_registry::~backend_registry() = default;
backend_registry::backend_registry(backend_registry&&) noexcept = default;
backend_registry& backend_registry::operator=(backend_registry&&) noexcept = default;

const backend_registry::entry* backend_registry::find(const std::string& name) const {
    for (const auto& e : entries_)
        if (e->info.name == name) return e.get();
    return nullptr;
}

status backend_registry::add_builtin(const std::string& name, const std::string& description, factory_fn factory) {
    if (name.empty() || !factory) return status(errc::invalid_argument, "add_builtin: empty name or no factory");
    if (find(name)) return status(errc::invalid_argument, "a backend named '" + name + "' is already registered");
    auto e = std::unique_ptr<entry>(new entry);
    e->info.name = name;
    e->info.description = description;
    e->info.available = true;
    e->info.score = 1;
    e->info.reason = "built in";
    e->factory = std::move(factory);
    entries_.push_back(std::move(e));
    return {};
}

#if defined(_WIN32)

status backend_registry::load_module(const std::string& path) {
    return status(errc::unsupported, "cannot load '" + path + "': backend modules are not supported on Windows yet");
}

result<module_scan> backend_registry::find_modules(const std::string& dir) {
    return status(errc::unsupported, "cannot scan '" + dir + "': backend modules are not supported on Windows yet");
}

#else

status backend_registry::load_module(const std::string& path) {
    const std::string where = "backend module '" + path + "'";
    if (path.find('/') != std::string::npos && access(path.c_str(), F_OK) != 0)
        return status(errc::backend_unavailable, where + " does not exist");

    auto mod = std::make_shared<module_handle>();
    mod->path = path;
    dlerror();
    mod->dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!mod->dl) {
        const char* why = dlerror();
        return status(errc::backend_unavailable, "cannot load " + where + ": " + (why ? why : "unknown dlopen error"));
    }
    void* sym = dlsym(mod->dl, MOE_BACKEND_ENTRY_SYMBOL);
    if (!sym)
        return status(errc::unsupported,
                      where + " is not a moe backend module: it does not export " MOE_BACKEND_ENTRY_SYMBOL "()");
    moe_backend_module_get_fn get;
    static_assert(sizeof(get) == sizeof(sym), "function and object pointers differ in size");
    std::memcpy(&get, &sym, sizeof(get));  // POSIX guarantees this conversion works
    const moe_backend_module_v1* t = get();
    if (!t) return status(errc::unsupported, where + ": " MOE_BACKEND_ENTRY_SYMBOL "() returned no module table");
    // api_version and struct_size lead the table in every version, so they are safe to read before trusting it.
    if (t->api_version != MOE_BACKEND_API_VERSION)
        return status(errc::unsupported, where + " implements backend API version " + std::to_string(t->api_version) +
                                             "; this build of moe implements version " +
                                             std::to_string(MOE_BACKEND_API_VERSION));
    if (t->struct_size < sizeof(moe_backend_module_v1))
        return status(errc::unsupported, where + " has a module table of " + std::to_string(t->struct_size) +
                                             " bytes (struct_size); API version " +
                                             std::to_string(MOE_BACKEND_API_VERSION) + " needs " +
                                             std::to_string(sizeof(moe_backend_module_v1)));
    const char* missing = nullptr;
    if (!t->name || !*t->name) missing = "name";
    else if (!t->score) missing = "score";
    else if (!t->create) missing = "create";
    else if (!t->destroy) missing = "destroy";
    else if (!t->host_memory) missing = "host_memory";
    else if (!t->supports) missing = "supports";
    else if (!t->alloc) missing = "alloc";
    else if (!t->free) missing = "free";
    else if (!t->run_node) missing = "run_node";
    else if (!t->last_error) missing = "last_error";
    if (missing) return status(errc::unsupported, where + " has a module table without " + missing);

    const std::string name = t->name;
    if (const entry* old = find(name))
        return status(errc::invalid_argument, where + " provides backend '" + name + "', which is already registered" +
                                                  (old->info.path.empty() ? " (built in)" : " from '" + old->info.path + "'"));

    char reason[256];
    std::memset(reason, 0, sizeof(reason));
    const int32_t score = t->score(reason, sizeof(reason));
    auto e = std::unique_ptr<entry>(new entry);
    e->info.name = name;
    e->info.description = t->description ? t->description : "";
    e->info.path = path;
    e->info.reason = from_buffer(reason, sizeof(reason));
    if (score <= 0) {
        // Listed with its reason so a host can tell the user why; the file is unloaded (mod goes out of scope).
        e->info.available = false;
        if (e->info.reason.empty()) e->info.reason = "the module reports no usable device";
        status s(errc::backend_unavailable, "backend '" + name + "' from '" + path + "' is unavailable: " + e->info.reason);
        entries_.push_back(std::move(e));
        return s;
    }
    e->info.available = true;
    e->info.score = score;
    mod->table = t;
    e->module = std::move(mod);
    entries_.push_back(std::move(e));
    return {};
}

result<module_scan> backend_registry::find_modules(const std::string& dir) {
    DIR* d = opendir(dir.c_str());
    if (!d)
        return status(errc::io_error, "cannot read backend module directory '" + dir + "': " + std::strerror(errno));
    const std::string prefix = MOE_BACKEND_FILE_PREFIX, suffix = MOE_BACKEND_FILE_SUFFIX;
    std::vector<std::string> files;
    while (const dirent* de = readdir(d)) {
        const std::string f = de->d_name;
        if (f.size() > prefix.size() + suffix.size() && f.compare(0, prefix.size(), prefix) == 0 &&
            f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
            files.push_back(f);
    }
    closedir(d);
    std::sort(files.begin(), files.end());
    module_scan scan;
    const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
    for (const std::string& f : files) {
        status s = load_module(base + f);
        if (s.ok())
            ++scan.loaded;
        else
            scan.failures.push_back(std::move(s));
    }
    return scan;
}

#endif

std::vector<backend_info> backend_registry::list() const {
    std::vector<backend_info> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e->info);
    return out;
}

result<std::unique_ptr<backend>> backend_registry::create(const std::string& name, int n_threads) const {
    const entry* e = find(name);
    if (!e) {
        std::string known;
        for (const auto& x : entries_) known += (known.empty() ? "" : ", ") + x->info.name;
        return status(errc::backend_unavailable, "no backend named '" + name + "' (registered: " + known + ")");
    }
    if (!e->info.available)
        return status(errc::backend_unavailable, "backend '" + name + "' is unavailable: " + e->info.reason);
    if (e->factory) return e->factory(n_threads);

    const moe_backend_module_v1* t = e->module->table;
    moe_backend_create_params p;
    std::memset(&p, 0, sizeof(p));
    p.struct_size = static_cast<uint32_t>(sizeof(p));
    p.n_threads = n_threads;
    p.device = 0;
    moe_backend_instance* inst = nullptr;
    char err[256];
    std::memset(err, 0, sizeof(err));
    const int32_t rc = t->create(&p, &inst, err, sizeof(err));
    if (rc != MOE_BACKEND_OK) {
        std::string msg = from_buffer(err, sizeof(err));
        return status(errc_from_module(rc), "backend '" + name + "' from '" + e->info.path +
                                                "' could not be created: " + (msg.empty() ? "(no message)" : msg));
    }
    if (!inst) return status(errc::internal, "backend '" + name + "' reported success but created no instance");
    return std::unique_ptr<backend>(new module_backend(e->module, inst));
}

MOE_END_NAMESPACE
