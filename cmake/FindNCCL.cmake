#[=======================================================================[.rst:
FindNCCL
--------

Finds NCCL, NVIDIA's collective communication library: its header ``nccl.h`` and its library.
Both versions are read from the files themselves, never by running a program, so the module works
when cross-compiling and in a project that enables no language.

Imported Targets
^^^^^^^^^^^^^^^^

``NCCL::nccl``
  The shared library, with the directory of ``nccl.h``.
``NCCL::nccl_static``
  ``libnccl_static.a`` of the same install, when it has one.

These are the names NCCL's own ``NCCLConfig.cmake`` (NCCL >= 2.28) exports; when that package is
what provides NCCL, its targets are used as they are.

Result Variables
^^^^^^^^^^^^^^^^

``NCCL_FOUND``
  True when a header and a library were found and the version is suitable.
``NCCL_VERSION``
  ``MAJOR.MINOR.PATCH`` from ``nccl.h``, also as ``NCCL_VERSION_MAJOR``, ``NCCL_VERSION_MINOR``,
  ``NCCL_VERSION_PATCH``; ``NCCL_VERSION_SUFFIX`` is its ``NCCL_SUFFIX`` (usually empty).
``NCCL_VERSION_CODE``
  ``NCCL_VERSION_CODE`` from ``nccl.h`` (``23203`` for 2.32.3).
``NCCL_INCLUDE_DIRS``
  The directory of ``nccl.h``.
``NCCL_LIBRARIES``
  What to link: ``NCCL_LIBRARY``, or with ``NCCL_USE_STATIC`` ``NCCL_STATIC_LIBRARY`` and the
  system libraries it needs.
``NCCL_LIBRARY_DIR``
  The directory of ``NCCL_LIBRARY``.
``NCCL_LIBRARY_VERSION``
  The library's own version: from the name of the file it resolves to (``libnccl.so.2.28.3``),
  else from the ``NCCL version X.Y.Z`` string inside it.  A library whose version differs from
  the header's is a fatal error.
``NCCL_PROVIDER``
  The search step that found NCCL: ``explicit``, ``config``, ``wheel``, ``toolkit`` or ``system``.
``NCCL_SEARCHED``
  Every place looked at, in order: one ``<step> (<origin>): <directories>`` entry per candidate.

``NCCL_INCLUDE_DIR``
  The directory of ``nccl.h``.
``NCCL_LIBRARY``
  The shared library (``libnccl.so``, or the wheel's ``libnccl.so.2``).
``NCCL_STATIC_LIBRARY``
  ``libnccl_static.a`` beside it, when present.

Unlike most Find modules, which cache these three, FindNCCL sets them as normal variables:
``NCCL_INCLUDE_DIR`` is also a hint, and a cached answer would outlive a changed hint or
environment. The config step caches ``NCCL_DIR`` as any ``find_package()`` does.

Hints
^^^^^

``NCCL_ROOT``, ``NCCL_HOME``
  An NCCL install prefix (``include/``, ``lib/``), as a cache or an environment variable.
``NCCL_INCLUDE_DIR`` and ``NCCL_LIB_DIR``
  The header and library directories, given together, as cache or environment variables.
``NCCL_DIR``
  The directory of an ``NCCLConfig.cmake``, for the config step.
``Python_EXECUTABLE``
  The Python whose ``nvidia-nccl-cuXX`` wheel the wheel step uses (default: ``python3`` on the
  ``PATH``).
``CUDAToolkit_ROOT``, ``CUDA_HOME``, ``CUDA_PATH``, ``CUDAToolkit_LIBRARY_ROOT``
  CUDA toolkit prefixes for the toolkit step: the variable or environment variable
  ``CUDAToolkit_ROOT``, the environment variables ``CUDA_HOME`` and ``CUDA_PATH``, and the
  toolkit an earlier ``find_package(CUDAToolkit)`` found.
``NCCL_USE_STATIC``
  Also require ``libnccl_static.a`` (``NCCL::nccl_static``); default ``OFF``.
``NCCL_SEARCH_STEPS``
  The steps to run, a subset of ``explicit;config;wheel;toolkit;system`` (the default).

Search
^^^^^^

The steps run in the order above; the first that yields both a header and a library wins, and
the configure log reports each place tried:

``explicit``
  ``NCCL_INCLUDE_DIR`` + ``NCCL_LIB_DIR``, then ``NCCL_ROOT``, then ``NCCL_HOME``. Each is an
  absolute path, and names the NCCL to use: one that holds no NCCL stops the search with an error
  naming it (unset it to let the search go on).
``config``
  An installed ``NCCLConfig.cmake`` (``find_package(NCCL CONFIG)``: ``NCCL_DIR``,
  ``CMAKE_PREFIX_PATH``, the system prefixes).  Skipped unless C or CXX is enabled: NCCL's package
  calls ``find_dependency(Threads)``, which fails without them.
``wheel``
  ``nvidia/nccl/{include,lib}`` of the ``nvidia-nccl-cuXX`` wheel installed in
  ``Python_EXECUTABLE``'s environment.
``toolkit``
  The CUDA toolkit prefixes of the hints above.
``system``
  ``/usr`` and ``/usr/local``, with their multiarch library directories.

Prefixes are searched in ``include/`` and ``lib/<multiarch>``, ``lib64``, ``lib``.  As with any
``find_*`` command, every path is re-rooted under ``CMAKE_FIND_ROOT_PATH`` when that is set.
#]=======================================================================]

cmake_policy(PUSH)
cmake_policy(VERSION 3.25)

include(FindPackageHandleStandardArgs)

if(NOT DEFINED NCCL_SEARCH_STEPS)
  set(NCCL_SEARCH_STEPS explicit config wheel toolkit system)
endif()

# One line of the search report, left out under find_package(NCCL QUIET).
function(_nccl_log text)
  if(NOT NCCL_FIND_QUIETLY)
    message(STATUS "NCCL ${text}")
  endif()
endfunction()

# A place looked at that holds no candidate install, for NCCL_SEARCHED and the log.
macro(_nccl_searched text)
  list(APPEND NCCL_SEARCHED "${text}")
  _nccl_log("${text}")
endmacro()

# A hint from the cache or the environment.  NCCL_INCLUDE_DIR is also a result, so a normal
# variable of a hint's name is an earlier find_package(NCCL)'s answer, not a hint.
function(_nccl_hint name out)
  if(NOT "$CACHE{${name}}" STREQUAL "")
    set(${out} "$CACHE{${name}}" PARENT_SCOPE)
  else()
    set(${out} "$ENV{${name}}" PARENT_SCOPE)
  endif()
endfunction()

# The directory of nccl.h among <dirs>, or empty.
function(_nccl_find_header out)
  unset(dir)  # find_*(NO_CACHE) skips the search when its variable is already set
  find_path(dir nccl.h PATHS ${ARGN} NO_DEFAULT_PATH NO_CACHE)
  string(REGEX REPLACE "/$" "" dir "${dir}")  # find_path(NO_CACHE) ends it with "/"
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

# Tries one install: nccl.h in INCLUDE_DIRS and the library in LIBRARY_DIRS, or both under PREFIX.
# Only those directories are searched (re-rooted under CMAKE_FIND_ROOT_PATH like any find_*).
# Appends them to NCCL_SEARCHED; on success sets NCCL_PROVIDER to <step> and the paths found.
function(_nccl_try step origin)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "PREFIX" "INCLUDE_DIRS;LIBRARY_DIRS")
  unset(_nccl_library)  # find_*(NO_CACHE) skips the search when its variable is already set
  unset(_nccl_static_library)
  if(arg_PREFIX)
    # CMAKE_LIBRARY_ARCHITECTURE is empty until a language is enabled.
    set(arch_dirs ${CMAKE_LIBRARY_ARCHITECTURE} ${CMAKE_SYSTEM_PROCESSOR}-linux-gnu)
    list(REMOVE_DUPLICATES arch_dirs)
    list(TRANSFORM arch_dirs PREPEND "${arg_PREFIX}/lib/")
    set(arg_INCLUDE_DIRS "${arg_PREFIX}/include")
    set(arg_LIBRARY_DIRS ${arch_dirs} "${arg_PREFIX}/lib64" "${arg_PREFIX}/lib")
  endif()
  if(origin)
    set(place "${step} (${origin})")
  else()
    set(place "${step}")
  endif()
  list(JOIN arg_INCLUDE_DIRS ", " includes)
  list(JOIN arg_LIBRARY_DIRS ", " libraries)
  set(NCCL_SEARCHED ${NCCL_SEARCHED} "${place}: ${includes}, ${libraries}" PARENT_SCOPE)

  _nccl_find_header(_nccl_include_dir ${arg_INCLUDE_DIRS})
  # The nvidia-nccl wheel ships libnccl.so.2 without the libnccl.so link.
  find_library(_nccl_library NAMES nccl libnccl.so.2 NAMES_PER_DIR PATHS ${arg_LIBRARY_DIRS}
               NO_DEFAULT_PATH NO_CACHE)
  if(_nccl_library)
    cmake_path(GET _nccl_library PARENT_PATH _nccl_library_dir)
    find_library(_nccl_static_library libnccl_static.a PATHS "${_nccl_library_dir}" NO_DEFAULT_PATH NO_CACHE)
  endif()
  if(NOT _nccl_include_dir OR NOT _nccl_library OR (NCCL_USE_STATIC AND NOT _nccl_static_library))
    set(missing "")
    if(NOT _nccl_include_dir)
      list(APPEND missing "nccl.h in ${includes}")
    endif()
    if(NOT _nccl_library)
      list(APPEND missing "libnccl.so in ${libraries}")
    elseif(NCCL_USE_STATIC AND NOT _nccl_static_library)
      list(APPEND missing "libnccl_static.a in ${_nccl_library_dir}")
    endif()
    list(JOIN missing ", no " missing)
    _nccl_log("${place}: no ${missing}")
    return()
  endif()
  _nccl_log("${place}: found ${_nccl_include_dir}/nccl.h and ${_nccl_library}")
  set(NCCL_PROVIDER "${step}" PARENT_SCOPE)
  set(NCCL_INCLUDE_DIR "${_nccl_include_dir}" PARENT_SCOPE)
  set(NCCL_LIBRARY "${_nccl_library}" PARENT_SCOPE)
  if(_nccl_static_library)
    set(NCCL_STATIC_LIBRARY "${_nccl_static_library}" PARENT_SCOPE)
  endif()
endfunction()

# The steps are macros run inside _nccl_search(), whose scope holds what they find.

# A hint set to a relative path: relative to what is not clear (pip runs the build from the
# project's directory, not the one the command was given in), so it is refused.
function(_nccl_check_absolute hint path)
  if(NOT IS_ABSOLUTE "${path}")
    message(FATAL_ERROR
      "${hint}='${path}' is a relative path. Give it as an absolute one (e.g. ${hint}=\"$(realpath ${path})\"): "
      "the build does not run in the directory the command was given in.")
  endif()
endfunction()

# An explicit hint names the NCCL to use: when it holds none, the search stops there rather than
# go on to another NCCL. The arguments are the hints tried, each set (_<hint> in the caller).
function(_nccl_explicit_failed)
  set(named "")
  foreach(hint IN LISTS ARGN)
    set(path "${_${hint}}")
    if(NOT EXISTS "${path}")
      list(APPEND named "${hint}='${path}' (which does not exist)")
    elseif(NOT IS_DIRECTORY "${path}")
      list(APPEND named "${hint}='${path}' (a file, not a directory)")
    else()
      list(APPEND named "${hint}='${path}'")
    endif()
  endforeach()
  list(JOIN named " and " named)
  list(JOIN ARGN " and " hints)
  list(GET NCCL_SEARCHED -1 searched)
  string(REGEX REPLACE "^[^:]*: " "" searched "${searched}")
  set(static "")
  if(NCCL_USE_STATIC)
    set(static " (and libnccl_static.a: NCCL_USE_STATIC is ON)")
  endif()
  list(JOIN NCCL_SEARCH_STEPS " " steps)
  message(FATAL_ERROR
    "${named}: no NCCL there. Searched ${searched} for nccl.h and libnccl.so${static}. Point ${hints} "
    "at an NCCL install (NCCL_ROOT: a prefix with include/nccl.h and lib/libnccl.so), or unset it to "
    "let the search go on (NCCL_SEARCH_STEPS: ${steps}).")
endfunction()

macro(_nccl_step_explicit)
  foreach(_hint IN ITEMS NCCL_INCLUDE_DIR NCCL_LIB_DIR NCCL_ROOT NCCL_HOME)
    _nccl_hint(${_hint} _${_hint})
    if(_${_hint})
      _nccl_check_absolute(${_hint} "${_${_hint}}")
    endif()
  endforeach()
  if(_NCCL_INCLUDE_DIR OR _NCCL_LIB_DIR)
    if(NOT _NCCL_INCLUDE_DIR OR NOT _NCCL_LIB_DIR)
      message(FATAL_ERROR
        "NCCL_INCLUDE_DIR ('${_NCCL_INCLUDE_DIR}') and NCCL_LIB_DIR ('${_NCCL_LIB_DIR}') go together: "
        "set both, or NCCL_ROOT to a prefix with include/ and lib/.")
    endif()
    _nccl_try(explicit "NCCL_INCLUDE_DIR, NCCL_LIB_DIR"
              INCLUDE_DIRS "${_NCCL_INCLUDE_DIR}" LIBRARY_DIRS "${_NCCL_LIB_DIR}")
    if(NOT NCCL_PROVIDER)
      _nccl_explicit_failed(NCCL_INCLUDE_DIR NCCL_LIB_DIR)
    endif()
  endif()
  foreach(_hint IN ITEMS NCCL_ROOT NCCL_HOME)
    if(_${_hint} AND NOT NCCL_PROVIDER)
      _nccl_try(explicit ${_hint} PREFIX "${_${_hint}}")
      if(NOT NCCL_PROVIDER)
        _nccl_explicit_failed(${_hint})
      endif()
    endif()
  endforeach()
  if(NOT _NCCL_INCLUDE_DIR AND NOT _NCCL_ROOT AND NOT _NCCL_HOME)
    _nccl_searched("explicit: none of NCCL_INCLUDE_DIR, NCCL_LIB_DIR, NCCL_ROOT, NCCL_HOME is set")
  endif()
endmacro()

# The file of an imported target, whichever configuration NCCL was built in; empty without one.
function(_nccl_imported_location target out)
  set(${out} "" PARENT_SCOPE)
  if(NOT TARGET ${target})
    return()
  endif()
  get_target_property(configurations ${target} IMPORTED_CONFIGURATIONS)
  list(TRANSFORM configurations PREPEND IMPORTED_LOCATION_ OUTPUT_VARIABLE properties)
  foreach(property IN LISTS properties ITEMS IMPORTED_LOCATION)
    get_target_property(location ${target} ${property})
    if(location)
      set(${out} "${location}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()

macro(_nccl_step_config)
  if(NOT CMAKE_C_COMPILER_LOADED AND NOT CMAKE_CXX_COMPILER_LOADED)
    _nccl_searched("config: skipped, NCCLConfig.cmake needs C or CXX enabled (it finds Threads)")
  else()
    # Nested in this module, find_package() passes on the version asked for, so an unsuitable
    # NCCLConfigVersion.cmake rejects its package here.
    find_package(NCCL CONFIG QUIET)
    if(NCCL_CONFIG AND TARGET NCCL::nccl)
      _nccl_imported_location(NCCL::nccl _config_library)
      _nccl_imported_location(NCCL::nccl_static _config_static_library)
      # Besides NCCL's own include directory the targets carry the CUDA runtime's.
      get_target_property(_config_includes NCCL::nccl INTERFACE_INCLUDE_DIRECTORIES)
      _nccl_find_header(_config_include ${_config_includes} ${NCCL_INCLUDE_DIRS})
      list(APPEND NCCL_SEARCHED "config (${NCCL_CONFIG}): ${_config_library}")
      if(NOT _config_include OR NOT _config_library)
        _nccl_log("config (${NCCL_CONFIG}): no nccl.h or no NCCL::nccl library")
      elseif(NCCL_USE_STATIC AND NOT _config_static_library)
        _nccl_log("config (${NCCL_CONFIG}): no NCCL::nccl_static library")
      else()
        _nccl_log("config (${NCCL_CONFIG}): found ${_config_include}/nccl.h and ${_config_library}")
        set(NCCL_PROVIDER config)
        set(NCCL_INCLUDE_DIR "${_config_include}")
        set(NCCL_LIBRARY "${_config_library}")
        set(NCCL_STATIC_LIBRARY "${_config_static_library}")
      endif()
    elseif(NCCL_CONSIDERED_CONFIGS)
      set(_rejected "")
      foreach(_config _version IN ZIP_LISTS NCCL_CONSIDERED_CONFIGS NCCL_CONSIDERED_VERSIONS)
        list(APPEND _rejected "config (${_config}): version ${_version}, rejected")
      endforeach()
      list(REMOVE_DUPLICATES _rejected)  # a package under two search prefixes is considered twice
      foreach(_place IN LISTS _rejected)
        _nccl_searched("${_place}")
      endforeach()
    else()
      _nccl_searched("config: no NCCLConfig.cmake (NCCL_DIR, CMAKE_PREFIX_PATH, system prefixes)")
    endif()
  endif()
endmacro()

# Prints the directories of the nvidia.nccl namespace package; nothing when it is not installed.
set(_nccl_wheel_query [[
import importlib.util
try:
    spec = importlib.util.find_spec("nvidia.nccl")
except ImportError:
    spec = None
print(";".join(spec.submodule_search_locations if spec else []))
]])

macro(_nccl_step_wheel)
  set(_python "${Python_EXECUTABLE}")
  if(NOT _python)
    unset(_python)
    find_program(_python python3 NO_CACHE)
  endif()
  if(NOT _python)
    _nccl_searched("wheel: no python3 (set Python_EXECUTABLE)")
  else()
    execute_process(COMMAND "${_python}" -c "${_nccl_wheel_query}"
                    OUTPUT_VARIABLE _wheel_dirs OUTPUT_STRIP_TRAILING_WHITESPACE
                    ERROR_VARIABLE _wheel_error ERROR_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE _wheel_status)
    if(NOT _wheel_status EQUAL 0)
      _nccl_searched("wheel (${_python}): failed (${_wheel_status}): ${_wheel_error}")
    elseif(NOT _wheel_dirs)
      _nccl_searched("wheel (${_python}): no nvidia.nccl package")
    endif()
    foreach(_wheel_dir IN LISTS _wheel_dirs)
      if(NOT NCCL_PROVIDER)
        _nccl_try(wheel "${_python}" INCLUDE_DIRS "${_wheel_dir}/include" LIBRARY_DIRS "${_wheel_dir}/lib")
      endif()
    endforeach()
  endif()
endmacro()

macro(_nccl_step_toolkit)
  set(_toolkit_hints CUDAToolkit_ROOT CUDAToolkit_ROOT CUDA_HOME CUDA_PATH CUDAToolkit_LIBRARY_ROOT)
  set(_toolkit_roots "${CUDAToolkit_ROOT}" "$ENV{CUDAToolkit_ROOT}" "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}"
                     "${CUDAToolkit_LIBRARY_ROOT}")
  set(_toolkit_tried "")
  foreach(_toolkit_hint _toolkit_root IN ZIP_LISTS _toolkit_hints _toolkit_roots)
    if(_toolkit_root AND NOT _toolkit_root IN_LIST _toolkit_tried AND NOT NCCL_PROVIDER)
      list(APPEND _toolkit_tried "${_toolkit_root}")
      _nccl_try(toolkit ${_toolkit_hint} PREFIX "${_toolkit_root}")
    endif()
  endforeach()
  if(NOT _toolkit_tried)
    _nccl_searched("toolkit: none of CUDAToolkit_ROOT, CUDA_HOME, CUDA_PATH is set, no CUDAToolkit found")
  endif()
endmacro()

macro(_nccl_step_system)
  foreach(_system_prefix IN ITEMS /usr /usr/local)
    if(NOT NCCL_PROVIDER)
      _nccl_try(system "" PREFIX ${_system_prefix})
    endif()
  endforeach()
endmacro()

# Runs the steps of NCCL_SEARCH_STEPS until one finds NCCL.
function(_nccl_search)
  foreach(var IN ITEMS NCCL_SEARCHED NCCL_PROVIDER NCCL_INCLUDE_DIR NCCL_LIBRARY NCCL_STATIC_LIBRARY)
    set(${var} "")
  endforeach()
  if(CMAKE_FIND_ROOT_PATH)
    _nccl_log("searches under CMAKE_FIND_ROOT_PATH ${CMAKE_FIND_ROOT_PATH}")
  endif()
  foreach(step IN LISTS NCCL_SEARCH_STEPS)
    if(NOT step MATCHES "^(explicit|config|wheel|toolkit|system)$")
      message(FATAL_ERROR
        "NCCL_SEARCH_STEPS: unknown step '${step}' (steps: explicit config wheel toolkit system)")
    endif()
    cmake_language(CALL _nccl_step_${step})
    if(NCCL_PROVIDER)
      break()
    endif()
  endforeach()
  foreach(var IN ITEMS NCCL_SEARCHED NCCL_PROVIDER NCCL_INCLUDE_DIR NCCL_LIBRARY NCCL_STATIC_LIBRARY)
    set(${var} "${${var}}" PARENT_SCOPE)
  endforeach()
endfunction()

# The version macros of nccl.h, read as text.
function(_nccl_header_version header)
  file(STRINGS "${header}" defines REGEX "^[ \t]*#[ \t]*define[ \t]+NCCL_(MAJOR|MINOR|PATCH|SUFFIX|VERSION_CODE)[ \t]")
  foreach(part IN ITEMS MAJOR MINOR PATCH VERSION_CODE)
    string(REGEX MATCH "define[ \t]+NCCL_${part}[ \t]+([0-9]+)" _ "${defines}")
    set(${part} "${CMAKE_MATCH_1}")
  endforeach()
  if(MAJOR STREQUAL "" OR MINOR STREQUAL "" OR PATCH STREQUAL "")
    message(FATAL_ERROR "${header} has no NCCL_MAJOR, NCCL_MINOR and NCCL_PATCH: it is not NCCL's nccl.h.")
  endif()
  # nccl.h's NCCL_VERSION(X,Y,Z)
  if(MAJOR LESS_EQUAL 2 AND MINOR LESS_EQUAL 8)
    math(EXPR code "${MAJOR} * 1000 + ${MINOR} * 100 + ${PATCH}")
  else()
    math(EXPR code "${MAJOR} * 10000 + ${MINOR} * 100 + ${PATCH}")
  endif()
  if(VERSION_CODE STREQUAL "")
    set(VERSION_CODE "${code}")
  elseif(NOT VERSION_CODE EQUAL code)
    message(FATAL_ERROR
      "${header} says NCCL ${MAJOR}.${MINOR}.${PATCH} (NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH) and NCCL_VERSION_CODE "
      "${VERSION_CODE}, which would be ${code}: the header has been edited or is not one NCCL's. Use an NCCL "
      "install's own nccl.h.")
  endif()
  string(REGEX MATCH "define[ \t]+NCCL_SUFFIX[ \t]+\"([^\"]*)\"" _ "${defines}")
  set(NCCL_VERSION_SUFFIX "${CMAKE_MATCH_1}" PARENT_SCOPE)
  set(NCCL_VERSION_MAJOR "${MAJOR}" PARENT_SCOPE)
  set(NCCL_VERSION_MINOR "${MINOR}" PARENT_SCOPE)
  set(NCCL_VERSION_PATCH "${PATCH}" PARENT_SCOPE)
  set(NCCL_VERSION_CODE "${VERSION_CODE}" PARENT_SCOPE)
  set(NCCL_VERSION "${MAJOR}.${MINOR}.${PATCH}" PARENT_SCOPE)
endfunction()

# A library's own version: its real file's name, else the "NCCL version X.Y.Z" string in it;
# empty when neither says.  Fails when it is not the header's.
function(_nccl_check_library library out)
  file(REAL_PATH "${library}" real)
  cmake_path(GET real FILENAME name)
  if(name MATCHES "\\.so\\.([0-9]+\\.[0-9]+\\.[0-9]+)$")
    set(version "${CMAKE_MATCH_1}")
  else()
    file(STRINGS "${real}" banner REGEX "NCCL version [0-9]+\\.[0-9]+\\.[0-9]+" LIMIT_COUNT 1)
    string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" version "${banner}")
  endif()
  if(version STREQUAL "")
    _nccl_log("library ${library}: no version in its name or contents, not compared with nccl.h")
  elseif(NOT version STREQUAL NCCL_VERSION)
    message(FATAL_ERROR
      "NCCL's header and library are from different NCCL versions:\n"
      "  ${NCCL_INCLUDE_DIR}/nccl.h is NCCL ${NCCL_VERSION}\n"
      "  ${library} is NCCL ${version}\n"
      "(found by the ${NCCL_PROVIDER} step). Point NCCL_ROOT, or NCCL_INCLUDE_DIR and NCCL_LIB_DIR, "
      "at one NCCL install, or reinstall the NCCL that provides both.")
  endif()
  set(${out} "${version}" PARENT_SCOPE)
endfunction()

_nccl_search()

# The wheel that would serve this build, in the messages below: that of the CUDA major it compiles
# with, where CMake knows it.
if(CMAKE_CUDA_COMPILER_VERSION MATCHES "^([0-9]+)\\.")
  set(_nccl_wheel_hint "nvidia-nccl-cu${CMAKE_MATCH_1}")
else()
  set(_nccl_wheel_hint "nvidia-nccl-cuXX (XX: the CUDA major you build for)")
endif()

if(NCCL_PROVIDER)
  _nccl_header_version("${NCCL_INCLUDE_DIR}/nccl.h")
  _nccl_check_library("${NCCL_LIBRARY}" NCCL_LIBRARY_VERSION)
  set(NCCL_INCLUDE_DIRS "${NCCL_INCLUDE_DIR}")
  cmake_path(GET NCCL_LIBRARY PARENT_PATH NCCL_LIBRARY_DIR)
  if(NCCL_USE_STATIC)
    _nccl_check_library("${NCCL_STATIC_LIBRARY}" _nccl_static_version)
    set(NCCL_LIBRARIES "${NCCL_STATIC_LIBRARY}" pthread ${CMAKE_DL_LIBS} rt)
  else()
    set(NCCL_LIBRARIES "${NCCL_LIBRARY}")
  endif()
  # Shown only when the version is unsuitable.
  string(CONCAT _nccl_failure
    "${NCCL_INCLUDE_DIR}/nccl.h is NCCL ${NCCL_VERSION} (found by the ${NCCL_PROVIDER} step). "
    "Point NCCL_ROOT at a newer NCCL, or pip install a newer ${_nccl_wheel_hint}.")
else()
  # Semicolons would split the message: find_package_handle_standard_args() re-parses its arguments.
  list(JOIN NCCL_SEARCH_STEPS " " _nccl_steps)
  list(JOIN NCCL_SEARCHED "\n  " _nccl_places)
  string(CONCAT _nccl_failure
    "NCCL was not found. Searched, in order (NCCL_SEARCH_STEPS: ${_nccl_steps}):\n"
    "  ${_nccl_places}\n")
  if(CMAKE_FIND_ROOT_PATH)
    list(JOIN CMAKE_FIND_ROOT_PATH ", " _nccl_roots)
    string(APPEND _nccl_failure "each under CMAKE_FIND_ROOT_PATH (${_nccl_roots}).\n")
  endif()
  if(NCCL_USE_STATIC)
    string(APPEND _nccl_failure "NCCL_USE_STATIC is ON, so libnccl_static.a is required too.\n")
  endif()
  string(APPEND _nccl_failure
    "Fix it one of three ways:\n"
    "  1. NCCL_ROOT=/path/to/nccl, a prefix with include/nccl.h and lib/libnccl.so\n"
    "  2. NCCL_INCLUDE_DIR=/path/to/include and NCCL_LIB_DIR=/path/to/lib\n"
    "  3. pip install ${_nccl_wheel_hint} with NCCLKIT_NCCL=wheel or auto\n"
    "(cache variables, -DNAME=VALUE, or environment variables)")
endif()

if(NCCL_USE_STATIC)
  set(_nccl_static_var NCCL_STATIC_LIBRARY)
endif()
find_package_handle_standard_args(NCCL
  REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR ${_nccl_static_var}
  VERSION_VAR NCCL_VERSION
  REASON_FAILURE_MESSAGE "${_nccl_failure}")

if(NCCL_FOUND)
  if(NOT TARGET NCCL::nccl)
    add_library(NCCL::nccl SHARED IMPORTED)
    set_target_properties(NCCL::nccl PROPERTIES
      IMPORTED_LOCATION "${NCCL_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
  endif()
  if(NCCL_STATIC_LIBRARY AND NOT TARGET NCCL::nccl_static)
    add_library(NCCL::nccl_static STATIC IMPORTED)
    # What libnccl.so links itself; which CUDA runtime (static or shared) is the consumer's choice.
    set_target_properties(NCCL::nccl_static PROPERTIES
      IMPORTED_LOCATION "${NCCL_STATIC_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "pthread;${CMAKE_DL_LIBS};rt")
  endif()
  list(GET NCCL_LIBRARIES 0 _nccl_linked)
  _nccl_log("${NCCL_VERSION} (${NCCL_PROVIDER}): ${NCCL_INCLUDE_DIR}/nccl.h, ${_nccl_linked}")
endif()

unset(_nccl_failure)
unset(_nccl_linked)
unset(_nccl_places)
unset(_nccl_roots)
unset(_nccl_steps)
unset(_nccl_static_var)
unset(_nccl_static_version)
unset(_nccl_wheel_query)
cmake_policy(POP)
