// session.cpp — a model plus per-conversation state: KV cache (one slot per sequence), CPU backend, cached executors
// per batch shape. eval()/eval_batch() split long batches, fill the graph inputs, run the executor, keep the logits.
#include "backends/cpu/cpu_backend.hpp"
#include "graph/kv_layout.hpp"
#include "model/model_impl.hpp"
#include "runtime/backend_registry.hpp"
#include "plan/memory_planner.hpp"
#include "runtime/executor.hpp"

#include <moe/session.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

MOE_BEGIN_NAMESPACE
namespace detail {

struct session_impl {
    std::shared_ptr<const model_impl> model;
    session_params params;
    int64_t n_ctx = 0;   // rows per sequence
    int n_seq = 1;
    std::vector<int64_t> seq_past;  // n_past of each sequence; the single-sequence API is sequence 0
    int64_t n_vocab = 0;
    std::unique_ptr<cpu_backend> cpu;
    std::unique_ptr<backend> accel;  // a module backend placed before the CPU, when one was asked for
    std::string backend_note;        // how the backend was chosen ("auto": why CUDA was or was not used)
    std::vector<backend*> priority;
    std::vector<backend_buffer> k_cache, v_cache;
    std::vector<kv_layer_shape> kv;  // per layer: k_cache / v_cache rows hold n_head_kv * key_dim / value_dim elements
    size_t kv_elem = sizeof(float);  // bytes per cache element: 4 (f32) or 2 (f16, session_params::kv_type)
    build_request req;  // KV pointers; n_tokens / all_logits set per graph

    // Executors are cached by batch shape: decoding (one token, or one per sequence) always reuses the same one.
    struct cached {
        int64_t n_tokens;
        bool all_logits;
        bool multi;         // a several-sequence graph (eval_batch)
        int64_t n_outputs;  // multi only: logits rows
        std::unique_ptr<executor> ex;
    };
    std::vector<cached> cache;

    uint64_t budget = 0;        // max_memory, or the physical memory when that is 0
    uint64_t kv_bytes = 0;      // the KV cache's share of the budget

    // Arena bytes of the cached executors plus the KV cache, against the budget, before a new arena of `more`.
    status check_budget(uint64_t more, const char* what) const {
        uint64_t used = kv_bytes;
        for (const cached& c : cache) used += c.ex->plan().arena_bytes;
        if (more <= budget && used <= budget - more) return {};
        return status(errc::out_of_memory, std::string(what) + " needs " + std::to_string(more) + " bytes with " +
                                               std::to_string(used) + " in use; the session's memory budget is " +
                                               std::to_string(budget) + " bytes (session_params::max_memory)");
    }

    std::vector<float> logits;    // [rows, n_vocab] of the last eval
    int64_t batch_size = 0;       // tokens in the last eval; 0: no logits
    std::vector<int32_t> row_of;  // per token of the last eval: its row in `logits`, -1 when not computed
    std::vector<int32_t> batch_seq;  // per token of the last eval: its sequence
    // eval_batch bookkeeping, sized n_seq at create() so that decoding allocates nothing
    std::vector<int64_t> past_before, seq_left;

    // Grow-only resize: decoding after a longer batch reuses the capacity.
    template <class T>
    static void fit(std::vector<T>& v, size_t n) {
        if (v.size() < n) v.resize(n);
    }

    result<executor*> get_executor(int64_t n_tokens, bool all, bool multi = false, int64_t n_outputs = 1) {
        for (cached& c : cache)
            if (c.n_tokens == n_tokens && c.multi == multi &&
                (multi ? c.n_outputs == n_outputs : c.all_logits == all))
                return c.ex.get();
        build_request r = req;
        r.n_tokens = n_tokens, r.all_logits = all;
        r.n_seq = multi ? n_seq : 1, r.n_outputs = n_outputs;
        result<graph> g = model->arch->build(r);
        if (!g) return g.error();
        const uint64_t arena = plan_memory(*g).arena_bytes;  // planned again by executor::create: cheap
        MOE_TRY(check_budget(arena, ("the compute buffers for a batch of " + std::to_string(n_tokens) + " tokens").c_str()));
        result<executor> ex = executor::create(std::move(*g), priority);
        if (!ex) return ex.error();
        // Keep the decoding executors (one token; one token for each of up to n_seq sequences) and at most two
        // others (the last prompt shapes).
        const int64_t S = n_seq;
        if (cache.size() >= static_cast<size_t>(1 + 2 * S)) {
            auto victim = std::find_if(cache.begin(), cache.end(), [S](const cached& c) {
                return c.n_tokens != 1 && !(c.multi && c.n_tokens <= S && c.n_outputs == c.n_tokens);
            });
            cache.erase(victim != cache.end() ? victim : cache.begin());
        }
        cache.push_back({n_tokens, all, multi, n_outputs, std::unique_ptr<executor>(new executor(std::move(*ex)))});
        return cache.back().ex.get();
    }

    // Forgets the last batch's logits of sequence seq (all sequences: -1).
    void forget_logits(int seq) {
        if (seq < 0) {
            batch_size = 0;
            return;
        }
        for (int64_t i = 0; i < batch_size; ++i)
            if (batch_seq[static_cast<size_t>(i)] == seq) row_of[static_cast<size_t>(i)] = -1;
    }
};

namespace {

std::vector<std::string> module_dirs(const session_params& p) {
    if (!p.backend_dirs.empty()) return p.backend_dirs;
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("MOE_BACKEND_PATH")) {
        std::string all = env;
        for (size_t i = 0; i <= all.size();) {
            size_t j = all.find(':', i);
            if (j == std::string::npos) j = all.size();
            if (j > i) dirs.push_back(all.substr(i, j - i));
            i = j + 1;
        }
    }
#ifdef MOE_DEFAULT_BACKEND_DIR
    dirs.push_back(MOE_DEFAULT_BACKEND_DIR);
#endif
    return dirs;
}

// Finds backend `p.backend` among the modules in the search directories; the error lists what was tried.
result<std::unique_ptr<backend>> open_module_backend(const session_params& p) {
    backend_registry reg;
    std::string tried;
    for (const std::string& dir : module_dirs(p)) {
        result<module_scan> scan = reg.find_modules(dir);
        tried += (tried.empty() ? "" : ", ") + dir;
        if (scan)
            for (const status& f : scan->failures) tried += " (" + f.message() + ")";
    }
    for (const backend_info& info : reg.list())
        if (info.name == p.backend) {
            if (!info.available)
                return status(errc::backend_unavailable, "backend '" + p.backend + "' is unavailable: " + info.reason);
            return reg.create(p.backend, p.n_threads);
        }
    if (p.backend == "cuda")
        return status(errc::backend_unavailable, "no CUDA backend module found (searched: " +
                                                     (tried.empty() ? std::string("no directories") : tried) +
                                                     "); this build runs on the CPU: use backend \"cpu\" or \"auto\"");
    return status(errc::invalid_argument, "unknown backend '" + p.backend + "' (auto, cpu, or a module name; searched: " +
                                              (tried.empty() ? std::string("no directories") : tried) + ")");
}

// backend "auto": the CUDA module when one is found, has a device and MOE_AUTO_CUDA=1 is set (see below), otherwise
// the CPU; `note` says which and why.
std::unique_ptr<backend> open_auto_backend(const session_params& p, std::string& note) {
    backend_registry reg;
    std::string tried;
    for (const std::string& dir : module_dirs(p)) {
        (void)reg.find_modules(dir);  // unreadable directories and bad modules just mean "no CUDA here"
        tried += (tried.empty() ? "" : ", ") + dir;
    }
    for (const backend_info& info : reg.list()) {
        if (info.name != "cuda") continue;
        if (!info.available) {
            note = "auto: CUDA backend unavailable (" + info.reason + "); running on the CPU";
            return nullptr;
        }
        // Until the CUDA kernels have run on a real GPU (issue #6: so far only in the host emulation), "auto" does
        // not hand a session to them unasked: the caller names "cuda", or opts in with MOE_AUTO_CUDA=1.
        const char* opt_in = std::getenv("MOE_AUTO_CUDA");
        if (opt_in == nullptr || std::string(opt_in) != "1") {
            note = "auto: a CUDA device is there (" + info.reason +
                   ") but auto does not pick the CUDA backend yet: its kernels have not been validated on a GPU; "
                   "ask for backend \"cuda\" or set MOE_AUTO_CUDA=1. Running on the CPU";
            return nullptr;
        }
        result<std::unique_ptr<backend>> b = reg.create("cuda", p.n_threads);
        if (!b) {
            note = "auto: CUDA backend could not be created (" + b.error().message() + "); running on the CPU";
            return nullptr;
        }
        note = "auto: using CUDA (" + info.reason + ")";
        return std::move(*b);
    }
    note = "auto: no CUDA backend module found (searched: " + (tried.empty() ? std::string("no directories") : tried) +
           "); running on the CPU";
    return nullptr;
}

}  // namespace

}  // namespace detail

result<session> session::create(const model& m, const session_params& params) {
    try {
        std::unique_ptr<detail::session_impl> s(new detail::session_impl());
        s->model = m.impl_;
        s->params = params;
        const model_info& info = m.info();
        if (params.n_ctx < 0 || params.max_batch < 1 || params.n_seq < 1 || params.n_seq > 4096)
            return status(errc::invalid_argument, "n_ctx must be >= 0, max_batch >= 1 and n_seq 1 .. 4096");
        if (params.kv_type != dtype::f32 && params.kv_type != dtype::f16)
            return status(errc::invalid_argument, std::string("the KV cache type must be f32 or f16, not ") +
                                                      dtype_name(params.kv_type));
        s->kv_elem = params.kv_type == dtype::f16 ? 2 : sizeof(float);
        s->req.kv_type = params.kv_type;
        s->n_seq = params.n_seq;
        s->seq_past.assign(static_cast<size_t>(params.n_seq), 0);
        s->past_before.assign(static_cast<size_t>(params.n_seq), 0);
        s->seq_left.assign(static_cast<size_t>(params.n_seq), 0);
        s->n_ctx = params.n_ctx > 0 ? params.n_ctx : std::min<int64_t>(info.n_ctx_train > 0 ? info.n_ctx_train : 4096, 4096);
        s->n_vocab = info.n_vocab;
        s->cpu.reset(new cpu_backend(params.n_threads));
        if (params.backend != "auto" && params.backend != "cpu") {
            result<std::unique_ptr<backend>> b = detail::open_module_backend(params);
            if (!b) return b.error();
            s->accel = std::move(*b);
            s->priority.push_back(s->accel.get());
            s->backend_note = "backend \"" + params.backend + "\" as asked";
        } else if (params.backend == "auto") {
            s->accel = detail::open_auto_backend(params, s->backend_note);
            if (s->accel) s->priority.push_back(s->accel.get());
        } else {
            s->backend_note = "backend \"cpu\" as asked";
        }
        s->priority.push_back(s->cpu.get());

        s->kv = m.impl_->arch->kv_shape();
        s->req.n_ctx = s->n_ctx;
        s->budget = params.max_memory > 0 ? params.max_memory : physical_memory_bytes();
        for (const kv_layer_shape& l : s->kv) {
            // n_ctx and the shapes are bounded (the loader checked the shapes against real tensors), but a huge
            // n_ctx times many layers could still overflow: add up in long double to compare safely.
            const long double layer = static_cast<long double>(s->n_ctx) * static_cast<long double>(s->n_seq) *
                                      static_cast<long double>(l.n_head_kv) *
                                      static_cast<long double>(l.key_dim + l.value_dim) * s->kv_elem;
            if (static_cast<long double>(s->kv_bytes) + layer > static_cast<long double>(s->budget))
                return status(errc::out_of_memory,
                              "a KV cache of " + std::to_string(s->n_ctx) + " tokens" +
                                  (s->n_seq > 1 ? " times " + std::to_string(s->n_seq) + " sequences" : "") +
                                  " needs more than " +
                                  std::to_string(s->budget) + " bytes, the session's memory budget (" +
                                  (params.max_memory > 0 ? "session_params::max_memory" : "the physical memory") +
                                  "): lower n_ctx" + (s->n_seq > 1 ? " or n_seq" : ""));
            s->kv_bytes += static_cast<uint64_t>(layer);
        }
        for (const kv_layer_shape& l : s->kv) {
            const size_t kb = static_cast<size_t>(s->n_seq * s->n_ctx * l.n_head_kv * l.key_dim) * s->kv_elem;
            const size_t vb = static_cast<size_t>(s->n_seq * s->n_ctx * l.n_head_kv * l.value_dim) * s->kv_elem;
            result<backend_buffer> k = backend_buffer::allocate(*s->cpu, kb);
            if (!k) return k.error();
            result<backend_buffer> v = backend_buffer::allocate(*s->cpu, vb);
            if (!v) return v.error();
            s->req.k_cache.push_back(k->data());
            s->req.v_cache.push_back(v->data());
            s->k_cache.push_back(std::move(*k));
            s->v_cache.push_back(std::move(*v));
        }
        return session(std::move(s));
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory creating a session");
    } catch (const std::exception& e) {
        return status(errc::internal, std::string("unexpected exception creating a session: ") + e.what());
    }
}

status session::eval(const int32_t* tokens, size_t n, logits_mode mode) {
    detail::session_impl& s = *impl_;
    if (!tokens || n == 0) return status(errc::invalid_argument, "eval needs at least one token");
    const int64_t N = static_cast<int64_t>(n);
    int64_t& n_past = s.seq_past[0];
    if (n_past + N > s.n_ctx)
        return status(errc::context_full, "context holds " + std::to_string(s.n_ctx) + " tokens; " +
                                              std::to_string(n_past) + " used, " + std::to_string(N) + " more asked");
    for (int64_t i = 0; i < N; ++i)
        if (tokens[i] < 0 || tokens[i] >= s.n_vocab)
            return status(errc::invalid_argument, "token id " + std::to_string(tokens[i]) + " at index " +
                                                      std::to_string(i) + " is outside the vocabulary (" +
                                                      std::to_string(s.n_vocab) + ")");
    // A failure part-way (out of memory in a later chunk) leaves the cache as it was before this call.
    const int64_t n_past_before = n_past;
    auto fail = [&](status st) {
        n_past = n_past_before;
        s.batch_size = 0;
        return st;
    };
    try {
        const bool all = mode == logits_mode::all;
        const int64_t rows = all ? N : 1;
        s.fit(s.logits, static_cast<size_t>(rows * s.n_vocab));
        s.fit(s.row_of, static_cast<size_t>(N));
        s.fit(s.batch_seq, static_cast<size_t>(N));
        for (int64_t done = 0; done < N;) {
            const int64_t T = std::min<int64_t>(N - done, s.params.max_batch);
            const bool last_chunk = done + T == N;
            result<executor*> ex = s.get_executor(T, all);
            if (!ex) return fail(ex.error());
            executor& e = **ex;
            const graph& g = e.g();
            // inputs are values 0 ("tokens") and 1 ("positions"); see architecture::build
            std::memcpy(e.data(0), tokens + done, static_cast<size_t>(T) * sizeof(int32_t));
            int32_t* pos = static_cast<int32_t*>(e.data(1));
            for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>(n_past + t);
            run_args args;
            args.n_past = n_past;
            status st = e.run(args);
            if (!st.ok()) return fail(st);
            n_past += T;
            const value_id out = g.outputs[0];
            const float* lg = static_cast<const float*>(e.data(out));
            if (all) std::memcpy(s.logits.data() + done * s.n_vocab, lg, static_cast<size_t>(T * s.n_vocab) * sizeof(float));
            else if (last_chunk) std::memcpy(s.logits.data(), lg, static_cast<size_t>(s.n_vocab) * sizeof(float));
            done += T;
        }
        for (int64_t i = 0; i < N; ++i) {
            s.row_of[static_cast<size_t>(i)] = all ? static_cast<int32_t>(i) : (i == N - 1 ? 0 : -1);
            s.batch_seq[static_cast<size_t>(i)] = 0;
        }
        s.batch_size = N;
        return {};
    } catch (const std::bad_alloc&) {
        return fail(status(errc::out_of_memory, "out of memory during eval"));
    } catch (const std::exception& e) {
        return fail(status(errc::internal, std::string("unexpected exception during eval: ") + e.what()));
    }
}

status session::eval_batch(const int32_t* tokens, const int32_t* seq_ids, size_t n, logits_mode mode) {
    detail::session_impl& s = *impl_;
    if (!tokens || !seq_ids || n == 0) return status(errc::invalid_argument, "eval_batch needs at least one token");
    const int64_t N = static_cast<int64_t>(n);
    for (int64_t i = 0; i < N; ++i) {
        if (seq_ids[i] < 0 || seq_ids[i] >= s.n_seq)
            return status(errc::invalid_argument, "sequence id " + std::to_string(seq_ids[i]) + " at index " +
                                                      std::to_string(i) + " is outside 0.." +
                                                      std::to_string(s.n_seq - 1) + " (session_params::n_seq)");
        if (tokens[i] < 0 || tokens[i] >= s.n_vocab)
            return status(errc::invalid_argument, "token id " + std::to_string(tokens[i]) + " at index " +
                                                      std::to_string(i) + " is outside the vocabulary (" +
                                                      std::to_string(s.n_vocab) + ")");
    }
    if (s.n_seq == 1) return eval(tokens, n, mode);  // every id is 0: the single-sequence graphs

    // tokens per sequence, then room in each sequence's context before anything runs
    std::vector<int64_t>& left = s.seq_left;
    std::fill(left.begin(), left.end(), 0);
    for (int64_t i = 0; i < N; ++i) ++left[static_cast<size_t>(seq_ids[i])];
    for (int q = 0; q < s.n_seq; ++q) {
        const int64_t past = s.seq_past[static_cast<size_t>(q)], more = left[static_cast<size_t>(q)];
        if (past + more > s.n_ctx)
            return status(errc::context_full, "sequence " + std::to_string(q) + ": context holds " +
                                                  std::to_string(s.n_ctx) + " tokens; " + std::to_string(past) +
                                                  " used, " + std::to_string(more) + " more asked");
    }
    std::copy(s.seq_past.begin(), s.seq_past.end(), s.past_before.begin());
    auto fail = [&](status st) {
        std::copy(s.past_before.begin(), s.past_before.end(), s.seq_past.begin());
        s.batch_size = 0;
        return st;
    };
    try {
        const bool all = mode == logits_mode::all;
        // which tokens get logits: all, or the last of each sequence (left[] counts down to it)
        s.fit(s.row_of, static_cast<size_t>(N));
        s.fit(s.batch_seq, static_cast<size_t>(N));
        int32_t rows = 0;
        for (int64_t i = 0; i < N; ++i) {
            const bool wanted = all || --left[static_cast<size_t>(seq_ids[i])] == 0;
            s.row_of[static_cast<size_t>(i)] = wanted ? rows++ : -1;
            s.batch_seq[static_cast<size_t>(i)] = seq_ids[i];
        }
        s.fit(s.logits, static_cast<size_t>(rows) * static_cast<size_t>(s.n_vocab));
        for (int64_t done = 0; done < N;) {
            const int64_t T = std::min<int64_t>(N - done, s.params.max_batch);
            int64_t n_out = 0;
            for (int64_t t = 0; t < T; ++t) n_out += s.row_of[static_cast<size_t>(done + t)] >= 0;
            // a chunk with no wanted logits still needs one output row (computed, then dropped)
            result<executor*> ex = s.get_executor(T, all, true, std::max<int64_t>(n_out, 1));
            if (!ex) return fail(ex.error());
            executor& e = **ex;
            // inputs 0..3: tokens, positions, sequence ids, output rows (see build_request)
            std::memcpy(e.data(0), tokens + done, static_cast<size_t>(T) * sizeof(int32_t));
            std::memcpy(e.data(2), seq_ids + done, static_cast<size_t>(T) * sizeof(int32_t));
            int32_t* pos = static_cast<int32_t*>(e.data(1));
            int32_t* out_rows = static_cast<int32_t*>(e.data(3));
            int32_t k = 0;
            for (int64_t t = 0; t < T; ++t) {
                pos[t] = static_cast<int32_t>(s.seq_past[static_cast<size_t>(seq_ids[done + t])]++);
                if (s.row_of[static_cast<size_t>(done + t)] >= 0) out_rows[k++] = static_cast<int32_t>(t);
            }
            if (n_out == 0) out_rows[0] = static_cast<int32_t>(T - 1);
            // logits row of the chunk's first output (read now: the inputs' bytes are reused during the run)
            const int32_t first = s.row_of[static_cast<size_t>(done + out_rows[0])];
            status st = e.run(run_args{});
            if (!st.ok()) return fail(st);
            if (n_out > 0) {
                const float* lg = static_cast<const float*>(e.data(e.g().outputs[0]));
                std::memcpy(s.logits.data() + static_cast<size_t>(first) * static_cast<size_t>(s.n_vocab), lg,
                            static_cast<size_t>(n_out * s.n_vocab) * sizeof(float));
            }
            done += T;
        }
        s.batch_size = N;
        return {};
    } catch (const std::bad_alloc&) {
        return fail(status(errc::out_of_memory, "out of memory during eval_batch"));
    } catch (const std::exception& e) {
        return fail(status(errc::internal, std::string("unexpected exception during eval_batch: ") + e.what()));
    }
}

const float* session::logits(int64_t i) const noexcept {
    const detail::session_impl& s = *impl_;
    if (s.batch_size == 0) return nullptr;
    if (i < 0) i = s.batch_size - 1;
    if (i >= s.batch_size) return nullptr;
    const int32_t r = s.row_of[static_cast<size_t>(i)];
    return r < 0 ? nullptr : s.logits.data() + static_cast<size_t>(r) * static_cast<size_t>(s.n_vocab);
}

int32_t session::argmax(int64_t i) const noexcept {
    const float* l = logits(i);
    if (!l) return -1;
    int64_t best = 0;
    for (int64_t v = 1; v < impl_->n_vocab; ++v)
        if (l[v] > l[best]) best = v;
    return static_cast<int32_t>(best);
}

int64_t session::n_past() const noexcept { return impl_->seq_past[0]; }
int64_t session::n_ctx() const noexcept { return impl_->n_ctx; }
int64_t session::n_vocab() const noexcept { return impl_->n_vocab; }
const char* session::backend_name() const noexcept { return impl_->accel ? impl_->accel->name() : impl_->cpu->name(); }
const char* session::backend_note() const noexcept { return impl_->backend_note.c_str(); }
void session::clear() noexcept {
    std::fill(impl_->seq_past.begin(), impl_->seq_past.end(), 0);
    impl_->batch_size = 0;
}

int session::n_seq() const noexcept { return impl_->n_seq; }
int64_t session::n_past(int seq) const noexcept {
    return seq >= 0 && seq < impl_->n_seq ? impl_->seq_past[static_cast<size_t>(seq)] : 0;
}

status session::clear_seq(int seq) {
    if (seq < 0 || seq >= impl_->n_seq)
        return status(errc::invalid_argument, "sequence id " + std::to_string(seq) + " is outside 0.." +
                                                  std::to_string(impl_->n_seq - 1));
    impl_->seq_past[static_cast<size_t>(seq)] = 0;
    impl_->forget_logits(seq);
    return {};
}

status session::truncate(int64_t n) {
    if (n < 0 || n > impl_->seq_past[0])
        return status(errc::invalid_argument, "cannot keep " + std::to_string(n) + " tokens of a KV cache holding " +
                                                  std::to_string(impl_->seq_past[0]));
    impl_->seq_past[0] = n;
    impl_->forget_logits(impl_->n_seq > 1 ? 0 : -1);
    return {};
}

status session::truncate(int seq, int64_t n) {
    if (seq < 0 || seq >= impl_->n_seq)
        return status(errc::invalid_argument, "sequence id " + std::to_string(seq) + " is outside 0.." +
                                                  std::to_string(impl_->n_seq - 1));
    const int64_t past = impl_->seq_past[static_cast<size_t>(seq)];
    if (n < 0 || n > past)
        return status(errc::invalid_argument, "cannot keep " + std::to_string(n) + " tokens of sequence " +
                                                  std::to_string(seq) + ", which holds " + std::to_string(past));
    impl_->seq_past[static_cast<size_t>(seq)] = n;
    impl_->forget_logits(seq);
    return {};
}

// ---- KV cache state blob ------------------------------------------------------------------------------------------
// "MOEKV002", then u32 n_layer, u32 has_logits, u32 the cache's dtype id (f32 or f16), i64 n_past, i64 n_vocab,
// per layer i64 n_head_kv, key_dim, value_dim; then per layer the first n_past K rows and V rows (in the cache's
// type, host byte order); then n_vocab f32 logits if any. "MOEKV001" (earlier versions) is the same without the
// dtype id, always f32; it still loads.
namespace {
constexpr char state_magic[8] = {'M', 'O', 'E', 'K', 'V', '0', '0', '2'};
constexpr char state_magic_v1[8] = {'M', 'O', 'E', 'K', 'V', '0', '0', '1'};

size_t header_bytes(size_t n_layer, bool v1 = false) { return 8 + 4 + 4 + (v1 ? 0 : 4) + 8 + 8 + n_layer * 3 * 8; }

size_t row_floats(int64_t n_head_kv, int64_t dim) { return static_cast<size_t>(n_head_kv * dim); }

// The logits saved with the state: the last batch's last token's, when it is of sequence 0.
const float* last_logits_of_seq0(const detail::session_impl& s) {
    if (s.batch_size == 0 || s.batch_seq[static_cast<size_t>(s.batch_size - 1)] != 0) return nullptr;
    const int32_t r = s.row_of[static_cast<size_t>(s.batch_size - 1)];
    return r < 0 ? nullptr : s.logits.data() + static_cast<size_t>(r) * static_cast<size_t>(s.n_vocab);
}

// Rows 0 .. n - 1 of one cache (its layout: graph/kv_layout.hpp) into the blob's row-major bytes (ToBlob), or from
// them.
template <bool ToBlob, class Byte>
void copy_rows(const kv_layout& l, size_t elem, size_t n, uint8_t* cache, Byte* blob) {
    auto copy = [](uint8_t* c, Byte* b, size_t bytes) {
        if constexpr (ToBlob) std::memcpy(b, c, bytes);
        else std::memcpy(c, b, bytes);
    };
    const size_t run = static_cast<size_t>(l.dim) * elem;  // one head's elements of a row
    if (!l.head_major) {
        if (n) copy(cache, blob, n * static_cast<size_t>(l.heads) * run);
        return;
    }
    for (size_t r = 0; r < n; ++r)
        for (int64_t h = 0; h < l.heads; ++h, blob += run)
            copy(cache + static_cast<size_t>(l.offset(static_cast<int64_t>(r), h)) * elem, blob, run);
}

// The layouts of layer i's key and value caches.
kv_layout key_layout(const detail::session_impl& s, size_t i) {
    return kv_layout::of(s.params.kv_type, s.n_seq * s.n_ctx, s.kv[i].n_head_kv, s.kv[i].key_dim);
}
kv_layout value_layout(const detail::session_impl& s, size_t i) {
    return kv_layout::of(s.params.kv_type, s.n_seq * s.n_ctx, s.kv[i].n_head_kv, s.kv[i].value_dim);
}

template <class T>
void put(uint8_t*& p, T v) {
    std::memcpy(p, &v, sizeof v);
    p += sizeof v;
}
template <class T>
T get(const uint8_t*& p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
}
}  // namespace

size_t session::state_size() const noexcept {
    const detail::session_impl& s = *impl_;
    size_t n = header_bytes(s.kv.size());
    const auto rows = static_cast<size_t>(s.seq_past[0]);
    for (const kv_layer_shape& l : s.kv)
        n += rows * (row_floats(l.n_head_kv, l.key_dim) + row_floats(l.n_head_kv, l.value_dim)) * s.kv_elem;
    if (last_logits_of_seq0(s)) n += static_cast<size_t>(s.n_vocab) * sizeof(float);
    return n;
}

result<size_t> session::save_state(void* dst, size_t capacity) const {
    const detail::session_impl& s = *impl_;
    const size_t need = state_size();
    if (!dst || capacity < need)
        return status(errc::invalid_argument, "the KV cache state needs " + std::to_string(need) + " bytes, " +
                                                  std::to_string(dst ? capacity : 0) + " given");
    const float* last = last_logits_of_seq0(s);
    auto* p = static_cast<uint8_t*>(dst);
    std::memcpy(p, state_magic, sizeof state_magic);
    p += sizeof state_magic;
    put<uint32_t>(p, static_cast<uint32_t>(s.kv.size()));
    put<uint32_t>(p, last ? 1u : 0u);
    put<uint32_t>(p, static_cast<uint32_t>(s.params.kv_type));
    put<int64_t>(p, s.seq_past[0]);
    put<int64_t>(p, s.n_vocab);
    for (const kv_layer_shape& l : s.kv) put<int64_t>(p, l.n_head_kv), put<int64_t>(p, l.key_dim), put<int64_t>(p, l.value_dim);
    const auto rows = static_cast<size_t>(s.seq_past[0]);
    for (size_t i = 0; i < s.kv.size(); ++i) {
        const size_t kb = rows * row_floats(s.kv[i].n_head_kv, s.kv[i].key_dim) * s.kv_elem;
        const size_t vb = rows * row_floats(s.kv[i].n_head_kv, s.kv[i].value_dim) * s.kv_elem;
        copy_rows<true>(key_layout(s, i), s.kv_elem, rows, static_cast<uint8_t*>(s.k_cache[i].data()), p);
        p += kb;
        copy_rows<true>(value_layout(s, i), s.kv_elem, rows, static_cast<uint8_t*>(s.v_cache[i].data()), p);
        p += vb;
    }
    if (last) {
        std::memcpy(p, last, static_cast<size_t>(s.n_vocab) * sizeof(float));
        p += static_cast<size_t>(s.n_vocab) * sizeof(float);
    }
    return static_cast<size_t>(p - static_cast<uint8_t*>(dst));
}

status session::load_state(const void* src, size_t size) {
    detail::session_impl& s = *impl_;
    clear();
    const auto* p = static_cast<const uint8_t*>(src);
    const bool v1 = p && size >= header_bytes(0, true) && std::memcmp(p, state_magic_v1, sizeof state_magic_v1) == 0;
    if (!p || size < header_bytes(0, v1) || (!v1 && std::memcmp(p, state_magic, sizeof state_magic) != 0))
        return status(errc::bad_format, "not a moe KV cache state (bad magic or too short)");
    p += sizeof state_magic;
    const auto n_layer = get<uint32_t>(p);
    const auto has_logits = get<uint32_t>(p);
    const auto kv_type = v1 ? static_cast<uint32_t>(dtype::f32) : get<uint32_t>(p);
    if (kv_type != static_cast<uint32_t>(s.params.kv_type))
        return status(errc::shape_mismatch,
                      std::string("the KV cache state was saved from a ") +
                          (kv_type == static_cast<uint32_t>(dtype::f16) ? "f16" : kv_type == 0 ? "f32" : "unknown") +
                          " cache; this session's is " + dtype_name(s.params.kv_type) + " (session_params::kv_type)");
    const auto n_past = get<int64_t>(p);
    const auto n_vocab = get<int64_t>(p);
    if (n_layer != s.kv.size() || n_vocab != s.n_vocab || has_logits > 1)
        return status(errc::shape_mismatch, "the KV cache state is from another model (" + std::to_string(n_layer) +
                                                " layers, " + std::to_string(n_vocab) + " vocab; this one has " +
                                                std::to_string(s.kv.size()) + ", " + std::to_string(s.n_vocab) + ")");
    if (size < header_bytes(n_layer, v1)) return status(errc::bad_format, "the KV cache state is truncated");
    for (const kv_layer_shape& l : s.kv) {
        const auto h = get<int64_t>(p), k = get<int64_t>(p), v = get<int64_t>(p);
        if (h != l.n_head_kv || k != l.key_dim || v != l.value_dim)
            return status(errc::shape_mismatch, "the KV cache state is from a model with other attention shapes");
    }
    if (n_past < 0 || n_past > s.n_ctx)
        return status(errc::context_full, "the KV cache state holds " + std::to_string(n_past) +
                                              " tokens; this session's context holds " + std::to_string(s.n_ctx));
    const auto rows = static_cast<size_t>(n_past);
    size_t need = header_bytes(n_layer, v1);
    for (const kv_layer_shape& l : s.kv)
        need += rows * (row_floats(l.n_head_kv, l.key_dim) + row_floats(l.n_head_kv, l.value_dim)) * s.kv_elem;
    if (has_logits) need += static_cast<size_t>(n_vocab) * sizeof(float);
    if (size != need)
        return status(errc::bad_format, "the KV cache state has " + std::to_string(size) + " bytes, " +
                                            std::to_string(need) + " expected");
    for (size_t i = 0; i < s.kv.size(); ++i) {
        const size_t kb = rows * row_floats(s.kv[i].n_head_kv, s.kv[i].key_dim) * s.kv_elem;
        const size_t vb = rows * row_floats(s.kv[i].n_head_kv, s.kv[i].value_dim) * s.kv_elem;
        copy_rows<false>(key_layout(s, i), s.kv_elem, rows, static_cast<uint8_t*>(s.k_cache[i].data()), p);
        p += kb;
        copy_rows<false>(value_layout(s, i), s.kv_elem, rows, static_cast<uint8_t*>(s.v_cache[i].data()), p);
        p += vb;
    }
    s.seq_past[0] = n_past;
    if (has_logits) {
        try {
            s.fit(s.logits, static_cast<size_t>(s.n_vocab));
            s.fit(s.row_of, 1);
            s.fit(s.batch_seq, 1);
        } catch (const std::bad_alloc&) {
            clear();
            return status(errc::out_of_memory, "out of memory restoring the logits");
        }
        std::memcpy(s.logits.data(), p, static_cast<size_t>(s.n_vocab) * sizeof(float));
        s.row_of[0] = 0, s.batch_seq[0] = 0, s.batch_size = 1;
    }
    return {};
}

result<std::vector<backend_listing>> list_backends(const std::vector<std::string>& backend_dirs) {
    try {
        session_params p;
        p.backend_dirs = backend_dirs;
        backend_registry reg;
        for (const std::string& dir : detail::module_dirs(p)) (void)reg.find_modules(dir);
        std::vector<backend_listing> out;
        for (const backend_info& b : reg.list())
            out.push_back({b.name, b.description, b.path, b.available, b.reason});
        return out;
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory listing backends");
    } catch (const std::exception& e) {
        return status(errc::internal, std::string("unexpected exception listing backends: ") + e.what());
    }
}

session::session(std::unique_ptr<detail::session_impl> impl) : impl_(std::move(impl)) {}
session::session(session&&) noexcept = default;
session& session::operator=(session&&) noexcept = default;
session::~session() = default;

MOE_END_NAMESPACE
