# moe_cpu_simd.cmake — per-file ISA flags for the CPU backend's SIMD kernels (backends/cpu/simd/kernels_<isa>.cpp).
# Called by the top-level CMakeLists after the library target exists; only those files get -mavx2 / -mavx512* / dotprod.
function(moe_cpu_simd_flags)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    return()
  endif()
  set(dir ${PROJECT_SOURCE_DIR}/backends/cpu/simd)
  # No fused multiply-add the code does not ask for (std::fma, the fmadd primitives): the reference rounds products
  # and sums separately. GCC contracts a * b + c by default in C++ wherever the target has FMA (every aarch64, x86
  # with -mfma), so the whole library gets the flag, the reference included.
  set(common -ffp-contract=off)
  target_compile_options(moe PRIVATE ${common})
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set_source_files_properties(${dir}/kernels_avx2.cpp PROPERTIES COMPILE_OPTIONS
      "${common};-mavx2;-mfma;-mf16c")
    set_source_files_properties(${dir}/kernels_avx512.cpp PROPERTIES COMPILE_OPTIONS
      "${common};-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512dq;-mavx512cd;-mavx512vl;-mavx512vnni")
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    set_source_files_properties(${dir}/kernels_neon_dot.cpp PROPERTIES COMPILE_OPTIONS
      "${common};-march=armv8.2-a+dotprod")
  endif()
endfunction()
