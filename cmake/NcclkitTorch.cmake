# torch for a target made elsewhere, the way torch.utils.cpp_extension builds an extension, but
# through CMake's targets.
#
# ncclkit_find_torch()
#   Finds the torch of the Python that builds (Python_EXECUTABLE), through its own CMake package
#   (torch.utils.cmake_prefix_path), once per build, and makes the global INTERFACE target
#   ncclkit::torch, whose properties hold what ncclkit_target_torch and the build record need:
#   NCCLKIT_TORCH_VERSION (2.11.0+cu130), NCCLKIT_TORCH_CUDA (13.0; empty for a CPU torch),
#   NCCLKIT_TORCH_CXX11_ABI (1 or 0), NCCLKIT_TORCH_DIR (the torch package) and
#   NCCLKIT_TORCH_PYTHON_LIBRARY (libtorch_python, for pybind11 bindings of tensors). It says which
#   torch it found, and warns when that torch is not the one the same Python imports outside the
#   build's environment (pip's build isolation), which is where the extension will run.
# ncclkit_target_torch(<target> [STABLE_ABI [TORCH_TARGET <X.Y>]] [PYTHON_BINDINGS] [DESTINATION <dir>])
#   Compiles and links <target> against that torch: its headers and libraries, the C++ standard
#   and _GLIBCXX_USE_CXX11_ABI torch was built with, TORCH_EXTENSION_NAME=<target>, the CUDA
#   runtime torch loads (shared, not ncclkit's static one) and, for a <target> installed into the
#   site-packages directory <dir>, an RPATH to torch's libraries beside it.
#   STABLE_ABI: torch's stable C ABI only (torch/csrc/stable, STABLE_TORCH_LIBRARY), with
#   TORCH_STABLE_ONLY and TORCH_TARGET_VERSION set to <X.Y> (default: the torch built against), so
#   that the binary runs with every torch from X.Y (2.9 or newer) on; needs torch 2.10 or newer to
#   build.
#   PYTHON_BINDINGS: also libtorch_python, for a pybind11 module that passes tensors (not with
#   STABLE_ABI). The facts go on <target> for ncclkit_target_build_record (NCCLKIT_TORCH_MODE
#   torch|stable_abi, NCCLKIT_TORCH_TARGET).
#
# Example:
#   Python_add_library(_ops MODULE WITH_SOABI ops.cpp kernels.cu)
#   ncclkit_target_cuda(_ops)
#   ncclkit_target_torch(_ops DESTINATION mypkg)

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitTargetCuda)

include_guard(GLOBAL)

# The oldest torch whose headers can build for an older target (TORCH_TARGET_VERSION and the
# TORCH_VERSION_* macros that gate each stable function), and the oldest target they document.
set(NCCLKIT_TORCH_STABLE_MINIMUM 2.10)
set(NCCLKIT_TORCH_STABLE_OLDEST_TARGET 2.9)

# What the Python that builds says of its torch, as JSON.
set(_NCCLKIT_TORCH_FACTS [=[
import json, os, torch, torch.utils
print(json.dumps({
    "version": torch.__version__,
    "cuda": torch.version.cuda or "",
    "hip": getattr(torch.version, "hip", None) or "",
    "cxx11_abi": int(torch._C._GLIBCXX_USE_CXX11_ABI),
    "cmake_prefix_path": torch.utils.cmake_prefix_path,
    "dir": os.path.dirname(torch.__file__),
}))
]=])

# The torch the same Python imports without the build environment's paths (-I drops PYTHONPATH,
# through which pip's build isolation puts its own packages first): "<version> <dir>", or empty.
set(_NCCLKIT_TORCH_OUTSIDE [=[
import importlib.metadata, importlib.util, os
spec = importlib.util.find_spec("torch")
if spec and spec.origin:
    print(importlib.metadata.version("torch"), os.path.dirname(spec.origin))
]=])

function(_ncclkit_torch_fact facts key out)
  string(JSON value GET "${facts}" ${key})
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Warn when the torch built against is not the one that will run the extension.
function(_ncclkit_torch_outside version dir)
  execute_process(COMMAND "${Python_EXECUTABLE}" -I -c "${_NCCLKIT_TORCH_OUTSIDE}"
    OUTPUT_VARIABLE outside OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  string(REPLACE " " ";" outside "${outside}")
  list(LENGTH outside length)
  set(fix "build with `pip install --no-build-isolation .` against the torch installed, or pin torch in "
          "[build-system] requires to the version you run")
  if(length EQUAL 0)
    file(REAL_PATH "${dir}" dir)
    execute_process(COMMAND "${Python_EXECUTABLE}" -I -c "import sys; print(sys.prefix)"
      OUTPUT_VARIABLE prefix OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    message(WARNING
      "torch ${version} (${dir}) is in this build's environment only: ${Python_EXECUTABLE} imports no torch "
      "outside it (${prefix}). The extension will run with whatever torch is installed later, and a TORCH "
      "build needs that torch to be ${version}: ${fix}.")
    return()
  endif()
  list(GET outside 0 outside_version)
  list(GET outside 1 outside_dir)
  file(REAL_PATH "${dir}" dir)
  file(REAL_PATH "${outside_dir}" outside_dir)
  if(NOT outside_dir STREQUAL dir AND NOT outside_version STREQUAL version)
    message(WARNING
      "This build compiles against torch ${version} (${dir}), but ${Python_EXECUTABLE} imports torch "
      "${outside_version} (${outside_dir}) outside the build's environment, and that is the torch the extension "
      "will run with: an extension built against another torch fails to import (undefined symbol: _ZN3c10...). "
      "Fix: ${fix}.")
  endif()
endfunction()

function(ncclkit_find_torch)
  if(TARGET ncclkit::torch)
    return()
  endif()
  if(NOT Python_EXECUTABLE)
    message(FATAL_ERROR
      "ncclkit_find_torch: torch is found through the Python that builds, and find_package(ncclkit) found no "
      "Python 3.10 or newer: give -DPython_EXECUTABLE=<python with torch>.")
  endif()
  execute_process(COMMAND "${Python_EXECUTABLE}" -c "${_NCCLKIT_TORCH_FACTS}"
    OUTPUT_VARIABLE facts ERROR_VARIABLE error RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    string(REGEX MATCH "[^\n]+\n?$" said "${error}")
    string(STRIP "${said}" said)
    message(FATAL_ERROR
      "ncclkit_find_torch: a TORCH extension builds against the torch of the Python that builds, and "
      "`${Python_EXECUTABLE} -c 'import torch'` fails: ${said}\n"
      "Install torch for that Python, and build with `pip install --no-build-isolation .`; under pip's build "
      "isolation, add the torch you run (pinned) to [build-system] requires.")
  endif()
  foreach(key IN ITEMS version cuda hip cxx11_abi cmake_prefix_path dir)
    _ncclkit_torch_fact("${facts}" ${key} ${key})
  endforeach()
  if(hip)
    message(FATAL_ERROR
      "ncclkit_find_torch: torch ${version} (${dir}) is a ROCm build (HIP ${hip}); ncclkit builds torch "
      "extensions for CUDA torch only. Install a CUDA (or CPU) torch for this build.")
  endif()
  string(REGEX MATCH "^[0-9]+" cuda_major "${cuda}")
  if(cuda AND NOT cuda_major EQUAL CUDAToolkit_VERSION_MAJOR)
    message(FATAL_ERROR
      "ncclkit_find_torch: torch ${version} (${dir}) is built for CUDA ${cuda}, and this build compiles with CUDA "
      "${CUDAToolkit_VERSION} (${CMAKE_CUDA_COMPILER}): an extension and its torch need one CUDA major.\n"
      "Install the torch build for CUDA ${CUDAToolkit_VERSION_MAJOR} (pip install torch --index-url "
      "https://download.pytorch.org/whl/cu${CUDAToolkit_VERSION_MAJOR}0), or point CUDACXX at a CUDA ${cuda} nvcc.")
  endif()
  _ncclkit_torch_outside("${version}" "${dir}")

  # torch's package, read in this function's scope: the CMAKE_CUDA_FLAGS it adds (its own
  # -gencode list) and its variables stay here; its imported targets are made global. Our archs go
  # in as its TORCH_CUDA_ARCH_LIST, so that it detects no GPU of its own.
  set(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL ON)
  set(torch_archs "")
  foreach(arch IN LISTS NCCLKIT_CUDA_ARCHS_SASS)
    string(REGEX REPLACE "^([0-9]+)([0-9])([af]?)$" "\\1.\\2\\3" arch "${arch}")
    list(APPEND torch_archs "${arch}")
  endforeach()
  set(TORCH_CUDA_ARCH_LIST "${torch_archs}")
  find_package(Torch CONFIG QUIET HINTS "${cmake_prefix_path}" NO_DEFAULT_PATH)
  if(NOT Torch_FOUND)
    message(FATAL_ERROR
      "ncclkit_find_torch: torch ${version} (${dir}) has no usable CMake package in ${cmake_prefix_path}/Torch: "
      "${Torch_NOT_FOUND_MESSAGE}\nReinstall torch, or check what its TorchConfig.cmake needs (CUDA toolkit).")
  endif()
  find_library(NCCLKIT_TORCH_PYTHON_LIBRARY torch_python PATHS "${dir}/lib" NO_DEFAULT_PATH)
  mark_as_advanced(NCCLKIT_TORCH_PYTHON_LIBRARY)
  get_target_property(standard torch CXX_STANDARD)
  if(NOT standard)
    set(standard 17)
  endif()

  add_library(ncclkit::torch INTERFACE IMPORTED GLOBAL)
  target_link_libraries(ncclkit::torch INTERFACE ${TORCH_LIBRARIES})
  target_compile_definitions(ncclkit::torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${cxx11_abi})
  if(cuda)
    # As torch's own build defines it: its C shim (the stable ABI's) declares its CUDA functions,
    # the current CUDA stream among them, only under USE_CUDA.
    target_compile_definitions(ncclkit::torch INTERFACE USE_CUDA)
  endif()
  set_target_properties(ncclkit::torch PROPERTIES
    NCCLKIT_TORCH_VERSION "${version}"
    NCCLKIT_TORCH_CUDA "${cuda}"
    NCCLKIT_TORCH_CXX11_ABI "${cxx11_abi}"
    NCCLKIT_TORCH_DIR "${dir}"
    NCCLKIT_TORCH_CXX_STANDARD "${standard}"
    NCCLKIT_TORCH_PYTHON_LIBRARY "${NCCLKIT_TORCH_PYTHON_LIBRARY}")
  if(cuda)
    message(STATUS "torch ${version} (CUDA ${cuda}, C++ ABI ${cxx11_abi}): ${dir}")
  else()
    message(STATUS "torch ${version} (CPU only, C++ ABI ${cxx11_abi}): ${dir}")
  endif()
endfunction()

# TORCH_TARGET_VERSION's value for torch X.Y: the byte layout of TORCH_ABI_VERSION
# (torch/headeronly/version.h): major << 56 | minor << 48.
function(_ncclkit_torch_target_version target_release out)
  string(REPLACE "." ";" parts "${target_release}")
  list(GET parts 0 major)
  list(GET parts 1 minor)
  math(EXPR value "(${major} << 56) | (${minor} << 48)" OUTPUT_FORMAT HEXADECIMAL)
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# The stable ABI's target release: X.Y, no newer than the torch built against, no older than the
# first torch that knows it.
function(_ncclkit_torch_stable_target target version requested out)
  string(REGEX MATCH "^[0-9]+\\.[0-9]+" release "${version}")
  if(requested STREQUAL "")
    set(requested "${release}")
  endif()
  if(NOT requested MATCHES "^[0-9]+\\.[0-9]+$")
    message(FATAL_ERROR "ncclkit_target_torch(${target}): TORCH_TARGET '${requested}' is not a torch release X.Y "
                        "(e.g. 2.10).")
  endif()
  if(release VERSION_LESS NCCLKIT_TORCH_STABLE_MINIMUM)
    message(FATAL_ERROR
      "ncclkit_target_torch(${target} STABLE_ABI): torch ${version} is too old for the stable ABI, which needs torch "
      "${NCCLKIT_TORCH_STABLE_MINIMUM} or newer (TORCH_TARGET_VERSION).\n"
      "Build against a newer torch (pip install 'torch>=${NCCLKIT_TORCH_STABLE_MINIMUM}'), or drop STABLE_ABI.")
  endif()
  if(requested VERSION_LESS NCCLKIT_TORCH_STABLE_OLDEST_TARGET OR requested VERSION_GREATER release)
    message(FATAL_ERROR
      "ncclkit_target_torch(${target}): TORCH_TARGET ${requested} is outside what torch ${version} can build for: "
      "${NCCLKIT_TORCH_STABLE_OLDEST_TARGET} to ${release}.")
  endif()
  set(${out} "${requested}" PARENT_SCOPE)
endfunction()

# The RPATH that finds torch's libraries in site-packages/torch/lib from site-packages/<destination>.
function(_ncclkit_torch_rpath target destination)
  if(destination STREQUAL "")
    get_target_property(dir ncclkit::torch NCCLKIT_TORCH_DIR)
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "${dir}/lib")
    return()
  endif()
  string(REGEX REPLACE "[^/]+" ".." up "${destination}")
  set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "$ORIGIN/${up}/torch/lib")
endfunction()

function(ncclkit_target_torch target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "STABLE_ABI;PYTHON_BINDINGS" "TORCH_TARGET;DESTINATION" "")
  _ncclkit_check_target(ncclkit_target_torch ${target} ${ARG_UNPARSED_ARGUMENTS})
  if(ARG_TORCH_TARGET AND NOT ARG_STABLE_ABI)
    message(FATAL_ERROR "ncclkit_target_torch(${target}): TORCH_TARGET is the stable ABI's target; add STABLE_ABI.")
  endif()
  if(ARG_STABLE_ABI AND ARG_PYTHON_BINDINGS)
    message(FATAL_ERROR
      "ncclkit_target_torch(${target}): STABLE_ABI and PYTHON_BINDINGS exclude each other: libtorch_python is "
      "torch's unstable C++ ABI. Register ops with STABLE_TORCH_LIBRARY and call them through torch.ops.")
  endif()
  get_target_property(gpu_language ${target} NCCLKIT_GPU_LANGUAGE)
  if(gpu_language STREQUAL "HIP")
    message(FATAL_ERROR
      "ncclkit_target_torch(${target}): ${target} compiles HIP (a ROCm build); ncclkit builds torch extensions "
      "for CUDA torch only. Build it for CUDA (NCCLKIT_NCCL other than rccl).")
  endif()
  ncclkit_find_torch()
  foreach(fact IN ITEMS VERSION CXX_STANDARD PYTHON_LIBRARY)
    get_target_property(${fact} ncclkit::torch NCCLKIT_TORCH_${fact})
  endforeach()
  string(REGEX REPLACE "/+$" "" destination "${ARG_DESTINATION}")

  target_link_libraries(${target} PRIVATE ncclkit::torch)
  target_compile_features(${target} PRIVATE cxx_std_${CXX_STANDARD})
  # CMake before 3.28 has no C++20 for nvcc: CUDA sources then compile as C++17, and only .cpp
  # files can include torch's headers (as torch's own advice has it anyway: kernels apart).
  if(gpu_language STREQUAL "CUDA" AND "cuda_std_${CXX_STANDARD}" IN_LIST CMAKE_CUDA_COMPILE_FEATURES)
    target_compile_features(${target} PRIVATE cuda_std_${CXX_STANDARD})
  endif()
  target_compile_definitions(${target} PRIVATE TORCH_EXTENSION_NAME=${target})
  # Only the libraries the code uses become DT_NEEDED: torch's list names some (nvrtc) that
  # torch loads late or never, and an extension needing them would not import.
  target_link_options(${target} PRIVATE "LINKER:--as-needed")
  # One CUDA runtime in the process: the shared one torch loads, found by its soname.
  set_target_properties(${target} PROPERTIES NCCLKIT_CUDART shared CXX_VISIBILITY_PRESET hidden)
  _ncclkit_torch_rpath(${target} "${destination}")

  set(mode torch)
  set(torch_target "")
  if(ARG_STABLE_ABI)
    set(mode stable_abi)
    _ncclkit_torch_stable_target(${target} "${VERSION}" "${ARG_TORCH_TARGET}" torch_target)
    _ncclkit_torch_target_version("${torch_target}" target_version)
    target_compile_definitions(${target} PRIVATE TORCH_STABLE_ONLY TORCH_TARGET_VERSION=${target_version})
  else()
    target_compile_definitions(${target} PRIVATE TORCH_API_INCLUDE_EXTENSION_H)
  endif()
  if(ARG_PYTHON_BINDINGS)
    if(NOT PYTHON_LIBRARY)
      message(FATAL_ERROR "ncclkit_target_torch(${target} PYTHON_BINDINGS): torch ${VERSION} has no libtorch_python.")
    endif()
    target_link_libraries(${target} PRIVATE "${PYTHON_LIBRARY}")
  endif()
  set_target_properties(${target} PROPERTIES NCCLKIT_TORCH_MODE ${mode} NCCLKIT_TORCH_TARGET "${torch_target}")
endfunction()
