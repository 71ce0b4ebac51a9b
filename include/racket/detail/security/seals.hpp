// SPDX-License-Identifier: MIT
#pragma once

// The one place the publisher and subscriber get their sealing and opening rooms from: with
// libsodium (RACKET_HAS_SODIUM, set by the CMake target when it links libsodium) the real
// `datagram_sealer` and `datagram_opener`; without it, classes of the same shape whose
// constructors throw `cipher_unavailable`, so a key ring given to a build without libsodium
// is a clear run-time error, never plaintext. They are made only when a ring is not empty.
// Knows nothing of publishers, subscribers or sockets.

#include "racket/error.hpp"
#include "racket/security/key_ring.hpp"

#if defined(RACKET_HAS_SODIUM) && RACKET_HAS_SODIUM
#include "racket/detail/security/datagram_opener.hpp"
#include "racket/detail/security/datagram_sealer.hpp"
#else
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#endif

namespace racket::detail {

#if defined(RACKET_HAS_SODIUM) && RACKET_HAS_SODIUM
inline constexpr bool sealing_available = true;
#else
inline constexpr bool sealing_available = false;

[[noreturn]] inline void no_sodium() {
  throw std::system_error(make_error_code(errc::cipher_unavailable),
                          "keyed streams need libsodium, and this program was built without it "
                          "(Debian: libsodium-dev; CMake: RACKET_WITH_SODIUM=ON; copying include/: define "
                          "RACKET_HAS_SODIUM=1 and link -lsodium)");
}

inline std::string_view datagram_stream(std::span<const std::byte>) noexcept { return {}; }

class datagram_sealer {
 public:
  datagram_sealer(const key_ring&, std::uint64_t, protection) { no_sodium(); }
  void rekey(const key_ring&) {}
  bool keyed(std::string_view) const { return false; }
  bool mute(std::string_view) const { return false; }
  std::span<const std::byte> seal(std::span<const std::byte> inner, std::span<std::byte>, std::uint64_t,
                                  std::error_code&) {
    return inner;
  }
};

class datagram_opener {
 public:
  enum class verdict : unsigned char { opened, malformed, no_key, not_authentic, replayed, not_fresh };
  struct result {
    verdict what = verdict::malformed;
    std::span<const std::byte> inner;
    std::uint32_t key = 0;
    std::uint32_t key_id = 0;
  };
  datagram_opener(const key_ring&, std::uint64_t, std::size_t) { no_sodium(); }
  void rekey(const key_ring&) {}
  template <class F>
  void for_each_stream_of(std::uint32_t, F&&) const {}
  bool keyed(std::string_view) const { return false; }
  bool covers(std::uint32_t, std::string_view) const { return false; }
  result open(std::span<const std::byte>, std::uint64_t, std::span<std::byte>) { return {}; }
};
#endif

}  // namespace racket::detail
