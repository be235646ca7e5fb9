# ncclkit_write_build_record(<target> <module> <output>)
#
# Writes what the build chose for one extension, as JSON, for `ncclkit info` and the run-time
# check (ncclkit.compat.check_extension). <output> may hold generator expressions. Reads the
# variables ncclkit_add_extension set for the target: gpu_language (CUDA or HIP),
# NCCLKIT_CUDA_ARCHS_* or NCCLKIT_HIP_ARCHS, NCCLKIT_FEATURES, NCCLKIT_NCCL_PROVIDER (off for an
# extension without NCCL), NCCLKIT_NCCL_WHEEL, NCCL_* (from FindNCCL, or FindRCCL's under those
# names), NCCLKIT_NCCL_FLOOR* and NCCLKIT_NCCL_REQUIREMENT (NcclkitNcclFloor.cmake),
# NCCLKIT_NCCL_WEAK_ENTRY_POINTS (NcclkitNcclBinding.cmake), ARG_FEATURES (the features required),
# launcher (the compiler launcher, NcclkitBuildSpeed.cmake),
# and CMake's project, compiler and Python variables. A HIP build's record has "hip" where a CUDA
# build's has "cuda". "nccl" holds the header built against (version, version_code), the floor, the
# requirement on the nvidia-nccl wheel, and each feature with its release and entry points.

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitFeatures)
include(NcclkitGit)

include_guard(GLOBAL)

# The commit being built: NCCLKIT_GIT_COMMIT (for builds from a tree without .git, e.g. in docker),
# else the project tree's own commit, marked -dirty when it has changes, else "unknown".
function(_ncclkit_git_commit out)
  if(DEFINED ENV{NCCLKIT_GIT_COMMIT})
    set(${out} "$ENV{NCCLKIT_GIT_COMMIT}" PARENT_SCOPE)
  else()
    ncclkit_tree_commit("${PROJECT_SOURCE_DIR}" commit MARK_DIRTY)
    set(${out} "${commit}" PARENT_SCOPE)
  endif()
endfunction()

# <value> as a JSON string literal.
function(_ncclkit_json_quote value out)
  string(REPLACE "\\" "\\\\" value "${value}")
  string(REPLACE "\"" "\\\"" value "${value}")
  set(${out} "\"${value}\"" PARENT_SCOPE)
endfunction()

# A JSON array of strings from a CMake list.
function(_ncclkit_json_strings out)
  set(json "[]")
  set(i 0)
  foreach(item IN LISTS ARGN)
    _ncclkit_json_quote("${item}" quoted)
    string(JSON json SET "${json}" ${i} "${quoted}")
    math(EXPR i "${i} + 1")
  endforeach()
  set(${out} "${json}" PARENT_SCOPE)
endfunction()

# Set key <key> of the JSON object in variable <var> to a string value.
function(_ncclkit_json_set_string var key value)
  _ncclkit_json_quote("${value}" quoted)
  string(JSON json SET "${${var}}" ${key} "${quoted}")
  set(${var} "${json}" PARENT_SCOPE)
endfunction()

# Key <key> of the JSON object in variable <var>: the string <value>, or null where it is empty.
function(_ncclkit_json_set_string_or_null var key value)
  if(value STREQUAL "")
    string(JSON json SET "${${var}}" ${key} null)
    set(${var} "${json}" PARENT_SCOPE)
  else()
    _ncclkit_json_set_string(${var} ${key} "${value}")
    set(${var} "${${var}}" PARENT_SCOPE)
  endif()
endfunction()

# The "cuda" object of the record in variable <var>.
function(_ncclkit_cuda_record var)
  set(info "${${var}}")
  set(cuda "{}")
  _ncclkit_json_set_string(cuda nvcc_version "${CMAKE_CUDA_COMPILER_VERSION}")
  _ncclkit_json_set_string(cuda runtime_version "${CUDAToolkit_VERSION}")
  _ncclkit_json_set_string(cuda cudart "static")
  # Where the toolkit came from (NcclkitCudaToolkit.cmake): a project that enabled CUDA itself
  # found a toolkit install, since a tree of PyPI wheels fails CMake's compiler check.
  get_property(source GLOBAL PROPERTY NCCLKIT_CUDA_TOOLKIT_SOURCE)
  get_property(wheels GLOBAL PROPERTY NCCLKIT_CUDA_TOOLKIT_WHEELS)
  if(NOT source)
    set(source system)
  endif()
  set(toolkit "{}")
  _ncclkit_json_set_string(toolkit source "${source}")
  _ncclkit_json_strings(wheels_json ${wheels})
  string(JSON toolkit SET "${toolkit}" wheels "${wheels_json}")
  string(JSON cuda SET "${cuda}" toolkit "${toolkit}")
  _ncclkit_json_strings(sass ${NCCLKIT_CUDA_ARCHS_SASS})
  _ncclkit_json_strings(ptx ${NCCLKIT_CUDA_ARCHS_PTX})
  string(JSON cuda SET "${cuda}" archs_sass "${sass}")
  string(JSON cuda SET "${cuda}" archs_ptx "${ptx}")
  _ncclkit_json_set_string(cuda archs_source "${NCCLKIT_CUDA_ARCHS_SOURCE}")
  string(JSON info SET "${info}" cuda "${cuda}")
  set(${var} "${info}" PARENT_SCOPE)
endfunction()

# The "hip" object of the record in variable <var>.
function(_ncclkit_hip_record var)
  set(hip "{}")
  _ncclkit_json_set_string(hip compiler_version "${CMAKE_HIP_COMPILER_VERSION}")
  _ncclkit_json_set_string(hip platform "${CMAKE_HIP_PLATFORM}")
  _ncclkit_json_strings(archs ${NCCLKIT_HIP_ARCHS})
  string(JSON hip SET "${hip}" archs "${archs}")
  string(JSON info SET "${${var}}" hip "${hip}")
  set(${var} "${info}" PARENT_SCOPE)
endfunction()

# The floor, the requirement and the feature table in the "nccl" object in variable <var>.
function(_ncclkit_nccl_floor_record var)
  set(nccl "${${var}}")
  _ncclkit_json_set_string(nccl floor "${NCCLKIT_NCCL_FLOOR}")
  _ncclkit_json_set_string(nccl floor_reason "${NCCLKIT_NCCL_FLOOR_REASON}")
  _ncclkit_json_set_string_or_null(nccl requirement "${NCCLKIT_NCCL_REQUIREMENT}")
  _ncclkit_json_strings(required ${ARG_FEATURES})
  string(JSON nccl SET "${nccl}" required_features "${required}")
  _ncclkit_json_strings(weak ${NCCLKIT_NCCL_WEAK_ENTRY_POINTS})
  string(JSON nccl SET "${nccl}" weak_entry_points "${weak}")
  set(table "{}")
  ncclkit_nccl_feature_names(names)
  foreach(name IN LISTS names)
    ncclkit_nccl_feature(${name} gate)
    set(feature "{}")
    _ncclkit_json_set_string(feature since "${gate_SINCE}")
    _ncclkit_json_strings(entry_points ${gate_ENTRY_POINTS})
    string(JSON feature SET "${feature}" entry_points "${entry_points}")
    string(JSON table SET "${table}" ${name} "${feature}")
  endforeach()
  string(JSON nccl SET "${nccl}" features "${table}")
  set(${var} "${nccl}" PARENT_SCOPE)
endfunction()

function(ncclkit_write_build_record target module output)
  _ncclkit_git_commit(commit)
  string(TIMESTAMP built "%Y-%m-%dT%H:%M:%SZ" UTC)  # honours SOURCE_DATE_EPOCH

  # scikit-build-core's name and full version (with a local label) when it drives the build.
  if(DEFINED SKBUILD_PROJECT_NAME)
    set(package "${SKBUILD_PROJECT_NAME}")
    set(version "${SKBUILD_PROJECT_VERSION_FULL}")
  else()
    set(package "${PROJECT_NAME}")
    set(version "${PROJECT_VERSION}")
  endif()

  set(info "{}")
  _ncclkit_json_set_string(info package "${package}")
  _ncclkit_json_set_string(info version "${version}")
  _ncclkit_json_set_string(info module "${module}")
  _ncclkit_json_set_string(info ncclkit_version "${ncclkit_VERSION}")
  _ncclkit_json_set_string(info git_commit "${commit}")
  _ncclkit_json_set_string(info build_time "${built}")

  set(python "{}")
  _ncclkit_json_set_string(python version "${Python_VERSION}")
  _ncclkit_json_set_string(python soabi "${Python_SOABI}")
  string(JSON info SET "${info}" python "${python}")

  set(compiler "{}")
  _ncclkit_json_set_string(compiler cxx "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}")
  string(TOLOWER "${gpu_language}" key)
  _ncclkit_json_set_string(compiler ${key}
    "${CMAKE_${gpu_language}_COMPILER_ID} ${CMAKE_${gpu_language}_COMPILER_VERSION}")
  # The compiler cache or other launcher by name (its path would tie the record to one machine).
  get_filename_component(launcher_name "${launcher}" NAME)
  _ncclkit_json_set_string_or_null(compiler launcher "${launcher_name}")
  string(JSON info SET "${info}" compiler "${compiler}")

  if(gpu_language STREQUAL "HIP")
    _ncclkit_hip_record(info)
  else()
    _ncclkit_cuda_record(info)
  endif()

  set(nccl "{}")
  _ncclkit_json_set_string(nccl provider "${NCCLKIT_NCCL_PROVIDER}")
  if(NCCLKIT_NCCL_PROVIDER STREQUAL "off")
    foreach(key IN ITEMS version version_code include_dir library wheel floor requirement)
      string(JSON nccl SET "${nccl}" ${key} null)
    endforeach()
    string(JSON nccl SET "${nccl}" static false)
  else()
    _ncclkit_json_set_string(nccl version "${NCCL_VERSION}")
    string(JSON nccl SET "${nccl}" version_code "${NCCL_VERSION_CODE}")
    if(NCCLKIT_NCCL_STATIC)
      set(library "${NCCL_STATIC_LIBRARY}")
      string(JSON nccl SET "${nccl}" static true)
    else()
      set(library "${NCCL_LIBRARY}")
      string(JSON nccl SET "${nccl}" static false)
    endif()
    set(include_dir "${NCCL_INCLUDE_DIR}")
    if(NCCLKIT_NCCL_PROVIDER STREQUAL "wheel")
      # Where in the nvidia-nccl wheel: the build environment it was installed in is temporary,
      # and its path would make two builds of one commit differ.
      string(REGEX REPLACE "^.*/(nvidia/nccl/)" "\\1" library "${library}")
      string(REGEX REPLACE "^.*/(nvidia/nccl/)" "\\1" include_dir "${include_dir}")
    endif()
    _ncclkit_json_set_string(nccl include_dir "${include_dir}")
    _ncclkit_json_set_string(nccl library "${library}")
    _ncclkit_json_set_string_or_null(nccl wheel "${NCCLKIT_NCCL_WHEEL}")
    if(NCCLKIT_NCCL_PROVIDER STREQUAL "source")
      _ncclkit_json_set_string(nccl source_dir "${NCCL_SOURCE_DIR}")
      _ncclkit_json_set_string(nccl source_commit "${NCCL_SOURCE_COMMIT}")
      _ncclkit_json_set_string(nccl build_style "${NCCL_BUILD_STYLE}")
    endif()
    _ncclkit_nccl_floor_record(nccl)
  endif()
  string(JSON info SET "${info}" nccl "${nccl}")

  set(features "{}")
  foreach(feature IN LISTS NCCLKIT_FEATURES)
    string(REPLACE "=" ";" feature "${feature}")
    list(GET feature 0 name)
    list(GET feature 1 value)
    string(JSON features SET "${features}" ${name} ${value})
  endforeach()
  string(JSON info SET "${info}" features "${features}")

  file(GENERATE OUTPUT "${output}" CONTENT "${info}\n" TARGET ${target})
endfunction()
