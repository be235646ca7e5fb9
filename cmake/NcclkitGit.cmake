# ncclkit_tree_commit(<dir> <out> [MARK_DIRTY])
#
# The git commit of the tree whose root is <dir>, in <out>; "unknown" where <dir> is not the root
# of a work tree: a tree without .git inside another repository (an sdist unpacked in a checkout,
# a copy in docker) is not that repository's commit. MARK_DIRTY appends -dirty when tracked files
# have changes.
include_guard(GLOBAL)
cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets

function(ncclkit_tree_commit dir out)
  cmake_parse_arguments(PARSE_ARGV 2 ARG "MARK_DIRTY" "" "")
  set(${out} "unknown" PARENT_SCOPE)
  find_package(Git QUIET)
  if(NOT GIT_FOUND)
    return()
  endif()
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${dir}" rev-parse --show-toplevel HEAD
    OUTPUT_VARIABLE lines RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT rc EQUAL 0)
    return()
  endif()
  string(REPLACE "\n" ";" lines "${lines}")
  list(GET lines 0 top)
  list(GET lines 1 commit)
  file(REAL_PATH "${dir}" dir)
  file(REAL_PATH "${top}" top)
  if(NOT top STREQUAL dir)
    return()
  endif()
  if(ARG_MARK_DIRTY)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${dir}" status --porcelain --untracked-files=no
      OUTPUT_VARIABLE changes ERROR_QUIET)
    if(changes)
      string(APPEND commit "-dirty")
    endif()
  endif()
  set(${out} "${commit}" PARENT_SCOPE)
endfunction()
