# ncclkit_option(<name> <default> <doc> [CHOICES <value>...])
#
# Reads one build option: a cache entry (-D, or -C cmake.define.<name>=... through pip) wins over
# an environment variable of the same name, which wins over <default>. The result is set as a
# normal variable, so a changed environment is honoured on the next configure of the same build
# directory. Every option read is remembered for ncclkit_print_options().

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets
include_guard(GLOBAL)

function(ncclkit_option name default doc)
  cmake_parse_arguments(PARSE_ARGV 3 ARG "" "" "CHOICES")
  if(DEFINED CACHE{${name}})
    set(value "$CACHE{${name}}")
    set(origin "cache")
  elseif(DEFINED ENV{${name}})
    set(value "$ENV{${name}}")
    set(origin "environment")
  else()
    set(value "${default}")
    set(origin "default")
  endif()
  if(ARG_CHOICES)
    string(TOLOWER "${value}" value)
    if(NOT value IN_LIST ARG_CHOICES)
      list(JOIN ARG_CHOICES ", " choices)
      message(FATAL_ERROR
        "${name}='${value}' (from the ${origin}) is not one of: ${choices}.\n"
        "${name}: ${doc}")
    endif()
  endif()
  set(${name} "${value}" PARENT_SCOPE)
  get_property(names GLOBAL PROPERTY NCCLKIT_OPTIONS)
  if(NOT name IN_LIST names)
    set_property(GLOBAL APPEND PROPERTY NCCLKIT_OPTIONS "${name}")
  endif()
  set_property(GLOBAL PROPERTY NCCLKIT_OPTION_ORIGIN_${name} "${origin}")
endfunction()

# Echo every option with its value and where the value came from.
function(ncclkit_print_options)
  get_property(names GLOBAL PROPERTY NCCLKIT_OPTIONS)
  message(STATUS "ncclkit options:")
  foreach(name IN LISTS names)
    get_property(origin GLOBAL PROPERTY NCCLKIT_OPTION_ORIGIN_${name})
    message(STATUS "  ${name} = '${${name}}' (${origin})")
  endforeach()
endfunction()

# The options every ncclkit build reads: ncclkit's own, and a project's that uses ncclkit's CMake
# package, so that `NCCLKIT_NCCL=system pip install .` means the same thing for both. Reading them
# again (ncclkit's own build does, before it picks CUDA or HIP) prints them only once.
macro(ncclkit_read_options)
  get_property(_ncclkit_options_printed GLOBAL PROPERTY NCCLKIT_OPTIONS_PRINTED)
  ncclkit_option(NCCLKIT_NCCL auto "Where NCCL comes from" CHOICES auto wheel system source rccl off)
  ncclkit_option(NCCLKIT_NCCL_STATIC OFF "Link libnccl_static.a instead of libnccl.so")
  ncclkit_option(NCCLKIT_NCCL_MIN "" "The oldest NCCL the extensions run with, X.Y[.Z]; empty: the CUDA major's floor")
  ncclkit_option(NCCLKIT_CUDA_TOOLKIT auto "The CUDA toolkit: auto (nvcc found, else NVIDIA's PyPI wheels), system, pypi" CHOICES auto system pypi)
  ncclkit_option(NCCLKIT_CUDA_VERSION "" "The release X.Y of NVIDIA's PyPI compiler wheels; empty: the major's oldest (13.0)")
  ncclkit_option(NCCLKIT_CUDA_ARCHS "" "CUDA archs: '80;90a' or '8.0 9.0a+PTX'; empty: the visible GPU's")
  ncclkit_option(TORCH_CUDA_ARCH_LIST "" "torch's name for the CUDA archs, read when NCCLKIT_CUDA_ARCHS is empty")
  ncclkit_option(NCCL_SOURCE_DIR "" "NCCL source tree for NCCLKIT_NCCL=source; empty: third_party/nccl")
  ncclkit_option(MAX_JOBS "" "Parallel compile jobs; empty: as many as cores and memory allow")
  ncclkit_option(NVCC_THREADS 1 "nvcc --threads: archs of one file compiled in parallel")
  ncclkit_option(NCCLKIT_ENABLE_BF16 auto "bfloat16 kernels: auto (when an arch has it), on, off" CHOICES auto on off)
  ncclkit_option(NCCLKIT_ENABLE_FP8 auto "float8 kernels: auto (when an arch has it), on, off" CHOICES auto on off)
  ncclkit_option(NCCLKIT_ENABLE_PDL auto "programmatic dependent launch: auto (sm_90+ arch), on, off" CHOICES auto on off)
  if(NOT _ncclkit_options_printed)
    ncclkit_print_options()
    set_property(GLOBAL PROPERTY NCCLKIT_OPTIONS_PRINTED TRUE)
  endif()
endmacro()
