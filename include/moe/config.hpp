// config.hpp — version numbers, the export macro and the versioned namespace every public header uses.
// Included first by all of include/moe/*; nothing here depends on the rest of the library.
#pragma once

#ifdef MOE_USER_CONFIG
#include MOE_USER_CONFIG
#endif

#define MOE_VERSION_MAJOR 0
#define MOE_VERSION_MINOR 1
#define MOE_VERSION_PATCH 0
#define MOE_VERSION_NUM (MOE_VERSION_MAJOR * 10000 + MOE_VERSION_MINOR * 100 + MOE_VERSION_PATCH)

#if defined(_WIN32) && defined(MOE_SHARED)
#if defined(MOE_BUILD)
#define MOE_API __declspec(dllexport)
#else
#define MOE_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && defined(MOE_SHARED)
#define MOE_API __attribute__((visibility("default")))
#else
#define MOE_API
#endif

#define MOE_BEGIN_NAMESPACE namespace moe { inline namespace v0 {
#define MOE_END_NAMESPACE } }
