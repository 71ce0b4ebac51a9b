// SPDX-License-Identifier: MIT
// The hot paths' tiny helpers: same_bytes agrees with a plain compare at every length and at
// every position a difference may sit (the word-wise paths cover 4-16 bytes).
#include "racket/detail/config.hpp"

#include "catch.hpp"

#include <string>
#include <string_view>

TEST_CASE("same_bytes agrees with a byte compare at every length and difference", "[config]") {
  for (std::size_t n = 0; n <= 40; ++n) {
    // Unaligned views (offset 1) into separate buffers, with bytes on either side that
    // differ: a read past either end would be noticed as a wrong answer.
    std::string a(n + 2, 'x'), b(n + 2, 'y');
    for (std::size_t i = 0; i < n; ++i) a[i + 1] = b[i + 1] = static_cast<char>('a' + i % 26);
    const std::string_view va(a.data() + 1, n), vb(b.data() + 1, n);
    INFO("n = " << n);
    CHECK(racket::detail::same_bytes(va, vb));
    for (std::size_t i = 0; i < n; ++i) {
      INFO("differs at " << i);
      b[i + 1] = static_cast<char>(b[i + 1] ^ 0x01);
      CHECK_FALSE(racket::detail::same_bytes(va, vb));
      b[i + 1] = static_cast<char>(b[i + 1] ^ 0x01);
    }
    if (n > 0) CHECK_FALSE(racket::detail::same_bytes(va, std::string_view(b.data() + 1, n - 1)));
  }
}
