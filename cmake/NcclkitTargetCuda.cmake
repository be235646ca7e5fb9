# The GPU compile settings ncclkit uses for its own extensions, on a target made elsewhere
# (pybind11_add_module, nanobind_add_module, Python_add_library, add_executable).
#
# ncclkit_target_cuda(<target> [ARCHS <spec>])
#   Compiles <target>'s CUDA sources for NCCLKIT_CUDA_ARCHS (else TORCH_CUDA_ARCH_LIST, or <spec>,
#   in either spelling, NcclkitCudaArchs.cmake) with compressed fatbins and hidden symbols, and
#   links the CUDA runtime statically; shared where <target>'s NCCLKIT_CUDART is "shared", as
#   ncclkit_target_torch sets it, before or after this call.
# ncclkit_target_hip(<target> [ARCHS <gfx>...])
#   Compiles every source of <target> as HIP (CMake's HIP language), for CMAKE_HIP_ARCHITECTURES
#   or <gfx>..., with hidden symbols.
#
# Both also give <target> what makes ncclkit's builds fast and reproducible: compile jobs in the
# ncclkit_compile pool (ncclkit_build_jobs()), ccache or sccache when installed, NVCC_THREADS,
# and the RPATH it is installed with already at link time. They record the language and archs on
# <target> (NCCLKIT_GPU_LANGUAGE, NCCLKIT_CUDA_ARCHS_SASS, NCCLKIT_CUDA_ARCHS_PTX,
# NCCLKIT_CUDA_ARCHS_SOURCE) for ncclkit_target_build_record().
#
# Example:
#   Python_add_library(_ext MODULE WITH_SOABI ext.cpp kernels.cu)
#   ncclkit_target_cuda(_ext ARCHS "9.0;10.0+PTX")

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitBuildSpeed)
include(NcclkitCudaArchs)

include_guard(GLOBAL)

# A call of <function> on <target>: the target exists, and every argument was understood.
function(_ncclkit_check_target function target)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "${function}(${target}): there is no target ${target}; make it first (add_library, "
                        "add_executable, pybind11_add_module, ...), then call ${function} on it.")
  endif()
  if(ARGN)
    message(FATAL_ERROR "${function}(${target}): unknown arguments ${ARGN}")
  endif()
endfunction()

# nvcc names its intermediate files after its process id unless they sit beside the object
# (--objdir-as-tempdir); the names reach the symbol table, and the linker's build ID with them.
# sccache runs nvcc's steps itself, under names of its own that do not change, and refuses the flag.
function(_ncclkit_nvcc_intermediate_names target launcher)
  get_filename_component(launcher_name "${launcher}" NAME)
  if(CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.4 AND NOT launcher_name MATCHES "^sccache")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--objdir-as-tempdir>)
  endif()
endfunction()

function(_ncclkit_target_build_speed target language)
  # Linked with the RPATH it is installed with: the build tree's would name the build environment
  # (pip's temporary one), and the build ID the linker computes would change with it.
  set_target_properties(${target} PROPERTIES JOB_POOL_COMPILE ncclkit_compile BUILD_WITH_INSTALL_RPATH ON)
  ncclkit_compiler_launcher(launcher)
  if(launcher)
    set_target_properties(${target} PROPERTIES
      CXX_COMPILER_LAUNCHER "${launcher}" ${language}_COMPILER_LAUNCHER "${launcher}")
  endif()
  if(language STREQUAL "CUDA")
    _ncclkit_nvcc_intermediate_names(${target} "${launcher}")
    if(NVCC_THREADS GREATER 1)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--threads=${NVCC_THREADS}>)
    endif()
  endif()
endfunction()

function(ncclkit_target_cuda target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "ARCHS")
  _ncclkit_check_target(ncclkit_target_cuda ${target} ${ARG_UNPARSED_ARGUMENTS})
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "CUDA" IN_LIST languages)
    message(FATAL_ERROR "ncclkit_target_cuda(${target}): this project has not enabled CUDA (find_package(ncclkit) "
                        "enables it unless NCCLKIT_NCCL=rccl, or the project enabled HIP): use ncclkit_target_hip.")
  endif()
  if(ARG_ARCHS)
    ncclkit_cuda_archs("${ARG_ARCHS}" NAME "ncclkit_target_cuda(${target}) ARCHS")
    set(NCCLKIT_CUDA_ARCHS_SOURCE "extension")
  endif()
  target_compile_features(${target} PRIVATE cxx_std_17 cuda_std_17)
  # The static runtime, unless <target> runs beside torch's shared one (ncclkit_target_torch).
  get_target_property(cudart ${target} NCCLKIT_CUDART)
  if(NOT cudart)
    set_target_properties(${target} PROPERTIES NCCLKIT_CUDART static)
  endif()
  set(shared "$<STREQUAL:$<TARGET_PROPERTY:${target},NCCLKIT_CUDART>,shared>")
  target_link_libraries(${target} PRIVATE "$<IF:${shared},CUDA::cudart,CUDA::cudart_static>")
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xfatbin=-compress-all>)
  set_target_properties(${target} PROPERTIES
    CUDA_ARCHITECTURES "${NCCLKIT_CUDA_ARCHITECTURES}"
    CUDA_RUNTIME_LIBRARY "$<IF:${shared},Shared,Static>"
    CUDA_VISIBILITY_PRESET hidden
    NCCLKIT_GPU_LANGUAGE CUDA
    NCCLKIT_CUDA_ARCHS_SASS "${NCCLKIT_CUDA_ARCHS_SASS}"
    NCCLKIT_CUDA_ARCHS_PTX "${NCCLKIT_CUDA_ARCHS_PTX}"
    NCCLKIT_CUDA_ARCHS_SOURCE "${NCCLKIT_CUDA_ARCHS_SOURCE}")
  _ncclkit_target_build_speed(${target} CUDA)
endfunction()

function(ncclkit_target_hip target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "ARCHS")
  _ncclkit_check_target(ncclkit_target_hip ${target} ${ARG_UNPARSED_ARGUMENTS})
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "HIP" IN_LIST languages)
    message(FATAL_ERROR
      "ncclkit_target_hip(${target}): this project has not enabled HIP: use project(<name> LANGUAGES CXX HIP), "
      "or enable_language(HIP) when NCCLKIT_NCCL is rccl.")
  endif()
  get_target_property(sources ${target} SOURCES)
  set_source_files_properties(${sources} TARGET_DIRECTORY ${target} PROPERTIES LANGUAGE HIP)
  target_compile_features(${target} PRIVATE cxx_std_17 hip_std_17)
  set_target_properties(${target} PROPERTIES HIP_VISIBILITY_PRESET hidden NCCLKIT_GPU_LANGUAGE HIP)
  if(ARG_ARCHS)
    set_target_properties(${target} PROPERTIES HIP_ARCHITECTURES "${ARG_ARCHS}")
  endif()
  _ncclkit_target_build_speed(${target} HIP)
endfunction()
