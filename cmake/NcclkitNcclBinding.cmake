# ncclkit_bind_nccl(<target> <include_dir>)
#
# Lets <target> load with every NCCL from its floor (its property NCCLKIT_NCCL_FLOOR_CODE,
# NcclkitNcclFloor.cmake) on, built against the header of ncclkit::nccl (NcclkitProvider.cmake), whatever header it is built against: writes <include_dir>/nccl.h from nccl.h.in, a wrapper
# of NCCL's own nccl.h that declares weak every entry point the headers have and the floor may
# lack, and, where NCCL has a device API, <include_dir>/nccl_device.h from nccl_device.h.in around
# NCCL's; puts <include_dir> first on <target>'s include path, so that sources keep writing
# `#include <nccl.h>` and calling ncclAllReduce(...) as they always have. The entry points bound
# weakly are those of NCCLKIT_NCCL_FEATURE_GATES newer than the floor, and any the headers declare
# that the table does not know (a header newer than the table): those are taken to be as new as
# the header, and the configure log names them.
#
# Sets <target>'s property NCCLKIT_NCCL_WEAK_ENTRY_POINTS, for the build record.
include_guard(GLOBAL)
cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets
include(NcclkitFeatures)

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

# The entry points the headers declare (not the pnccl* profiling twins, nor inline functions),
# each as <name>=<what it returns>: ncclResult_t, void, or anything else.
function(_ncclkit_declared_entry_points out)
  set(declared "")
  foreach(header IN LISTS ARGN)
    # A declaration starts its line; a line holding a `;` arrives in pieces, the first is enough.
    file(STRINGS "${header}" lines REGEX "^[A-Za-z_][A-Za-z0-9_ *]*[ *]nccl[A-Z][A-Za-z0-9_]*\\(")
    foreach(line IN LISTS lines)
      if(line MATCHES "INLINE|inline|static|__device__" OR NOT line MATCHES "^([A-Za-z0-9_ *]*[ *])(nccl[A-Z][A-Za-z0-9_]*)\\(")
        continue()
      endif()
      set(name "${CMAKE_MATCH_2}")
      string(REGEX REPLACE "NCCL_EXTERN_C|extern \"C\"| " "" returns "${CMAKE_MATCH_1}")
      list(APPEND declared "${name}=${returns}")
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES declared)
  set(${out} "${declared}" PARENT_SCOPE)
endfunction()

# For the entry points `headers` declare that the floor may lack: in the caller, appends their
# names to <out_weak> and to <out_unknown> those the table does not know, and sets <out_guards>
# to the macros that send a call of a null one to ncclkit_nccl_unbound (nccl.h.in).
function(_ncclkit_weak_entry_points headers out_weak out_unknown out_guards)
  _ncclkit_entry_point_releases(release)
  _ncclkit_declared_entry_points(declared ${headers})
  set(names "${${out_weak}}")
  set(new "${${out_unknown}}")
  set(macros "")
  foreach(entry IN LISTS declared)
    string(REGEX REPLACE "=.*" "" name "${entry}")
    string(REGEX REPLACE "^[^=]*=" "" returns "${entry}")
    set(since "${release_${name}}")
    if(since STREQUAL "")
      list(APPEND new "${name}")
      set(since "${NCCL_VERSION_CODE}")
    endif()
    if(since LESS_EQUAL NCCLKIT_NCCL_FLOOR_CODE OR name IN_LIST names)
      continue()
    endif()
    list(APPEND names "${name}")
    set(bound "ncclkit_nccl_bound((void (*)(void))&${name})")
    if(returns STREQUAL "ncclResult_t")
      string(APPEND macros
        "#define ${name}(...) (${bound} ? ${name}(__VA_ARGS__) : ncclkit_nccl_unbound(\"${name}\", ${since}))\n")
    elseif(returns STREQUAL "void")
      string(APPEND macros
        "#define ${name}(...) (${bound} ? ${name}(__VA_ARGS__) : (void)ncclkit_nccl_unbound(\"${name}\", ${since}))\n")
    endif()  # any other return has no value to give back: check NCCLKIT_NCCL_HAS_ENTRY_POINT first
  endforeach()
  set(${out_weak} "${names}" PARENT_SCOPE)
  set(${out_unknown} "${new}" PARENT_SCOPE)
  set(${out_guards} "${macros}" PARENT_SCOPE)
endfunction()

function(ncclkit_bind_nccl target include_dir)
  get_target_property(nccl_include_dir ncclkit::nccl NCCLKIT_INCLUDE_DIR)
  get_target_property(NCCL_VERSION ncclkit::nccl NCCLKIT_VERSION)
  get_target_property(NCCL_VERSION_CODE ncclkit::nccl NCCLKIT_VERSION_CODE)
  get_target_property(NCCLKIT_NCCL_FLOOR ${target} NCCLKIT_NCCL_FLOOR)
  get_target_property(NCCLKIT_NCCL_FLOOR_CODE ${target} NCCLKIT_NCCL_FLOOR_CODE)
  set(NCCLKIT_NCCL_HEADER "${nccl_include_dir}/nccl.h")
  set(NCCLKIT_NCCL_DEVICE_HEADER "${nccl_include_dir}/nccl_device.h")
  set(weak "")
  set(unknown "")
  set(NCCLKIT_NCCL_CALL_GUARDS "")
  set(NCCLKIT_NCCL_DEVICE_CALL_GUARDS "")
  file(GLOB device_headers "${nccl_include_dir}/nccl_device/*.h")
  if(NCCLKIT_NCCL_FLOOR_CODE LESS NCCL_VERSION_CODE)  # else the floor has everything the header has
    _ncclkit_weak_entry_points("${NCCLKIT_NCCL_HEADER}" weak unknown NCCLKIT_NCCL_CALL_GUARDS)
    if(device_headers)
      _ncclkit_weak_entry_points("${device_headers}" weak unknown NCCLKIT_NCCL_DEVICE_CALL_GUARDS)
    endif()
    if(unknown)
      list(JOIN unknown ", " unknown)
      message(STATUS
        "${target}: NCCL ${NCCL_VERSION}'s headers declare entry points ncclkit has no release for (${unknown}); "
        "they are bound weakly, as new as the header.")
    endif()
  endif()

  set(NCCLKIT_BINDING_TARGET "${target}")
  set(NCCLKIT_NCCL_WEAK_PRAGMAS "")
  foreach(name IN LISTS weak)
    string(APPEND NCCLKIT_NCCL_WEAK_PRAGMAS "#pragma weak ${name}\n")
  endforeach()
  set(NCCLKIT_NCCL_GUARDED 0)
  if(NCCLKIT_NCCL_CALL_GUARDS OR NCCLKIT_NCCL_DEVICE_CALL_GUARDS)
    set(NCCLKIT_NCCL_GUARDED 1)
  endif()
  set(NCCLKIT_NCCL_WEAK_NONE "")
  if(NOT weak)
    set(NCCLKIT_NCCL_WEAK_NONE ": none, it has every entry point of the header")
  endif()
  configure_file("${CMAKE_CURRENT_FUNCTION_LIST_DIR}/nccl.h.in" "${include_dir}/nccl.h" @ONLY)
  if(EXISTS "${NCCLKIT_NCCL_DEVICE_HEADER}")
    configure_file("${CMAKE_CURRENT_FUNCTION_LIST_DIR}/nccl_device.h.in" "${include_dir}/nccl_device.h" @ONLY)
  endif()
  target_include_directories(${target} BEFORE PRIVATE "${include_dir}")
  set_target_properties(${target} PROPERTIES NCCLKIT_NCCL_WEAK_ENTRY_POINTS "${weak}")
endfunction()
