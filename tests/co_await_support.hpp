// SPDX-License-Identifier: MIT
// RACKET_TEST_CO_AWAIT: whether a test may use co_await here. Asio must have it
// (ASIO_HAS_CO_AWAIT: not Debian's 1.22 with clang 14, which would want -fcoroutines-ts), and
// not clang < 15 under AddressSanitizer, whose backend stops on coroutine frames ("Cannot
// represent a difference across sections", seen in CI's asan build with Asio 1.38). g++ with
// Asio 1.22 and clang 14 under ThreadSanitizer with 1.38 run the coroutine tests.
#pragma once

#include <asio/detail/config.hpp>

#if defined(ASIO_HAS_CO_AWAIT)
#if defined(__clang__) && defined(__has_feature)
#if __clang_major__ < 15 && __has_feature(address_sanitizer)
#define RACKET_TEST_NO_CO_AWAIT_UNDER_ASAN 1
#endif
#endif
#if !defined(RACKET_TEST_NO_CO_AWAIT_UNDER_ASAN)
#define RACKET_TEST_CO_AWAIT 1
#endif
#endif
