# Findxxhash.cmake: xxHash used header only (Debian's libxxhash-dev ships no CMake config).
#
# Result variables:
#   xxhash_FOUND, xxhash_VERSION, xxhash_INCLUDE_DIR
# Imported target:
#   xxhash::xxhash  INTERFACE: include dir and XXH_INLINE_ALL (no library is linked:
#                   every function is compiled inline from xxhash.h)
# Hints:
#   xxhash_ROOT (or XXHASH_ROOT; a CMake or an environment variable), CMAKE_PREFIX_PATH: a
#   directory holding xxhash.h, or a prefix whose include/ does. They are searched before the
#   system's directories, and a hint that changed since the last configure (given, changed or
#   removed) searches again instead of keeping the directory found before.
#
# SPDX-License-Identifier: MIT

set(_xxhash_hints "${xxhash_ROOT};$ENV{xxhash_ROOT};${XXHASH_ROOT};$ENV{XXHASH_ROOT}")
if(DEFINED CACHE{_xxhash_SEARCHED_WITH} AND NOT "${_xxhash_SEARCHED_WITH}" STREQUAL "${_xxhash_hints}")
  unset(xxhash_INCLUDE_DIR CACHE)
endif()
set(_xxhash_SEARCHED_WITH "${_xxhash_hints}" CACHE INTERNAL "The xxhash_ROOT hints xxhash_INCLUDE_DIR was found with")

find_path(xxhash_INCLUDE_DIR
  NAMES xxhash.h
  HINTS ${XXHASH_ROOT} ENV XXHASH_ROOT
  PATH_SUFFIXES include
  DOC "Directory holding xxhash.h")
mark_as_advanced(xxhash_INCLUDE_DIR)
unset(_xxhash_hints)

if(xxhash_INCLUDE_DIR AND EXISTS "${xxhash_INCLUDE_DIR}/xxhash.h")
  file(STRINGS "${xxhash_INCLUDE_DIR}/xxhash.h" _xxhash_version_lines
       REGEX "^#[ \t]*define[ \t]+XXH_VERSION_(MAJOR|MINOR|RELEASE)[ \t]+[0-9]+")
  foreach(_part MAJOR MINOR RELEASE)
    if(_xxhash_version_lines MATCHES "XXH_VERSION_${_part}[ \t]+([0-9]+)")
      set(_xxhash_${_part} "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(DEFINED _xxhash_MAJOR AND DEFINED _xxhash_MINOR AND DEFINED _xxhash_RELEASE)
    set(xxhash_VERSION "${_xxhash_MAJOR}.${_xxhash_MINOR}.${_xxhash_RELEASE}")
  endif()
  unset(_xxhash_version_lines)
  unset(_xxhash_MAJOR)
  unset(_xxhash_MINOR)
  unset(_xxhash_RELEASE)
  unset(_part)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(xxhash
  REQUIRED_VARS xxhash_INCLUDE_DIR
  VERSION_VAR xxhash_VERSION)

if(xxhash_FOUND AND NOT TARGET xxhash::xxhash)
  add_library(xxhash::xxhash INTERFACE IMPORTED)
  set_target_properties(xxhash::xxhash PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${xxhash_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "XXH_INLINE_ALL")
endif()
