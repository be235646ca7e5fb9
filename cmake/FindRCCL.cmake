#[=======================================================================[.rst:
FindRCCL
--------

Finds RCCL, AMD's NCCL-compatible collective library for ROCm: its header ``rccl/rccl.h`` (or
``rccl.h`` in the flat layout of older ROCm releases) and ``librccl.so``.  The version is the
NCCL-compatible one the header declares (``NCCL_MAJOR``, ``NCCL_MINOR``, ``NCCL_PATCH``), read
from the file, never by running a program.

Imported Targets
^^^^^^^^^^^^^^^^

``RCCL::rccl``
  The shared library, with the include directories that make ``<rccl.h>`` (both layouts) and
  ``<rccl/rccl.h>`` (the nested one) work.

Result Variables
^^^^^^^^^^^^^^^^

``RCCL_FOUND``
  True when a header and a library were found and the version is suitable.
``RCCL_VERSION``
  ``MAJOR.MINOR.PATCH``: the NCCL API version RCCL implements.
``RCCL_VERSION_CODE``
  ``NCCL_VERSION_CODE`` from the header (``22203`` for 2.22.3).
``RCCL_INCLUDE_DIR``
  The directory to add to the include path.
``RCCL_HEADER``
  The header found, ``<RCCL_INCLUDE_DIR>/rccl/rccl.h`` or ``<RCCL_INCLUDE_DIR>/rccl.h``.
``RCCL_LIBRARY``
  ``librccl.so``.
``RCCL_SEARCHED``
  Every prefix looked at, in order, with where it came from.

Hints
^^^^^

``RCCL_ROOT``, then ``ROCM_PATH`` (cache or environment variables), then ``/opt/rocm``: prefixes
with ``include/`` and ``lib/`` (or ``lib64/``).  Paths are re-rooted under
``CMAKE_FIND_ROOT_PATH`` like any ``find_*`` command's.
#]=======================================================================]

cmake_policy(PUSH)
cmake_policy(VERSION 3.25)

include(FindPackageHandleStandardArgs)

# Looks for RCCL under <prefix>; on success sets the RCCL_* paths in the caller.
function(_rccl_try prefix origin)
  unset(header)  # find_*(NO_CACHE) skips the search when its variable is already set
  unset(library)
  find_file(header NAMES rccl/rccl.h rccl.h PATHS "${prefix}/include" NO_DEFAULT_PATH NO_CACHE)
  find_library(library NAMES rccl PATHS "${prefix}/lib" "${prefix}/lib64" NO_DEFAULT_PATH NO_CACHE)
  set(place "${origin}: ${prefix}")
  set(RCCL_SEARCHED ${RCCL_SEARCHED} "${place}" PARENT_SCOPE)
  if(NOT header OR NOT library)
    if(NOT RCCL_FIND_QUIETLY)
      message(STATUS "RCCL ${place}: no rccl/rccl.h or rccl.h in include/, or no librccl.so in lib/")
    endif()
    return()
  endif()
  cmake_path(GET header PARENT_PATH include_dir)
  if(include_dir MATCHES "/rccl$")
    cmake_path(GET include_dir PARENT_PATH include_dir)
  endif()
  if(NOT RCCL_FIND_QUIETLY)
    message(STATUS "RCCL ${place}: found ${header} and ${library}")
  endif()
  set(RCCL_HEADER "${header}" PARENT_SCOPE)
  set(RCCL_INCLUDE_DIR "${include_dir}" PARENT_SCOPE)
  set(RCCL_LIBRARY "${library}" PARENT_SCOPE)
endfunction()

# The NCCL-compatible version macros of rccl.h.
function(_rccl_header_version header)
  file(STRINGS "${header}" lines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH|VERSION_CODE) +[0-9]+")
  foreach(line IN LISTS lines)
    if(line MATCHES "^#define NCCL_([A-Z_]+) +([0-9]+)")
      set(${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
    endif()
  endforeach()
  foreach(part IN ITEMS MAJOR MINOR PATCH)
    if(NOT DEFINED ${part})
      message(FATAL_ERROR "${header} has no #define NCCL_${part}: it is not an RCCL header ncclkit knows.")
    endif()
  endforeach()
  if(NOT DEFINED VERSION_CODE)
    math(EXPR VERSION_CODE "${MAJOR} * 10000 + ${MINOR} * 100 + ${PATCH}")
  endif()
  set(RCCL_VERSION "${MAJOR}.${MINOR}.${PATCH}" PARENT_SCOPE)
  set(RCCL_VERSION_CODE "${VERSION_CODE}" PARENT_SCOPE)
endfunction()

set(RCCL_SEARCHED "")
unset(RCCL_INCLUDE_DIR)
unset(RCCL_LIBRARY)
foreach(_rccl_hint IN ITEMS RCCL_ROOT ROCM_PATH)
  if(NOT "$CACHE{${_rccl_hint}}" STREQUAL "")
    set(_rccl_prefix "$CACHE{${_rccl_hint}}")
  else()
    set(_rccl_prefix "$ENV{${_rccl_hint}}")
  endif()
  if(_rccl_prefix AND NOT RCCL_LIBRARY)
    _rccl_try("${_rccl_prefix}" "${_rccl_hint}")
  endif()
endforeach()
if(NOT RCCL_LIBRARY)
  _rccl_try(/opt/rocm "default")
endif()

if(RCCL_HEADER)
  _rccl_header_version("${RCCL_HEADER}")
endif()

list(JOIN RCCL_SEARCHED "\n  " _rccl_searched)
string(CONCAT _rccl_reason
  "RCCL was not found. Searched, in order:\n  ${_rccl_searched}\n"
  "Set RCCL_ROOT to an RCCL install (include/rccl/rccl.h, lib/librccl.so) or ROCM_PATH to a ROCm "
  "install that has RCCL (apt install rccl-dev, or ROCm's installer).")
find_package_handle_standard_args(RCCL
  REQUIRED_VARS RCCL_LIBRARY RCCL_INCLUDE_DIR
  VERSION_VAR RCCL_VERSION
  REASON_FAILURE_MESSAGE "${_rccl_reason}")
unset(_rccl_searched)
unset(_rccl_reason)

if(RCCL_FOUND AND NOT TARGET RCCL::rccl)
  cmake_path(GET RCCL_HEADER PARENT_PATH _rccl_includes)
  list(PREPEND _rccl_includes "${RCCL_INCLUDE_DIR}")
  list(REMOVE_DUPLICATES _rccl_includes)
  add_library(RCCL::rccl SHARED IMPORTED)
  set_target_properties(RCCL::rccl PROPERTIES
    IMPORTED_LOCATION "${RCCL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${_rccl_includes}")
  unset(_rccl_includes)
endif()

cmake_policy(POP)
