# ncclkit_add_extension(<name> SOURCES <file>... [NCCL | RCCL] [ARCHS <spec>] [FEATURES <feature>...]
#                       [TORCH [STABLE_ABI [TORCH_TARGET <X.Y>]] [PYBIND11]]
#                       [RECORD_FEATURES <NAME=value>...] [DESTINATION <dir> | NO_INSTALL])
#
# Builds the Python extension module <name> the way ncclkit builds its own, and installs it into
# DESTINATION (default: the project's name) with its build record. It is this sequence, which a
# project that makes its module otherwise (nanobind_add_module, Python_add_library) runs on its
# own target:
#
#   pybind11_add_module(<name> MODULE <file>...)            # TORCH without PYBIND11: see below
#   ncclkit_target_cuda(<name> [ARCHS <spec>])              # or ncclkit_target_hip: see below
#   ncclkit_target_torch(<name> DESTINATION <dir> ...)      # TORCH only
#   ncclkit_target_link_nccl(<name> [FEATURES ...] DESTINATION <dir>)   # NCCL or RCCL only
#   ncclkit_target_config_header(<name>)                    # without NCCL: the macros, all 0
#   ncclkit_target_build_record(<name> DESTINATION <dir> [RECORD_FEATURES ...])
#   install(TARGETS <name> LIBRARY DESTINATION <dir>)
#
#   NCCL      link NCCL (NcclkitTargetNccl.cmake); with NCCLKIT_NCCL=rccl this is RCCL, as below:
#             one CMakeLists serves CUDA and ROCm builds.
#   RCCL      link RCCL (FindRCCL), for ROCm: needs NCCLKIT_NCCL=rccl or auto.
#   FEATURES  NCCL features the extension cannot do without (needs NCCL).
#   ARCHS     CUDA archs in either spelling of NCCLKIT_CUDA_ARCHS, or gfx names for HIP.
#   TORCH     a torch extension (NcclkitTorch.cmake): against the torch of the Python that builds.
#             Without PYBIND11 the module is a plain Python module whose import loads the library,
#             so that its TORCH_LIBRARY blocks register its ops (torch.ops.<namespace>.<op>);
#             import torch first. STABLE_ABI and TORCH_TARGET: torch's stable ABI, from X.Y on.
#             Under wheel.py-api = "cp3X" such a module is one of the Python limited API (abi3).
#   PYBIND11  with TORCH: a pybind11 module (PYBIND11_MODULE(TORCH_EXTENSION_NAME, m)) that may
#             pass tensors to Python, linking libtorch_python.
#   RECORD_FEATURES  macros the extension's build decides itself (NAME=integer), for the record.
#   NO_INSTALL  the module and its record stay in the build tree, found from there (RPATHs to
#             where the libraries are now); its import name is <name>. ncclkit.load() builds so.
#
# An extension that links RCCL, and every extension of a project that compiles HIP and not CUDA,
# compiles its SOURCES as HIP (CMake's HIP language) for CMAKE_HIP_ARCHITECTURES (or ARCHS).

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitBuildInfo)
include(NcclkitProvider)
include(NcclkitTargetCuda)
include(NcclkitTargetNccl)
include(NcclkitTorch)

include_guard(GLOBAL)

# A Python module of <sources> whose only content is that importing it loads them: a torch
# extension registers its ops as the library loads. Under scikit-build-core's wheel.py-api = "cp3X"
# (SKBUILD_SABI_VERSION), a module of the Python limited API (<name>.abi3.so): only its init
# source includes Python.h, and that is all it asks of Python.
function(_ncclkit_torch_module name)
  set(init "${CMAKE_CURRENT_BINARY_DIR}/${name}_module.cpp")
  configure_file("${CMAKE_CURRENT_FUNCTION_LIST_DIR}/torch_module.cpp.in" "${init}" @ONLY)
  if(NOT SKBUILD_SABI_VERSION)
    Python_add_library(${name} MODULE WITH_SOABI ${ARGN} "${init}")
    return()
  endif()
  if(NOT SKBUILD_SABI_VERSION MATCHES "^3\\.([0-9]+)$")
    message(FATAL_ERROR "ncclkit_add_extension(${name}): SKBUILD_SABI_VERSION '${SKBUILD_SABI_VERSION}' is not 3.X.")
  endif()
  math(EXPR limited "0x03000000 | (${CMAKE_MATCH_1} << 16)" OUTPUT_FORMAT HEXADECIMAL)
  Python_add_library(${name} MODULE ${ARGN} "${init}")
  set_source_files_properties("${init}" TARGET_DIRECTORY ${name} PROPERTIES COMPILE_DEFINITIONS Py_LIMITED_API=${limited})
  set_target_properties(${name} PROPERTIES SUFFIX ".abi3${CMAKE_SHARED_MODULE_SUFFIX}"
                                           NCCLKIT_PYTHON_LIMITED_API "${SKBUILD_SABI_VERSION}")
endfunction()

function(ncclkit_add_extension name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NCCL;RCCL;TORCH;STABLE_ABI;PYBIND11;NO_INSTALL" "DESTINATION;TORCH_TARGET"
                        "SOURCES;ARCHS;FEATURES;RECORD_FEATURES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): no SOURCES")
  endif()
  if(ARG_NCCL AND ARG_RCCL)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): NCCL or RCCL, not both (NCCL means RCCL in a ROCm build).")
  endif()
  if(ARG_RCCL)
    ncclkit_nccl_mode(mode)
    if(NOT mode STREQUAL "rccl")
      message(FATAL_ERROR
        "ncclkit_add_extension(${name} ... RCCL) links RCCL, but NCCLKIT_NCCL=${NCCLKIT_NCCL}. "
        "Set NCCLKIT_NCCL=rccl for a ROCm build, or ask for NCCL.")
    endif()
    set(ARG_NCCL TRUE)
  endif()
  if(ARG_FEATURES AND NOT ARG_NCCL)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): FEATURES are NCCL features; add NCCL.")
  endif()
  if((ARG_STABLE_ABI OR ARG_TORCH_TARGET OR ARG_PYBIND11) AND NOT ARG_TORCH)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): STABLE_ABI, TORCH_TARGET and PYBIND11 are TORCH's; add TORCH.")
  endif()
  set(pybind11 TRUE)
  if(ARG_TORCH AND NOT ARG_PYBIND11)
    set(pybind11 FALSE)
  endif()
  if(NOT Python_FOUND)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) builds a Python module, and find_package(ncclkit) found no Python 3.10 or "
      "newer with its development files: give -DPython_EXECUTABLE=<python>, or install python3-dev.")
  elseif(pybind11 AND SKBUILD_SABI_VERSION)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}): wheel.py-api asks for the Python limited API (abi3, Python "
      "${SKBUILD_SABI_VERSION}), and a pybind11 module cannot be built for it. Only a TORCH module without PYBIND11 "
      "can; or drop wheel.py-api from pyproject.toml.")
  elseif(pybind11 AND NOT COMMAND pybind11_add_module)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) builds a Python module with pybind11 ${NCCLKIT_PYBIND11_MINIMUM} or newer, "
      "and neither pybind11_DIR nor ${Python_EXECUTABLE} (-m pybind11 --cmakedir) has one: "
      "`${Python_EXECUTABLE} -m pip install pybind11`, or -Dpybind11_DIR=<pybind11's CMake directory>.")
  endif()
  if(ARG_NO_INSTALL AND DEFINED ARG_DESTINATION)
    message(FATAL_ERROR "ncclkit_add_extension(${name}): NO_INSTALL and DESTINATION exclude each other.")
  elseif(ARG_NO_INSTALL)
    set(ARG_DESTINATION "")
  elseif(NOT DEFINED ARG_DESTINATION)
    set(ARG_DESTINATION "${PROJECT_NAME}")
  endif()

  set(gpu_language CUDA)
  if(ARG_NCCL)
    ncclkit_find_nccl()  # first: NCCL built from source gets the archs of the whole build
    get_target_property(provider ncclkit::nccl NCCLKIT_PROVIDER)
    if(provider STREQUAL "rccl")
      set(gpu_language HIP)
    endif()
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "CUDA" IN_LIST languages)
    set(gpu_language HIP)
  endif()
  if(NOT gpu_language IN_LIST languages)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) links RCCL, which compiles as HIP, and this project has not enabled HIP: "
      "use project(<name> LANGUAGES CXX HIP), or enable_language(HIP) when NCCLKIT_NCCL is rccl.")
  endif()

  if(pybind11)
    pybind11_add_module(${name} MODULE ${ARG_SOURCES})
  else()
    _ncclkit_torch_module(${name} ${ARG_SOURCES})
  endif()
  if(gpu_language STREQUAL "HIP")
    ncclkit_target_hip(${name} ARCHS ${ARG_ARCHS})
  else()
    ncclkit_target_cuda(${name} ARCHS ${ARG_ARCHS})
  endif()
  if(ARG_TORCH)
    set(torch_options "")
    if(ARG_STABLE_ABI)
      list(APPEND torch_options STABLE_ABI TORCH_TARGET "${ARG_TORCH_TARGET}")
    endif()
    if(ARG_PYBIND11)
      list(APPEND torch_options PYTHON_BINDINGS)
    endif()
    ncclkit_target_torch(${name} ${torch_options} DESTINATION "${ARG_DESTINATION}")
  endif()
  if(ARG_NCCL)
    ncclkit_target_link_nccl(${name} FEATURES ${ARG_FEATURES} DESTINATION "${ARG_DESTINATION}")
  else()
    ncclkit_target_config_header(${name})
  endif()
  ncclkit_target_build_record(${name} DESTINATION "${ARG_DESTINATION}" RECORD_FEATURES ${ARG_RECORD_FEATURES})
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION "${ARG_DESTINATION}")
  endif()
endfunction()
