// pack_weights.cpp — at load, copies the weights the CPU kernels read faster in a layout of their own into it.
// Before: the mapped, validated GGUF (model.cpp). After: weight_binder hands both layouts to the graph; the CPU
// matmul kernels read the packed copy, every other reader (embeddings, other backends) the file's bytes.
#include "backends/cpu/weight_packing.hpp"
#include "model/model_impl.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

MOE_BEGIN_NAMESPACE
namespace detail {

namespace {
// A share of one tensor's repacking: units [u0, u1) of tensor `index`, packed at byte `at` of the buffer.
struct pack_job {
    size_t index = 0, at = 0;
    int64_t u0 = 0, u1 = 0;
};
constexpr size_t job_bytes = size_t(32) << 20;  // jobs of about 32 MiB: progress and cancel stay responsive
}  // namespace

status pack_weights(model_impl& impl, const std::function<bool(float)>& report, float from, float to) {
    const std::vector<gguf::tensor_info>& ts = impl.meta.tensors();
    // A tied output matrix reads token_embd as a matmul weight; otherwise it only feeds embedding lookups.
    const bool embd_is_matmul = impl.meta.find_tensor("output.weight") == nullptr;
    std::vector<packing> as(ts.size(), packing::none);
    std::vector<size_t> packed_at(ts.size(), 0);
    std::vector<pack_job> jobs;
    size_t total = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
        const gguf::tensor_info& t = ts[i];
        if (t.name == "token_embd.weight" && !embd_is_matmul) continue;
        as[i] = cpu::preferred_packing(t.type, t.ne, t.n_dims);
        const int64_t units = cpu::pack_units(as[i], t.ne, t.n_dims);
        if (units == 0) continue;
        const int64_t per = std::max<int64_t>(1, static_cast<int64_t>(job_bytes / (t.nbytes / units)));
        packed_at[i] = total;
        for (int64_t u = 0; u < units; u += per) jobs.push_back({i, total, u, std::min(units, u + per)});
        total += (t.nbytes + 63) / 64 * 64;
    }
    if (total == 0) return {};
    anonymous_memory buf = anonymous_memory::allocate(total);
    if (buf.data() == nullptr) return {};  // no room for a second layout: the kernels read the file's

    // Every core takes jobs (first-touching a fresh buffer costs the OS as much as the copy); the caller's thread
    // also reports progress, so a cancel stops everyone within a job.
    // Jobs left per tensor: whoever finishes a tensor's last one hands its file pages back, so that the file's and
    // the packed bytes are not both resident at once.
    std::unique_ptr<std::atomic<int64_t>[]> left(new std::atomic<int64_t>[ts.size()]);
    for (size_t i = 0; i < ts.size(); ++i) left[i] = 0;
    for (const pack_job& job : jobs) ++left[job.index];
    std::atomic<size_t> next{0}, done{0};
    std::atomic<bool> stop{false};
    auto work = [&](bool reporting) {
        for (size_t j; !stop.load(std::memory_order_relaxed) && (j = next.fetch_add(1)) < jobs.size();) {
            const pack_job& job = jobs[j];
            const gguf::tensor_info& t = ts[job.index];
            cpu::pack_tensor_units(as[job.index], t.ne, t.data, buf.data() + job.at, job.u0, job.u1);
            if (left[job.index].fetch_sub(1) == 1 && t.data >= impl.file.data() &&
                t.data < impl.file.data() + impl.file.size())
                impl.file.release(static_cast<size_t>(t.data - impl.file.data()), t.nbytes);
            const size_t d = done.fetch_add(1) + 1;
            if (reporting && report &&
                !report(from + (to - from) * static_cast<float>(static_cast<double>(d) / static_cast<double>(jobs.size()))))
                stop = true;
        }
    };
    std::vector<std::thread> helpers;
    const unsigned cores = std::min(8u, std::max(1u, std::thread::hardware_concurrency()));
    for (unsigned h = 1; h < cores; ++h) {
        try {
            helpers.emplace_back(work, false);
        } catch (const std::system_error&) {
            break;  // fewer threads: the same work, slower
        }
    }
    work(true);
    for (std::thread& h : helpers) h.join();
    if (stop) return status(errc::aborted, "cancelled");

    for (size_t i = 0; i < ts.size(); ++i)
        if (cpu::pack_units(as[i], ts[i].ne, ts[i].n_dims) != 0)
            impl.meta.set_packed(i, buf.data() + packed_at[i], static_cast<uint8_t>(as[i]));
    impl.packed = std::move(buf);
    return {};
}

}  // namespace detail
MOE_END_NAMESPACE
