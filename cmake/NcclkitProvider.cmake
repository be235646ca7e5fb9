# ncclkit_find_nccl()
#
# Finds the NCCL that extensions linking NCCL use, as NCCLKIT_NCCL asks:
#   auto   every FindNCCL step: explicit roots, NCCLConfig.cmake, the nvidia-nccl wheel, the CUDA
#          toolkit, system paths
#   wheel  only the nvidia-nccl wheel of the Python that builds
#   system everything but the wheel
#   source NCCL built from source (NcclkitNcclSource.cmake), linked statically; auto does this too
#          when an NCCL source tree is there and no install is named (NCCL_ROOT, NCCL_HOME,
#          NCCL_INCLUDE_DIR, NCCL_LIB_DIR, NCCL_DIR)
#   rccl   RCCL (FindRCCL), for ROCm; auto means this in a project that compiles HIP and not CUDA
#   off    no NCCL: asking for it is an error
# The search runs once per configure; later calls, from any directory, get the same answer.
# Sets in the caller: NCCLKIT_NCCL_PROVIDER (the FindNCCL step that found it), NCCLKIT_NCCL_WHEEL
# (the distribution name when the wheel provides NCCL, else empty) and FindNCCL's NCCL_* results.
# The targets NCCL::nccl and NCCL::nccl_static are made global.

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitFeatures)
include(NcclkitNcclSource)
include(NcclkitBuildEnvironment)

# The oldest header the bindings build against: the release of the feature table's CORE.
ncclkit_nccl_feature(CORE _ncclkit_core)
set(NCCLKIT_MIN_NCCL_VERSION "${_ncclkit_core_SINCE}")
set(NCCLKIT_NCCL_INSTALL_HINTS NCCL_ROOT NCCL_HOME NCCL_INCLUDE_DIR NCCL_LIB_DIR NCCL_DIR)
# What a search finds, kept for every later ncclkit_find_nccl() of the configure.
set(_NCCLKIT_NCCL_RESULTS NCCLKIT_NCCL_PROVIDER NCCLKIT_NCCL_WHEEL NCCLKIT_NCCL_STATIC NCCL_FOUND NCCL_VERSION
  NCCL_VERSION_CODE NCCL_INCLUDE_DIR NCCL_LIBRARY NCCL_LIBRARY_DIR NCCL_STATIC_LIBRARY NCCL_SOURCE_DIR
  NCCL_SOURCE_COMMIT NCCL_BUILD_STYLE)

# Its settings above are made in every scope that includes it, its functions once.
include_guard(GLOBAL)

function(_ncclkit_nccl_wheel_name out)
  # The wheel unpacks as <site>/nvidia/nccl/{include,lib} beside <site>/nvidia_nccl_cuXX-*.dist-info.
  cmake_path(GET NCCL_INCLUDE_DIR PARENT_PATH nccl_dir)
  cmake_path(GET nccl_dir PARENT_PATH nvidia_dir)
  cmake_path(GET nvidia_dir PARENT_PATH site)
  file(GLOB dists LIST_DIRECTORIES true "${site}/nvidia_nccl_cu*.dist-info")
  list(LENGTH dists count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR
      "Expected one nvidia-nccl wheel in ${site}, found ${count}: ${dists}\n"
      "Wheels for different CUDA majors overwrite each other's libnccl.so.2. "
      "Uninstall all but nvidia-nccl-cu${CUDAToolkit_VERSION_MAJOR}.")
  endif()
  cmake_path(GET dists FILENAME dist)
  string(REGEX REPLACE "^(nvidia_nccl_cu[0-9]+)-.*" "\\1" dist "${dist}")
  string(REPLACE "_" "-" dist "${dist}")
  set(${out} "${dist}" PARENT_SCOPE)
endfunction()

# NCCL's library names the CUDA it was built for ("NCCL version 2.28.3+cuda13.0"): a library for
# another CUDA major than nvcc's would load the wrong runtime pieces next to ours.
function(_ncclkit_check_nccl_cuda_major)
  file(STRINGS "${NCCL_LIBRARY}" banner REGEX "NCCL version [0-9.]+\\+cuda[0-9]+" LIMIT_COUNT 1)
  if(banner MATCHES "\\+cuda([0-9]+)" AND NOT CMAKE_MATCH_1 EQUAL CUDAToolkit_VERSION_MAJOR)
    message(FATAL_ERROR
      "NCCL at ${NCCL_LIBRARY} was built for CUDA ${CMAKE_MATCH_1}, but this build uses CUDA "
      "${CMAKE_CUDA_COMPILER_VERSION} (${CMAKE_CUDA_COMPILER}).\n"
      "Use an NCCL built for CUDA ${CUDAToolkit_VERSION_MAJOR} "
      "(pip install nvidia-nccl-cu${CUDAToolkit_VERSION_MAJOR}, or NCCL_ROOT=...), "
      "or point CUDACXX at a CUDA ${CMAKE_MATCH_1} nvcc.")
  endif()
endfunction()

# Keep this configure's answer for every later ncclkit_find_nccl().
macro(_ncclkit_remember_nccl)
  foreach(var IN LISTS _NCCLKIT_NCCL_RESULTS)
    set_property(GLOBAL PROPERTY _NCCLKIT_RESULT_${var} "${${var}}")
  endforeach()
endmacro()

# Whether an NCCL install is named, in the cache or the environment.
function(_ncclkit_install_named out)
  foreach(hint IN LISTS NCCLKIT_NCCL_INSTALL_HINTS)
    if(NOT "$CACHE{${hint}}" STREQUAL "" OR NOT "$ENV{${hint}}" STREQUAL "")
      set(${out} TRUE PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} FALSE PARENT_SCOPE)
endfunction()

function(_ncclkit_nccl_from_source source_dir)
  get_property(static_origin GLOBAL PROPERTY NCCLKIT_OPTION_ORIGIN_NCCLKIT_NCCL_STATIC)
  if(NOT NCCLKIT_NCCL_STATIC AND NOT static_origin STREQUAL "default")
    message(FATAL_ERROR
      "NCCLKIT_NCCL_STATIC=${NCCLKIT_NCCL_STATIC} (from the ${static_origin}), but NCCL built from source "
      "is linked statically. Unset NCCLKIT_NCCL_STATIC, or use an installed NCCL (NCCLKIT_NCCL=system or wheel).")
  endif()
  ncclkit_build_nccl_from_source("${source_dir}")
  if(NCCL_VERSION VERSION_LESS NCCLKIT_MIN_NCCL_VERSION)
    message(FATAL_ERROR
      "NCCL source tree ${NCCL_SOURCE_DIR} is NCCL ${NCCL_VERSION}; ncclkit needs ${NCCLKIT_MIN_NCCL_VERSION} or newer.")
  endif()
  set(NCCLKIT_NCCL_PROVIDER source)
  set(NCCLKIT_NCCL_WHEEL "")
  set(NCCLKIT_NCCL_STATIC ON)
  _ncclkit_remember_nccl()
endfunction()

# RCCL's results under FindNCCL's names: its NCCL-compatible version stands in for NCCL's, so the
# feature macros and the build record treat both alike.
function(_ncclkit_nccl_from_rccl)
  if(NCCLKIT_NCCL_STATIC)
    message(FATAL_ERROR "NCCLKIT_NCCL=rccl links librccl.so, and NCCLKIT_NCCL_STATIC is ON: unset it.")
  endif()
  find_package(RCCL ${NCCLKIT_MIN_NCCL_VERSION} REQUIRED)
  get_target_property(global RCCL::rccl IMPORTED_GLOBAL)
  if(NOT global)
    set_target_properties(RCCL::rccl PROPERTIES IMPORTED_GLOBAL TRUE)
  endif()
  set(NCCLKIT_NCCL_PROVIDER rccl)
  set(NCCLKIT_NCCL_WHEEL "")
  set(NCCL_FOUND TRUE)
  set(NCCL_VERSION "${RCCL_VERSION}")
  set(NCCL_VERSION_CODE "${RCCL_VERSION_CODE}")
  set(NCCL_INCLUDE_DIR "${RCCL_INCLUDE_DIR}")
  set(NCCL_LIBRARY "${RCCL_LIBRARY}")
  cmake_path(GET RCCL_LIBRARY PARENT_PATH NCCL_LIBRARY_DIR)
  _ncclkit_remember_nccl()
endfunction()

# NCCLKIT_NCCL as this project reads it: auto is rccl where the project compiles HIP and not CUDA.
function(ncclkit_nccl_mode out)
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  set(mode "${NCCLKIT_NCCL}")
  if(mode STREQUAL "auto" AND "HIP" IN_LIST languages AND NOT "CUDA" IN_LIST languages)
    set(mode rccl)
  endif()
  set(${out} "${mode}" PARENT_SCOPE)
endfunction()

function(_ncclkit_search_nccl mode)
  set(NCCLKIT_NCCL_WHEEL "")
  if(mode STREQUAL "off")
    message(FATAL_ERROR
      "An extension asks for NCCL, but NCCLKIT_NCCL=off. Set NCCLKIT_NCCL=auto (or wheel, system), "
      "or build the extension without NCCL.")
  elseif(mode STREQUAL "rccl")
    _ncclkit_nccl_from_rccl()
    return()
  elseif(mode STREQUAL "source" OR mode STREQUAL "auto")
    ncclkit_nccl_source_dir(source_dir)
    _ncclkit_install_named(named)
    if(mode STREQUAL "source" AND NOT source_dir)
      message(FATAL_ERROR
        "NCCLKIT_NCCL=source, but there is no NCCL source: ${CMAKE_SOURCE_DIR}/third_party/nccl is empty "
        "and NCCL_SOURCE_DIR is not set.\n"
        "Run `git submodule update --init third_party/nccl`, or set NCCL_SOURCE_DIR to an NCCL checkout.")
    endif()
    if(mode STREQUAL "source" OR (source_dir AND NOT named))
      _ncclkit_nccl_from_source("${source_dir}")
      return()
    endif()
  elseif(mode STREQUAL "wheel")
    set(NCCL_SEARCH_STEPS wheel)
  elseif(mode STREQUAL "system")
    set(NCCL_SEARCH_STEPS explicit config toolkit system)
  endif()
  set(NCCL_USE_STATIC ${NCCLKIT_NCCL_STATIC})
  find_package(NCCL ${NCCLKIT_MIN_NCCL_VERSION} REQUIRED)
  _ncclkit_check_nccl_cuda_major()
  if(NCCL_PROVIDER STREQUAL "wheel")
    _ncclkit_nccl_wheel_name(NCCLKIT_NCCL_WHEEL)
  endif()
  set(NCCLKIT_NCCL_PROVIDER "${NCCL_PROVIDER}")
  # The header the bindings include (NcclkitNcclBinding.cmake), at the path its target gives too.
  ncclkit_stable_path("${NCCL_INCLUDE_DIR}" NCCL_INCLUDE_DIR)
  # Imported targets belong to the directory that made them; extensions in any directory link them.
  foreach(target IN ITEMS NCCL::nccl NCCL::nccl_static)
    if(TARGET ${target})
      ncclkit_stable_paths(${target})
      get_target_property(global ${target} IMPORTED_GLOBAL)
      get_target_property(aliased ${target} ALIASED_TARGET)
      if(NOT global AND NOT aliased)
        set_target_properties(${target} PROPERTIES IMPORTED_GLOBAL TRUE)
      endif()
    endif()
  endforeach()
  _ncclkit_remember_nccl()
endfunction()

function(ncclkit_find_nccl)
  get_property(searched GLOBAL PROPERTY _NCCLKIT_NCCL_SEARCHED)
  if(NOT searched)
    ncclkit_nccl_mode(mode)
    _ncclkit_search_nccl("${mode}")
    set_property(GLOBAL PROPERTY _NCCLKIT_NCCL_SEARCHED TRUE)
  endif()
  foreach(var IN LISTS _NCCLKIT_NCCL_RESULTS)
    get_property(value GLOBAL PROPERTY _NCCLKIT_RESULT_${var})
    set(${var} "${value}" PARENT_SCOPE)
  endforeach()
endfunction()
