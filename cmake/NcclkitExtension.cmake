# ncclkit_add_extension(<name> SOURCES <file>... [NCCL | RCCL] [ARCHS <spec>] [FEATURES <feature>...]
#                       [RECORD_FEATURES <NAME=value>...] [DESTINATION <dir>])
#
# Builds the Python extension module <name> (pybind11) with the CUDA settings ncclkit uses for
# its own: the CUDA runtime linked statically, the archs of NCCLKIT_CUDA_ARCHS (or ARCHS, in
# either spelling), compressed fatbins, hidden symbols, ccache/sccache when installed, compile
# jobs in the ncclkit_compile pool (ncclkit_build_jobs()), NVCC_THREADS. Installs it into
# DESTINATION (default: the project's name) with its build record, <name>.build.json, which
# ncclkit.compat.check_extension() checks against the machine at run time.
#
#   NCCL      link NCCL (NCCLKIT_NCCL_STATIC: libnccl_static.a), found once per configure as
#             NCCLKIT_NCCL says, with an RPATH to where it is at run time. The extension runs
#             with every NCCL from its floor on (NcclkitNcclFloor.cmake): its sources include
#             ncclkit's <nccl.h>, which binds the entry points newer than the floor weakly
#             (NcclkitNcclBinding.cmake). With NCCLKIT_NCCL=rccl this is RCCL, as below: one
#             CMakeLists serves CUDA and ROCm builds.
#   RCCL      link RCCL (FindRCCL), for ROCm: needs NCCLKIT_NCCL=rccl or auto.
#   FEATURES  NCCL features the extension cannot do without (COMM_SPLIT, FP8, ...: the
#             NCCLKIT_HAS_* names): one the found NCCL's header lacks is a configure error, and
#             each raises the floor to the release that brought it.
#   RECORD_FEATURES  macros the extension's build decides itself (NAME=integer), recorded beside
#             the NCCL ones in the build record's features.
#
# An extension that links RCCL, and every extension of a project that compiles HIP and not CUDA,
# compiles its SOURCES as HIP (CMake's HIP language) for CMAKE_HIP_ARCHITECTURES (or ARCHS: gfx
# names), with the HIP runtime linked as CMake's HIP language links it.
#
# Every extension gets the generated header <ncclkit/config.h> with NCCLKIT_WITH_NCCL (or
# NCCLKIT_WITH_RCCL), NCCLKIT_NCCL_VERSION_CODE, NCCLKIT_NCCL_FLOOR_CODE and the NCCLKIT_HAS_*
# macros of the NCCL it links (all 0 without); see NcclkitFeatures.cmake.

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitBuildInfo)
include(NcclkitBuildSpeed)
include(NcclkitCudaArchs)
include(NcclkitFeatures)
include(NcclkitNcclBinding)
include(NcclkitNcclFloor)
include(NcclkitProvider)

include_guard(GLOBAL)

# FEATURES the found NCCL's header lacks, with the release that brought each.
function(_ncclkit_require_features name)
  set(missing "")
  foreach(feature IN LISTS ARGN)
    ncclkit_nccl_feature(${feature} gate)
    if(gate_SINCE STREQUAL "")
      ncclkit_nccl_feature_names(names)
      list(JOIN names ", " names)
      message(FATAL_ERROR "ncclkit_add_extension(${name}): unknown feature '${feature}'. Features: ${names}.")
    endif()
    if(NCCL_VERSION_CODE LESS gate_SINCE_CODE)
      list(APPEND missing "${feature} (NCCL ${gate_SINCE})")
    endif()
  endforeach()
  if(missing)
    list(JOIN missing ", " missing)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) needs ${missing}, but NCCL ${NCCL_VERSION} (${NCCL_INCLUDE_DIR}, "
      "found by the ${NCCLKIT_NCCL_PROVIDER} step) is older.\n"
      "Use a newer NCCL: pip install -U nvidia-nccl-cu${CUDAToolkit_VERSION_MAJOR}, or NCCL_ROOT=<a newer install>.")
  endif()
endfunction()

# The RPATH that finds NCCL where it is at run time, never in a build directory: the nvidia-nccl
# wheel beside the installed package, else the directory NCCL was found in.
function(_ncclkit_nccl_rpath target destination)
  if(NCCLKIT_NCCL_STATIC)
    return()
  endif()
  if(NCCLKIT_NCCL_PROVIDER STREQUAL "wheel")
    # From site-packages/<destination>/ back up to site-packages/.
    string(REGEX REPLACE "[^/]+" ".." up "${destination}")
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "$ORIGIN/${up}/nvidia/nccl/lib")
    if(SKBUILD_STATE STREQUAL "editable")
      # An editable install that rebuilds on import (editable.rebuild) loads the extension from
      # the build directory, where $ORIGIN/.. is not site-packages: the wheel built against is
      # then where the build found it. Built with build isolation, that place is gone, and the
      # extension is in site-packages, where the first entry finds it.
      set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "${NCCL_LIBRARY_DIR}")
    endif()
  elseif(NOT NCCL_LIBRARY_DIR IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "${NCCL_LIBRARY_DIR}")
  endif()
endfunction()

# nvcc names its intermediate files after its process id unless they sit beside the object
# (--objdir-as-tempdir); the names reach the symbol table, and the linker's build ID with them.
# sccache runs nvcc's steps itself, under names of its own that do not change, and refuses the flag.
function(_ncclkit_nvcc_intermediate_names name launcher)
  get_filename_component(launcher_name "${launcher}" NAME)
  if(CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.4 AND NOT launcher_name MATCHES "^sccache")
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--objdir-as-tempdir>)
  endif()
endfunction()

# The pybind11 module of a CUDA build: static runtime, compressed fatbins, NCCLKIT_CUDA_ARCHS.
function(_ncclkit_cuda_module name)
  pybind11_add_module(${name} MODULE ${ARGN})
  target_compile_features(${name} PRIVATE cxx_std_17 cuda_std_17)
  target_link_libraries(${name} PRIVATE CUDA::cudart_static)
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xfatbin=-compress-all>)
  set_target_properties(${name} PROPERTIES
    CUDA_ARCHITECTURES "${NCCLKIT_CUDA_ARCHITECTURES}"
    CUDA_RUNTIME_LIBRARY Static
    CUDA_VISIBILITY_PRESET hidden)
  if(NVCC_THREADS GREATER 1)
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--threads=${NVCC_THREADS}>)
  endif()
endfunction()

# The pybind11 module of a ROCm build: every source compiled as HIP.
function(_ncclkit_hip_module name)
  set_source_files_properties(${ARGN} PROPERTIES LANGUAGE HIP)
  pybind11_add_module(${name} MODULE ${ARGN})
  target_compile_features(${name} PRIVATE cxx_std_17 hip_std_17)
  set_target_properties(${name} PROPERTIES HIP_VISIBILITY_PRESET hidden)
endfunction()

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
  if(NOT DEFINED ARG_DESTINATION)
    set(ARG_DESTINATION "${PROJECT_NAME}")
  endif()
  string(REGEX REPLACE "/+$" "" destination "${ARG_DESTINATION}")

  set(rccl FALSE)
  if(ARG_NCCL)
    ncclkit_find_nccl()  # before ARCHS: NCCL built from source gets the archs of the whole build
    if(NCCLKIT_NCCL_PROVIDER STREQUAL "rccl")
      set(rccl TRUE)
    endif()
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(rccl OR NOT "CUDA" IN_LIST languages)
    set(gpu_language HIP)
  else()
    set(gpu_language CUDA)
  endif()
  if(NOT gpu_language IN_LIST languages)
    message(FATAL_ERROR
      "ncclkit_add_extension(${name}) links RCCL, which compiles as HIP, and this project has not enabled HIP: "
      "use project(<name> LANGUAGES CXX HIP), or enable_language(HIP) when NCCLKIT_NCCL is rccl.")
  endif()

  if(gpu_language STREQUAL "HIP")
    _ncclkit_hip_module(${name} ${ARG_SOURCES})
    if(ARG_ARCHS)
      set_target_properties(${name} PROPERTIES HIP_ARCHITECTURES "${ARG_ARCHS}")
    endif()
    get_target_property(NCCLKIT_HIP_ARCHS ${name} HIP_ARCHITECTURES)
  else()
    if(ARG_ARCHS)
      ncclkit_cuda_archs("${ARG_ARCHS}")
      set(NCCLKIT_CUDA_ARCHS_SOURCE "extension")
    endif()
    _ncclkit_cuda_module(${name} ${ARG_SOURCES})
  endif()
  # Linked with the RPATH it is installed with: the build tree's would name the build environment
  # (pip's temporary one), and the build ID the linker computes would change with it. Nothing
  # loads an extension from the build tree.
  # Not linked again for a newer shared library alone (a link records only its name): the NCCL
  # wheel of pip's build environment is new at every build (NcclkitBuildEnvironment.cmake).
  set_target_properties(${name} PROPERTIES
    JOB_POOL_COMPILE ncclkit_compile BUILD_WITH_INSTALL_RPATH ON LINK_DEPENDS_NO_SHARED ON)
  ncclkit_compiler_launcher(launcher)
  if(launcher)
    set_target_properties(${name} PROPERTIES
      CXX_COMPILER_LAUNCHER "${launcher}" ${gpu_language}_COMPILER_LAUNCHER "${launcher}")
  endif()
  if(gpu_language STREQUAL "CUDA")
    _ncclkit_nvcc_intermediate_names(${name} "${launcher}")
  endif()

  if(rccl)
    target_link_libraries(${name} PRIVATE RCCL::rccl)
    _ncclkit_nccl_rpath(${name} "${destination}")
  elseif(ARG_NCCL)
    if(NCCLKIT_NCCL_STATIC)
      target_link_libraries(${name} PRIVATE NCCL::nccl_static)
      # Keep NCCL's symbols inside: a process that loaded another libnccl.so.2 (torch's) runs both.
      target_link_options(${name} PRIVATE "LINKER:--exclude-libs,libnccl_static.a")
    else()
      target_link_libraries(${name} PRIVATE NCCL::nccl)
    endif()
    _ncclkit_nccl_rpath(${name} "${destination}")
  else()
    set(NCCLKIT_NCCL_PROVIDER off)
    set(NCCL_VERSION_CODE "")
  endif()

  set(include_dir "${CMAKE_CURRENT_BINARY_DIR}/${name}_include")
  set(library "")
  if(rccl)
    set(library RCCL)
  endif()
  set(NCCLKIT_NCCL_WEAK_ENTRY_POINTS "")
  if(ARG_NCCL)
    string(TOUPPER "${ARG_FEATURES}" ARG_FEATURES)
    _ncclkit_require_features(${name} ${ARG_FEATURES})
    ncclkit_nccl_floor(${name} FEATURES ${ARG_FEATURES})
  endif()
  ncclkit_nccl_features("${NCCL_VERSION_CODE}" "${NCCLKIT_NCCL_FLOOR_CODE}" "${include_dir}/ncclkit/config.h" ${library})
  if(ARG_NCCL AND NOT rccl)
    ncclkit_bind_nccl(${name} "${include_dir}")
  endif()
  foreach(feature IN LISTS ARG_RECORD_FEATURES)
    if(NOT feature MATCHES "^[A-Za-z_][A-Za-z0-9_]*=-?[0-9]+$")
      message(FATAL_ERROR "ncclkit_add_extension(${name}): RECORD_FEATURES entry '${feature}' is not NAME=<integer>.")
    endif()
  endforeach()
  list(APPEND NCCLKIT_FEATURES ${ARG_RECORD_FEATURES})
  target_include_directories(${name} PRIVATE "${include_dir}")

  string(REPLACE "/" "." module "${destination}.${name}")
  set(record "$<TARGET_FILE_DIR:${name}>/${name}.build.json")
  ncclkit_write_build_record(${name} "${module}" "${record}")
  install(TARGETS ${name} LIBRARY DESTINATION "${destination}")
  install(FILES "${record}" DESTINATION "${destination}")
endfunction()
