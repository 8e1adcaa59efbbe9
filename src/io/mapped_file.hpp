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

    // Maps bytes [offset, offset + len) of a file mapping into the page tables now (reading them from disk where
    // they are not cached), so that the first tokens do not pay a page fault per 4 KiB of weights. Does nothing for
    // borrowed memory; false when the OS cannot do it (kernels before 5.14), after which callers stop asking.
    bool prefault(size_t offset, size_t len) const noexcept;

    // Hands the whole pages inside [offset, offset + len) of a file mapping back to the OS (they are read again from
    // the file, or the page cache, if touched later): for bytes the model keeps a copy of. No-op for borrowed memory.
    void release(size_t offset, size_t len) const noexcept;

private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    bool owned_mapping_ = false;
};

// Zero-filled, page-aligned anonymous memory for large model-lifetime buffers (the CPU kernels' packed weights),
// in transparent huge pages where the OS offers them: a few thousand page faults for gigabytes instead of a
// million. Null data() after a failed allocate.
class anonymous_memory {
public:
    anonymous_memory() = default;
    anonymous_memory(anonymous_memory&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
    anonymous_memory& operator=(anonymous_memory&& o) noexcept;
    anonymous_memory(const anonymous_memory&) = delete;
    anonymous_memory& operator=(const anonymous_memory&) = delete;
    ~anonymous_memory();
    static anonymous_memory allocate(size_t bytes) noexcept;
    uint8_t* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }

private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Asks the OS to back the 2 MiB-aligned part of [p, p + bytes) with huge pages (Linux transparent huge pages in
// "madvise" or "always" mode): one TLB entry per 2 MiB for buffers read by strided walks (the KV cache, whose rows
// of one head are pages apart). Advice only; without it the memory works the same.
void advise_huge_pages(void* p, size_t bytes) noexcept;

// Physical memory of this machine in bytes; UINT64_MAX when the OS does not say.
uint64_t physical_memory_bytes() noexcept;

MOE_END_NAMESPACE
