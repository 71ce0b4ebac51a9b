// Consumer test: uses Racket through fetch_content.
// SPDX-License-Identifier: MIT
#include <racket/racket.hpp>
#include <racket/detail/hash.hpp>

#include <cinttypes>
#include <cstdio>
#include <system_error>

int main() {
  std::error_code ec = racket::errc::bad_magic;
  const std::uint64_t h = racket::detail::xxh3("abc");
  std::printf("%s: %s\n", ec.category().name(), ec.message().c_str());
  std::printf("xxh3(\"abc\") = %016" PRIx64 "\n", h);
  // XXH3-64 of "abc" with seed 0, a published xxHash test value.
  if (h != UINT64_C(0x78af5f94892f3950) || ec.message().empty()) {
    std::puts("racket consumer: FAILED");
    return 1;
  }
  std::puts("racket consumer: ok");
  return 0;
}
