# ncclkit_nccl_features(<version_code> <floor_code> <header> [RCCL])
#
# Writes <header> (ncclkit/config.h) with NCCLKIT_WITH_NCCL (NCCLKIT_WITH_RCCL instead, given
# RCCL), NCCLKIT_NCCL_VERSION_CODE (the header's) and NCCLKIT_NCCL_FLOOR_CODE (the oldest NCCL
# the extension runs with, NcclkitNcclFloor.cmake), and per NCCL feature of the table below:
#   NCCLKIT_HAS_<feature>          1 when the header has it (0 when building without NCCL)
#   NCCLKIT_NCCL_SINCE_<feature>   the version code of the release that brought it
#   NCCLKIT_NCCL_SINCE_<function>  the same for each of its entry points the header has
# and, for RCCL, NCCLKIT_NCCL_HAS_ENTRY_POINT and NCCLKIT_NCCL_FEATURE_AVAILABLE (for NCCL, ncclkit's
# <nccl.h> defines them: NcclkitNcclBinding.cmake).
#
# ncclkit_nccl_feature_macros(<version_code> <out> [RCCL])
#
# Sets <out> to NCCLKIT_WITH_*, NCCLKIT_NCCL_VERSION_CODE and the NCCLKIT_HAS_* macros of that
# header as a list of NAME=VALUE (<version_code> empty: no NCCL), for the build record.
#
# The header decides what an extension can call; the NCCL the process loaded decides what it may
# call (ncclkit's <nccl.h> asks it, NcclkitNcclBinding.cmake); the floor decides what the wheel
# requires (NcclkitNcclFloor.cmake).
cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

# Each feature: the first NCCL release that has it, then the entry points it adds (none for a data
# type or an op). NCCL_VERSION_CODE of a release is at least the code of the version given. CORE
# is what every NCCL ncclkit builds against has (the 2.18 API, less the entry points of the gates
# before it); the device API's host entry points are those of nccl_device/*.h (2.32.3 declares
# ncclCftBarrierCreateRequirement and its library lacks it: a feature of its own). Every entry
# point of every NCCL header so far is here once: NcclkitNcclBinding.cmake takes any other as new.
set(NCCLKIT_NCCL_FEATURE_GATES
  CORE=2.18.0:ncclAllGather,ncclAllReduce,ncclBcast,ncclBroadcast,ncclCommAbort,ncclCommCount,ncclCommCuDevice,ncclCommDestroy,ncclCommFinalize,ncclCommGetAsyncError,ncclCommInitAll,ncclCommInitRank,ncclCommUserRank,ncclGetErrorString,ncclGetUniqueId,ncclGetVersion,ncclGroupEnd,ncclGroupStart,ncclRecv,ncclRedOpCreatePreMulSum,ncclRedOpDestroy,ncclReduce,ncclReduceScatter,ncclSend
  BF16=2.10.0
  AVG=2.10.0
  GET_LAST_ERROR=2.13.0:ncclGetLastError
  COMM_CONFIG=2.14.0:ncclCommInitRankConfig
  COMM_SPLIT=2.18.0:ncclCommSplit
  BUFFER_REGISTRATION=2.19.0:ncclCommRegister,ncclCommDeregister
  MEM_ALLOC=2.19.0:ncclMemAlloc,ncclMemFree
  GROUP_SIMULATE=2.22.0:ncclGroupSimulateEnd
  COMM_INIT_SCALABLE=2.23.0:ncclCommInitRankScalable
  FP8=2.24.0
  COMM_SHRINK=2.27.0:ncclCommShrink
  WINDOW_REGISTRATION=2.27.0:ncclCommWindowRegister,ncclCommWindowDeregister
  DEVICE_API=2.28.0:ncclDevCommCreate,ncclDevCommDestroy,ncclLLA2ACalcSlots,ncclLLA2ACreateRequirement,ncclLsaBarrierCreateRequirement,ncclTeamLsa,ncclTeamRail,ncclTeamRankToLsa,ncclTeamRankToWorld,ncclTeamWorld
  DEVICE_GIN_BARRIER=2.28.9:ncclGinBarrierCreateRequirement
  DEVICE_POINTERS=2.29.0:ncclCommQueryProperties,ncclGetLsaDevicePointer,ncclGetLsaMultimemDevicePointer,ncclGetMultimemDevicePointer,ncclGetPeerDevicePointer
  DEVICE_GIN_A2A=2.30.0:ncclGinInboxA2ACreateRequirement,ncclGinOutboxCreateRequirement
  DEVICE_CFT=2.31.0:ncclGetCftDeviceLeInfo,ncclGetMultimemDeviceLeInfo,ncclGetPeerDeviceLeInfo,ncclTeamCft,ncclTeamCftMultimem
  DEVICE_CFT_BARRIER=2.31.0:ncclCftBarrierCreateRequirement
  ALL_TO_ALL=2.28.0:ncclAlltoAll
  GATHER=2.28.0:ncclGather
  SCATTER=2.28.0:ncclScatter
  COMM_REVOKE=2.28.7:ncclCommRevoke
  COMM_GROW=2.29.0:ncclCommGrow,ncclCommGetUniqueId
  ONE_SIDED=2.29.0:ncclPutSignal,ncclSignal,ncclWaitSignal
  WINDOW_USER_PTR=2.29.0:ncclWinGetUserPtr
  COMM_SUSPEND=2.29.7:ncclCommSuspend,ncclCommResume
  COMM_MEM_STATS=2.29.7:ncclCommMemStats
  PARAMS=2.30.4:ncclParamBind,ncclParamGet,ncclParamGetI8,ncclParamGetI16,ncclParamGetI32,ncclParamGetI64,ncclParamGetU8,ncclParamGetU16,ncclParamGetU32,ncclParamGetU64,ncclParamGetStr,ncclParamGetParameter,ncclParamGetAllParameterKeys,ncclParamDumpAll
  COLLECTIVE_CONFIG=2.31.0:ncclAllReduceConfig,ncclAllGatherConfig,ncclAlltoAllConfig,ncclBroadcastConfig,ncclGatherConfig,ncclReduceConfig,ncclReduceScatterConfig,ncclScatterConfig
  ENCRYPTION=2.32.0:ncclSetEncryption)

# Its settings above are made in every scope that includes it, its functions once.
include_guard(GLOBAL)

# NCCL_VERSION(X,Y,Z) from nccl.h: the encoding changed after 2.8.
function(ncclkit_nccl_version_code version out)
  string(REPLACE "." ";" parts "${version}")
  list(GET parts 0 x)
  list(GET parts 1 y)
  list(GET parts 2 z)
  if(x LESS_EQUAL 2 AND y LESS_EQUAL 8)
    math(EXPR code "${x} * 1000 + ${y} * 100 + ${z}")
  else()
    math(EXPR code "${x} * 10000 + ${y} * 100 + ${z}")
  endif()
  set(${out} "${code}" PARENT_SCOPE)
endfunction()

# One entry of NCCLKIT_NCCL_FEATURE_GATES, by name: <prefix>_SINCE (X.Y.Z), <prefix>_SINCE_CODE and
# <prefix>_ENTRY_POINTS (a list) in the caller; <prefix>_SINCE is empty for an unknown name.
function(ncclkit_nccl_feature name prefix)
  set(since "")
  set(entry_points "")
  foreach(gate IN LISTS NCCLKIT_NCCL_FEATURE_GATES)
    string(FIND "${gate}" "=" equals)
    string(SUBSTRING "${gate}" 0 ${equals} gate_name)
    if(gate_name STREQUAL name AND gate MATCHES "=([0-9.]+):?(.*)$")
      set(since "${CMAKE_MATCH_1}")
      string(REPLACE "," ";" entry_points "${CMAKE_MATCH_2}")
      ncclkit_nccl_version_code("${since}" since_code)
      set(${prefix}_SINCE_CODE "${since_code}" PARENT_SCOPE)
    endif()
  endforeach()
  set(${prefix}_SINCE "${since}" PARENT_SCOPE)
  set(${prefix}_ENTRY_POINTS "${entry_points}" PARENT_SCOPE)
endfunction()

# The names of every feature of the table, in its order.
function(ncclkit_nccl_feature_names out)
  string(REGEX REPLACE "=[^;]*" "" names "${NCCLKIT_NCCL_FEATURE_GATES}")
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

function(ncclkit_nccl_feature_macros version_code out)
  set(with_nccl 0)
  set(with_rccl 0)
  if(NOT version_code)
    set(version_code 0)
  elseif(ARGV2 STREQUAL "RCCL")
    set(with_rccl 1)
  else()
    set(with_nccl 1)
  endif()
  set(macros "NCCLKIT_WITH_NCCL=${with_nccl}" "NCCLKIT_WITH_RCCL=${with_rccl}" "NCCLKIT_NCCL_VERSION_CODE=${version_code}")
  ncclkit_nccl_feature_names(names)
  foreach(name IN LISTS names)
    ncclkit_nccl_feature(${name} gate)
    if(version_code GREATER_EQUAL gate_SINCE_CODE)
      list(APPEND macros "NCCLKIT_HAS_${name}=1")
    else()
      list(APPEND macros "NCCLKIT_HAS_${name}=0")
    endif()
  endforeach()
  set(${out} "${macros}" PARENT_SCOPE)
endfunction()

function(ncclkit_nccl_features version_code floor_code header)
  ncclkit_nccl_feature_macros("${version_code}" features ${ARGN})
  if(NOT version_code)
    set(version_code 0)
    set(floor_code 0)
  endif()
  set(since_macros "NCCLKIT_NCCL_FLOOR_CODE=${floor_code}")
  set(x_macro "")  # the table once more, for C++ that goes over every feature
  ncclkit_nccl_feature_names(names)
  foreach(name IN LISTS names)
    ncclkit_nccl_feature(${name} gate)
    list(APPEND since_macros "NCCLKIT_NCCL_SINCE_${name}=${gate_SINCE_CODE}")
    string(APPEND x_macro " X(${name}, ${gate_SINCE_CODE})")
    if(version_code GREATER_EQUAL gate_SINCE_CODE)
      foreach(entry_point IN LISTS gate_ENTRY_POINTS)
        list(APPEND since_macros "NCCLKIT_NCCL_SINCE_${entry_point}=${gate_SINCE_CODE}")
      endforeach()
    endif()
  endforeach()
  if("NCCLKIT_WITH_RCCL=1" IN_LIST features)
    # RCCL is linked as built, nothing bound weakly (ncclkit's nccl.h is NCCL's alone): every entry
    # point of its header is there, and every feature it has.
    list(APPEND since_macros "NCCLKIT_NCCL_HAS_ENTRY_POINT(fn)=1" "NCCLKIT_NCCL_FEATURE_AVAILABLE(feature)=NCCLKIT_HAS_##feature")
  endif()

  set(lines "")
  foreach(macro IN LISTS features since_macros)
    string(REPLACE "=" " " define "${macro}")
    string(APPEND lines "#define ${define}\n")
  endforeach()
  string(APPEND lines "// X(NAME, release's version code) for every feature of the table; NCCLKIT_HAS_NAME says whether\n"
                      "// the header had it.\n#define NCCLKIT_NCCL_FEATURES(X)${x_macro}\n")
  file(CONFIGURE OUTPUT "${header}" CONTENT
    "// Generated by cmake/NcclkitFeatures.cmake from the NCCL header's version. Do not edit.\n#pragma once\n\n${lines}")
endfunction()
