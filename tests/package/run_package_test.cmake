# run_package_test.cmake — packaging test, run by ctest as `cmake -P`: build moe (shared, minimal) and install it into
# a scratch prefix, check what was installed, then build and run the consumer app against it via find_package and
# pkg-config, and against the source tree via add_subdirectory (static). Inputs: -DMOE_SOURCE_DIR -DWORK_DIR -DMODEL
# -DGENERATOR [-DLAUNCHER=ccache] [-DC_COMPILER -DCXX_COMPILER].
foreach(v MOE_SOURCE_DIR WORK_DIR MODEL GENERATOR)
  if(NOT ${v})
    message(FATAL_ERROR "run_package_test.cmake needs -D${v}=...")
  endif()
endforeach()

function(step name)
  message(STATUS "[package] ${name}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[package] ${name} failed (${rc}):\n${out}\n${err}")
  endif()
  set(STEP_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# A minimal, unoptimised configuration: this test checks packaging, not speed.
set(common -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG=-O0 -DCMAKE_CXX_FLAGS_DEBUG=-O0)
if(C_COMPILER)
  list(APPEND common -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(LAUNCHER)
  list(APPEND common -DCMAKE_C_COMPILER_LAUNCHER=${LAUNCHER} -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
set(minimal -DMOE_BUILD_TESTS=OFF -DMOE_BUILD_EXAMPLES=OFF -DMOE_BUILD_BENCHMARKS=OFF -DMOE_WERROR=ON)

# ---- 1. build and install a shared libmoe ----
step("configure moe" ${CMAKE_COMMAND} -S ${MOE_SOURCE_DIR} -B ${WORK_DIR}/moe-build ${common} ${minimal}
  -DBUILD_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX=${prefix} -DCMAKE_INSTALL_LIBDIR=lib)
step("build moe" ${CMAKE_COMMAND} --build ${WORK_DIR}/moe-build)
step("install moe" ${CMAKE_COMMAND} --install ${WORK_DIR}/moe-build)

foreach(f include/moe/moe.h include/moe/moe.hpp include/moe/session.hpp lib/cmake/moe/moeConfig.cmake
          lib/cmake/moe/moeConfigVersion.cmake lib/cmake/moe/moeTargets.cmake lib/pkgconfig/moe.pc lib/libmoe.so
          lib/libmoe.so.0)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "[package] not installed: ${f}")
  endif()
endforeach()
file(READ_SYMLINK ${prefix}/lib/libmoe.so.0 so_target)
if(NOT so_target MATCHES "^libmoe\\.so\\.0\\.[0-9]+\\.[0-9]+$")
  message(FATAL_ERROR "[package] libmoe.so.0 points at '${so_target}'")
endif()

# SONAME, and hidden visibility: the C API and the C++ API classes are exported, internals are not.
find_program(READELF readelf)
find_program(NM nm)
if(READELF)
  step("readelf" ${READELF} -d ${prefix}/lib/libmoe.so)
  if(NOT STEP_OUTPUT MATCHES "SONAME[^\n]*libmoe\\.so\\.0\\]")
    message(FATAL_ERROR "[package] libmoe.so has no SONAME libmoe.so.0:\n${STEP_OUTPUT}")
  endif()
endif()
if(NM)
  step("nm" ${NM} -D -C --defined-only ${prefix}/lib/libmoe.so)
  foreach(sym " moe_model_load\n" " moe_async_start\n" " moe_model_meta_str\n" "moe::v0::model::load("
              "moe::v0::model::meta_key(" "moe::v0::session::eval(")
    string(FIND "${STEP_OUTPUT}" "${sym}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "[package] libmoe.so does not export '${sym}'")
    endif()
  endforeach()
  foreach(internal "moe::v0::gguf::" "moe::v0::executor::" "moe::v0::cpu_backend::" "moe_capi::")
    string(FIND "${STEP_OUTPUT}" "${internal}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "[package] libmoe.so exports internal symbols '${internal}...'")
    endif()
  endforeach()
endif()

# ---- 2. find_package against the installed prefix ----
set(consumer ${CMAKE_CURRENT_LIST_DIR}/consumer)
step("configure consumer (find_package)" ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/consumer-find ${common}
  -DCMAKE_PREFIX_PATH=${prefix})
step("build consumer (find_package)" ${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-find)
step("run consumer_c (find_package)" ${WORK_DIR}/consumer-find/consumer_c ${MODEL})
message(STATUS "${STEP_OUTPUT}")
step("run consumer_cpp (find_package)" ${WORK_DIR}/consumer-find/consumer_cpp ${MODEL})
message(STATUS "${STEP_OUTPUT}")

# ---- 3. pkg-config, plain compiler command line ----
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
  step("pkg-config" ${PKG_CONFIG} --cflags --libs moe)
  string(STRIP "${STEP_OUTPUT}" pc_flags)
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  if(NOT C_COMPILER)
    set(C_COMPILER cc)
  endif()
  step("compile consumer (pkg-config)" ${C_COMPILER} -std=c99 -Wall -Wextra -pedantic -Werror ${consumer}/consumer.c
    ${pc_flags} -Wl,-rpath,${prefix}/lib -o ${WORK_DIR}/consumer_pc)
  step("run consumer (pkg-config)" ${WORK_DIR}/consumer_pc ${MODEL})
  message(STATUS "${STEP_OUTPUT}")
else()
  message(STATUS "[package] pkg-config not found: skipping that consumer")
endif()

# ---- 4. add_subdirectory of the source tree (a static libmoe inside the consumer's build) ----
step("configure consumer (add_subdirectory)" ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/consumer-subdir ${common}
  -DMOE_CONSUMER_SOURCE_DIR=${MOE_SOURCE_DIR} -DMOE_WERROR=ON)
step("build consumer (add_subdirectory)" ${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-subdir)
step("run consumer_c (add_subdirectory)" ${WORK_DIR}/consumer-subdir/consumer_c ${MODEL})
step("run consumer_cpp (add_subdirectory)" ${WORK_DIR}/consumer-subdir/consumer_cpp ${MODEL})
if(EXISTS ${WORK_DIR}/consumer-subdir/moe/moeConfig.cmake)
  message(FATAL_ERROR "[package] add_subdirectory(moe) should not set up installation")
endif()

file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "[package] all consumers built and ran")
