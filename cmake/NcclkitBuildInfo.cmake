# ncclkit_target_build_record(<target> [MODULE <name>] [DESTINATION <dir>]
#                             [RECORD_FEATURES <NAME=value>...])
#
# Writes what the build chose for <target>, as JSON, beside it (<target>.build.json) and, given
# DESTINATION, installs it there; `ncclkit info` and the run-time check
# (ncclkit.compat.check_extension) read it. MODULE is the import name (default: DESTINATION's
# path, dotted, then <target>). RECORD_FEATURES are macros <target>'s build decides itself
# (NAME=integer), recorded beside the NCCL ones in "features".
#
# Everything else comes from <target>'s properties, set by ncclkit_target_cuda/_hip (language,
# archs) and ncclkit_target_link_nccl (the floor, its requirement, the features required, the
# entry points bound weakly), from ncclkit::nccl's (what was found), and from CMake's project,
# compiler and Python variables. A HIP build's record has "hip" where a CUDA build's has "cuda",
# a target without either has neither; a project without Python has "python": null. "torch" holds
# what ncclkit_target_torch built against (mode torch|stable_abi, version, cuda, cxx11_abi,
# target_version), null for a target without torch. "nccl" holds
# the header built against (version, version_code), the floor, the requirement on the nvidia-nccl
# wheel, and each feature with its release and entry points; provider "off" for no NCCL.
#
# Example:
#   ncclkit_target_build_record(_ext DESTINATION mypkg RECORD_FEATURES MYPKG_FAST_PATH=1)

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitFeatures)
include(NcclkitGit)
include(NcclkitTargetCuda)

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

# The "cuda" object of the record of <target> in variable <var>.
function(_ncclkit_cuda_record target var)
  set(info "${${var}}")
  set(cuda "{}")
  _ncclkit_json_set_string(cuda nvcc_version "${CMAKE_CUDA_COMPILER_VERSION}")
  _ncclkit_json_set_string(cuda runtime_version "${CUDAToolkit_VERSION}")
  get_target_property(cudart ${target} NCCLKIT_CUDART)
  _ncclkit_json_set_string(cuda cudart "${cudart}")
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
  get_target_property(sass ${target} NCCLKIT_CUDA_ARCHS_SASS)
  get_target_property(ptx ${target} NCCLKIT_CUDA_ARCHS_PTX)
  get_target_property(archs_source ${target} NCCLKIT_CUDA_ARCHS_SOURCE)
  _ncclkit_json_strings(sass ${sass})
  _ncclkit_json_strings(ptx ${ptx})
  string(JSON cuda SET "${cuda}" archs_sass "${sass}")
  string(JSON cuda SET "${cuda}" archs_ptx "${ptx}")
  _ncclkit_json_set_string(cuda archs_source "${archs_source}")
  string(JSON info SET "${info}" cuda "${cuda}")
  set(${var} "${info}" PARENT_SCOPE)
endfunction()

# The "torch" object of the record of <target> in variable <var>: null without ncclkit_target_torch.
function(_ncclkit_torch_record target var)
  get_target_property(mode ${target} NCCLKIT_TORCH_MODE)
  if(NOT mode)
    string(JSON info SET "${${var}}" torch null)
    set(${var} "${info}" PARENT_SCOPE)
    return()
  endif()
  set(torch "{}")
  _ncclkit_json_set_string(torch mode "${mode}")
  foreach(fact IN ITEMS VERSION CUDA CXX11_ABI)
    get_target_property(${fact} ncclkit::torch NCCLKIT_TORCH_${fact})
  endforeach()
  _ncclkit_json_set_string(torch version "${VERSION}")
  _ncclkit_json_set_string_or_null(torch cuda "${CUDA}")
  string(JSON torch SET "${torch}" cxx11_abi ${CXX11_ABI})
  get_target_property(stable_target ${target} NCCLKIT_TORCH_TARGET)
  _ncclkit_json_set_string_or_null(torch target_version "${stable_target}")
  string(JSON info SET "${${var}}" torch "${torch}")
  set(${var} "${info}" PARENT_SCOPE)
endfunction()

# The "hip" object of the record of <target> in variable <var>.
function(_ncclkit_hip_record target var)
  set(hip "{}")
  _ncclkit_json_set_string(hip compiler_version "${CMAKE_HIP_COMPILER_VERSION}")
  _ncclkit_json_set_string(hip platform "${CMAKE_HIP_PLATFORM}")
  get_target_property(archs ${target} HIP_ARCHITECTURES)
  _ncclkit_json_strings(archs ${archs})
  string(JSON hip SET "${hip}" archs "${archs}")
  string(JSON info SET "${${var}}" hip "${hip}")
  set(${var} "${info}" PARENT_SCOPE)
endfunction()

# <target>'s floor, requirement and feature table in the "nccl" object in variable <var>.
function(_ncclkit_nccl_floor_record target var)
  set(nccl "${${var}}")
  foreach(fact IN ITEMS FLOOR FLOOR_REASON REQUIREMENT REQUIRED_FEATURES WEAK_ENTRY_POINTS)
    get_target_property(${fact} ${target} NCCLKIT_NCCL_${fact})
  endforeach()
  _ncclkit_json_set_string(nccl floor "${FLOOR}")
  _ncclkit_json_set_string(nccl floor_reason "${FLOOR_REASON}")
  _ncclkit_json_set_string_or_null(nccl requirement "${REQUIREMENT}")
  _ncclkit_json_strings(required ${REQUIRED_FEATURES})
  string(JSON nccl SET "${nccl}" required_features "${required}")
  _ncclkit_json_strings(weak ${WEAK_ENTRY_POINTS})
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

# The "nccl" object of <target>'s record in variable <var>; <features> gets the feature macros.
function(_ncclkit_nccl_record target var features)
  get_target_property(floor ${target} NCCLKIT_NCCL_FLOOR)
  set(nccl "{}")
  if(NOT floor)
    _ncclkit_json_set_string(nccl provider off)
    foreach(key IN ITEMS version version_code include_dir library wheel floor requirement)
      string(JSON nccl SET "${nccl}" ${key} null)
    endforeach()
    string(JSON nccl SET "${nccl}" static false)
    ncclkit_nccl_feature_macros("" macros)
    set(${var} "${nccl}" PARENT_SCOPE)
    set(${features} "${macros}" PARENT_SCOPE)
    return()
  endif()
  foreach(fact IN ITEMS PROVIDER VERSION VERSION_CODE STATIC WHEEL INCLUDE_DIR LIBRARY SOURCE_DIR SOURCE_COMMIT
                        BUILD_STYLE)
    get_target_property(${fact} ncclkit::nccl NCCLKIT_${fact})
  endforeach()
  _ncclkit_json_set_string(nccl provider "${PROVIDER}")
  _ncclkit_json_set_string(nccl version "${VERSION}")
  string(JSON nccl SET "${nccl}" version_code "${VERSION_CODE}")
  if(STATIC)
    string(JSON nccl SET "${nccl}" static true)
  else()
    string(JSON nccl SET "${nccl}" static false)
  endif()
  if(PROVIDER STREQUAL "wheel")
    # Where in the nvidia-nccl wheel: the build environment it was installed in is temporary,
    # and its path would make two builds of one commit differ.
    string(REGEX REPLACE "^.*/(nvidia/nccl/)" "\\1" LIBRARY "${LIBRARY}")
    string(REGEX REPLACE "^.*/(nvidia/nccl/)" "\\1" INCLUDE_DIR "${INCLUDE_DIR}")
  endif()
  _ncclkit_json_set_string(nccl include_dir "${INCLUDE_DIR}")
  _ncclkit_json_set_string(nccl library "${LIBRARY}")
  _ncclkit_json_set_string_or_null(nccl wheel "${WHEEL}")
  if(PROVIDER STREQUAL "source")
    _ncclkit_json_set_string(nccl source_dir "${SOURCE_DIR}")
    _ncclkit_json_set_string(nccl source_commit "${SOURCE_COMMIT}")
    _ncclkit_json_set_string(nccl build_style "${BUILD_STYLE}")
  endif()
  _ncclkit_nccl_floor_record(${target} nccl)
  set(rccl "")
  if(PROVIDER STREQUAL "rccl")
    set(rccl RCCL)
  endif()
  ncclkit_nccl_feature_macros("${VERSION_CODE}" macros ${rccl})
  set(${var} "${nccl}" PARENT_SCOPE)
  set(${features} "${macros}" PARENT_SCOPE)
endfunction()

function(ncclkit_target_build_record target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "MODULE;DESTINATION" "RECORD_FEATURES")
  _ncclkit_check_target(ncclkit_target_build_record ${target} ${ARG_UNPARSED_ARGUMENTS})
  foreach(feature IN LISTS ARG_RECORD_FEATURES)
    if(NOT feature MATCHES "^[A-Za-z_][A-Za-z0-9_]*=-?[0-9]+$")
      message(FATAL_ERROR
        "ncclkit_target_build_record(${target}): RECORD_FEATURES entry '${feature}' is not NAME=<integer>.")
    endif()
  endforeach()
  string(REGEX REPLACE "/+$" "" destination "${ARG_DESTINATION}")
  set(module "${ARG_MODULE}")
  if(module STREQUAL "" AND destination STREQUAL "")
    set(module "${target}")
  elseif(module STREQUAL "")
    string(REPLACE "/" "." module "${destination}.${target}")
  endif()

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

  if(DEFINED Python_VERSION)
    set(python "{}")
    _ncclkit_json_set_string(python version "${Python_VERSION}")
    _ncclkit_json_set_string(python soabi "${Python_SOABI}")
    string(JSON info SET "${info}" python "${python}")
  else()
    string(JSON info SET "${info}" python null)
  endif()

  get_target_property(gpu_language ${target} NCCLKIT_GPU_LANGUAGE)
  set(compiler "{}")
  _ncclkit_json_set_string(compiler cxx "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}")
  if(gpu_language)
    string(TOLOWER "${gpu_language}" key)
    _ncclkit_json_set_string(compiler ${key}
      "${CMAKE_${gpu_language}_COMPILER_ID} ${CMAKE_${gpu_language}_COMPILER_VERSION}")
  endif()
  # The compiler cache or other launcher by name (its path would tie the record to one machine).
  get_target_property(launcher ${target} CXX_COMPILER_LAUNCHER)
  set(launcher_name "")
  if(launcher)
    get_filename_component(launcher_name "${launcher}" NAME)
  endif()
  _ncclkit_json_set_string_or_null(compiler launcher "${launcher_name}")
  string(JSON info SET "${info}" compiler "${compiler}")

  if(gpu_language STREQUAL "HIP")
    _ncclkit_hip_record(${target} info)
  elseif(gpu_language STREQUAL "CUDA")
    _ncclkit_cuda_record(${target} info)
  endif()

  _ncclkit_torch_record(${target} info)
  _ncclkit_nccl_record(${target} nccl features)
  string(JSON info SET "${info}" nccl "${nccl}")

  set(features_json "{}")
  foreach(feature IN LISTS features ARG_RECORD_FEATURES)
    string(REPLACE "=" ";" feature "${feature}")
    list(GET feature 0 name)
    list(GET feature 1 value)
    string(JSON features_json SET "${features_json}" ${name} ${value})
  endforeach()
  string(JSON info SET "${info}" features "${features_json}")

  set(record "$<TARGET_FILE_DIR:${target}>/${target}.build.json")
  file(GENERATE OUTPUT "${record}" CONTENT "${info}\n" TARGET ${target})
  if(NOT destination STREQUAL "")
    install(FILES "${record}" DESTINATION "${destination}")
  endif()
endfunction()
