// backend_buffer.cpp — RAII ownership of backend allocations (arenas, KV caches).
// Used by the executor and the session; the backend decides what kind of memory it is.
#include "runtime/backend.hpp"

MOE_BEGIN_NAMESPACE

result<backend_buffer> backend_buffer::allocate(backend& b, size_t bytes) {
    result<void*> p = b.alloc(bytes);
    if (!p) return p.error();
    backend_buffer buf;
    buf.b_ = &b, buf.p_ = *p, buf.size_ = bytes;
    return buf;
}

backend_buffer& backend_buffer::operator=(backend_buffer&& o) noexcept {
    if (this != &o) {
        release();
        b_ = o.b_, p_ = o.p_, size_ = o.size_;
        o.p_ = nullptr, o.size_ = 0;
    }
    return *this;
}

void backend_buffer::release() noexcept {
    if (p_ && b_) b_->free(p_);
    p_ = nullptr, size_ = 0;
}

MOE_END_NAMESPACE
