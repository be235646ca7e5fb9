# ncclkit_add_extension(<name> SOURCES <file>... [NCCL | RCCL] [ARCHS <spec>] [FEATURES <feature>...]
#                       [RECORD_FEATURES <NAME=value>...] [DESTINATION <dir>])
#
# Builds the Python extension module <name> with pybind11 the way ncclkit builds its own, and
# installs it into DESTINATION (default: the project's name) with its build record. It is this
# sequence, which a project that makes its module otherwise (nanobind_add_module,
# Python_add_library) runs on its own target:
#
#   pybind11_add_module(<name> MODULE <file>...)
#   ncclkit_target_cuda(<name> [ARCHS <spec>])              # or ncclkit_target_hip: see below
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
#   RECORD_FEATURES  macros the extension's build decides itself (NAME=integer), for the record.
#
# An extension that links RCCL, and every extension of a project that compiles HIP and not CUDA,
# compiles its SOURCES as HIP (CMake's HIP language) for CMAKE_HIP_ARCHITECTURES (or ARCHS).

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitBuildInfo)
include(NcclkitProvider)
include(NcclkitTargetCuda)
include(NcclkitTargetNccl)

include_guard(GLOBAL)

function(ncclkit_add_extension name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NCCL;RCCL" "DESTINATION" "SOURCES;ARCHS;FEATURES;RECORD_FEATURES")
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
  if(NOT Python_FOUND)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) builds a Python module, and find_package(ncclkit) found no Python 3.10 or "
      "newer with its development files: give -DPython_EXECUTABLE=<python>, or install python3-dev.")
  elseif(NOT COMMAND pybind11_add_module)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) builds a Python module with pybind11 ${NCCLKIT_PYBIND11_MINIMUM} or newer, "
      "and neither pybind11_DIR nor ${Python_EXECUTABLE} (-m pybind11 --cmakedir) has one: "
      "`${Python_EXECUTABLE} -m pip install pybind11`, or -Dpybind11_DIR=<pybind11's CMake directory>.")
  endif()
  if(NOT DEFINED ARG_DESTINATION)
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

  pybind11_add_module(${name} MODULE ${ARG_SOURCES})
  if(gpu_language STREQUAL "HIP")
    ncclkit_target_hip(${name} ARCHS ${ARG_ARCHS})
  else()
    ncclkit_target_cuda(${name} ARCHS ${ARG_ARCHS})
  endif()
  if(ARG_NCCL)
    ncclkit_target_link_nccl(${name} FEATURES ${ARG_FEATURES} DESTINATION "${ARG_DESTINATION}")
  else()
    ncclkit_target_config_header(${name})
  endif()
  ncclkit_target_build_record(${name} DESTINATION "${ARG_DESTINATION}" RECORD_FEATURES ${ARG_RECORD_FEATURES})
  install(TARGETS ${name} LIBRARY DESTINATION "${ARG_DESTINATION}")
endfunction()
