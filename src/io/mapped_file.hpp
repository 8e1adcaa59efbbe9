// mapped_file.hpp — read-only bytes of a model file: an mmap of a path, or a caller's memory buffer.
// The GGUF reader parses these bytes; weights stay zero-copy views into them for the model's lifetime.
#pragma once

#include <moe/status.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

MOE_BEGIN_NAMESPACE

class mapped_file {
public:
    mapped_file() = default;
    mapped_file(mapped_file&& o) noexcept;
    mapped_file& operator=(mapped_file&& o) noexcept;
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file();

    // Maps the whole file read-only. Errors name the path and the OS reason.
    static result<mapped_file> open(const std::string& path);
    // Wraps memory owned by the caller (must outlive this object); no copy.
    static mapped_file borrow(const void* data, size_t size);

    const uint8_t* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }

private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    bool owned_mapping_ = false;
};

MOE_END_NAMESPACE
