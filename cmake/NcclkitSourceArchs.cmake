# ncclkit_target_cuda_sources(<target> ARCHS <spec> SOURCES <file>... [BUILT_ARCHS <var>])
#
# Adds CUDA sources to <target> that build only for some archs, as vLLM's kernels for Hopper or
# Blackwell alone do: each is compiled for those archs of <spec> (either spelling of
# NCCLKIT_CUDA_ARCHS) whose base arch <target> builds (ncclkit_target_cuda, called first), SASS
# only, with the arch's own suffix: "9.0a" for a target of 80;90 builds sm_90a. Where none is left
# the sources are not compiled at all. <var> receives the archs built (empty: none), so the
# project can tell its code which kernels exist:
#
#   ncclkit_target_cuda_sources(_ops ARCHS "9.0a 10.0a" SOURCES hopper.cu BUILT_ARCHS hopper_archs)
#   if(hopper_archs)
#     target_compile_definitions(_ops PRIVATE MYPKG_HOPPER_KERNELS=1)
#   endif()
#
# The sources are an OBJECT library of their own (<target>_archs<N>) with <target>'s include
# directories, definitions, options and compile settings, linked into <target>; the build record
# lists each set in cuda.source_archs.

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitCudaArchs)
include(NcclkitTargetCuda)

include_guard(GLOBAL)

# The archs of <wanted> whose base arch (90 of 90a) is one of <built>, as <wanted> spells them.
function(_ncclkit_source_archs wanted built out)
  set(bases "")
  foreach(arch IN LISTS built)
    string(REGEX REPLACE "[af]$" "" base "${arch}")
    list(APPEND bases "${base}")
  endforeach()
  set(result "")
  foreach(arch IN LISTS wanted)
    string(REGEX REPLACE "[af]$" "" base "${arch}")
    if(base IN_LIST bases)
      list(APPEND result "${arch}")
    endif()
  endforeach()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

function(ncclkit_target_cuda_sources target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "ARCHS;BUILT_ARCHS" "SOURCES")
  _ncclkit_check_target(ncclkit_target_cuda_sources ${target} ${ARG_UNPARSED_ARGUMENTS})
  set(name "ncclkit_target_cuda_sources(${target})")
  get_target_property(language ${target} NCCLKIT_GPU_LANGUAGE)
  if(NOT language STREQUAL "CUDA")
    message(FATAL_ERROR "${name}: ${target} is not compiled for CUDA yet: call ncclkit_target_cuda(${target}) first.")
  endif()
  if(NOT ARG_SOURCES OR "${ARG_ARCHS}" STREQUAL "")
    message(FATAL_ERROR "${name}: give the SOURCES and the ARCHS they build for (e.g. ARCHS \"9.0a\").")
  endif()
  _ncclkit_parse_archs("${ARG_ARCHS}" "${name} ARCHS" wanted ptx)
  get_target_property(target_archs ${target} NCCLKIT_CUDA_ARCHS_SASS)
  _ncclkit_source_archs("${wanted}" "${target_archs}" archs)
  if(ARG_BUILT_ARCHS)
    set(${ARG_BUILT_ARCHS} "${archs}" PARENT_SCOPE)
  endif()
  # One entry a set, for the record: "<file>,<file>|<arch>,<arch>".
  list(JOIN ARG_SOURCES "," files)
  list(JOIN archs "," built)
  set_property(TARGET ${target} APPEND PROPERTY NCCLKIT_CUDA_SOURCE_SETS "${files}|${built}")
  list(JOIN ARG_SOURCES " " listed)
  if(NOT archs)
    message(STATUS "${name}: ${listed} build for ${wanted}, and ${target} for none of them: not compiled")
    return()
  endif()
  message(STATUS "${name}: ${listed} for ${archs}")

  get_target_property(sets ${target} NCCLKIT_CUDA_SOURCE_SETS)
  list(LENGTH sets count)
  set(objects ${target}_archs${count})
  add_library(${objects} OBJECT ${ARG_SOURCES})
  list(TRANSFORM archs APPEND "-real" OUTPUT_VARIABLE real)
  set_target_properties(${objects} PROPERTIES CUDA_ARCHITECTURES "${real}" POSITION_INDEPENDENT_CODE ON)
  # What ncclkit_target_cuda and the project gave <target>, its linked targets' usage requirements
  # included, so that these sources compile as its others do.
  foreach(property IN ITEMS INCLUDE_DIRECTORIES COMPILE_DEFINITIONS COMPILE_OPTIONS)
    set_property(TARGET ${objects} PROPERTY ${property} "$<TARGET_PROPERTY:${target},${property}>")
  endforeach()
  foreach(property IN ITEMS CUDA_VISIBILITY_PRESET CXX_VISIBILITY_PRESET CUDA_RUNTIME_LIBRARY JOB_POOL_COMPILE
                            CUDA_COMPILER_LAUNCHER CXX_COMPILER_LAUNCHER CUDA_STANDARD CXX_STANDARD)
    get_target_property(value ${target} ${property})
    if(value)
      set_property(TARGET ${objects} PROPERTY ${property} "${value}")
    endif()
  endforeach()
  target_compile_features(${objects} PRIVATE cxx_std_17 cuda_std_17)
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:${objects}>)
endfunction()
