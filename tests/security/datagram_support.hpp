// SPDX-License-Identifier: MIT
// Shared by the security tests: a test key of one repeated digit, and a datagram whose header
// names a kind and a stream (all sealing looks at); the rest is filler.
#pragma once

#include "racket/security/stream_key.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace racket_test {

inline racket::stream_key key_of(char fill) { return racket::stream_key::parse(std::string(64, fill)); }

// "RKTM", version 3, `kind`, the stream at offset 16, then `body` filler bytes.
inline std::vector<std::byte> datagram_of(std::uint8_t kind, std::string_view stream, std::size_t body = 20) {
  std::vector<std::byte> d(17 + stream.size() + body, std::byte{0x33});
  const char magic[] = "RKTM";
  for (int i = 0; i < 4; ++i) d[static_cast<std::size_t>(i)] = static_cast<std::byte>(magic[i]);
  d[4] = std::byte{3};
  d[5] = std::byte{kind};
  d[16] = static_cast<std::byte>(stream.size());
  for (std::size_t i = 0; i < stream.size(); ++i) d[17 + i] = static_cast<std::byte>(stream[i]);
  return d;
}

}  // namespace racket_test
