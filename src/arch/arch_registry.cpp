// arch_registry.cpp — maps general.architecture to the builder that reads that family's GGUF files.
// Called by the model loader; adding a family means one builder file and one line in the table below.
#include "arch/arch.hpp"

MOE_BEGIN_NAMESPACE

result<std::unique_ptr<architecture>> make_deepseek2(const gguf::file& f);
result<std::unique_ptr<architecture>> make_gpt_oss(const gguf::file& f);
result<std::unique_ptr<architecture>> make_granitemoe(const gguf::file& f);
result<std::unique_ptr<architecture>> make_llama(const gguf::file& f);
result<std::unique_ptr<architecture>> make_olmoe(const gguf::file& f);
result<std::unique_ptr<architecture>> make_qwen2moe(const gguf::file& f);
result<std::unique_ptr<architecture>> make_qwen3moe(const gguf::file& f);

namespace {
struct arch_entry {
    const char* name;
    result<std::unique_ptr<architecture>> (*make)(const gguf::file&);
};
const arch_entry registry[] = {
    {"deepseek2", make_deepseek2},
    {"gpt-oss", make_gpt_oss},
    {"granitemoe", make_granitemoe},
    {"llama", make_llama},
    {"olmoe", make_olmoe},
    {"qwen2moe", make_qwen2moe},
    {"qwen3moe", make_qwen3moe},
};
}  // namespace

result<std::unique_ptr<architecture>> create_architecture(const gguf::file& f) {
    if (!f.find("general.architecture"))
        return status(errc::bad_format, "metadata key 'general.architecture' is missing");
    result<std::string> name = f.get_string("general.architecture");
    if (!name) return name.error();
    std::string supported;
    for (const arch_entry& e : registry) {
        if (*name == e.name) return e.make(f);
        supported += supported.empty() ? e.name : std::string(", ") + e.name;
    }
    return status(errc::unsupported, "architecture '" + *name + "' is not supported (supported: " + supported + ")");
}

MOE_END_NAMESPACE
