# moe_add_llama_ref(REF_DIR)
#
# Builds the conformance reference harness `llama_ref` (tests/conformance/llama_ref.c) against the prebuilt
# llama.cpp CPU libraries installed in REF_DIR by cmake/fetch_llama_ref.sh:
#   REF_DIR/include  llama.h and the ggml headers
#   REF_DIR/lib      libllama.v0.5.0.so, libggml.v0.5.0.so, libggml-base.so, libggml-cpu-<variant>.so
# The executable gets an rpath to REF_DIR/lib and the compile definition MOE_LLAMA_REF_LIB_DIR (where it loads the
# CPU backend variants from; the environment variable MOE_LLAMA_REF_LIB overrides it at run time).

set(_MOE_LLAMA_REF_SOURCE "${CMAKE_CURRENT_LIST_DIR}/../tests/conformance/llama_ref.c"
    "${CMAKE_CURRENT_LIST_DIR}/../tests/conformance/llama_ref_quant.c"
    "${CMAKE_CURRENT_LIST_DIR}/../tests/conformance/llama_ref_vocab.c")

# The harness is C; enable_language() is only allowed at file scope, so do it here, where include() runs.
get_property(_moe_llama_ref_langs GLOBAL PROPERTY ENABLED_LANGUAGES)
if(NOT "C" IN_LIST _moe_llama_ref_langs)
    enable_language(C)
endif()

function(moe_add_llama_ref REF_DIR)
    get_filename_component(_ref_dir "${REF_DIR}" ABSOLUTE)
    set(_inc "${_ref_dir}/include")
    set(_lib "${_ref_dir}/lib")

    if(TARGET llama_ref)
        message(FATAL_ERROR "moe_add_llama_ref: target llama_ref already exists")
    endif()
    if(NOT EXISTS "${_inc}/llama.h")
        message(FATAL_ERROR "moe_add_llama_ref: ${_inc}/llama.h not found (run cmake/fetch_llama_ref.sh ${_ref_dir})")
    endif()

    get_property(_langs GLOBAL PROPERTY ENABLED_LANGUAGES)
    if(NOT "C" IN_LIST _langs)
        message(FATAL_ERROR "moe_add_llama_ref: the C language is not enabled; add C to project() LANGUAGES")
    endif()

    # Imported shared libraries: the file names carry the version, each file is its own SONAME.
    set(_targets)
    foreach(_pair "llama:libllama.v0.5.0.so" "ggml:libggml.v0.5.0.so" "ggml_base:libggml-base.so")
        string(REPLACE ":" ";" _pair "${_pair}")
        list(GET _pair 0 _name)
        list(GET _pair 1 _file)
        set(_tgt "moe_llama_ref_${_name}")
        if(NOT EXISTS "${_lib}/${_file}")
            message(FATAL_ERROR "moe_add_llama_ref: ${_lib}/${_file} not found")
        endif()
        if(NOT TARGET ${_tgt})
            add_library(${_tgt} SHARED IMPORTED GLOBAL)
            set_target_properties(${_tgt} PROPERTIES
                IMPORTED_LOCATION "${_lib}/${_file}"
                IMPORTED_SONAME "${_file}"
                INTERFACE_INCLUDE_DIRECTORIES "${_inc}")
        endif()
        list(APPEND _targets ${_tgt})
    endforeach()

    add_executable(llama_ref ${_MOE_LLAMA_REF_SOURCE})
    target_link_libraries(llama_ref PRIVATE ${_targets} m)
    target_compile_definitions(llama_ref PRIVATE "MOE_LLAMA_REF_LIB_DIR=\"${_lib}\"")
    set_target_properties(llama_ref PROPERTIES
        C_STANDARD 99
        C_STANDARD_REQUIRED ON
        C_EXTENSIONS OFF
        BUILD_RPATH "${_lib}"
        INSTALL_RPATH "${_lib}"
        SKIP_BUILD_RPATH OFF)
    if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(llama_ref PRIVATE -Wall -Wextra)
    endif()
endfunction()
