# moe_cpu_simd.cmake — per-file ISA flags for the CPU backend's SIMD kernels (backends/cpu/simd/kernels_<isa>.cpp).
# Called by the top-level CMakeLists after the library target exists; only those files get -mavx2 / -mavx512* / dotprod.
function(moe_cpu_simd_flags)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    return()
  endif()
  set(dir ${PROJECT_SOURCE_DIR}/backends/cpu/simd)
  # No fused multiply-add the kernels do not ask for: the reference rounds products and sums separately.
  set(common -ffp-contract=off)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set_source_files_properties(${dir}/kernels_avx2.cpp PROPERTIES COMPILE_OPTIONS
      "${common};-mavx2;-mfma;-mf16c")
    set_source_files_properties(${dir}/kernels_avx512.cpp PROPERTIES COMPILE_OPTIONS
      "${common};-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512dq;-mavx512cd;-mavx512vl;-mavx512vnni")
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    set_source_files_properties(${dir}/kernels_neon.cpp PROPERTIES COMPILE_OPTIONS
      "${common};-march=armv8.2-a+dotprod+fp16")
  endif()
endfunction()
