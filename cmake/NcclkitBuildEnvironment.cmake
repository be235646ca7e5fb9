#[=======================================================================[.rst:
NcclkitBuildEnvironment
-----------------------

pip builds in an isolated environment at a new path each time, and pybind11's headers and the
NCCL wheel's come from it: every compile and link would get a new command line, and ninja would
run them all again. The build gets paths that stay the same instead, in the build tree: headers
copied there (a file only when its content changed, so its time stays and ninja sees nothing
new), a library linked there.

``ncclkit_stable_path(<path> <out-var>)``
  ``<path>`` when it lies outside the build environment; else its place in the build tree,
  ``ncclkit-env/<path within the environment's directory>``: a directory copied there, a file
  linked there. ``NCCLKIT_BUILD_ENVIRONMENT`` (cache or normal variable, which ncclkit's build
  backend sets) lists the environment's directories; without it, every path is kept.

``ncclkit_mirror_directory(<dir> <copy>)``
  Makes ``<copy>`` hold what ``<dir>`` holds: a file is copied only when its content changed, and
  files ``<dir>`` no longer has are removed.

``ncclkit_stable_paths(<target>)``
  Points the imported ``<target>``'s include directories and library at their stable paths. The
  library's link is as new as the library, so the targets that link it should not depend on its
  time (``LINK_DEPENDS_NO_SHARED``, as ncclkit's extensions do).
#]=======================================================================]
include_guard(GLOBAL)
cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

function(ncclkit_mirror_directory dir view)
  file(GLOB_RECURSE wanted LIST_DIRECTORIES FALSE RELATIVE "${dir}" "${dir}/*")
  file(GLOB_RECURSE stale LIST_DIRECTORIES FALSE RELATIVE "${view}" "${view}/*")
  if(wanted)
    list(REMOVE_ITEM stale ${wanted})
  endif()
  foreach(file IN LISTS stale)
    file(REMOVE "${view}/${file}")
  endforeach()
  foreach(file IN LISTS wanted)
    get_filename_component(parent "${view}/${file}" DIRECTORY)
    file(MAKE_DIRECTORY "${parent}")
    file(COPY_FILE "${dir}/${file}" "${view}/${file}" ONLY_IF_DIFFERENT)
  endforeach()
endfunction()

function(ncclkit_stable_path path out)
  set(${out} "${path}" PARENT_SCOPE)
  foreach(dir IN LISTS NCCLKIT_BUILD_ENVIRONMENT)
    cmake_path(IS_PREFIX dir "${path}" NORMALIZE inside)
    if(inside)
      cmake_path(RELATIVE_PATH path BASE_DIRECTORY "${dir}" OUTPUT_VARIABLE relative)
      set(stable "${CMAKE_BINARY_DIR}/ncclkit-env/${relative}")
      set(${out} "${stable}" PARENT_SCOPE)
      # Once a configure: NCCL's include directory is asked for by its target and its variable.
      get_property(placed GLOBAL PROPERTY _NCCLKIT_STABLE_PATHS)
      if(stable IN_LIST placed)
        return()
      endif()
      set_property(GLOBAL APPEND PROPERTY _NCCLKIT_STABLE_PATHS "${stable}")
      if(IS_DIRECTORY "${path}")
        ncclkit_mirror_directory("${path}" "${stable}")
      else()
        get_filename_component(parent "${stable}" DIRECTORY)
        file(MAKE_DIRECTORY "${parent}")
        file(CREATE_LINK "${path}" "${stable}" SYMBOLIC)
      endif()
      return()
    endif()
  endforeach()
endfunction()

function(ncclkit_stable_paths target)
  if(NOT NCCLKIT_BUILD_ENVIRONMENT OR NOT TARGET ${target})
    return()
  endif()
  get_target_property(imported ${target} IMPORTED)
  get_target_property(aliased ${target} ALIASED_TARGET)
  if(NOT imported OR aliased)
    return()
  endif()
  get_target_property(includes ${target} INTERFACE_INCLUDE_DIRECTORIES)
  if(includes)
    set(stable_includes "")
    foreach(dir IN LISTS includes)
      ncclkit_stable_path("${dir}" dir)
      list(APPEND stable_includes "${dir}")
    endforeach()
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${stable_includes}")
  endif()
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(library ${target} IMPORTED_LOCATION)
    if(library)
      ncclkit_stable_path("${library}" library)
      set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${library}")
    endif()
  endif()
endfunction()
