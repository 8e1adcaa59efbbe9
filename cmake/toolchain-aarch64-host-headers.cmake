# toolchain-aarch64-host-headers.cmake — run after project() in a cross build (CMAKE_PROJECT_INCLUDE, set by
# toolchain-aarch64-linux-gnu.cmake): /usr/include joins the compiler's implicit directories, so imported targets
# (xsimd, doctest) that name it add no -isystem /usr/include, which would put the host's C headers before the target's.
# The toolchain's -idirafter /usr/include still finds their headers, after the target's own.
foreach(lang C CXX)
  list(APPEND CMAKE_${lang}_IMPLICIT_INCLUDE_DIRECTORIES /usr/include)
endforeach()
