# NCCL for a target made elsewhere: an extension module of any binding library, or a plain C++
# executable or library.
#
# ncclkit_target_link_nccl(<target> [FEATURES <feature>...] [DESTINATION <dir>])
#   Links ncclkit::nccl, the NCCL that ncclkit_find_nccl() found as NCCLKIT_NCCL says (RCCL in a
#   ROCm build), with an RPATH to where it is at run time: for NCCL from the nvidia-nccl wheel and
#   a <target> installed into the site-packages directory <dir> (a Python package), the wheel
#   beside it; else the directory NCCL was found in. <target> runs with every NCCL from its floor
#   on (NcclkitNcclFloor.cmake): its sources include ncclkit's <nccl.h>, which binds the entry
#   points newer than the floor weakly (NcclkitNcclBinding.cmake).
#   FEATURES are NCCL features <target> cannot do without (COMM_SPLIT, FP8, ...: the NCCLKIT_HAS_*
#   names): one the found NCCL's header lacks is a configure error, and each raises the floor to
#   the release that brought it. Gives <target> <ncclkit/config.h> (below) and records the floor,
#   its reason, the wheel requirement, the features required and the entry points bound weakly on
#   <target> (NCCLKIT_NCCL_FLOOR, NCCLKIT_NCCL_FLOOR_CODE, NCCLKIT_NCCL_FLOOR_REASON,
#   NCCLKIT_NCCL_REQUIREMENT, NCCLKIT_NCCL_REQUIRED_FEATURES, NCCLKIT_NCCL_WEAK_ENTRY_POINTS).
#   Also <ncclkit/communicator.h>, which gives a Python module the ncclComm_t of an
#   ncclkit.Communicator it is passed.
# ncclkit_target_config_header(<target>)
#   Gives <target> the generated header <ncclkit/config.h>: NCCLKIT_WITH_NCCL (NCCLKIT_WITH_RCCL),
#   NCCLKIT_NCCL_VERSION_CODE, NCCLKIT_NCCL_FLOOR_CODE and the NCCLKIT_HAS_* macros of the NCCL it
#   links (all 0 for a target that links none); see NcclkitFeatures.cmake.
#
# Example:
#   add_executable(allreduce_demo main.cpp)
#   ncclkit_target_link_nccl(allreduce_demo FEATURES COMM_SPLIT)

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

include(NcclkitFeatures)
include(NcclkitNcclBinding)
include(NcclkitNcclFloor)
include(NcclkitProvider)
include(NcclkitTargetCuda)

include_guard(GLOBAL)

# FEATURES the found NCCL's header lacks, with the release that brought each.
function(_ncclkit_require_features target)
  get_target_property(version ncclkit::nccl NCCLKIT_VERSION)
  get_target_property(version_code ncclkit::nccl NCCLKIT_VERSION_CODE)
  set(missing "")
  foreach(feature IN LISTS ARGN)
    ncclkit_nccl_feature(${feature} gate)
    if(gate_SINCE STREQUAL "")
      ncclkit_nccl_feature_names(names)
      list(JOIN names ", " names)
      message(FATAL_ERROR "ncclkit_target_link_nccl(${target}): unknown feature '${feature}'. Features: ${names}.")
    endif()
    if(version_code LESS gate_SINCE_CODE)
      list(APPEND missing "${feature} (NCCL ${gate_SINCE})")
    endif()
  endforeach()
  if(missing)
    list(JOIN missing ", " missing)
    get_target_property(include_dir ncclkit::nccl NCCLKIT_INCLUDE_DIR)
    get_target_property(provider ncclkit::nccl NCCLKIT_PROVIDER)
    message(FATAL_ERROR
      "ncclkit_target_link_nccl(${target}) needs ${missing}, but NCCL ${version} (${include_dir}, found by the "
      "${provider} step) is older.\n"
      "Use a newer NCCL: pip install -U nvidia-nccl-cu${CUDAToolkit_VERSION_MAJOR}, or NCCL_ROOT=<a newer install>.")
  endif()
endfunction()

# The RPATH that finds NCCL where it is at run time, never in a build directory.
function(_ncclkit_nccl_rpath target destination)
  get_target_property(static ncclkit::nccl NCCLKIT_STATIC)
  if(static)
    return()
  endif()
  get_target_property(provider ncclkit::nccl NCCLKIT_PROVIDER)
  get_target_property(library_dir ncclkit::nccl NCCLKIT_LIBRARY_DIR)
  if(provider STREQUAL "wheel" AND NOT destination STREQUAL "")
    # From site-packages/<destination>/ back up to site-packages/.
    string(REGEX REPLACE "[^/]+" ".." up "${destination}")
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "$ORIGIN/${up}/nvidia/nccl/lib")
    if(SKBUILD_STATE STREQUAL "editable")
      # An editable install that rebuilds on import (editable.rebuild) loads the extension from
      # the build directory, where $ORIGIN/.. is not site-packages: the wheel built against is
      # then where the build found it. Built with build isolation, that place is gone, and the
      # extension is in site-packages, where the first entry finds it.
      set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "${library_dir}")
    endif()
  elseif(NOT library_dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "${library_dir}")
  endif()
endfunction()

function(ncclkit_target_config_header target)
  _ncclkit_check_target(ncclkit_target_config_header ${target})
  set(version_code "")
  set(rccl "")
  get_target_property(floor_code ${target} NCCLKIT_NCCL_FLOOR_CODE)  # set by ncclkit_target_link_nccl
  if(floor_code)
    get_target_property(version_code ncclkit::nccl NCCLKIT_VERSION_CODE)
    get_target_property(provider ncclkit::nccl NCCLKIT_PROVIDER)
    if(provider STREQUAL "rccl")
      set(rccl RCCL)
    endif()
  endif()
  set(include_dir "${CMAKE_CURRENT_BINARY_DIR}/${target}_include")
  ncclkit_nccl_features("${version_code}" "${floor_code}" "${include_dir}/ncclkit/config.h" ${rccl})
  target_include_directories(${target} PRIVATE "${include_dir}")
endfunction()

function(ncclkit_target_link_nccl target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "DESTINATION" "FEATURES")
  _ncclkit_check_target(ncclkit_target_link_nccl ${target} ${ARG_UNPARSED_ARGUMENTS})
  string(REGEX REPLACE "/+$" "" destination "${ARG_DESTINATION}")
  string(TOUPPER "${ARG_FEATURES}" features)

  ncclkit_find_nccl()
  _ncclkit_require_features(${target} ${features})
  foreach(fact IN ITEMS PROVIDER VERSION INCLUDE_DIR LIBRARY WHEEL STATIC)
    get_target_property(${fact} ncclkit::nccl NCCLKIT_${fact})
  endforeach()
  set(static_flag "")
  if(STATIC)
    set(static_flag STATIC)
  endif()
  ncclkit_nccl_floor(${target} floor VERSION "${VERSION}" PROVIDER "${PROVIDER}" INCLUDE_DIR "${INCLUDE_DIR}"
    LIBRARY "${LIBRARY}" WHEEL "${WHEEL}" ${static_flag} FEATURES ${features})
  set_target_properties(${target} PROPERTIES
    NCCLKIT_NCCL_FLOOR "${floor_FLOOR}"
    NCCLKIT_NCCL_FLOOR_CODE "${floor_FLOOR_CODE}"
    NCCLKIT_NCCL_FLOOR_REASON "${floor_FLOOR_REASON}"
    NCCLKIT_NCCL_REQUIREMENT "${floor_REQUIREMENT}"
    NCCLKIT_NCCL_REQUIRED_FEATURES "${features}"
    NCCLKIT_NCCL_WEAK_ENTRY_POINTS ""
    # Linked again only for a change of what it links, not a newer shared library alone: the NCCL
    # wheel of pip's build environment is new at every build (NcclkitBuildEnvironment.cmake).
    LINK_DEPENDS_NO_SHARED ON)
  target_link_libraries(${target} PRIVATE ncclkit::nccl)
  # <ncclkit/communicator.h>: an ncclkit.Communicator's ncclComm_t, for a Python module.
  target_include_directories(${target} PRIVATE "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/include")
  _ncclkit_nccl_rpath(${target} "${destination}")
  ncclkit_target_config_header(${target})
  if(NOT PROVIDER STREQUAL "rccl")
    ncclkit_bind_nccl(${target} "${CMAKE_CURRENT_BINARY_DIR}/${target}_include")
  endif()
endfunction()
