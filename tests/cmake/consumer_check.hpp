// SPDX-License-Identifier: MIT
// What the three consumer projects (add_subdirectory, fetch_content, find_package) check,
// shared: each one's main.cpp calls racket_consumer_check() through its own way of getting
// Racket.
#pragma once
#include <racket/racket.hpp>
#include <racket/detail/hash.hpp>

#include <asio/io_context.hpp>
#if RACKET_HAS_SODIUM
#include <racket/security/sealer.hpp>
#endif

#include <cinttypes>
#include <cstdio>
#include <string>
#include <system_error>

// The checks every consumer project runs: Racket's error category and hash, and keyed streams
// with libsodium (seal and open a datagram) or without it (a key ring is refused).
inline int racket_consumer_check() {
  std::error_code ec = racket::errc::bad_magic;
  const std::uint64_t h = racket::detail::xxh3("abc");
  std::printf("%s: %s\n", ec.category().name(), ec.message().c_str());
  std::printf("xxh3(\"abc\") = %016" PRIx64 "\n", h);
  // XXH3-64 of "abc" with seed 0, a published xxHash test value.
  if (h != UINT64_C(0x78af5f94892f3950) || ec.message().empty()) {
    std::puts("racket consumer: FAILED");
    return 1;
  }
#if RACKET_HAS_SODIUM
  // libsodium came with racket::racket: seal and open one datagram.
  const auto key = racket::stream_key::parse(std::string(64, '7'));
  const racket::sender_key k(key, 1);
  // An inner datagram needs a header's first bytes: "RKTM", version 3, kind 1.
  const std::byte inner[8] = {std::byte{'R'}, std::byte{'K'}, std::byte{'T'}, std::byte{'M'},
                              std::byte{3},   std::byte{1},   std::byte{0},   std::byte{7}};
  std::byte sealed[8 + racket::wire::seal_overhead];
  std::byte plain[8];
  (void)k.seal(sealed, inner, racket::wire::seal_suite::xchacha20poly1305, 1, 0, ec);
  const auto header = racket::wire::decode_sealed_header(sealed, ec);
  if (ec || k.open(sealed, header, plain, ec).size() != 8 || ec || plain[7] != std::byte{7}) {
    std::puts("racket consumer: FAILED (sealing)");
    return 1;
  }
  std::puts("keyed streams: available");
#else
  // Without libsodium a key ring is a clear error, never clear text.
  {
    asio::io_context io;
    racket::key_ring keys;
    keys.add("plant", racket::stream_key::parse(std::string(64, '7')));
    try {
      racket::subscriber sub{io, {.keys = keys}};
      std::puts("racket consumer: FAILED (a keyed subscriber without libsodium)");
      return 1;
    } catch (const std::system_error& e) {
      if (e.code() != racket::errc::cipher_unavailable) {
        std::puts("racket consumer: FAILED (not cipher_unavailable)");
        return 1;
      }
      std::printf("keyed streams: unavailable (%s)\n", e.what());
    }
  }
#endif
#if defined(RACKET_EXPECT_SODIUM) && RACKET_EXPECT_SODIUM != RACKET_HAS_SODIUM + 0
  std::puts("racket consumer: FAILED (libsodium was expected the other way: RACKET_EXPECT_SODIUM)");
  return 1;
#endif
  std::puts("racket consumer: ok");
  return 0;
}
