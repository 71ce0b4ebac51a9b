# Findsodium.cmake: libsodium, for keyed streams (docs/security.md). Debian: libsodium-dev.
#
# Result variables:
#   sodium_FOUND, sodium_VERSION, sodium_INCLUDE_DIR, sodium_LIBRARY
# Imported target:
#   sodium::sodium  the library and its include directory
# Hints:
#   sodium_ROOT (a CMake or an environment variable), CMAKE_PREFIX_PATH.
#
# SPDX-License-Identifier: MIT

find_path(sodium_INCLUDE_DIR NAMES sodium.h PATH_SUFFIXES include DOC "Directory holding sodium.h")
find_library(sodium_LIBRARY NAMES sodium libsodium DOC "The libsodium library")
mark_as_advanced(sodium_INCLUDE_DIR sodium_LIBRARY)

if(sodium_INCLUDE_DIR AND EXISTS "${sodium_INCLUDE_DIR}/sodium/version.h")
  file(STRINGS "${sodium_INCLUDE_DIR}/sodium/version.h" _sodium_version_line
       REGEX "^#[ \t]*define[ \t]+SODIUM_VERSION_STRING[ \t]+\"[^\"]+\"")
  if(_sodium_version_line MATCHES "\"([^\"]+)\"")
    set(sodium_VERSION "${CMAKE_MATCH_1}")
  endif()
  unset(_sodium_version_line)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(sodium
  REQUIRED_VARS sodium_LIBRARY sodium_INCLUDE_DIR
  VERSION_VAR sodium_VERSION)

if(sodium_FOUND AND NOT TARGET sodium::sodium)
  add_library(sodium::sodium UNKNOWN IMPORTED)
  set_target_properties(sodium::sodium PROPERTIES
    IMPORTED_LOCATION "${sodium_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${sodium_INCLUDE_DIR}")
endif()
