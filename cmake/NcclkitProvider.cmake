# ncclkit_find_nccl()
#
# Finds the NCCL that targets linking NCCL use, as NCCLKIT_NCCL asks:
#   auto   every FindNCCL step: explicit roots, NCCLConfig.cmake, the nvidia-nccl wheel, the CUDA
#          toolkit, system paths
#   wheel  only the nvidia-nccl wheel of the Python that builds
#   system everything but the wheel
#   source NCCL built from source (NcclkitNcclSource.cmake), linked statically; auto does this too
#          when an NCCL source tree is there and no install is named (NCCL_ROOT, NCCL_HOME,
#          NCCL_INCLUDE_DIR, NCCL_LIB_DIR, NCCL_DIR)
#   rccl   RCCL (FindRCCL), for ROCm; auto means this in a project that compiles HIP and not CUDA
#   off    no NCCL: asking for it is an error
# The search runs once per configure: its answer is the global INTERFACE target ncclkit::nccl,
# which links NCCL::nccl, NCCL::nccl_static (NCCL's symbols kept inside what links it) or
# RCCL::rccl, with CUDA's headers for NCCL's, and carries what was found as properties, read with get_target_property():
#   NCCLKIT_PROVIDER       the FindNCCL step that found it (explicit, config, wheel, toolkit,
#                          system), or source, or rccl
#   NCCLKIT_VERSION        X.Y.Z of the header (RCCL: its NCCL-compatible version)
#   NCCLKIT_VERSION_CODE   NCCL_VERSION_CODE of the header
#   NCCLKIT_STATIC         ON when linked statically
#   NCCLKIT_WHEEL          the nvidia-nccl distribution when the wheel provides NCCL, else empty
#   NCCLKIT_INCLUDE_DIR    where nccl.h is
#   NCCLKIT_LIBRARY        the library linked (libnccl.so, libnccl_static.a or librccl.so)
#   NCCLKIT_LIBRARY_DIR    its directory
#   NCCLKIT_SOURCE_DIR, NCCLKIT_SOURCE_COMMIT, NCCLKIT_BUILD_STYLE   for NCCL built from source

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitFeatures)
include(NcclkitNcclSource)
include(NcclkitBuildEnvironment)

# The oldest header the bindings build against: the release of the feature table's CORE.
ncclkit_nccl_feature(CORE _ncclkit_core)
set(NCCLKIT_MIN_NCCL_VERSION "${_ncclkit_core_SINCE}")
set(NCCLKIT_NCCL_INSTALL_HINTS NCCL_ROOT NCCL_HOME NCCL_INCLUDE_DIR NCCL_LIB_DIR NCCL_DIR)

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

# ncclkit::nccl from FindNCCL's results in the caller's scope (or the source build's, or RCCL's
# under those names), linking <linked>.
function(_ncclkit_nccl_target provider wheel static linked)
  add_library(ncclkit::nccl INTERFACE IMPORTED GLOBAL)
  target_link_libraries(ncclkit::nccl INTERFACE ${linked})
  if(NOT provider STREQUAL "rccl")
    target_link_libraries(ncclkit::nccl INTERFACE CUDA::toolkit)  # nccl.h includes CUDA's headers
  endif()
  set(library "${NCCL_LIBRARY}")
  if(static)
    set(library "${NCCL_STATIC_LIBRARY}")
    # Keep NCCL's symbols inside: a process that loaded another libnccl.so.2 (torch's) runs both.
    target_link_options(ncclkit::nccl INTERFACE "LINKER:--exclude-libs,libnccl_static.a")
  endif()
  set_target_properties(ncclkit::nccl PROPERTIES
    NCCLKIT_PROVIDER "${provider}"
    NCCLKIT_VERSION "${NCCL_VERSION}"
    NCCLKIT_VERSION_CODE "${NCCL_VERSION_CODE}"
    NCCLKIT_STATIC "${static}"
    NCCLKIT_WHEEL "${wheel}"
    NCCLKIT_INCLUDE_DIR "${NCCL_INCLUDE_DIR}"
    NCCLKIT_LIBRARY "${library}"
    NCCLKIT_LIBRARY_DIR "${NCCL_LIBRARY_DIR}"
    NCCLKIT_SOURCE_DIR "${NCCL_SOURCE_DIR}"
    NCCLKIT_SOURCE_COMMIT "${NCCL_SOURCE_COMMIT}"
    NCCLKIT_BUILD_STYLE "${NCCL_BUILD_STYLE}")
endfunction()

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
  _ncclkit_nccl_target(source "" ON NCCL::nccl_static)
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
  set(NCCL_VERSION "${RCCL_VERSION}")
  set(NCCL_VERSION_CODE "${RCCL_VERSION_CODE}")
  set(NCCL_INCLUDE_DIR "${RCCL_INCLUDE_DIR}")
  set(NCCL_LIBRARY "${RCCL_LIBRARY}")
  cmake_path(GET RCCL_LIBRARY PARENT_PATH NCCL_LIBRARY_DIR)
  _ncclkit_nccl_target(rccl "" OFF RCCL::rccl)
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
  set(wheel "")
  if(NCCL_PROVIDER STREQUAL "wheel")
    _ncclkit_nccl_wheel_name(wheel)
  endif()
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
  if(NCCLKIT_NCCL_STATIC)
    _ncclkit_nccl_target("${NCCL_PROVIDER}" "${wheel}" ON NCCL::nccl_static)
  else()
    _ncclkit_nccl_target("${NCCL_PROVIDER}" "${wheel}" OFF NCCL::nccl)
  endif()
endfunction()

function(ncclkit_find_nccl)
  if(NOT TARGET ncclkit::nccl)
    ncclkit_nccl_mode(mode)
    _ncclkit_search_nccl("${mode}")
  endif()
endfunction()
