# cmake -DBUILD_DIR=... -DPREFIX=... -DINCLUDEDIR=... -DCMAKEDIR=... [-DCONFIG=...] -P install.cmake
# Installs the Racket build tree BUILD_DIR into a fresh PREFIX.
# SPDX-License-Identifier: MIT

file(REMOVE_RECURSE "${PREFIX}")
set(_config)
if(CONFIG)
  set(_config --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${_config}
  COMMAND_ERROR_IS_FATAL ANY)

foreach(_file IN ITEMS
    "${INCLUDEDIR}/racket/racket.hpp"
    "${CMAKEDIR}/racketConfig.cmake"
    "${CMAKEDIR}/racketConfigVersion.cmake"
    "${CMAKEDIR}/racketTargets.cmake"
    "${CMAKEDIR}/Findasio.cmake"
    "${CMAKEDIR}/Findxxhash.cmake")
  if(NOT EXISTS "${PREFIX}/${_file}")
    message(FATAL_ERROR "install is missing ${_file}")
  endif()
endforeach()
message(STATUS "racket installed into ${PREFIX}")
