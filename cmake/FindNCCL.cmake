#[=======================================================================[.rst:
FindNCCL
--------

Finds NVIDIA's collective communication library, NCCL, without running any program built at
configure time (so it works when cross-compiling).

Imported Targets
^^^^^^^^^^^^^^^^

``NCCL::nccl``
  The shared library, with its include directory.
``NCCL::nccl_static``
  The static library, when ``NCCL_USE_STATIC`` is on.

The names are those NCCL's own ``NCCLConfig.cmake`` (NCCL >= 2.28) exports.

Result Variables
^^^^^^^^^^^^^^^^

``NCCL_FOUND``
``NCCL_VERSION``, ``NCCL_VERSION_MAJOR``, ``NCCL_VERSION_MINOR``, ``NCCL_VERSION_PATCH``, ``NCCL_VERSION_SUFFIX``
  From ``nccl.h``.
``NCCL_VERSION_CODE``
  ``NCCL_VERSION_CODE`` from ``nccl.h`` (e.g. 22803 for 2.28.3).
``NCCL_INCLUDE_DIRS``, ``NCCL_LIBRARIES``
``NCCL_LIBRARY_DIR``
  The directory of the library found.
``NCCL_LIBRARY_VERSION``
  The library's own version, from its file name (``libnccl.so.2.28.3``) or the version string in it.
``NCCL_PROVIDER``
  The step that found NCCL: ``explicit``, ``config``, ``wheel``, ``toolkit`` or ``system``.
``NCCL_SEARCHED``
  Every place looked at, in order.

``NCCL_INCLUDE_DIR``
  The directory holding ``nccl.h``.
``NCCL_LIBRARY``
  The library file (``libnccl.so*``, or ``libnccl_static.a`` with ``NCCL_USE_STATIC``).

Nothing is cached: a changed hint or environment takes effect at the next configure.

Hints
^^^^^

Each may be a cache variable or an environment variable.

``NCCL_ROOT``, ``NCCL_HOME``
  An NCCL install prefix (``include/``, ``lib/``).
``NCCL_INCLUDE_DIR`` and ``NCCL_LIB_DIR``
  The header and library directories, given separately.
``NCCL_USE_STATIC``
  Also require ``libnccl_static.a`` and define ``NCCL::nccl_static``.
``NCCL_SEARCH_STEPS``
  Which steps run, in this order: ``explicit`` (the hints above), ``config`` (an installed
  ``NCCLConfig.cmake``), ``wheel`` (the ``nvidia-nccl-cuXX`` wheel of ``Python_EXECUTABLE``),
  ``toolkit`` (``CUDAToolkit_ROOT``, ``CUDA_HOME``, ``CUDA_PATH``, the CUDA toolkit found),
  ``system`` (``/usr``, ``/usr/local`` and multiarch directories, under ``CMAKE_FIND_ROOT_PATH``).
  Default: all of them.
#]=======================================================================]

include(FindPackageHandleStandardArgs)

if(NOT DEFINED NCCL_SEARCH_STEPS)
  set(NCCL_SEARCH_STEPS explicit config wheel toolkit system)
endif()
set(NCCL_SEARCHED "")

# A hint's value: the cache or a normal variable first, then the environment.
function(_nccl_hint name out)
  if(${name})
    set(${out} "${${name}}" PARENT_SCOPE)
  elseif(DEFINED ENV{${name}})
    set(${out} "$ENV{${name}}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# Looks for nccl.h and the library under the given include and library directories, with no
# default paths. Sets NCCL_INCLUDE_DIR and NCCL_LIBRARY on success, NCCL_PROVIDER to <step>.
function(_nccl_search step)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "SYSTEM" "" "INCLUDE_DIRS;LIBRARY_DIRS")
  set(searched ${ARG_INCLUDE_DIRS} ${ARG_LIBRARY_DIRS})
  if(ARG_SYSTEM AND CMAKE_FIND_ROOT_PATH)
    list(TRANSFORM searched APPEND " (under CMAKE_FIND_ROOT_PATH ${CMAKE_FIND_ROOT_PATH})")
  endif()
  list(TRANSFORM searched PREPEND "${step}: " OUTPUT_VARIABLE step_searched)
  set(all_searched ${NCCL_SEARCHED} ${step_searched})
  set(NCCL_SEARCHED "${all_searched}" PARENT_SCOPE)
  if(NCCL_USE_STATIC)
    set(names libnccl_static.a)
  else()
    set(names nccl libnccl.so.2)  # the nvidia-nccl wheel ships libnccl.so.2 alone
  endif()
  if(ARG_SYSTEM)  # re-rooted under CMAKE_FIND_ROOT_PATH like any system search
    set(mode NO_CMAKE_ENVIRONMENT_PATH NO_CMAKE_PATH NO_SYSTEM_ENVIRONMENT_PATH NO_CMAKE_SYSTEM_PATH)
  else()
    set(mode NO_DEFAULT_PATH)
  endif()
  find_path(_nccl_include nccl.h PATHS ${ARG_INCLUDE_DIRS} ${mode})
  find_library(_nccl_library NAMES ${names} PATHS ${ARG_LIBRARY_DIRS} ${mode})
  if(_nccl_include AND _nccl_library)
    message(STATUS "NCCL (${step}): ${_nccl_include}/nccl.h, ${_nccl_library}")
    set(NCCL_INCLUDE_DIR "${_nccl_include}" PARENT_SCOPE)
    set(NCCL_LIBRARY "${_nccl_library}" PARENT_SCOPE)
    set(NCCL_PROVIDER "${step}" PARENT_SCOPE)
  else()
    list(JOIN searched ", " places)
    message(STATUS "NCCL (${step}): not in ${places}")
  endif()
  unset(_nccl_include CACHE)
  unset(_nccl_library CACHE)
endfunction()

macro(_nccl_step_explicit)
  _nccl_hint(NCCL_INCLUDE_DIR include_hint)
  _nccl_hint(NCCL_LIB_DIR lib_hint)
  if(include_hint OR lib_hint)
    if(NOT include_hint OR NOT lib_hint)
      message(FATAL_ERROR "NCCL_INCLUDE_DIR ('${include_hint}') and NCCL_LIB_DIR ('${lib_hint}') go together: set both, "
                          "or NCCL_ROOT to a prefix with include/ and lib/.")
    endif()
    _nccl_search(explicit INCLUDE_DIRS "${include_hint}" LIBRARY_DIRS "${lib_hint}")
  endif()
  foreach(root_var IN ITEMS NCCL_ROOT NCCL_HOME)
    _nccl_hint(${root_var} root)
    if(root AND NOT NCCL_PROVIDER)
      _nccl_search(explicit INCLUDE_DIRS "${root}/include" LIBRARY_DIRS "${root}/lib" "${root}/lib64")
    endif()
  endforeach()
endmacro()

macro(_nccl_step_config)
  list(APPEND NCCL_SEARCHED "config: NCCLConfig.cmake in CMAKE_PREFIX_PATH and the system prefixes")
  find_package(NCCL CONFIG NO_MODULE QUIET)
  if(NCCL_CONFIG AND TARGET NCCL::nccl)
    if(NCCL_USE_STATIC)
      set(_nccl_target NCCL::nccl_static)
    else()
      set(_nccl_target NCCL::nccl)
    endif()
    get_target_property(_nccl_config_includes ${_nccl_target} INTERFACE_INCLUDE_DIRECTORIES)
    find_path(_nccl_config_include nccl.h PATHS ${_nccl_config_includes} NO_DEFAULT_PATH)
    foreach(_nccl_property IN ITEMS IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_NOCONFIG IMPORTED_LOCATION)
      get_target_property(_nccl_config_library ${_nccl_target} ${_nccl_property})
      if(_nccl_config_library)
        break()
      endif()
    endforeach()
    message(STATUS "NCCL (config): ${NCCL_CONFIG}")
    set(NCCL_INCLUDE_DIR "${_nccl_config_include}")
    set(NCCL_LIBRARY "${_nccl_config_library}")
    set(NCCL_PROVIDER config)
    unset(_nccl_config_include CACHE)
  else()
    message(STATUS "NCCL (config): no NCCLConfig.cmake")
  endif()
endmacro()

macro(_nccl_step_wheel)
  set(_nccl_python "${Python_EXECUTABLE}")
  if(NOT _nccl_python)
    find_program(_nccl_python NAMES python3 python)
  endif()
  if(_nccl_python)
    execute_process(
      COMMAND "${_nccl_python}" -c
        "import importlib.util as u; s = u.find_spec('nvidia.nccl'); print(*(s.submodule_search_locations if s else []), sep=';')"
      OUTPUT_VARIABLE _nccl_wheel_dirs OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_nccl_wheel_dirs)
      list(TRANSFORM _nccl_wheel_dirs APPEND "/include" OUTPUT_VARIABLE _nccl_wheel_includes)
      list(TRANSFORM _nccl_wheel_dirs APPEND "/lib" OUTPUT_VARIABLE _nccl_wheel_libs)
      _nccl_search(wheel INCLUDE_DIRS ${_nccl_wheel_includes} LIBRARY_DIRS ${_nccl_wheel_libs})
    else()
      list(APPEND NCCL_SEARCHED "wheel: no nvidia.nccl package for ${_nccl_python}")
      message(STATUS "NCCL (wheel): no nvidia.nccl package for ${_nccl_python}")
    endif()
  else()
    list(APPEND NCCL_SEARCHED "wheel: no Python interpreter to ask")
  endif()
endmacro()

macro(_nccl_step_toolkit)
  set(_nccl_toolkit_roots "")
  foreach(_nccl_root IN ITEMS "${CUDAToolkit_ROOT}" "$ENV{CUDAToolkit_ROOT}" "${CUDAToolkit_LIBRARY_ROOT}"
                              "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}")
    if(_nccl_root)
      list(APPEND _nccl_toolkit_roots "${_nccl_root}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES _nccl_toolkit_roots)
  if(_nccl_toolkit_roots)
    list(TRANSFORM _nccl_toolkit_roots APPEND "/include" OUTPUT_VARIABLE _nccl_toolkit_includes)
    set(_nccl_toolkit_libs "")
    foreach(_nccl_root IN LISTS _nccl_toolkit_roots)
      list(APPEND _nccl_toolkit_libs "${_nccl_root}/lib64" "${_nccl_root}/lib")
    endforeach()
    _nccl_search(toolkit INCLUDE_DIRS ${_nccl_toolkit_includes} LIBRARY_DIRS ${_nccl_toolkit_libs})
  else()
    list(APPEND NCCL_SEARCHED "toolkit: no CUDA toolkit root (CUDAToolkit_ROOT, CUDA_HOME, CUDA_PATH)")
  endif()
endmacro()

macro(_nccl_step_system)
  # CMAKE_LIBRARY_ARCHITECTURE is empty until a language is enabled.
  set(_nccl_multiarch ${CMAKE_LIBRARY_ARCHITECTURE} ${CMAKE_HOST_SYSTEM_PROCESSOR}-linux-gnu)
  list(REMOVE_DUPLICATES _nccl_multiarch)
  set(_nccl_system_libs "")
  foreach(_nccl_prefix IN ITEMS /usr /usr/local)
    foreach(_nccl_arch IN LISTS _nccl_multiarch)
      list(APPEND _nccl_system_libs "${_nccl_prefix}/lib/${_nccl_arch}")
    endforeach()
    list(APPEND _nccl_system_libs "${_nccl_prefix}/lib64" "${_nccl_prefix}/lib")
  endforeach()
  _nccl_search(system SYSTEM INCLUDE_DIRS /usr/include /usr/local/include LIBRARY_DIRS ${_nccl_system_libs})
endmacro()

# The version macros of nccl.h, read as text.
function(_nccl_header_version header)
  file(STRINGS "${header}" defines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH|SUFFIX|VERSION_CODE) ")
  foreach(part IN ITEMS MAJOR MINOR PATCH VERSION_CODE)
    string(REGEX MATCH "#define NCCL_${part} +([0-9]+)" _ "${defines}")
    set(${part} "${CMAKE_MATCH_1}")
  endforeach()
  string(REGEX MATCH "#define NCCL_SUFFIX +\"([^\"]*)\"" _ "${defines}")
  set(NCCL_VERSION_SUFFIX "${CMAKE_MATCH_1}" PARENT_SCOPE)
  if(MAJOR STREQUAL "" OR MINOR STREQUAL "" OR PATCH STREQUAL "")
    message(FATAL_ERROR "${header} has no NCCL_MAJOR/NCCL_MINOR/NCCL_PATCH: is it NCCL's nccl.h?")
  endif()
  if(VERSION_CODE STREQUAL "")  # NCCL_VERSION(X,Y,Z) of nccl.h
    if(MAJOR LESS_EQUAL 2 AND MINOR LESS_EQUAL 8)
      math(EXPR VERSION_CODE "${MAJOR} * 1000 + ${MINOR} * 100 + ${PATCH}")
    else()
      math(EXPR VERSION_CODE "${MAJOR} * 10000 + ${MINOR} * 100 + ${PATCH}")
    endif()
  endif()
  set(NCCL_VERSION_MAJOR "${MAJOR}" PARENT_SCOPE)
  set(NCCL_VERSION_MINOR "${MINOR}" PARENT_SCOPE)
  set(NCCL_VERSION_PATCH "${PATCH}" PARENT_SCOPE)
  set(NCCL_VERSION_CODE "${VERSION_CODE}" PARENT_SCOPE)
  set(NCCL_VERSION "${MAJOR}.${MINOR}.${PATCH}" PARENT_SCOPE)
endfunction()

# The library's own version: its real file's name, else the "NCCL version X.Y.Z" string in it.
function(_nccl_library_version library out)
  file(REAL_PATH "${library}" real)
  cmake_path(GET real FILENAME name)
  if(name MATCHES "\\.so\\.([0-9]+\\.[0-9]+\\.[0-9]+)$")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
    return()
  endif()
  file(STRINGS "${real}" banner REGEX "NCCL version [0-9]+\\.[0-9]+\\.[0-9]+" LIMIT_COUNT 1)
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" version "${banner}")
  set(${out} "${version}" PARENT_SCOPE)
endfunction()

unset(NCCL_PROVIDER)
foreach(_nccl_step IN LISTS NCCL_SEARCH_STEPS)
  if(NOT _nccl_step MATCHES "^(explicit|config|wheel|toolkit|system)$")
    message(FATAL_ERROR "NCCL_SEARCH_STEPS: unknown step '${_nccl_step}' (steps: explicit config wheel toolkit system)")
  endif()
  cmake_language(CALL _nccl_step_${_nccl_step})
  if(NCCL_PROVIDER)
    break()
  endif()
endforeach()

if(NCCL_PROVIDER)
  _nccl_header_version("${NCCL_INCLUDE_DIR}/nccl.h")
  _nccl_library_version("${NCCL_LIBRARY}" NCCL_LIBRARY_VERSION)
  if(NCCL_LIBRARY_VERSION AND NOT NCCL_LIBRARY_VERSION STREQUAL NCCL_VERSION)
    message(FATAL_ERROR
      "NCCL header and library versions differ:\n"
      "  ${NCCL_INCLUDE_DIR}/nccl.h is NCCL ${NCCL_VERSION}\n"
      "  ${NCCL_LIBRARY} is NCCL ${NCCL_LIBRARY_VERSION}\n"
      "Point NCCL_INCLUDE_DIR and NCCL_LIB_DIR (or NCCL_ROOT) at one NCCL install.")
  endif()
  cmake_path(GET NCCL_LIBRARY PARENT_PATH NCCL_LIBRARY_DIR)
  set(NCCL_INCLUDE_DIRS "${NCCL_INCLUDE_DIR}")
  set(NCCL_LIBRARIES "${NCCL_LIBRARY}")
  set(_nccl_failure "")
else()
  list(JOIN NCCL_SEARCHED "\n    " _nccl_places)
  list(JOIN NCCL_SEARCH_STEPS " " _nccl_steps)
  string(CONCAT _nccl_failure
    "NCCL was not found. Searched (NCCL_SEARCH_STEPS: ${_nccl_steps}):\n    ${_nccl_places}\n"
    "Fix it one of three ways:\n"
    "  1. NCCL_ROOT=/path/to/nccl (a directory with include/nccl.h and lib/libnccl.so)\n"
    "  2. NCCL_INCLUDE_DIR=/path/to/include and NCCL_LIB_DIR=/path/to/lib\n"
    "  3. pip install nvidia-nccl-cu13 (nvidia-nccl-cu12 for CUDA 12), with NCCLKIT_NCCL=wheel or auto")
endif()

find_package_handle_standard_args(NCCL
  REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR
  VERSION_VAR NCCL_VERSION
  REASON_FAILURE_MESSAGE "${_nccl_failure}")

if(NCCL_FOUND)
  if(NCCL_USE_STATIC)
    set(_nccl_target NCCL::nccl_static)
    set(_nccl_kind STATIC)
  else()
    set(_nccl_target NCCL::nccl)
    set(_nccl_kind SHARED)
  endif()
  if(NOT TARGET ${_nccl_target})
    add_library(${_nccl_target} ${_nccl_kind} IMPORTED)
    set_target_properties(${_nccl_target} PROPERTIES
      IMPORTED_LOCATION "${NCCL_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
    if(NCCL_USE_STATIC)  # what libnccl.so itself links; the CUDA runtime is the consumer's choice
      set_property(TARGET ${_nccl_target} PROPERTY INTERFACE_LINK_LIBRARIES pthread dl rt)
    endif()
  endif()
  message(STATUS "NCCL ${NCCL_VERSION} (${NCCL_PROVIDER}): ${NCCL_LIBRARY}")
endif()
