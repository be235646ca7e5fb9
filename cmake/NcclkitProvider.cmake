# ncclkit_find_nccl()
#
# Finds the NCCL that extensions linking NCCL use, as NCCLKIT_NCCL asks:
#   auto   every FindNCCL step: explicit roots, NCCLConfig.cmake, the nvidia-nccl wheel, the CUDA
#          toolkit, system paths
#   wheel  only the nvidia-nccl wheel of the Python that builds
#   system everything but the wheel
#   off    no NCCL: asking for it is an error
# The search runs once per configure; later calls, from any directory, get the same answer.
# Sets in the caller: NCCLKIT_NCCL_PROVIDER (the FindNCCL step that found it), NCCLKIT_NCCL_WHEEL
# (the distribution name when the wheel provides NCCL, else empty) and FindNCCL's NCCL_* results.
# The targets NCCL::nccl and NCCL::nccl_static are made global.

set(NCCLKIT_MIN_NCCL_VERSION 2.18)

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

set(_NCCLKIT_NCCL_RESULTS NCCLKIT_NCCL_PROVIDER NCCLKIT_NCCL_WHEEL NCCL_FOUND NCCL_VERSION NCCL_VERSION_CODE
  NCCL_INCLUDE_DIR NCCL_LIBRARY NCCL_LIBRARY_DIR NCCL_STATIC_LIBRARY)

function(_ncclkit_search_nccl mode)
  set(NCCLKIT_NCCL_WHEEL "")
  if(mode STREQUAL "off")
    message(FATAL_ERROR
      "An extension asks for NCCL, but NCCLKIT_NCCL=off. Set NCCLKIT_NCCL=auto (or wheel, system), "
      "or build the extension without NCCL.")
  elseif(mode STREQUAL "source" OR mode STREQUAL "rccl")
    message(FATAL_ERROR
      "NCCLKIT_NCCL=${mode} is not implemented yet. Use NCCLKIT_NCCL=auto, wheel or system "
      "(or off to build without NCCL).")
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
  # Imported targets belong to the directory that made them; extensions in any directory link them.
  foreach(target IN ITEMS NCCL::nccl NCCL::nccl_static)
    if(TARGET ${target})
      get_target_property(global ${target} IMPORTED_GLOBAL)
      get_target_property(aliased ${target} ALIASED_TARGET)
      if(NOT global AND NOT aliased)
        set_target_properties(${target} PROPERTIES IMPORTED_GLOBAL TRUE)
      endif()
    endif()
  endforeach()
  foreach(var IN LISTS _NCCLKIT_NCCL_RESULTS)
    set_property(GLOBAL PROPERTY _NCCLKIT_RESULT_${var} "${${var}}")
  endforeach()
endfunction()

function(ncclkit_find_nccl)
  get_property(searched GLOBAL PROPERTY _NCCLKIT_NCCL_SEARCHED)
  if(NOT searched)
    _ncclkit_search_nccl("${NCCLKIT_NCCL}")
    set_property(GLOBAL PROPERTY _NCCLKIT_NCCL_SEARCHED TRUE)
  endif()
  foreach(var IN LISTS _NCCLKIT_NCCL_RESULTS)
    get_property(value GLOBAL PROPERTY _NCCLKIT_RESULT_${var})
    set(${var} "${value}" PARENT_SCOPE)
  endforeach()
endfunction()
