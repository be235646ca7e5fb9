# NCCL built from its source tree during the build, by NCCL's own build system.
#
# ncclkit_nccl_source_dir(<out>)
#   NCCL_SOURCE_DIR when set, else <top source dir>/third_party/nccl when it holds a tree (the
#   submodule is populated), else empty.
# ncclkit_build_nccl_from_source(<source_dir>)
#   Builds libnccl_static.a for the archs ncclkit is built for (NCCLKIT_CUDA_ARCHITECTURES):
#   through NCCL's CMakeLists.txt when the tree has one (NCCL >= 2.28), else its Makefile
#   (`make src.build`). Defines NCCL::nccl_static and sets FindNCCL's result variables in the
#   caller, with NCCL_PROVIDER "source", NCCL_SOURCE_DIR, NCCL_SOURCE_COMMIT and NCCL_BUILD_STYLE.
#
# The build directory, <build dir>/nccl, lives as long as the CMake build directory (set
# scikit-build-core's build-dir to keep it between `pip install` runs); NCCL's own incremental
# build then makes an unchanged NCCL a no-op.

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(ExternalProject)
include(NcclkitBuildSpeed)
include(NcclkitCudaArchs)
include(NcclkitFeatures)
include(NcclkitGit)

include_guard(GLOBAL)

function(ncclkit_nccl_source_dir out)
  if(NCCL_SOURCE_DIR)
    set(${out} "${NCCL_SOURCE_DIR}" PARENT_SCOPE)
  elseif(EXISTS "${CMAKE_SOURCE_DIR}/third_party/nccl/makefiles/version.mk")
    set(${out} "${CMAKE_SOURCE_DIR}/third_party/nccl" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# NCCL_MAJOR/MINOR/PATCH from makefiles/version.mk, which both of NCCL's builds read.
function(_ncclkit_nccl_source_version source_dir out)
  set(file "${source_dir}/makefiles/version.mk")
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR
      "NCCL source tree ${source_dir} has no makefiles/version.mk: it is not an NCCL checkout.\n"
      "Populate the submodule (git submodule update --init third_party/nccl) or set NCCL_SOURCE_DIR "
      "to a checkout of https://github.com/NVIDIA/nccl.")
  endif()
  file(READ "${file}" content)
  set(parts "")
  foreach(part IN ITEMS MAJOR MINOR PATCH)
    if(NOT content MATCHES "NCCL_${part}[ \t]*:=[ \t]*([0-9]+)")
      message(FATAL_ERROR "${file} has no NCCL_${part} := <number> line.")
    endif()
    list(APPEND parts "${CMAKE_MATCH_1}")
  endforeach()
  list(JOIN parts "." version)
  set(${out} "${version}" PARENT_SCOPE)
endfunction()

function(ncclkit_build_nccl_from_source source_dir)
  cmake_path(ABSOLUTE_PATH source_dir NORMALIZE)
  _ncclkit_nccl_source_version("${source_dir}" version)
  ncclkit_tree_commit("${source_dir}" commit)
  set(build_dir "${CMAKE_BINARY_DIR}/nccl")
  ncclkit_build_jobs(jobs)
  ncclkit_compiler_launcher(launcher)
  cmake_path(GET CUDAToolkit_BIN_DIR PARENT_PATH cuda_home)

  if(EXISTS "${source_dir}/CMakeLists.txt")
    set(style cmake)
    string(REPLACE ";" "|" archs "${NCCLKIT_CUDA_ARCHITECTURES}")  # one argument, not a list
    set(cuda_flags "")
    if(NVCC_THREADS GREATER 1)
      set(cuda_flags "--threads ${NVCC_THREADS}")
    endif()
    ExternalProject_Add(ncclkit_nccl
      SOURCE_DIR "${source_dir}"
      BINARY_DIR "${build_dir}"
      CMAKE_ARGS
        -DCMAKE_BUILD_TYPE=Release
        "-DCMAKE_CUDA_ARCHITECTURES=${archs}"
        "-DCMAKE_CUDA_COMPILER=${CMAKE_CUDA_COMPILER}"
        "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
        "-DCMAKE_CUDA_COMPILER_LAUNCHER=${launcher}"
        "-DCMAKE_CXX_COMPILER_LAUNCHER=${launcher}"
        "-DCMAKE_CUDA_FLAGS=${cuda_flags}"
      LIST_SEPARATOR |
      BUILD_COMMAND "${CMAKE_COMMAND}" --build <BINARY_DIR> --target nccl_static --parallel ${jobs}
      INSTALL_COMMAND ""
      BUILD_ALWAYS TRUE
      USES_TERMINAL_CONFIGURE TRUE
      USES_TERMINAL_BUILD TRUE
      BUILD_BYPRODUCTS "${build_dir}/lib/libnccl_static.a")
  else()
    set(style make)
    find_program(NCCLKIT_MAKE NAMES gmake make REQUIRED)
    mark_as_advanced(NCCLKIT_MAKE)
    ncclkit_nvcc_gencode(gencode)
    set(nvcc "${CMAKE_CUDA_COMPILER}")
    if(NVCC_THREADS GREATER 1)
      string(APPEND nvcc " --threads ${NVCC_THREADS}")
    endif()
    if(launcher)
      set(nvcc "${launcher} ${nvcc}")
    endif()
    ExternalProject_Add(ncclkit_nccl
      SOURCE_DIR "${source_dir}"
      BINARY_DIR "${build_dir}"
      CONFIGURE_COMMAND ""
      BUILD_COMMAND "${NCCLKIT_MAKE}" -C "${source_dir}" -j${jobs} src.build
        "BUILDDIR=${build_dir}" "NVCC_GENCODE=${gencode}" "NVCC=${nvcc}" "CXX=${CMAKE_CXX_COMPILER}"
        "CUDA_HOME=${cuda_home}"
      INSTALL_COMMAND ""
      BUILD_ALWAYS TRUE
      USES_TERMINAL_BUILD TRUE
      BUILD_BYPRODUCTS "${build_dir}/lib/libnccl_static.a")
  endif()
  message(STATUS "NCCL ${version} from source: ${source_dir} (commit ${commit}), built with its ${style} build "
                 "into ${build_dir}: ${jobs} jobs, archs ${NCCLKIT_CUDA_ARCHITECTURES}, launcher '${launcher}'")

  # The header appears when NCCL builds; an imported target's include directory must exist now.
  file(MAKE_DIRECTORY "${build_dir}/include")
  find_package(Threads REQUIRED)
  add_library(NCCL::nccl_static STATIC IMPORTED GLOBAL)
  set_target_properties(NCCL::nccl_static PROPERTIES
    IMPORTED_LOCATION "${build_dir}/lib/libnccl_static.a"
    INTERFACE_INCLUDE_DIRECTORIES "${build_dir}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};rt;CUDA::cudart_static")
  add_dependencies(NCCL::nccl_static ncclkit_nccl)

  ncclkit_nccl_version_code("${version}" code)
  set(NCCL_FOUND TRUE PARENT_SCOPE)
  set(NCCL_PROVIDER source PARENT_SCOPE)
  set(NCCL_VERSION "${version}" PARENT_SCOPE)
  set(NCCL_VERSION_CODE "${code}" PARENT_SCOPE)
  set(NCCL_INCLUDE_DIR "${build_dir}/include" PARENT_SCOPE)
  set(NCCL_LIBRARY "" PARENT_SCOPE)
  set(NCCL_LIBRARY_DIR "${build_dir}/lib" PARENT_SCOPE)
  set(NCCL_STATIC_LIBRARY "${build_dir}/lib/libnccl_static.a" PARENT_SCOPE)
  set(NCCL_SOURCE_DIR "${source_dir}" PARENT_SCOPE)
  set(NCCL_SOURCE_COMMIT "${commit}" PARENT_SCOPE)
  set(NCCL_BUILD_STYLE "${style}" PARENT_SCOPE)
endfunction()
