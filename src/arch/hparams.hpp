// hparams.hpp — reads "<arch>.<key>" hyperparameters from GGUF metadata, keeping the first error.
// Used by every architecture builder's read step; messages name the full key and what was wrong.
#pragma once

#include "gguf/gguf.hpp"

#include <string>

MOE_BEGIN_NAMESPACE

class hparam_reader {
public:
    hparam_reader(const gguf::file& f, std::string arch) : f_(f), prefix_(std::move(arch) + ".") {}

    // Required positive integer at most `max`.
    int64_t count(const std::string& key, int64_t max = int64_t(1) << 31) {
        return count_or(key, -1, max);
    }
    // Optional integer (fallback when absent); present values must be in [0, max].
    int64_t count_or(const std::string& key, int64_t fallback, int64_t max = int64_t(1) << 31) {
        if (!err_.ok()) return 0;
        const std::string k = prefix_ + key;
        if (!f_.find(k)) {
            if (fallback < 0) err_ = status(errc::bad_format, "required metadata key '" + k + "' is missing");
            return fallback < 0 ? 0 : fallback;
        }
        result<uint64_t> v = f_.get_uint(k);
        if (!v) {
            err_ = v.error();
            return 0;
        }
        if (*v > static_cast<uint64_t>(max)) {
            err_ = status(errc::bad_format, "metadata key '" + k + "' = " + std::to_string(*v) + " is out of range");
            return 0;
        }
        return static_cast<int64_t>(*v);
    }
    float real_or(const std::string& key, float fallback) {
        if (!err_.ok()) return fallback;
        result<double> v = f_.get_float_or(prefix_ + key, fallback);
        if (!v) {
            err_ = v.error();
            return fallback;
        }
        return static_cast<float>(*v);
    }
    std::string string_or(const std::string& key, const std::string& fallback) {
        if (!err_.ok() || !f_.find(prefix_ + key)) return fallback;
        result<std::string> v = f_.get_string(prefix_ + key);
        if (!v) {
            err_ = v.error();
            return fallback;
        }
        return *v;
    }
    void fail(const std::string& message) {
        if (err_.ok()) err_ = status(errc::bad_format, message);
    }
    const status& error() const noexcept { return err_; }

private:
    const gguf::file& f_;
    std::string prefix_;
    status err_;
};

MOE_END_NAMESPACE
