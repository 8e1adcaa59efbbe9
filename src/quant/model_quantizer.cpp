// model_quantizer.cpp — quantize_model / plan_quantization: GGUF in, quantized GGUF out, one tensor at a time.
// Before: an F32/F16/BF16 GGUF (mmapped, parsed). After: quant_mix picks each tensor's type, quantize_row fills it,
// and the GGUF writer streams the file (only one tensor's bytes are in memory at a time).
#include "gguf/gguf.hpp"
#include "io/mapped_file.hpp"
#include "quant/quant_mix.hpp"

#include <moe/quant.hpp>
#include <moe/quantize.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <system_error>
#include <thread>

MOE_BEGIN_NAMESPACE

namespace {

struct ftype_name {
    file_type type;
    const char* name;
};
const ftype_name ftype_names[] = {
    {file_type::q4_0, "Q4_0"},     {file_type::q4_1, "Q4_1"},       {file_type::q5_0, "Q5_0"},
    {file_type::q5_1, "Q5_1"},     {file_type::iq4_nl, "IQ4_NL"},   {file_type::iq4_xs, "IQ4_XS"},
    {file_type::q2_k, "Q2_K"},     {file_type::q3_k_s, "Q3_K_S"},   {file_type::q3_k_m, "Q3_K_M"},
    {file_type::q3_k_l, "Q3_K_L"}, {file_type::q4_k_s, "Q4_K_S"},   {file_type::q4_k_m, "Q4_K_M"},
    {file_type::q5_k_s, "Q5_K_S"}, {file_type::q5_k_m, "Q5_K_M"},   {file_type::q6_k, "Q6_K"},
    {file_type::q8_0, "Q8_0"},     {file_type::mxfp4_moe, "MXFP4_MOE"}, {file_type::f16, "F16"},
    {file_type::bf16, "BF16"},     {file_type::all_f32, "F32"},
};

std::string upper(std::string_view s) {
    std::string u(s);
    for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u;
}

// The parsed input and what the rules need from it.
struct input_model {
    mapped_file map;
    gguf::file file;
    quant_mix::model_facts facts;
    std::vector<quant_mix::tensor_desc> tensors;
};

// First element of a per-layer array value, or the plain value.
result<int64_t> first_count(const gguf::file& f, const std::string& key, int64_t fallback) {
    const gguf::value* v = f.find(key);
    if (v == nullptr) return fallback;
    if (v->type == gguf::value_type::array) {
        result<std::vector<int64_t>> a = f.get_int_array(key);
        if (!a) return a.error();
        return a->empty() ? fallback : a->front();
    }
    return f.get_int(key);
}

result<input_model> open_input(const std::string& path) {
    result<mapped_file> m = mapped_file::open(path);
    if (!m) return m.error();
    result<gguf::file> f = gguf::file::parse(m->data(), m->size());
    if (!f) return status(f.error().code(), path + ": " + f.error().message());
    input_model in{std::move(*m), std::move(*f), {}, {}};
    result<std::string> arch = in.file.get_string("general.architecture");
    if (!arch) return status(arch.error().code(), path + ": " + arch.error().message());
    quant_mix::model_facts& mf = in.facts;
    mf.arch = *arch;
    const std::string a = mf.arch + ".";
    result<int64_t> layers = first_count(in.file, a + "block_count", -1);
    result<int64_t> experts = first_count(in.file, a + "expert_count", 0);
    result<int64_t> heads = first_count(in.file, a + "attention.head_count", 0);
    if (!layers || !experts || !heads)
        return status(errc::bad_format, path + ": " + (!layers ? layers.error() : !experts ? experts.error() : heads.error()).message());
    if (*layers <= 0) return status(errc::bad_format, path + ": " + a + "block_count is missing or not positive");
    result<int64_t> heads_kv = first_count(in.file, a + "attention.head_count_kv", *heads);
    if (!heads_kv) return status(errc::bad_format, path + ": " + heads_kv.error().message());
    mf.n_layer = *layers, mf.n_expert = *experts, mf.n_head = *heads, mf.n_head_kv = *heads_kv;
    for (const gguf::tensor_info& t : in.file.tensors()) {
        quant_mix::tensor_desc d;
        d.name = t.name, d.type = t.type;
        std::copy(t.ne, t.ne + 4, d.ne);
        in.tensors.push_back(std::move(d));
    }
    return in;
}

result<std::vector<tensor_plan_entry>> make_plan(const input_model& in, const quantize_params& p,
                                                 const std::string& path) {
    if (std::none_of(std::begin(ftype_names), std::end(ftype_names), [&](const ftype_name& f) { return f.type == p.type; }))
        return status(errc::invalid_argument, "file type " + std::to_string(static_cast<uint32_t>(p.type)) + " is not one moe writes");
    result<std::vector<dtype>> types = quant_mix::choose_types(in.facts, in.tensors, p);
    if (!types) return status(types.error().code(), path + ": " + types.error().message());
    std::vector<tensor_plan_entry> plan;
    for (size_t i : quant_mix::file_order(in.tensors)) {
        const quant_mix::tensor_desc& t = in.tensors[i];
        tensor_plan_entry e;
        e.name = t.name, e.from = t.type, e.to = (*types)[i];
        std::copy(t.ne, t.ne + 4, e.ne);
        const int64_t rows = t.ne[1] * t.ne[2] * t.ne[3];
        e.bytes_from = row_bytes(e.from, t.ne[0]) * static_cast<uint64_t>(rows);
        e.bytes_to = row_bytes(e.to, t.ne[0]) * static_cast<uint64_t>(rows);
        if (e.from != e.to) {
            if (!can_convert(e.to))
                return status(errc::unsupported, "tensor '" + t.name + "' would become " + dtype_name(e.to) +
                                                     ", a type moe cannot write");
            if (!can_convert(e.from))
                return status(errc::unsupported, "tensor '" + t.name + "' is " + dtype_name(e.from) +
                                                     ", a type moe cannot read for requantizing");
            if (is_quantized(e.from) && !p.allow_requantize)
                return status(errc::invalid_argument, "tensor '" + t.name + "' is already " + dtype_name(e.from) +
                                                          "; requantizing loses accuracy twice (allow it explicitly)");
            if (t.ne[0] % static_cast<int64_t>(traits(e.to).block_size) != 0)
                return status(errc::internal, "tensor '" + t.name + "' row length does not fit " + dtype_name(e.to));
        }
        plan.push_back(std::move(e));
    }
    return plan;
}

// Converts the rows of one tensor, split across threads by row ranges.
status convert_tensor(const gguf::tensor_info& src, const tensor_plan_entry& e, const quantize_params& p,
                      std::vector<uint8_t>& out) {
    const int64_t n = src.ne[0], rows = src.ne[1] * src.ne[2] * src.ne[3];
    const size_t in_rb = row_bytes(e.from, n), out_rb = row_bytes(e.to, n);
    out.resize(out_rb * static_cast<size_t>(rows));
    int threads = p.n_threads > 0 ? p.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, rows / 4)));
    std::atomic<bool> failed{false};
    std::string failure;
    auto work = [&](int64_t r0, int64_t r1) {
        std::vector<float> row(static_cast<size_t>(n));
        for (int64_t r = r0; r < r1 && !failed.load(std::memory_order_relaxed); ++r) {
            const uint8_t* in_row = src.data + static_cast<size_t>(r) * in_rb;
            status st = dequantize_row(e.from, in_row, row.data(), n);
            if (st.ok()) {
                uint8_t* o = out.data() + static_cast<size_t>(r) * out_rb;
                st = p.reference_bytes ? quantize_row_reference(e.to, row.data(), o, n)
                                       : quantize_row(e.to, row.data(), o, n);
            }
            if (!st.ok() && !failed.exchange(true)) failure = st.message();
        }
    };
    std::vector<std::thread> pool;
    std::vector<std::pair<int64_t, int64_t>> here;  // ranges the calling thread converts
    const int64_t per = (rows + threads - 1) / threads;
    for (int t = 0; t < threads; ++t) {
        const int64_t r0 = std::min(rows, t * per), r1 = std::min(rows, r0 + per);
        if (r0 >= r1) continue;
        if (t == 0) {
            here.emplace_back(r0, r1);
            continue;
        }
        try {
            pool.emplace_back(work, r0, r1);
        } catch (const std::system_error&) {  // no thread to be had: convert it here
            here.emplace_back(r0, r1);
        }
    }
    for (const auto& r : here) work(r.first, r.second);
    for (std::thread& t : pool) t.join();
    if (failed) return status(errc::internal, "tensor '" + e.name + "': " + failure);
    return ok_status();
}

}  // namespace

result<file_type> parse_file_type(std::string_view name) {
    const std::string u = upper(name);
    for (const ftype_name& f : ftype_names)
        if (u == f.name || u == std::to_string(static_cast<uint32_t>(f.type))) return f.type;
    if (u == "Q3_K") return file_type::q3_k_m;
    if (u == "Q4_K") return file_type::q4_k_m;
    if (u == "Q5_K") return file_type::q5_k_m;
    std::string list;
    for (const ftype_name& f : ftype_names) list += (list.empty() ? "" : ", ") + std::string(f.name);
    return status(errc::invalid_argument, "unknown file type '" + std::string(name) + "'; moe writes " + list +
                                              " (IQ1/IQ2/IQ3 mixes need an importance matrix and types moe lacks)");
}

const char* file_type_name(file_type t) noexcept {
    for (const ftype_name& f : ftype_names)
        if (f.type == t) return f.name;
    return "unknown";
}

const std::vector<file_type>& supported_file_types() noexcept {
    static const std::vector<file_type> all = [] {
        std::vector<file_type> v;
        for (const ftype_name& f : ftype_names) v.push_back(f.type);
        return v;
    }();
    return all;
}

result<std::vector<tensor_plan_entry>> plan_quantization(const std::string& input_path, const quantize_params& p) {
    try {
        result<input_model> in = open_input(input_path);
        if (!in) return in.error();
        return make_plan(*in, p, input_path);
    } catch (const std::bad_alloc&) {
        return status(errc::out_of_memory, "out of memory while planning the quantization of " + input_path);
    }
}

status quantize_model(const std::string& input_path, const std::string& output_path, const quantize_params& p) {
    try {
        if (input_path == output_path)
            return status(errc::invalid_argument, "moe-quantize: input and output are the same file '" + input_path + "'");
        result<input_model> in = open_input(input_path);
        if (!in) return in.error();
        result<std::vector<tensor_plan_entry>> plan = make_plan(*in, p, input_path);
        if (!plan) return plan.error();

        gguf::writer w(in->file.alignment());
        bool have_qv = false, have_ft = false;
        for (const auto& kv : in->file.kvs()) {
            if (kv.first == "general.quantization_version") {
                have_qv = true;
                w.set_u32(kv.first, 2);
            } else if (kv.first == "general.file_type") {
                have_ft = true;
                w.set_u32(kv.first, static_cast<uint32_t>(p.type));
            } else {
                w.set_value(kv.first, kv.second);
            }
        }
        if (!have_qv) w.set_u32("general.quantization_version", 2);
        if (!have_ft) w.set_u32("general.file_type", static_cast<uint32_t>(p.type));
        std::vector<const gguf::tensor_info*> sources;
        for (const tensor_plan_entry& e : *plan) {
            const gguf::tensor_info* t = in->file.find_tensor(e.name);
            if (t == nullptr) return status(errc::internal, "tensor '" + e.name + "' vanished");
            std::vector<int64_t> ne(t->ne, t->ne + t->n_dims);
            MOE_TRY(w.add_tensor_deferred(e.name, e.to, ne, static_cast<size_t>(e.bytes_to)));
            sources.push_back(t);
        }
        const std::vector<tensor_plan_entry>& entries = *plan;
        return w.write(output_path, [&](size_t i, std::vector<uint8_t>& bytes) -> status {
            const tensor_plan_entry& e = entries[i];
            const gguf::tensor_info& t = *sources[i];
            status st;
            if (e.from == e.to) bytes.assign(t.data, t.data + t.nbytes);
            else st = convert_tensor(t, e, p, bytes);
            if (st.ok() && p.progress && !p.progress(i + 1, entries.size()))
                st = status(errc::aborted, "quantization of " + input_path + " stopped by the progress callback");
            return st;
        });
    } catch (const std::bad_alloc&) {
        std::remove(output_path.c_str());
        return status(errc::out_of_memory, "out of memory while quantizing " + input_path);
    }
}

MOE_END_NAMESPACE
