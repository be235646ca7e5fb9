# ncclkit_bind_nccl(<target> <include_dir>)
#
# Lets <target> load with every NCCL from its floor (NCCLKIT_NCCL_FLOOR_CODE, NcclkitNcclFloor.cmake)
# on, whatever header it is built against: writes <include_dir>/nccl.h from nccl.h.in, a wrapper
# of NCCL's own nccl.h that declares weak every entry point the header has and the floor may lack,
# and puts <include_dir> first on <target>'s include path, so that sources keep writing
# `#include <nccl.h>` and calling ncclAllReduce(...) as they always have. The entry points bound
# weakly are those of NCCLKIT_NCCL_FEATURE_GATES newer than the floor, and any the header declares
# that ncclkit knows nothing of (a header newer than its table): those are taken to be as new as
# the header, and the configure log names them.
#
# Sets NCCLKIT_NCCL_WEAK_ENTRY_POINTS in the caller, for the build record.
include_guard(GLOBAL)
include(NcclkitFeatures)

# Every entry point of NCCL 2.18.1, the oldest NCCL any floor allows: none of these is ever weak.
set(NCCLKIT_NCCL_BASELINE_ENTRY_POINTS
  ncclAllGather ncclAllReduce ncclBcast ncclBroadcast ncclCommAbort ncclCommCount ncclCommCuDevice
  ncclCommDestroy ncclCommFinalize ncclCommGetAsyncError ncclCommInitAll ncclCommInitRank
  ncclCommInitRankConfig ncclCommSplit ncclCommUserRank ncclGetErrorString ncclGetLastError
  ncclGetUniqueId ncclGetVersion ncclGroupEnd ncclGroupStart ncclRecv ncclRedOpCreatePreMulSum
  ncclRedOpDestroy ncclReduce ncclReduceScatter ncclSend)

# The entry points nccl.h declares (not the pnccl* profiling twins), in <out>, and those of them
# that return ncclResult_t in <out>_RESULT.
function(_ncclkit_declared_entry_points header out)
  file(STRINGS "${header}" lines REGEX "^[A-Za-z_][A-Za-z0-9_ *]*[ *]nccl[A-Z][A-Za-z0-9_]*\\(")
  set(all "")
  set(result "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^([A-Za-z0-9_ *]*[ *])(nccl[A-Z][A-Za-z0-9_]*)\\(")
      list(APPEND all "${CMAKE_MATCH_2}")
      string(STRIP "${CMAKE_MATCH_1}" returns)
      if(returns STREQUAL "ncclResult_t")
        list(APPEND result "${CMAKE_MATCH_2}")
      endif()
    endif()
  endforeach()
  list(REMOVE_DUPLICATES all)
  set(${out} "${all}" PARENT_SCOPE)
  set(${out}_RESULT "${result}" PARENT_SCOPE)
endfunction()

# The release (version code) of each entry point of the table, as variables <prefix>_<entry point>.
macro(_ncclkit_entry_point_releases prefix)
  ncclkit_nccl_feature_names(_ncclkit_names)
  foreach(_ncclkit_name IN LISTS _ncclkit_names)
    ncclkit_nccl_feature(${_ncclkit_name} _ncclkit_gate)
    foreach(_ncclkit_entry_point IN LISTS _ncclkit_gate_ENTRY_POINTS)
      set(${prefix}_${_ncclkit_entry_point} "${_ncclkit_gate_SINCE_CODE}")
    endforeach()
  endforeach()
endmacro()

function(ncclkit_bind_nccl target include_dir)
  set(weak "")
  set(pragmas "")
  set(guards "")
  if(NCCLKIT_NCCL_FLOOR_CODE LESS NCCL_VERSION_CODE)  # else the floor has everything the header has
    _ncclkit_declared_entry_points("${NCCL_INCLUDE_DIR}/nccl.h" declared)
    _ncclkit_entry_point_releases(release)
    set(unknown "")
    foreach(entry_point IN LISTS declared)
      if(entry_point IN_LIST NCCLKIT_NCCL_BASELINE_ENTRY_POINTS)
        continue()
      endif()
      set(since "${release_${entry_point}}")
      if(since STREQUAL "")
        list(APPEND unknown "${entry_point}")
        set(since "${NCCL_VERSION_CODE}")
      endif()
      if(since LESS_EQUAL NCCLKIT_NCCL_FLOOR_CODE)
        continue()
      endif()
      list(APPEND weak "${entry_point}")
      string(APPEND pragmas "#pragma weak ${entry_point}\n")
      if(entry_point IN_LIST declared_RESULT)
        string(APPEND guards
          "#define ${entry_point}(...) (ncclkit_nccl_bound((const void*)&${entry_point}) ? ${entry_point}(__VA_ARGS__) "
          ": ncclkit_nccl_unbound(\"${entry_point}\", ${since}))\n")
      endif()
    endforeach()
    if(unknown)
      list(JOIN unknown ", " unknown)
      message(STATUS
        "${target}: NCCL ${NCCL_VERSION}'s header declares entry points ncclkit has no release for (${unknown}); "
        "they are bound weakly, as new as the header.")
    endif()
  endif()

  set(NCCLKIT_BINDING_TARGET "${target}")
  set(NCCLKIT_NCCL_WEAK_NONE "")
  if(NOT weak)
    set(NCCLKIT_NCCL_WEAK_NONE ": none, it has every entry point of the header")
  endif()
  set(NCCLKIT_NCCL_WEAK_PRAGMAS "${pragmas}")
  set(NCCLKIT_NCCL_CALL_GUARDS "${guards}")
  set(NCCLKIT_NCCL_GUARDED 0)
  if(guards)
    set(NCCLKIT_NCCL_GUARDED 1)
  endif()
  configure_file("${CMAKE_CURRENT_FUNCTION_LIST_DIR}/nccl.h.in" "${include_dir}/nccl.h" @ONLY)
  target_include_directories(${target} BEFORE PRIVATE "${include_dir}")
  set(NCCLKIT_NCCL_WEAK_ENTRY_POINTS "${weak}" PARENT_SCOPE)
endfunction()
