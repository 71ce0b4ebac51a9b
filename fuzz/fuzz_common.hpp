// SPDX-License-Identifier: MIT
// Helpers shared by Racket's libFuzzer targets.
#pragma once

#include "racket/detail/hash.hpp"
#include "racket/wire.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

namespace racket::fuzz {

// Aborts (so libFuzzer reports a crash) when an invariant of the code under test is broken.
#define RACKET_FUZZ_CHECK(cond)                                                                \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);      \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

// Rewrites the trailer with the XXH3 of the bytes before it. Random mutations almost never
// keep the checksum right, so without this the fuzzer would never get past it.
inline void fix_checksum(std::vector<std::byte>& d) {
  if (d.size() < racket::wire::trailer_size) return;
  const std::size_t n = d.size() - racket::wire::trailer_size;
  racket::detail::store_u64(d.data() + n, racket::detail::xxh3(d.data(), n));
}

// Reads bytes off the front of the fuzzer's input; returns zeros once it is used up.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) noexcept : p_(data), n_(size) {}
  bool empty() const noexcept { return n_ == 0; }
  std::size_t size() const noexcept { return n_; }
  std::uint8_t u8() noexcept {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(u8() | u8() << 8); }
  // Up to `max` bytes (fewer if the input runs out).
  std::span<const std::byte> bytes(std::size_t max) noexcept {
    const std::size_t k = max < n_ ? max : n_;
    std::span<const std::byte> out{reinterpret_cast<const std::byte*>(p_), k};
    p_ += k;
    n_ -= k;
    return out;
  }
  std::string_view text(std::size_t max) noexcept {
    const auto b = bytes(max);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

}  // namespace racket::fuzz
