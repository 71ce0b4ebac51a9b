# cmake -DMODE=installed|download -DSOURCE_DIR=<racket root> -DWORK_DIR=<dir>
#       -DGENERATOR=<g> -DMAKE_PROGRAM=<p> -DOPTIONS_FILE=<file> [-DPREFIX=<install prefix>]
#       -P readme_fetch_content.cmake
#
# Builds a tiny consumer project with the README's FetchContent snippet AS PRINTED (the
# ```cmake block after the "readme-fetch-content" marker of the "Integration" section) and
# checks which way it took:
#   installed  Racket installed in PREFIX (the cmake/install fixture), CMAKE_PREFIX_PATH=PREFIX:
#              FetchContent must use find_package and clone nothing (no _deps/racket-src).
#   download   no Racket installed: the snippet must clone it. The URL of the line the README
#              marks "your mirror" is the only change: it points to a bare repository made here
#              from SOURCE_DIR's committed HEAD, with the tag the README names,
#              v<project(racket VERSION)>, created in it (so no tag need exist in the clone CI
#              runs from). Uncommitted changes of SOURCE_DIR are not in it.
# Also checks that the snippet's GIT_TAG and FIND_PACKAGE_ARGS match the version in the top
# CMakeLists.txt. OPTIONS_FILE (written by tests/cmake/CMakeLists.txt) holds the compiler,
# flags and build type of this build. Prints "racket consumer: ok" when everything held; prints
# "SKIP: ..." (the test's SKIP_REGULAR_EXPRESSION) when SOURCE_DIR is not a git checkout, a
# failure instead under CI=true.
# SPDX-License-Identifier: MIT
cmake_minimum_required(VERSION 3.24)

foreach(_var IN ITEMS MODE SOURCE_DIR WORK_DIR GENERATOR OPTIONS_FILE)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "readme_fetch_content.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(installed|download)$" OR (MODE STREQUAL "installed" AND NOT DEFINED PREFIX))
  message(FATAL_ERROR "readme_fetch_content.cmake: MODE installed (with PREFIX) or download")
endif()
include("${OPTIONS_FILE}")  # sets CONSUMER_OPTIONS

function(skip_or_fail text)
  if(DEFINED ENV{CI} AND NOT "$ENV{CI}" MATCHES "^(|false|FALSE|False|0)$")
    message(FATAL_ERROR "FAIL: ${text} (CI=$ENV{CI}: in CI a test that cannot run fails)")
  endif()
  message("SKIP: ${text}")
  return()
endfunction()

# The version the README must name: project(racket VERSION x.y.z) of the top CMakeLists.txt.
file(READ "${SOURCE_DIR}/CMakeLists.txt" _top)
if(NOT _top MATCHES "project\\(racket[ \t\r\n]+VERSION[ \t]+([0-9]+)\\.([0-9]+)\\.([0-9]+)")
  message(FATAL_ERROR "no project(racket VERSION x.y.z) in ${SOURCE_DIR}/CMakeLists.txt")
endif()
set(_version "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.${CMAKE_MATCH_3}")
set(_major_minor "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")

# The snippet, exactly as printed.
include("${CMAKE_CURRENT_LIST_DIR}/../readme_block.cmake")
file(READ "${SOURCE_DIR}/README.md" _readme)
racket_readme_block(_snippet _readme "<!-- readme-fetch-content" cmake 1)

string(REGEX MATCH "GIT_TAG[ \t]+([^ \t\n]+)" _ "${_snippet}")
if(NOT CMAKE_MATCH_1 STREQUAL "v${_version}")
  message(FATAL_ERROR "README's snippet has GIT_TAG '${CMAKE_MATCH_1}': tags are named v<version>, and CMakeLists.txt says ${_version}, so it must be v${_version}")
endif()
string(REGEX MATCH "FIND_PACKAGE_ARGS[ \t]+([^ \t\n)]+)" _ "${_snippet}")
if(NOT CMAKE_MATCH_1 STREQUAL "${_major_minor}")
  message(FATAL_ERROR "README's snippet has FIND_PACKAGE_ARGS '${CMAKE_MATCH_1}', not ${_major_minor} (CMakeLists.txt: ${_version})")
endif()

# The one line marked "your mirror": its URL is replaced, nothing else. In the installed mode
# it points to a path that does not exist, so a clone attempt fails instead of reaching out.
if(MODE STREQUAL "download")
  set(_url "file://${WORK_DIR}/mirror/racket.git")
else()
  set(_url "file://${WORK_DIR}/no-such-mirror/racket.git")
endif()
string(REGEX MATCHALL "[^\n]*# your mirror[^\n]*" _mirror_lines "${_snippet}")
list(LENGTH _mirror_lines _n)
if(NOT _n EQUAL 1 OR NOT _mirror_lines MATCHES "GIT_REPOSITORY[ \t]+[^ \t]+")
  message(FATAL_ERROR "README's snippet must have exactly one 'GIT_REPOSITORY URL  # your mirror' line")
endif()
string(REGEX REPLACE "(GIT_REPOSITORY[ \t]+)[^ \t]+([^\n]*# your mirror)" "\\1${_url}\\2" _consumer_snippet "${_snippet}")

set(_dir "${WORK_DIR}/${MODE}")
file(REMOVE_RECURSE "${_dir}")
file(MAKE_DIRECTORY "${_dir}/src")
file(COPY "${CMAKE_CURRENT_LIST_DIR}/fetch_content/main.cpp" DESTINATION "${_dir}/src")
# main.cpp includes "../consumer_check.hpp", the check the three consumer tests share.
file(COPY "${CMAKE_CURRENT_LIST_DIR}/consumer_check.hpp" DESTINATION "${_dir}")
file(WRITE "${_dir}/src/CMakeLists.txt"
"# Written by tests/cmake/readme_fetch_content.cmake: the README's FetchContent snippet, with
# only the mirror's URL replaced.
cmake_minimum_required(VERSION 3.24)
project(readme_fetch_content LANGUAGES CXX)
add_executable(my_app main.cpp)

# --- README.md, as printed ---
${_consumer_snippet}# --- end of README.md ---

if(CMAKE_CXX_COMPILER_ID MATCHES \"GNU|Clang\")
  target_compile_options(my_app PRIVATE -Wall -Wextra -Wpedantic -Werror)
endif()
")

set(_config_args -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(MODE STREQUAL "download")
  find_program(_git git)
  if(NOT _git)
    skip_or_fail("the download path needs git")
    return()
  endif()
  execute_process(COMMAND "${_git}" -C "${SOURCE_DIR}" rev-parse HEAD
    OUTPUT_VARIABLE _head OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _status
    ERROR_VARIABLE _error ERROR_STRIP_TRAILING_WHITESPACE)
  if(NOT _status EQUAL 0)
    skip_or_fail("the download path clones the HEAD of ${SOURCE_DIR}, and git cannot read it: ${_error}")
    return()
  endif()
  set(_mirror "${WORK_DIR}/mirror/racket.git")
  file(REMOVE_RECURSE "${WORK_DIR}/mirror")
  execute_process(COMMAND "${_git}" init -q --bare "${_mirror}" COMMAND_ERROR_IS_FATAL ANY)
  # A shallow CI clone can still push its HEAD into the mirror.
  execute_process(COMMAND "${_git}" -C "${_mirror}" config receive.shallowUpdate true COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND "${_git}" -C "${SOURCE_DIR}" push -q "${_mirror}"
      "HEAD:refs/heads/main" "HEAD:refs/tags/v${_version}"
    COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND "${_git}" -C "${_mirror}" symbolic-ref HEAD refs/heads/main COMMAND_ERROR_IS_FATAL ANY)
  message(STATUS "mirror ${_mirror}: ${_head} tagged v${_version}")
else()
  list(APPEND _config_args "-DCMAKE_PREFIX_PATH=${PREFIX}")
endif()

set(_make)
if(MAKE_PROGRAM)
  set(_make "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${_dir}/src" -B "${_dir}/build" -G "${GENERATOR}" ${_make}
          ${CONSUMER_OPTIONS} ${_config_args}
  RESULT_VARIABLE _status)
if(NOT _status EQUAL 0)
  message(FATAL_ERROR "configuring the README's snippet (${MODE}) failed")
endif()

file(STRINGS "${_dir}/build/CMakeCache.txt" _racket_dir REGEX "^racket_DIR:")
if(MODE STREQUAL "installed")
  if(EXISTS "${_dir}/build/_deps/racket-src")
    message(FATAL_ERROR "installed path: FetchContent cloned Racket (_deps/racket-src) instead of using the installed package")
  endif()
  if(NOT _racket_dir MATCHES "^racket_DIR:PATH=${PREFIX}/")
    message(FATAL_ERROR "installed path: find_package did not find the package in ${PREFIX} (${_racket_dir})")
  endif()
  message(STATUS "installed path: find_package used ${_racket_dir}, nothing cloned")
else()
  if(NOT EXISTS "${_dir}/build/_deps/racket-src/CMakeLists.txt")
    message(FATAL_ERROR "download path: no clone in _deps/racket-src (${_racket_dir}): was an installed Racket found?")
  endif()
  execute_process(COMMAND "${_git}" -C "${_dir}/build/_deps/racket-src" rev-parse HEAD
    OUTPUT_VARIABLE _cloned OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _cloned STREQUAL _head)
    message(FATAL_ERROR "download path: cloned ${_cloned}, not the tagged ${_head}")
  endif()
  message(STATUS "download path: cloned v${_version} (${_cloned}) from the mirror")
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" --build "${_dir}/build" RESULT_VARIABLE _status)
if(NOT _status EQUAL 0)
  message(FATAL_ERROR "building the README's snippet (${MODE}) failed")
endif()
execute_process(COMMAND "${_dir}/build/my_app" RESULT_VARIABLE _status)
if(NOT _status EQUAL 0)
  message(FATAL_ERROR "my_app (${MODE}) failed")
endif()
