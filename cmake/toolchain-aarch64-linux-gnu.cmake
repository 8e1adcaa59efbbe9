# toolchain-aarch64-linux-gnu.cmake — cross-compiles moe for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu;
# ctest runs the binaries under qemu-aarch64 (qemu-user). Used by .ci/arm64: cmake -DCMAKE_TOOLCHAIN_FILE=<this file>.
#
# The target's libraries come from the cross sysroot (/usr/aarch64-linux-gnu). The header-only dependencies (xsimd,
# Eigen, doctest) are the host's: their CMake packages are found on the host, and /usr/include is searched after the
# target's own headers (-idirafter), never before them (see toolchain-aarch64-host-headers.cmake).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(MOE_CROSS_TRIPLE aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${MOE_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MOE_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${MOE_CROSS_TRIPLE})

set(CMAKE_FIND_ROOT_PATH /usr/${MOE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Debian keeps xsimd's (header-only) CMake package under the host's multiarch directory, e.g. x86_64-linux-gnu.
set(xsimd_DIR /usr/lib/${CMAKE_HOST_SYSTEM_PROCESSOR}-linux-gnu/cmake/xsimd CACHE PATH "xsimd package")

set(CMAKE_C_FLAGS_INIT "-idirafter /usr/include")
set(CMAKE_CXX_FLAGS_INIT "-idirafter /usr/include")
set(CMAKE_PROJECT_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/toolchain-aarch64-host-headers.cmake)

# -cpu max: the emulated CPU has every extension qemu knows (dotprod included); -L: the target's dynamic loader.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu max -L /usr/${MOE_CROSS_TRIPLE})
