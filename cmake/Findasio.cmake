# Findasio.cmake: standalone Asio (header only; Debian's libasio-dev ships no CMake config).
#
# Result variables:
#   asio_FOUND, asio_VERSION, asio_INCLUDE_DIR
# Imported target:
#   asio::asio  INTERFACE: include dir, ASIO_STANDALONE, Threads::Threads
# Hints:
#   asio_ROOT (or ASIO_ROOT; a CMake or an environment variable), CMAKE_PREFIX_PATH: a prefix
#   whose include/ holds asio.hpp. They are searched before the system's directories, and
#   a hint that changed since the last configure (given, changed or removed) searches again
#   instead of keeping the directory found before.
#
# SPDX-License-Identifier: MIT

set(_asio_hints "${asio_ROOT};$ENV{asio_ROOT};${ASIO_ROOT};$ENV{ASIO_ROOT}")
if(DEFINED CACHE{_asio_SEARCHED_WITH} AND NOT "${_asio_SEARCHED_WITH}" STREQUAL "${_asio_hints}")
  unset(asio_INCLUDE_DIR CACHE)
endif()
set(_asio_SEARCHED_WITH "${_asio_hints}" CACHE INTERNAL "The asio_ROOT hints asio_INCLUDE_DIR was found with")

find_path(asio_INCLUDE_DIR
  NAMES asio.hpp
  HINTS ${ASIO_ROOT} ENV ASIO_ROOT
  PATH_SUFFIXES include asio/include
  DOC "Directory holding standalone Asio's asio.hpp")
mark_as_advanced(asio_INCLUDE_DIR)
unset(_asio_hints)

if(asio_INCLUDE_DIR AND EXISTS "${asio_INCLUDE_DIR}/asio/version.hpp")
  # ASIO_VERSION is XXYYZZ: 102201 means 1.22.1.
  file(STRINGS "${asio_INCLUDE_DIR}/asio/version.hpp" _asio_version_line
       REGEX "^#[ \t]*define[ \t]+ASIO_VERSION[ \t]+[0-9]+")
  if(_asio_version_line MATCHES "ASIO_VERSION[ \t]+([0-9]+)")
    set(_asio_v "${CMAKE_MATCH_1}")
    math(EXPR _asio_major "${_asio_v} / 100000")
    math(EXPR _asio_minor "${_asio_v} / 100 % 1000")
    math(EXPR _asio_patch "${_asio_v} % 100")
    set(asio_VERSION "${_asio_major}.${_asio_minor}.${_asio_patch}")
  endif()
  unset(_asio_version_line)
  unset(_asio_v)
  unset(_asio_major)
  unset(_asio_minor)
  unset(_asio_patch)
endif()

# Asio needs a thread library (it links pthread for its internal mutexes and the resolver).
if(asio_FIND_QUIETLY)
  find_package(Threads QUIET)
else()
  find_package(Threads)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(asio
  REQUIRED_VARS asio_INCLUDE_DIR Threads_FOUND
  VERSION_VAR asio_VERSION)

if(asio_FOUND AND NOT TARGET asio::asio)
  add_library(asio::asio INTERFACE IMPORTED)
  set_target_properties(asio::asio PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${asio_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE"
    INTERFACE_LINK_LIBRARIES "Threads::Threads")
endif()
