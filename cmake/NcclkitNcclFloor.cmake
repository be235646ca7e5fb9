# ncclkit_nccl_floor(<name> <prefix> VERSION <x.y.z> PROVIDER <step> INCLUDE_DIR <dir> LIBRARY <path>
#                    [STATIC] [WHEEL <distribution>] [FEATURES <feature>...])
#
# The support floor of target <name>, built against NCCL <x.y.z> in <dir> (found by the <step>:
# the properties of ncclkit::nccl, NcclkitProvider.cmake): the oldest NCCL it runs with. The wheel requires
# nvidia-nccl-cuXX>=FLOOR,<NEXT_MAJOR whatever header it was built against, and the import check
# compares the loaded NCCL with the floor, not with the header; entry points newer than the floor
# are bound so that an older NCCL still loads (NcclkitNcclBinding.cmake). The floor is the
# highest of:
#   - the floor of the CUDA major (NCCLKIT_NCCL_FLOORS);
#   - NCCLKIT_NCCL_MIN, which may raise it and never lower it;
#   - the release of each FEATURES entry, which the extension cannot do without.
# NCCL linked statically (source, NCCLKIT_NCCL_STATIC) and RCCL have the version built against as
# their floor: the NCCL that runs is the one linked; NCCLKIT_NCCL_MIN may not be newer.
#
# Sets in the caller: <prefix>_FLOOR (X.Y.Z), <prefix>_FLOOR_CODE, <prefix>_FLOOR_REASON (what set
# it, in words) and <prefix>_REQUIREMENT (the Requires-Dist of the nvidia-nccl wheel, empty when
# NCCL does not come from one).
cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets
include(NcclkitFeatures)

# The floor of each CUDA major, and why:
#   12  2.18.1: the oldest nvidia-nccl-cu12 with ncclCommSplit (2.18), the newest entry point the
#       bindings call unconditionally; torch 2.1, the first torch for CUDA 12, pinned it, and every
#       later torch for CUDA 12 pins a newer one.
#   13  2.27.7: the oldest nvidia-nccl-cu13 there is.
# For another major the floor is the header's version.
set(NCCLKIT_NCCL_FLOORS 12=2.18.1 13=2.27.7)

# Its settings above are made in every scope that includes it, its functions once.
include_guard(GLOBAL)

# X.Y or X.Y.Z as X.Y.Z; empty for anything else.
function(_ncclkit_full_version value out)
  set(full "")
  if(value MATCHES "^([0-9]+)\\.([0-9]+)(\\.([0-9]+))?$")
    set(patch "${CMAKE_MATCH_4}")
    if(patch STREQUAL "")
      set(patch 0)
    endif()
    set(full "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.${patch}")
  endif()
  set(${out} "${full}" PARENT_SCOPE)
endfunction()

# The floor of this build's CUDA major, and why.
function(_ncclkit_cuda_floor header out_floor out_reason)
  foreach(entry IN LISTS NCCLKIT_NCCL_FLOORS)
    if(entry MATCHES "^${CUDAToolkit_VERSION_MAJOR}=(.*)$")
      set(${out_floor} "${CMAKE_MATCH_1}" PARENT_SCOPE)
      set(${out_reason} "the floor for CUDA ${CUDAToolkit_VERSION_MAJOR}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out_floor} "${header}" PARENT_SCOPE)
  set(${out_reason} "the header's version: ncclkit knows no floor for CUDA ${CUDAToolkit_VERSION_MAJOR}" PARENT_SCOPE)
endfunction()

# NCCLKIT_NCCL_MIN as X.Y.Z, checked against the header's major; empty when unset.
function(_ncclkit_nccl_min name header include_dir out)
  set(${out} "" PARENT_SCOPE)
  if("${NCCLKIT_NCCL_MIN}" STREQUAL "")
    return()
  endif()
  get_property(origin GLOBAL PROPERTY NCCLKIT_OPTION_ORIGIN_NCCLKIT_NCCL_MIN)
  _ncclkit_full_version("${NCCLKIT_NCCL_MIN}" min)
  if(NOT min)
    message(FATAL_ERROR
      "NCCLKIT_NCCL_MIN='${NCCLKIT_NCCL_MIN}' (from the ${origin}) is not an NCCL version: give X.Y or X.Y.Z, e.g. 2.30.7.")
  endif()
  string(REGEX MATCH "^[0-9]+" min_major "${min}")
  string(REGEX MATCH "^[0-9]+" header_major "${header}")
  if(NOT min_major EQUAL header_major)
    message(FATAL_ERROR
      "NCCLKIT_NCCL_MIN=${NCCLKIT_NCCL_MIN} (from the ${origin}) is NCCL ${min_major}, and ${name} is built against "
      "NCCL ${header} (${include_dir}): the floor keeps the header's major. Give a ${header_major}.x version.")
  endif()
  set(${out} "${min}" PARENT_SCOPE)
endfunction()

function(ncclkit_nccl_floor name prefix)
  cmake_parse_arguments(PARSE_ARGV 2 ARG "STATIC" "VERSION;PROVIDER;INCLUDE_DIR;LIBRARY;WHEEL" "FEATURES")
  set(header "${ARG_VERSION}")
  if(ARG_STATIC OR ARG_PROVIDER STREQUAL "rccl")
    set(floor "${header}")
    if(ARG_PROVIDER STREQUAL "rccl")
      set(reason "RCCL's version built against")
      set(linked "RCCL ${header} (${ARG_LIBRARY})")
    else()
      set(reason "the version linked statically")
      set(linked "NCCL ${header}, linked statically (${ARG_LIBRARY})")
    endif()
    _ncclkit_nccl_min(${name} "${header}" "${ARG_INCLUDE_DIR}" min)
    if(min VERSION_GREATER header)
      message(FATAL_ERROR
        "NCCLKIT_NCCL_MIN=${NCCLKIT_NCCL_MIN} asks ${name} for NCCL ${min} or newer, and what it links is ${linked}, "
        "which is also what runs. Use a newer NCCL, or unset NCCLKIT_NCCL_MIN.")
    endif()
  else()
    _ncclkit_cuda_floor("${header}" floor reason)
    _ncclkit_nccl_min(${name} "${header}" "${ARG_INCLUDE_DIR}" min)
    if(min AND min VERSION_LESS floor)
      get_property(origin GLOBAL PROPERTY NCCLKIT_OPTION_ORIGIN_NCCLKIT_NCCL_MIN)
      message(FATAL_ERROR
        "NCCLKIT_NCCL_MIN=${NCCLKIT_NCCL_MIN} (from the ${origin}) is below ${name}'s floor, NCCL ${floor} (${reason}): "
        "NCCLKIT_NCCL_MIN raises the floor, never lowers it. Unset it, or give ${floor} or newer.")
    elseif(min VERSION_GREATER floor)
      set(floor "${min}")
      set(reason "NCCLKIT_NCCL_MIN")
    endif()
    foreach(feature IN LISTS ARG_FEATURES)
      ncclkit_nccl_feature(${feature} gate)
      if(gate_SINCE VERSION_GREATER floor)
        set(floor "${gate_SINCE}")
        set(reason "FEATURES ${feature}")
      endif()
    endforeach()
  endif()
  ncclkit_nccl_version_code("${floor}" floor_code)
  if(header VERSION_LESS floor)
    message(WARNING
      "${name} is built against NCCL ${header}'s header (${ARG_INCLUDE_DIR}), older than its floor, NCCL ${floor} (${reason}): what came "
      "between them is compiled out, though every NCCL it runs with has it. Build against a newer header: "
      "pip install -U nvidia-nccl-cu${CUDAToolkit_VERSION_MAJOR}, or NCCL_ROOT=<a newer install>.")
  endif()

  set(requirement "")
  if(ARG_PROVIDER STREQUAL "wheel" AND NOT ARG_STATIC)
    string(REGEX MATCH "^[0-9]+" major "${header}")
    math(EXPR next_major "${major} + 1")
    set(requirement "${ARG_WHEEL}>=${floor},<${next_major}")
  endif()
  set(${prefix}_FLOOR "${floor}" PARENT_SCOPE)
  set(${prefix}_FLOOR_CODE "${floor_code}" PARENT_SCOPE)
  set(${prefix}_FLOOR_REASON "${reason}" PARENT_SCOPE)
  set(${prefix}_REQUIREMENT "${requirement}" PARENT_SCOPE)
endfunction()
