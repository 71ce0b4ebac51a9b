// SPDX-License-Identifier: MIT
#pragma once

// What a stream name may be (1..255 bytes, no NUL): the one check that the pool (before it
// hashes a name), the stream, the publisher and the wire decoder all use. Knows nothing else.

#include "racket/error.hpp"

#include <cstddef>
#include <cstring>
#include <string_view>
#include <system_error>

namespace racket {

/// Longest stream name accepted, in bytes (the wire format carries its length in one byte).
inline constexpr std::size_t max_stream_name_size = 255;

namespace detail {

// The check itself, for hot paths (every received datagram carries a name).
inline bool is_valid_stream_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= max_stream_name_size &&
         std::memchr(name.data(), 0, name.size()) == nullptr;
}

}  // namespace detail

/// Checks a stream name: 1..255 bytes, no NUL byte.
///
/// Any other byte is allowed (names are hashed as raw bytes; UTF-8 is fine).
/// Returns `errc::invalid_stream_name` for an empty name, one longer than
/// 255 bytes, or one that holds a NUL byte; an empty `std::error_code` otherwise.
inline std::error_code validate_stream_name(std::string_view name) noexcept {
  if (!detail::is_valid_stream_name(name)) return make_error_code(errc::invalid_stream_name);
  return {};
}

}  // namespace racket
