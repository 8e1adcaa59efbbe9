// mapped_file.cpp — maps a model file read-only with POSIX mmap, or wraps caller-owned memory without copying.
// Comes first in the load pipeline: its bytes go to gguf::file::parse; tensors stay views into the mapping.
#include "io/mapped_file.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

MOE_BEGIN_NAMESPACE

namespace {

std::string os_error(const char* what, const std::string& path, int err) {
    return std::string(what) + " '" + path + "': " + std::strerror(err);
}

}  // namespace

mapped_file::mapped_file(mapped_file&& o) noexcept
    : data_(o.data_), size_(o.size_), owned_mapping_(o.owned_mapping_) {
    o.data_ = nullptr;
    o.size_ = 0;
    o.owned_mapping_ = false;
}

mapped_file& mapped_file::operator=(mapped_file&& o) noexcept {
    if (this != &o) {
        if (owned_mapping_ && data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
        data_ = o.data_;
        size_ = o.size_;
        owned_mapping_ = o.owned_mapping_;
        o.data_ = nullptr;
        o.size_ = 0;
        o.owned_mapping_ = false;
    }
    return *this;
}

mapped_file::~mapped_file() {
    if (owned_mapping_ && data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

result<mapped_file> mapped_file::open(const std::string& path) {
    int fd;
    do {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return result<mapped_file>(errc::io_error, os_error("cannot open", path, errno));

    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return result<mapped_file>(errc::io_error, os_error("cannot stat", path, err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return result<mapped_file>(errc::io_error, "cannot map '" + path + "': not a regular file");
    }
    if (st.st_size <= 0) {
        ::close(fd);
        return result<mapped_file>(errc::io_error, "cannot map '" + path + "': file is empty");
    }
    const auto size = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_err = errno;
    ::close(fd);  // the mapping keeps its own reference to the file
    if (p == MAP_FAILED) return result<mapped_file>(errc::io_error, os_error("cannot mmap", path, map_err));

    mapped_file m;
    m.data_ = static_cast<const uint8_t*>(p);
    m.size_ = size;
    m.owned_mapping_ = true;
    return m;
}

bool mapped_file::prefault(size_t offset, size_t len) const noexcept {
    if (!owned_mapping_ || offset >= size_) return true;
    if (len > size_ - offset) len = size_ - offset;
#ifdef MADV_POPULATE_READ
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t start = offset / page * page;
    return madvise(const_cast<uint8_t*>(data_) + start, len + (offset - start), MADV_POPULATE_READ) == 0;
#else
    return false;
#endif
}

void mapped_file::release(size_t offset, size_t len) const noexcept {
    if (!owned_mapping_ || offset >= size_) return;
    if (len > size_ - offset) len = size_ - offset;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t start = (offset + page - 1) / page * page, end = (offset + len) / page * page;
    if (end > start) (void)madvise(const_cast<uint8_t*>(data_) + start, end - start, MADV_DONTNEED);
}

anonymous_memory& anonymous_memory::operator=(anonymous_memory&& o) noexcept {
    if (this != &o) {
        this->~anonymous_memory();
        data_ = o.data_, size_ = o.size_;
        o.data_ = nullptr, o.size_ = 0;
    }
    return *this;
}

anonymous_memory::~anonymous_memory() {
    if (data_ != nullptr) munmap(data_, size_);
}

anonymous_memory anonymous_memory::allocate(size_t bytes) noexcept {
    anonymous_memory m;
    if (bytes == 0) return m;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return m;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without it the memory works the same
#endif
    m.data_ = static_cast<uint8_t*>(p);
    m.size_ = bytes;
    return m;
}

void advise_huge_pages(void* p, size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
    constexpr uintptr_t huge = uintptr_t(2) << 20;
    const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + huge - 1) & ~(huge - 1);
    const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(huge - 1);
    if (e > b) (void)madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

uint64_t physical_memory_bytes() noexcept {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return UINT64_MAX;
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

mapped_file mapped_file::borrow(const void* data, size_t size) {
    mapped_file m;
    m.data_ = static_cast<const uint8_t*>(data);
    m.size_ = data != nullptr ? size : 0;
    m.owned_mapping_ = false;
    return m;
}

MOE_END_NAMESPACE
