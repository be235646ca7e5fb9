# ncclkit_find_nccl(<mode>)
#
# Finds the NCCL the collective extension links, as NCCLKIT_NCCL=<mode> asks:
#   auto   every FindNCCL step: explicit roots, NCCLConfig.cmake, the nvidia-nccl wheel, the CUDA
#          toolkit, system paths
#   wheel  only the nvidia-nccl wheel of the Python that builds
#   system everything but the wheel
#   off    no NCCL: the collective extension is not built
# Sets in the caller: NCCLKIT_NCCL_PROVIDER (a FindNCCL step, or off) and NCCLKIT_NCCL_WHEEL (the
# distribution name when the wheel provides NCCL, else empty).

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

function(ncclkit_find_nccl mode)
  set(NCCLKIT_NCCL_WHEEL "" PARENT_SCOPE)
  if(mode STREQUAL "off")
    set(NCCLKIT_NCCL_PROVIDER "off" PARENT_SCOPE)
    return()
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
    _ncclkit_nccl_wheel_name(wheel)
    set(NCCLKIT_NCCL_WHEEL "${wheel}" PARENT_SCOPE)
  endif()
  set(NCCLKIT_NCCL_PROVIDER "${NCCL_PROVIDER}" PARENT_SCOPE)
  foreach(var IN ITEMS NCCL_FOUND NCCL_VERSION NCCL_VERSION_CODE NCCL_INCLUDE_DIR NCCL_LIBRARY NCCL_LIBRARY_DIR
                       NCCL_STATIC_LIBRARY)
    set(${var} "${${var}}" PARENT_SCOPE)
  endforeach()
endfunction()
