# moe_warnings.cmake — one place for the warning flags every moe target builds with (GCC and Clang).
# Called by the top-level CMakeLists for the library and by examples/, tests/ and benchmarks/ for theirs.
function(moe_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
    if(MOE_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
