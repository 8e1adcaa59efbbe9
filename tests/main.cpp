// main.cpp — the single doctest runner for moe_tests; every tests/unit/*.cpp file registers its cases with it.
// Run through ctest (see tests/CMakeLists.txt) or directly: ./moe_tests -tc="gguf*".
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
