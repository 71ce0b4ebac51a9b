// SPDX-License-Identifier: MIT
#pragma once

// racket::stream_key: a stream's 256-bit pre-shared key and its text form, 64 hexadecimal
// digits (docs/security.md, "Stream keys"). Parsing and printing only: it must NOT know
// cryptography (libsodium), the wire or streams. A key is a secret: no error message and no
// exception ever shows its digits.

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "racket/error.hpp"

namespace racket {

/// A stream's 256-bit key. Made from its text form (`parse`, as in a `--key-file`) or from
/// raw bytes; compared in constant time; wiped when destroyed. Regular value type.
///
/// ```cpp
/// auto key = racket::stream_key::parse("00112233...");  // 64 hex digits, throws if not
/// ```
class stream_key {
 public:
  /// Bytes in a key.
  static constexpr std::size_t size = 32;

  /// The key of `text`: exactly 64 hexadecimal digits (either case), surrounded by any
  /// whitespace (a file's trailing newline). Otherwise `errc::invalid_key`, and the message
  /// says how many digits there were or where a non-digit is, never the digits.
  static stream_key parse(std::string_view text, std::error_code& ec) {
    ec.clear();
    const std::string_view t = trim(text);
    stream_key k;
    if (t.size() != 2 * size) {
      ec = make_error_code(errc::invalid_key);
      return k;
    }
    for (std::size_t i = 0; i < size; ++i) {
      const int hi = digit(t[2 * i]);
      const int lo = digit(t[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        ec = make_error_code(errc::invalid_key);
        k.wipe();
        return k;
      }
      k.bytes_[i] = static_cast<std::byte>(hi * 16 + lo);
    }
    return k;
  }

  /// As above; throws `std::system_error` (`errc::invalid_key`) whose what() says what is
  /// wrong with the text without showing it.
  static stream_key parse(std::string_view text) {
    std::error_code ec;
    stream_key k = parse(text, ec);
    if (ec) throw std::system_error(ec, describe(text));
    return k;
  }

  /// The key made of these 32 bytes (e.g. from a random generator).
  static stream_key from_bytes(std::span<const std::byte, size> bytes) noexcept {
    stream_key k;
    for (std::size_t i = 0; i < size; ++i) k.bytes_[i] = bytes[i];
    return k;
  }

  stream_key(const stream_key&) = default;
  stream_key& operator=(const stream_key&) = default;
  ~stream_key() { wipe(); }

  /// The 32 bytes.
  std::span<const std::byte, size> bytes() const noexcept { return bytes_; }

  /// The text form: 64 lowercase hexadecimal digits.
  std::string to_hex() const {
    constexpr char hex[] = "0123456789abcdef";
    std::string out(2 * size, '0');
    for (std::size_t i = 0; i < size; ++i) {
      const auto b = std::to_integer<unsigned>(bytes_[i]);
      out[2 * i] = hex[b >> 4];
      out[2 * i + 1] = hex[b & 0xf];
    }
    return out;
  }

  /// Constant-time comparison (no early exit on the first differing byte).
  friend bool operator==(const stream_key& a, const stream_key& b) noexcept {
    unsigned diff = 0;
    for (std::size_t i = 0; i < size; ++i) diff |= std::to_integer<unsigned>(a.bytes_[i] ^ b.bytes_[i]);
    return diff == 0;
  }

 private:
  stream_key() = default;

  static std::string_view trim(std::string_view t) noexcept {
    constexpr std::string_view space = " \t\r\n\v\f";
    const std::size_t first = t.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    return t.substr(first, t.find_last_not_of(space) - first + 1);
  }

  static int digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  static std::string describe(std::string_view text) {
    const std::string_view t = trim(text);
    if (t.size() != 2 * size) return "a stream key has 64 hexadecimal digits, this text has " + std::to_string(t.size()) + " characters";
    for (std::size_t i = 0; i < t.size(); ++i)
      if (digit(t[i]) < 0) return "a stream key has 64 hexadecimal digits, character " + std::to_string(i + 1) + " is not one";
    return "invalid stream key";
  }

  // Overwrites the key through a volatile pointer, which the compiler may not drop.
  void wipe() noexcept {
    volatile std::byte* p = bytes_.data();
    for (std::size_t i = 0; i < size; ++i) p[i] = std::byte{0};
  }

  std::array<std::byte, size> bytes_{};
};

}  // namespace racket
