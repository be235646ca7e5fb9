# How fast ncclkit's builds go, for its own extensions and for NCCL built from source.
#
# ncclkit_build_jobs(<out>)
#   Parallel compile jobs: CMAKE_BUILD_PARALLEL_LEVEL (environment), else MAX_JOBS, else as many as
#   there are cores and memory for: an nvcc job can take gigabytes, and one killed for memory fails
#   the whole build.
# ncclkit_compiler_launcher(<out>)
#   The compiler launcher: CMAKE_CUDA_COMPILER_LAUNCHER when set, else ccache or sccache when
#   installed, else empty.
# NVCC_THREADS (option) is nvcc's own --threads, for several archs of one file at once.

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

# What one nvcc job may take, per nvcc thread.
set(NCCLKIT_MIB_PER_NVCC_JOB 2048)

# Its settings above are made in every scope that includes it, its functions once.
include_guard(GLOBAL)

function(ncclkit_build_jobs out)
  if(DEFINED ENV{CMAKE_BUILD_PARALLEL_LEVEL} AND NOT "$ENV{CMAKE_BUILD_PARALLEL_LEVEL}" STREQUAL "")
    set(${out} "$ENV{CMAKE_BUILD_PARALLEL_LEVEL}" PARENT_SCOPE)
    return()
  endif()
  if(MAX_JOBS)
    set(${out} "${MAX_JOBS}" PARENT_SCOPE)
    return()
  endif()
  cmake_host_system_information(RESULT cores QUERY NUMBER_OF_LOGICAL_CORES)
  cmake_host_system_information(RESULT memory QUERY AVAILABLE_PHYSICAL_MEMORY)
  math(EXPR by_memory "${memory} / (${NCCLKIT_MIB_PER_NVCC_JOB} * ${NVCC_THREADS})")
  set(jobs ${cores})
  if(by_memory LESS jobs)
    set(jobs ${by_memory})
  endif()
  if(jobs LESS 1)
    set(jobs 1)
  endif()
  set(${out} ${jobs} PARENT_SCOPE)
endfunction()

function(ncclkit_compiler_launcher out)
  if(CMAKE_CUDA_COMPILER_LAUNCHER)
    set(${out} "${CMAKE_CUDA_COMPILER_LAUNCHER}" PARENT_SCOPE)
    return()
  endif()
  find_program(NCCLKIT_COMPILER_LAUNCHER NAMES ccache sccache)
  mark_as_advanced(NCCLKIT_COMPILER_LAUNCHER)
  if(NCCLKIT_COMPILER_LAUNCHER)
    set(${out} "${NCCLKIT_COMPILER_LAUNCHER}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()
