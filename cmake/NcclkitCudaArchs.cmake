# ncclkit_cuda_archs(<spec> [NAME <option>])
#
# Turns NCCLKIT_CUDA_ARCHS (or the <option> named, in messages and as the source) into the
# CUDA_ARCHITECTURES of ncclkit's targets. <spec> is either
#   CMake style:             "80;90a", "80-real;90-virtual" (a bare arch means SASS and PTX, as in CMake)
#   TORCH_CUDA_ARCH_LIST style: "8.0 9.0a+PTX", "8.0;8.6" (SASS only, "+PTX" adds PTX of that arch)
#   "native" or empty:       the visible GPUs' archs (nvidia-smi); with no GPU visible, a compact
#                            list of what this nvcc can build plus PTX of the newest.
# Every arch is checked against `nvcc --list-gpu-code` / `--list-gpu-arch`, and a suffixed one (90a,
# 100f) against nvcc itself. A value of separators only, or a false one (0, OFF, ...), is an error.
#
# ncclkit_nvcc_gencode(<out>) spells the resolved archs as nvcc -gencode flags, for builds that
# take them rather than CUDA_ARCHITECTURES (NCCL's Makefile: NVCC_GENCODE).
# Sets in the caller: NCCLKIT_CUDA_ARCHITECTURES (for the targets), NCCLKIT_CUDA_ARCHS_SASS,
# NCCLKIT_CUDA_ARCHS_PTX (lists like 90a) and NCCLKIT_CUDA_ARCHS_SOURCE (user|visible-gpu|default, or <option>).

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

# The default when no GPU is visible: one arch per GPU generation.
set(NCCLKIT_DEFAULT_CUDA_ARCHS 75 80 86 89 90 100 120)

# Its settings above are made in every scope that includes it, its functions once.
include_guard(GLOBAL)

function(_ncclkit_nvcc_list flag prefix out)
  execute_process(COMMAND "${CMAKE_CUDA_COMPILER}" ${flag}
    OUTPUT_VARIABLE listed RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "`${CMAKE_CUDA_COMPILER} ${flag}` failed (${rc}); is this nvcc older than CUDA 11.0?")
  endif()
  string(REPLACE "${prefix}" "" listed "${listed}")
  string(REGEX REPLACE "[\r\n]+" ";" listed "${listed}")
  set(${out} "${listed}" PARENT_SCOPE)
endfunction()

# nvcc lists base archs only; whether it builds an arch-specific (90a) or family (100f) one is
# asked of nvcc itself, which knows which bases have them (there is no 80a, no 90f). It checks the
# arch before it looks for the host compiler, so the answer needs none.
function(_ncclkit_nvcc_builds kind arch out)
  set(prefix "sm_")
  if(kind STREQUAL "ptx")
    set(prefix "compute_")
  endif()
  execute_process(COMMAND "${CMAKE_CUDA_COMPILER}" --dryrun "-arch=${prefix}${arch}" -x cu -c /dev/null -o /dev/null
    OUTPUT_QUIET ERROR_VARIABLE said)
  if(said MATCHES "Unsupported gpu architecture")
    set(${out} FALSE PARENT_SCOPE)
  else()
    set(${out} TRUE PARENT_SCOPE)
  endif()
endfunction()

function(_ncclkit_visible_gpu_archs out)
  set(archs "")
  find_program(NCCLKIT_NVIDIA_SMI nvidia-smi)
  mark_as_advanced(NCCLKIT_NVIDIA_SMI)
  if(NCCLKIT_NVIDIA_SMI)
    execute_process(COMMAND "${NCCLKIT_NVIDIA_SMI}" --query-gpu=compute_cap --format=csv,noheader
      OUTPUT_VARIABLE caps RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(rc EQUAL 0)
      string(REGEX MATCHALL "[0-9]+\\.[0-9]+" caps "${caps}")
      foreach(cap IN LISTS caps)
        string(REPLACE "." "" arch "${cap}")
        list(APPEND archs "${arch}")
      endforeach()
      list(REMOVE_DUPLICATES archs)
    endif()
  endif()
  set(${out} "${archs}" PARENT_SCOPE)
endfunction()

# Parse <spec> into SASS and PTX lists following the convention it is written in.
function(_ncclkit_parse_archs spec name sass_out ptx_out)
  set(sass "")
  set(ptx "")
  string(REGEX REPLACE "[ \t,]+" ";" entries "${spec}")
  list(REMOVE_ITEM entries "")
  string(FIND "${spec}" "." dot)
  foreach(entry IN LISTS entries)
    string(TOLOWER "${entry}" entry)
    if(NOT dot EQUAL -1)  # TORCH_CUDA_ARCH_LIST style
      if(NOT entry MATCHES "^([0-9]+)\\.([0-9]+)([af]?)(\\+ptx)?$")
        message(FATAL_ERROR "${name}: '${entry}' is not an arch like 8.0, 9.0a or 8.6+PTX (in '${spec}')")
      endif()
      set(arch "${CMAKE_MATCH_1}${CMAKE_MATCH_2}${CMAKE_MATCH_3}")
      list(APPEND sass "${arch}")
      if(CMAKE_MATCH_4)
        list(APPEND ptx "${arch}")
      endif()
    else()  # CMake CUDA_ARCHITECTURES style
      if(NOT entry MATCHES "^([0-9]+[af]?)(-real|-virtual)?$")
        message(FATAL_ERROR "${name}: '${entry}' is not an arch like 80, 90a, 80-real or 90-virtual (in '${spec}')")
      endif()
      if(NOT CMAKE_MATCH_2 STREQUAL "-virtual")
        list(APPEND sass "${CMAKE_MATCH_1}")
      endif()
      if(NOT CMAKE_MATCH_2 STREQUAL "-real")
        list(APPEND ptx "${CMAKE_MATCH_1}")
      endif()
    endif()
  endforeach()
  if(NOT entries)
    message(FATAL_ERROR
      "${name}='${spec}' names no arch. Name them (e.g. \"80;90a\" or \"8.0 9.0a+PTX\"), "
      "or leave it unset for the visible GPUs' archs.")
  endif()
  list(REMOVE_DUPLICATES sass)
  list(REMOVE_DUPLICATES ptx)
  set(${sass_out} "${sass}" PARENT_SCOPE)
  set(${ptx_out} "${ptx}" PARENT_SCOPE)
endfunction()

function(ncclkit_cuda_archs spec)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "NAME" "")
  set(name NCCLKIT_CUDA_ARCHS)
  set(user_source user)
  if(ARG_NAME)
    set(name "${ARG_NAME}")
    set(user_source "${ARG_NAME}")
  endif()
  _ncclkit_nvcc_list(--list-gpu-code "sm_" can_sass)
  _ncclkit_nvcc_list(--list-gpu-arch "compute_" can_ptx)
  string(TOLOWER "${spec}" spec)
  if(spec MATCHES "^(0|off|no|n|false|ignore|notfound|.*-notfound)$")
    message(FATAL_ERROR
      "${name}='${spec}': the CUDA code cannot be turned off. Name the archs "
      "(e.g. \"80;90a\"), or leave it unset for the visible GPUs' archs.")
  endif()
  if(NOT spec STREQUAL "" AND NOT spec STREQUAL "native")
    _ncclkit_parse_archs("${spec}" ${name} sass ptx)
    set(source "${user_source}")
  else()
    _ncclkit_visible_gpu_archs(sass)
    set(ptx "")
    set(source "visible-gpu")
    if(NOT sass)
      if(spec STREQUAL "native")
        message(FATAL_ERROR "${name}=native, but nvidia-smi shows no GPU. Name the archs, e.g. NCCLKIT_CUDA_ARCHS=\"80;90a\".")
      endif()
      set(sass "")
      foreach(arch IN LISTS NCCLKIT_DEFAULT_CUDA_ARCHS)
        if(arch IN_LIST can_sass)
          list(APPEND sass "${arch}")
        endif()
      endforeach()
      list(GET sass -1 ptx)
      set(source "default")
    endif()
  endif()

  set(unsupported "")
  foreach(kind IN ITEMS sass ptx)
    foreach(arch IN LISTS ${kind})
      string(REGEX REPLACE "[af]$" "" base "${arch}")
      set(builds FALSE)
      if(base IN_LIST can_${kind})
        set(builds TRUE)
        if(NOT arch STREQUAL base)
          _ncclkit_nvcc_builds("${kind}" "${arch}" builds)
        endif()
      endif()
      if(NOT builds)
        list(APPEND unsupported "${kind} ${arch}")
      endif()
    endforeach()
  endforeach()
  if(unsupported)
    list(JOIN unsupported ", " unsupported)
    list(JOIN can_sass " " can)
    message(FATAL_ERROR
      "${name}='${spec}' asks for ${unsupported}, which nvcc ${CMAKE_CUDA_COMPILER_VERSION} "
      "(${CMAKE_CUDA_COMPILER}) cannot build.\nIt builds SASS for: ${can}\n"
      "Choose archs from that list, or use an nvcc that supports them.")
  endif()

  set(targets "")
  foreach(arch IN LISTS sass)
    list(APPEND targets "${arch}-real")
  endforeach()
  foreach(arch IN LISTS ptx)
    list(APPEND targets "${arch}-virtual")
  endforeach()
  set(NCCLKIT_CUDA_ARCHITECTURES "${targets}" PARENT_SCOPE)
  set(NCCLKIT_CUDA_ARCHS_SASS "${sass}" PARENT_SCOPE)
  set(NCCLKIT_CUDA_ARCHS_PTX "${ptx}" PARENT_SCOPE)
  set(NCCLKIT_CUDA_ARCHS_SOURCE "${source}" PARENT_SCOPE)
  message(STATUS "CUDA archs (${source}): SASS ${sass}; PTX ${ptx}")
endfunction()

function(ncclkit_nvcc_gencode out)
  set(flags "")
  foreach(arch IN LISTS NCCLKIT_CUDA_ARCHS_SASS)
    list(APPEND flags "-gencode=arch=compute_${arch},code=sm_${arch}")
  endforeach()
  foreach(arch IN LISTS NCCLKIT_CUDA_ARCHS_PTX)
    list(APPEND flags "-gencode=arch=compute_${arch},code=compute_${arch}")
  endforeach()
  list(JOIN flags " " flags)
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()
