#[=======================================================================[.rst:
NcclkitCudaToolkit
------------------

Points CMake at the CUDA compiler before the CUDA language is enabled, and makes a toolkit of
NVIDIA's PyPI wheels usable (``nvidia-cuda-nvcc`` and the others ``NcclkitCudaWheels.json``
lists, which install one tree, ``site-packages/nvidia/cu13``). That tree is not laid out as a
toolkit install is, in two ways that CMake trips on: nvcc's profile links from ``<tree>/lib64``
while the wheels ship ``<tree>/lib``, and the runtime is ``libcudart.so.13`` with no
``libcudart.so``, which FindCUDAToolkit looks for. The tree is left as it is: the build directory
gets a toolkit laid out as usual, of links into the tree and copies of its headers and static
libraries, and CMake compiles with its nvcc. Its paths and the times of what the build depends on
stay the same when pip's build environment (and with it the tree) is made again, so a compiler
cache and the configured build directory stay valid.

``ncclkit_cuda_toolkit()``
  Call at directory scope, before ``enable_language(CUDA)``. Reads ``NCCLKIT_CUDA_TOOLKIT``
  (``auto``: the nvcc CMake is given or finds; ``pypi``: a tree of PyPI wheels, the one nvcc is
  in, else the one on Python's path; ``system``: anything but such a tree) and
  ``NCCLKIT_CUDA_VERSION`` (the release the tree must be, when set).

Global properties it sets, for the build record:

``NCCLKIT_CUDA_TOOLKIT_SOURCE``
  ``pypi`` or ``system``.
``NCCLKIT_CUDA_TOOLKIT_WHEELS``
  For ``pypi``: each wheel as ``name==version``.
#]=======================================================================]
include_guard(GLOBAL)
cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitBuildEnvironment)

set(_NCCLKIT_CUDA_WHEELS_FILE "${CMAKE_CURRENT_LIST_DIR}/NcclkitCudaWheels.json")

# The pip command that installs the toolkit's wheels, of NCCLKIT_CUDA_VERSION or the default release.
function(_ncclkit_pypi_toolkit_install out)
  file(READ "${_NCCLKIT_CUDA_WHEELS_FILE}" json)
  string(JSON release GET "${json}" default_release)
  if(NCCLKIT_CUDA_VERSION)
    set(release "${NCCLKIT_CUDA_VERSION}")
  endif()
  string(JSON count LENGTH "${json}" wheels)
  math(EXPR last "${count} - 1")
  set(command "pip install")
  foreach(i RANGE ${last})
    string(JSON wheel MEMBER "${json}" wheels ${i})
    string(APPEND command " '${wheel}==${release}.*'")
  endforeach()
  set(${out} "${command}" PARENT_SCOPE)
endfunction()

# The nvcc of the PyPI tree on Python's path (sys.path), in <out>; when there is none, empty, or
# with REQUIRED an error naming every place searched.
function(_ncclkit_pypi_nvcc out)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "REQUIRED" "" "")
  find_package(Python 3.10 COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c [[
import glob, os, sys
for entry in sys.path:
    print("searched", os.path.join(entry, "nvidia", "cu*", "bin", "nvcc"))
    for nvcc in sorted(glob.glob(os.path.join(entry, "nvidia", "cu[0-9]*", "bin", "nvcc"))):
        print("found", nvcc)
]]
    OUTPUT_VARIABLE output OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REPLACE "\n" ";" lines "${output}")
  set(searched "${lines}")
  list(FILTER searched INCLUDE REGEX "^searched ")
  list(TRANSFORM searched REPLACE "^searched " "")
  list(FILTER lines INCLUDE REGEX "^found ")
  list(TRANSFORM lines REPLACE "^found " "")
  if(NOT lines AND NOT ARG_REQUIRED)
    set(${out} "" PARENT_SCOPE)
    return()
  elseif(NOT lines)
    list(JOIN searched "\n  " searched)
    _ncclkit_pypi_toolkit_install(install)
    message(FATAL_ERROR
      "ncclkit_cuda_toolkit(): NCCLKIT_CUDA_TOOLKIT=pypi, and no nvidia/cu*/bin/nvcc is on the path of "
      "${Python_EXECUTABLE}. Searched:\n  ${searched}\n"
      "Install NVIDIA's compiler wheels, all of one release: ${install} (pip install . adds them itself), "
      "or point CUDACXX at an nvcc.")
  endif()
  list(GET lines 0 nvcc)
  set(${out} "${nvcc}" PARENT_SCOPE)
endfunction()

# Checks that <tree> holds every wheel of the toolkit, all of one release (and of
# NCCLKIT_CUDA_VERSION when set); <out> gets each wheel as name==version.
function(_ncclkit_check_pypi_toolkit tree out)
  file(READ "${_NCCLKIT_CUDA_WHEELS_FILE}" json)
  string(JSON count LENGTH "${json}" wheels)
  cmake_path(GET tree PARENT_PATH nvidia)
  cmake_path(GET nvidia PARENT_PATH site)
  set(found "")
  set(releases "")
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON wheel MEMBER "${json}" wheels ${i})
    string(JSON file GET "${json}" wheels ${wheel})
    string(REPLACE "-" "_" stem "${wheel}")
    file(GLOB dist_info LIST_DIRECTORIES true "${site}/${stem}-*.dist-info")
    if(NOT EXISTS "${tree}/${file}" OR NOT dist_info)
      message(FATAL_ERROR
        "ncclkit_cuda_toolkit(): the CUDA toolkit of PyPI wheels at ${tree} lacks ${wheel} (no ${tree}/${file}, "
        "or no ${stem}-*.dist-info in ${site}). Install it, of the release of the others: "
        "pip install '${wheel}==<release>.*' (NCCLKIT_CUDA_VERSION, e.g. 13.0).")
    endif()
    list(GET dist_info 0 dist_info)
    string(REGEX REPLACE ".*/${stem}-([^-]+)\\.dist-info$" "\\1" version "${dist_info}")
    list(APPEND found "${wheel}==${version}")
    string(REGEX MATCH "^[0-9]+\\.[0-9]+" release "${version}")
    list(APPEND releases "${release}")
  endforeach()
  list(REMOVE_DUPLICATES releases)
  list(LENGTH releases n)
  if(n GREATER 1)
    list(JOIN found ", " found)
    message(FATAL_ERROR
      "ncclkit_cuda_toolkit(): the CUDA toolkit of PyPI wheels at ${tree} mixes releases: ${found}. nvcc needs "
      "nvvm and crt of its own release (its requirements do not pin them): install every one as '<name>==X.Y.*'.")
  endif()
  if(NCCLKIT_CUDA_VERSION AND NOT releases STREQUAL NCCLKIT_CUDA_VERSION)
    message(FATAL_ERROR
      "ncclkit_cuda_toolkit(): NCCLKIT_CUDA_VERSION=${NCCLKIT_CUDA_VERSION}, and the CUDA toolkit of PyPI wheels at "
      "${tree} is release ${releases}. Install that release's wheels, or set NCCLKIT_CUDA_VERSION=${releases}.")
  endif()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

# <view> lays <tree> out as a toolkit install: bin/ and nvvm/ linked, lib64/ (and lib/) with every
# library of <tree>/lib and libcudart.so beside libcudart.so.<major>. What compiles and links
# depend on is copied, so that its time stays when pip's build environment is made again: the
# headers, and the static libraries (a shared one's time is kept out of links by
# LINK_DEPENDS_NO_SHARED).
function(_ncclkit_toolkit_view tree view)
  file(REMOVE_RECURSE "${view}/bin" "${view}/nvvm" "${view}/lib")
  if(IS_SYMLINK "${view}/include")  # a view an older ncclkit made: its headers were a link
    file(REMOVE "${view}/include")
  endif()
  file(MAKE_DIRECTORY "${view}/bin" "${view}/lib64")
  file(GLOB tools RELATIVE "${tree}/bin" "${tree}/bin/*")
  foreach(tool IN LISTS tools)
    file(CREATE_LINK "${tree}/bin/${tool}" "${view}/bin/${tool}" SYMBOLIC)
  endforeach()
  file(CREATE_LINK "${tree}/nvvm" "${view}/nvvm" SYMBOLIC)
  ncclkit_mirror_directory("${tree}/include" "${view}/include")
  file(GLOB libraries RELATIVE "${tree}/lib" "${tree}/lib/*")
  file(GLOB stale RELATIVE "${view}/lib64" "${view}/lib64/*")
  foreach(library IN LISTS stale)
    if(NOT library IN_LIST libraries)
      file(REMOVE "${view}/lib64/${library}")
    endif()
  endforeach()
  foreach(library IN LISTS libraries)
    if(library MATCHES "\\.a$")
      file(COPY_FILE "${tree}/lib/${library}" "${view}/lib64/${library}" ONLY_IF_DIFFERENT)
    else()
      file(CREATE_LINK "${tree}/lib/${library}" "${view}/lib64/${library}" SYMBOLIC)
    endif()
  endforeach()
  file(GLOB cudart RELATIVE "${tree}/lib" "${tree}/lib/libcudart.so.[0-9]*")
  if(cudart)
    list(GET cudart 0 cudart)
    file(CREATE_LINK "${cudart}" "${view}/lib64/libcudart.so" SYMBOLIC)
  endif()
  file(CREATE_LINK lib64 "${view}/lib" SYMBOLIC)
endfunction()

# CUDA's crt/math_functions.h declares rsqrt and rsqrtf for the host. A glibc that declares them
# too (C23's, with noexcept in C++) conflicts with a header that does not take glibc's exception
# specification (_NV_RSQRT_SPECIFIER, from CUDA 13.2), and nvcc then compiles nothing: CMake's
# compiler check fails deep in its output with "exception specification is incompatible". Said
# here instead, with what to do. The host's math.h is read as the C++ compiler sees it; CUDA's
# headers are where nvcc says (it may be a wrapper script outside the toolkit).
function(_ncclkit_check_host_math nvcc)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    return()
  endif()
  set(probe "${CMAKE_BINARY_DIR}/CMakeFiles/ncclkit_host_math.cpp")
  file(WRITE "${probe}" "#include <math.h>\nncclkit_glibc __GLIBC__ __GLIBC_MINOR__\n")
  separate_arguments(flags UNIX_COMMAND "${CMAKE_CXX_FLAGS}")
  execute_process(COMMAND "${CMAKE_CXX_COMPILER}" ${flags} -E -P "${probe}"
    OUTPUT_VARIABLE preprocessed ERROR_QUIET RESULT_VARIABLE failed)
  if(failed OR NOT preprocessed MATCHES "[ *]rsqrt *\\(")
    return()
  endif()
  execute_process(COMMAND "${nvcc}" --dryrun -E -x cu /dev/null OUTPUT_VARIABLE dryrun ERROR_VARIABLE dryrun)
  if(NOT dryrun MATCHES "INCLUDES=\"-I([^\"]+)\"")
    return()
  endif()
  cmake_path(NORMAL_PATH CMAKE_MATCH_1 OUTPUT_VARIABLE include)
  set(header "${include}/crt/math_functions.h")
  if(NOT EXISTS "${header}")
    return()
  endif()
  file(STRINGS "${header}" takes_glibc REGEX "_NV_RSQRT_SPECIFIER" LIMIT_COUNT 1)
  file(STRINGS "${header}" declares REGEX "[ *]rsqrt\\(" LIMIT_COUNT 1)
  if(takes_glibc OR NOT declares)
    return()
  endif()
  string(REGEX MATCH "ncclkit_glibc ([0-9]+) ([0-9]+)" _ "${preprocessed}")
  message(FATAL_ERROR
    "ncclkit_cuda_toolkit(): the CUDA compiler ${nvcc} cannot compile on this system: its "
    "${header} declares rsqrt and rsqrtf without the exception specification that this system's "
    "math.h (glibc ${CMAKE_MATCH_1}.${CMAKE_MATCH_2}, as ${CMAKE_CXX_COMPILER} reads it) gives them, so "
    "every CUDA source fails with \"exception specification is incompatible\". Use CUDA 13.2 or newer, "
    "whose headers take glibc's: NVIDIA's PyPI wheels (NCCLKIT_CUDA_TOOLKIT=pypi NCCLKIT_CUDA_VERSION=13.2) "
    "or a newer toolkit (CMAKE_CUDA_COMPILER or CUDACXX); or build on a system whose glibc is older.")
endfunction()

function(ncclkit_cuda_toolkit)
  set(view_root "${CMAKE_BINARY_DIR}/ncclkit-cuda")
  # A compiler in the view is this function's own from an earlier configure: the tree it links
  # to is found again, since pip's build environment may have moved it.
  set(nvcc "${CMAKE_CUDA_COMPILER}")
  if(nvcc MATCHES "^${view_root}/")
    unset(CMAKE_CUDA_COMPILER CACHE)
    set(nvcc "")
  endif()
  if(NOT nvcc)
    set(nvcc "$ENV{CUDACXX}")
  endif()
  if(NCCLKIT_CUDA_TOOLKIT STREQUAL "pypi" AND NOT nvcc)
    _ncclkit_pypi_nvcc(nvcc REQUIRED)
  elseif(NCCLKIT_CUDA_TOOLKIT STREQUAL "auto" AND NOT nvcc)
    # Where CMake would find nvcc; failing that, NVIDIA's wheels, so that a machine with a driver
    # and no toolkit builds once they are installed.
    find_program(nvcc NAMES nvcc HINTS ENV CUDA_HOME ENV CUDA_PATH PATH_SUFFIXES bin PATHS /usr/local/cuda/bin NO_CACHE)
    if(NOT nvcc)
      _ncclkit_pypi_nvcc(nvcc)
    endif()
  endif()
  if(nvcc AND NOT IS_ABSOLUTE "${nvcc}")
    find_program(_ncclkit_nvcc_path NAMES "${nvcc}" NO_CACHE)
    set(nvcc "${_ncclkit_nvcc_path}")
  endif()

  set(tree "")
  if(nvcc MATCHES "^(.*/nvidia/cu[0-9]+)/bin/nvcc$")
    if(NOT EXISTS "${CMAKE_MATCH_1}/lib64")
      set(tree "${CMAKE_MATCH_1}")
    endif()
  endif()
  if(NOT tree)
    if(NCCLKIT_CUDA_TOOLKIT STREQUAL "pypi")
      message(FATAL_ERROR
        "ncclkit_cuda_toolkit(): NCCLKIT_CUDA_TOOLKIT=pypi, and the CUDA compiler given is ${nvcc}, not one of "
        "NVIDIA's PyPI wheels (site-packages/nvidia/cu<major>/bin/nvcc). Unset CUDACXX and CMAKE_CUDA_COMPILER "
        "to use the wheels on Python's path, or set NCCLKIT_CUDA_TOOLKIT=auto to use ${nvcc}.")
    endif()
    if(nvcc)
      _ncclkit_check_host_math("${nvcc}")
    endif()
    set_property(GLOBAL PROPERTY NCCLKIT_CUDA_TOOLKIT_SOURCE system)
    return()
  endif()
  if(NCCLKIT_CUDA_TOOLKIT STREQUAL "system")
    message(FATAL_ERROR
      "ncclkit_cuda_toolkit(): NCCLKIT_CUDA_TOOLKIT=system, and the CUDA compiler given is ${nvcc}, from NVIDIA's "
      "PyPI wheels. Point CUDACXX at a CUDA toolkit's nvcc, or set NCCLKIT_CUDA_TOOLKIT=auto.")
  endif()

  _ncclkit_check_pypi_toolkit("${tree}" wheels)
  # The release is in the view's path: a tree of another release is another compiler to CMake,
  # which then configures the build directory afresh.
  set(nvcc_wheel "${wheels}")
  list(FILTER nvcc_wheel INCLUDE REGEX "^nvidia-cuda-nvcc==")
  string(REPLACE "nvidia-cuda-nvcc==" "nvcc-" version "${nvcc_wheel}")
  set(view "${view_root}/${version}")
  _ncclkit_toolkit_view("${tree}" "${view}")
  _ncclkit_check_host_math("${view}/bin/nvcc")
  set(CMAKE_CUDA_COMPILER "${view}/bin/nvcc" CACHE FILEPATH "The CUDA compiler: the PyPI toolkit's, laid out in the build tree" FORCE)
  list(JOIN wheels ", " listed)
  message(STATUS "CUDA toolkit: NVIDIA's PyPI wheels at ${tree} (${listed}), laid out as a toolkit in ${view}")
  set_property(GLOBAL PROPERTY NCCLKIT_CUDA_TOOLKIT_SOURCE pypi)
  set_property(GLOBAL PROPERTY NCCLKIT_CUDA_TOOLKIT_WHEELS "${wheels}")
endfunction()
