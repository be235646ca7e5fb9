# ncclkit_add_extension(<name> SOURCES <file>... [NCCL | RCCL] [ARCHS <spec>] [FEATURES <feature>...]
#                       [DESTINATION <dir>])
#
# Builds the Python extension module <name> (pybind11) with the CUDA settings ncclkit uses for
# its own: the CUDA runtime linked statically, the archs of NCCLKIT_CUDA_ARCHS (or ARCHS, in
# either spelling), compressed fatbins, hidden symbols, ccache/sccache when installed, compile
# jobs in the ncclkit_compile pool (ncclkit_build_jobs()), NVCC_THREADS. Installs it into DESTINATION (default: the
# project's name) with its build record, <name>.build.json, which ncclkit.compat.check_extension()
# checks against the machine at run time.
#
#   NCCL      link NCCL (NCCLKIT_NCCL_STATIC: libnccl_static.a), found once per configure as
#             NCCLKIT_NCCL says, with an RPATH to where it is at run time.
#   RCCL      link RCCL (not implemented yet).
#   FEATURES  NCCL features the extension needs (COMM_SPLIT, FP8, ...: the NCCLKIT_HAS_* names);
#             one the found NCCL lacks is a configure error.
#
# Every extension gets the generated header <ncclkit/config.h> with NCCLKIT_WITH_NCCL,
# NCCLKIT_NCCL_VERSION_CODE and the NCCLKIT_HAS_* macros of the NCCL it links (all 0 without).

include(NcclkitBuildInfo)
include(NcclkitBuildSpeed)
include(NcclkitCudaArchs)
include(NcclkitFeatures)
include(NcclkitProvider)

# FEATURES the found NCCL lacks, with the release that brought each.
function(_ncclkit_require_features name)
  set(missing "")
  foreach(feature IN LISTS ARGN)
    string(TOUPPER "${feature}" feature)
    list(FIND NCCLKIT_FEATURES "NCCLKIT_HAS_${feature}=1" has)
    if(has EQUAL -1)
      list(FIND NCCLKIT_FEATURES "NCCLKIT_HAS_${feature}=0" known)
      if(known EQUAL -1)
        string(REGEX REPLACE "=[^;]*" "" names "${NCCLKIT_NCCL_FEATURE_GATES}")
        list(JOIN names ", " names)
        message(FATAL_ERROR "ncclkit_add_extension(${name}): unknown feature '${feature}'. Features: ${names}.")
      endif()
      set(gate ${NCCLKIT_NCCL_FEATURE_GATES})
      list(FILTER gate INCLUDE REGEX "^${feature}=")
      string(REPLACE "${feature}=" "" since "${gate}")
      list(APPEND missing "${feature} (NCCL ${since})")
    endif()
  endforeach()
  if(missing)
    list(JOIN missing ", " missing)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) needs ${missing}, but NCCL ${NCCL_VERSION} (${NCCL_INCLUDE_DIR}, "
      "found by the ${NCCLKIT_NCCL_PROVIDER} step) is older.\n"
      "Use a newer NCCL: pip install -U nvidia-nccl-cu${CUDAToolkit_VERSION_MAJOR}, or NCCL_ROOT=<a newer install>.")
  endif()
endfunction()

# The RPATH that finds NCCL where it is at run time, never in a build directory: the nvidia-nccl
# wheel beside the installed package, else the directory NCCL was found in.
function(_ncclkit_nccl_rpath target destination)
  if(NCCLKIT_NCCL_STATIC)
    return()
  endif()
  if(NCCLKIT_NCCL_PROVIDER STREQUAL "wheel")
    # From site-packages/<destination>/ back up to site-packages/.
    string(REGEX REPLACE "[^/]+" ".." up "${destination}")
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "$ORIGIN/${up}/nvidia/nccl/lib")
  elseif(NOT NCCL_LIBRARY_DIR IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "${NCCL_LIBRARY_DIR}")
  endif()
endfunction()

function(ncclkit_add_extension name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NCCL;RCCL" "DESTINATION" "SOURCES;ARCHS;FEATURES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): no SOURCES")
  endif()
  if(ARG_RCCL)
    message(FATAL_ERROR "ncclkit_add_extension(${name} ... RCCL): RCCL is not implemented yet; use NCCL.")
  endif()
  if(ARG_FEATURES AND NOT ARG_NCCL)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): FEATURES are NCCL features; add NCCL.")
  endif()
  if(NOT DEFINED ARG_DESTINATION)
    set(ARG_DESTINATION "${PROJECT_NAME}")
  endif()
  string(REGEX REPLACE "/+$" "" destination "${ARG_DESTINATION}")

  if(ARG_NCCL)
    ncclkit_find_nccl()  # before ARCHS: NCCL built from source gets the archs of the whole build
  endif()
  if(ARG_ARCHS)
    ncclkit_cuda_archs("${ARG_ARCHS}")
    set(NCCLKIT_CUDA_ARCHS_SOURCE "extension")
  endif()

  pybind11_add_module(${name} MODULE ${ARG_SOURCES})
  target_compile_features(${name} PRIVATE cxx_std_17 cuda_std_17)
  target_link_libraries(${name} PRIVATE CUDA::cudart_static)
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xfatbin=-compress-all>)
  set_target_properties(${name} PROPERTIES
    CUDA_ARCHITECTURES "${NCCLKIT_CUDA_ARCHITECTURES}"
    CUDA_RUNTIME_LIBRARY Static
    CUDA_VISIBILITY_PRESET hidden
    JOB_POOL_COMPILE ncclkit_compile)
  if(NVCC_THREADS GREATER 1)
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--threads=${NVCC_THREADS}>)
  endif()
  ncclkit_compiler_launcher(launcher)
  if(launcher)
    set_target_properties(${name} PROPERTIES CXX_COMPILER_LAUNCHER "${launcher}" CUDA_COMPILER_LAUNCHER "${launcher}")
  endif()

  if(ARG_NCCL)
    if(NCCLKIT_NCCL_STATIC)
      target_link_libraries(${name} PRIVATE NCCL::nccl_static)
      # Keep NCCL's symbols inside: a process that loaded another libnccl.so.2 (torch's) runs both.
      target_link_options(${name} PRIVATE "LINKER:--exclude-libs,libnccl_static.a")
    else()
      target_link_libraries(${name} PRIVATE NCCL::nccl)
    endif()
    _ncclkit_nccl_rpath(${name} "${destination}")
  else()
    set(NCCLKIT_NCCL_PROVIDER off)
    set(NCCL_VERSION_CODE "")
  endif()

  set(include_dir "${CMAKE_CURRENT_BINARY_DIR}/${name}_include")
  ncclkit_nccl_features("${NCCL_VERSION_CODE}" "${include_dir}/ncclkit/config.h")
  _ncclkit_require_features(${name} ${ARG_FEATURES})
  target_include_directories(${name} PRIVATE "${include_dir}")

  string(REPLACE "/" "." module "${destination}.${name}")
  set(record "$<TARGET_FILE_DIR:${name}>/${name}.build.json")
  ncclkit_write_build_record(${name} "${module}" "${record}")
  install(TARGETS ${name} LIBRARY DESTINATION "${destination}")
  install(FILES "${record}" DESTINATION "${destination}")
endfunction()
