# moe_install.cmake — install rules and the files a consumer finds the library with: the exported moe::moe target
# (moeConfig.cmake + version file) and moe.pc for pkg-config. Included by the top-level CMakeLists after the library.
include(CMakePackageConfigHelpers)

set(MOE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/moe)

install(TARGETS moe EXPORT moeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/moe DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(EXPORT moeTargets NAMESPACE moe:: DESTINATION ${MOE_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/moeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/moeConfig.cmake INSTALL_DESTINATION ${MOE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/moeConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)  # 0.x: minor versions may break the API
install(FILES ${PROJECT_BINARY_DIR}/moeConfig.cmake ${PROJECT_BINARY_DIR}/moeConfigVersion.cmake
  DESTINATION ${MOE_CMAKE_DIR})

# pkg-config. A static libmoe.a needs the C++ runtime and the threads / dl libraries on a C link line.
set(MOE_PC_LIBS_PRIVATE "")
foreach(lib IN LISTS CMAKE_CXX_IMPLICIT_LINK_LIBRARIES)
  if(NOT lib MATCHES "^(c|gcc|gcc_s|gcc_eh)$")
    list(APPEND MOE_PC_LIBS_PRIVATE -l${lib})
  endif()
endforeach()
list(APPEND MOE_PC_LIBS_PRIVATE ${CMAKE_THREAD_LIBS_INIT})
foreach(lib IN LISTS CMAKE_DL_LIBS)
  list(APPEND MOE_PC_LIBS_PRIVATE -l${lib})
endforeach()
list(REMOVE_DUPLICATES MOE_PC_LIBS_PRIVATE)
list(JOIN MOE_PC_LIBS_PRIVATE " " MOE_PC_LIBS_PRIVATE)
if(BUILD_SHARED_LIBS)
  set(MOE_PC_LIBS "-lmoe")
  set(MOE_PC_CFLAGS "-DMOE_SHARED")
else()
  set(MOE_PC_LIBS "-lmoe ${MOE_PC_LIBS_PRIVATE}")  # only the archive is installed: its dependencies are not private
  set(MOE_PC_LIBS_PRIVATE "")
  set(MOE_PC_CFLAGS "")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(MOE_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(MOE_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(MOE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(MOE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/moe.pc.in ${PROJECT_BINARY_DIR}/moe.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/moe.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
