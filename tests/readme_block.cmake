# racket_readme_block(<out-var> <readme-var> <marker> <language> <n>): the n-th (1-based) code
# block fenced as ```<language> after the first <marker> in the text held by <readme-var>,
# exactly as printed (without its fences). Stops the configure step (or the -P script) with a
# message naming what is missing. The tests that compile or run what the README prints use it:
# tests/CMakeLists.txt (the threads section, the quick start) and
# tests/cmake/readme_fetch_content.cmake (the FetchContent snippet).
# SPDX-License-Identifier: MIT

function(racket_readme_block out readme_var marker language n)
  string(FIND "${${readme_var}}" "${marker}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "README.md has no \"${marker}\"")
  endif()
  string(SUBSTRING "${${readme_var}}" ${_at} -1 _rest)
  set(_fence "```${language}\n")
  string(LENGTH "${_fence}" _fence_length)
  foreach(_k RANGE 1 ${n})
    string(FIND "${_rest}" "${_fence}" _open)
    if(_open EQUAL -1)
      message(FATAL_ERROR "README.md: code block ${_k} (```${language}) after \"${marker}\" is missing")
    endif()
    math(EXPR _open "${_open} + ${_fence_length}")
    string(SUBSTRING "${_rest}" ${_open} -1 _rest)
    string(FIND "${_rest}" "```" _close)
    if(_close EQUAL -1)
      message(FATAL_ERROR "README.md: code block ${_k} (```${language}) after \"${marker}\" is not closed")
    endif()
    string(SUBSTRING "${_rest}" 0 ${_close} _block)
    string(SUBSTRING "${_rest}" ${_close} -1 _rest)
  endforeach()
  set(${out} "${_block}" PARENT_SCOPE)
endfunction()
