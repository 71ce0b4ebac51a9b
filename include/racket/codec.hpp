// SPDX-License-Identifier: MIT
#pragma once

// Payload codecs: the `codec` concept that turns a stream's values into payload bytes and
// back, and the default ones (raw bytes, std::string, trivially copyable types). Knows
// nothing of streams, datagrams or the network.

#include "racket/error.hpp"

#include <concepts>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace racket {

/// A zero-copy view of a payload: valid only while the handler that received it runs.
using byte_view = std::span<const std::byte>;

/// Turns values of `T` into payload bytes and back.
///
/// A codec is a type with two static functions:
/// - `encode(const T& value, std::vector<std::byte>& out)` appends the bytes to `out`
///   (the publisher reuses `out`, so a codec that only appends allocates nothing in steady state);
/// - `decode(byte_view bytes, std::error_code& ec) -> T` sets `ec` (use `racket::errc::codec_error`)
///   for bytes it cannot turn into a `T`; it must never read outside `bytes`, which come from
///   the network and are hostile.
///
/// ```cpp
/// struct json_codec {
///   static void encode(const nlohmann::json& j, std::vector<std::byte>& out);
///   static nlohmann::json decode(racket::byte_view bytes, std::error_code& ec);
/// };
/// racket::stream<nlohmann::json, json_codec> config{"config", pool};
/// ```
template <class C, class T>
concept codec = requires(const T& value, std::vector<std::byte>& out, byte_view bytes, std::error_code& ec) {
  { C::encode(value, out) };
  { C::decode(bytes, ec) } -> std::convertible_to<T>;
};

/// A codec whose encoding of a value is bytes the value already holds may also have
/// `static byte_view view(const T& value) noexcept`, returning exactly the bytes `encode` would
/// append, in place. The publisher then copies them once, into its queue, instead of encoding
/// into a scratch buffer first. The built-in codecs all have it.
template <class C, class T>
concept viewing_codec = codec<C, T> && requires(const T& value) {
  { C::view(value) } noexcept -> std::same_as<byte_view>;
};

/// Raw bytes, copied into a `std::vector<std::byte>` on receipt.
struct bytes_codec {
  static void encode(const std::vector<std::byte>& value, std::vector<std::byte>& out) {
    out.insert(out.end(), value.begin(), value.end());
  }
  static byte_view view(const std::vector<std::byte>& value) noexcept { return value; }
  static std::vector<std::byte> decode(byte_view bytes, std::error_code& ec) {
    ec.clear();
    return {bytes.begin(), bytes.end()};
  }
};

/// Raw bytes without a copy: the handler sees the datagram's own bytes.
struct byte_view_codec {
  static void encode(const byte_view& value, std::vector<std::byte>& out) {
    out.insert(out.end(), value.begin(), value.end());
  }
  static byte_view view(const byte_view& value) noexcept { return value; }
  static byte_view decode(byte_view bytes, std::error_code& ec) noexcept {
    ec.clear();
    return bytes;
  }
};

/// Text: the string's bytes, no terminator, no encoding check.
struct string_codec {
  static void encode(const std::string& value, std::vector<std::byte>& out) {
    const auto* p = reinterpret_cast<const std::byte*>(value.data());
    out.insert(out.end(), p, p + value.size());
  }
  static byte_view view(const std::string& value) noexcept {
    return {reinterpret_cast<const std::byte*>(value.data()), value.size()};
  }
  static std::string decode(byte_view bytes, std::error_code& ec) {
    ec.clear();
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

/// A trivially copyable value, as its object representation (host byte order and layout:
/// both ends must agree on them). Bytes of the wrong size are a `codec_error`.
template <class T>
  requires std::is_trivially_copyable_v<T>
struct trivial_codec {
  static void encode(const T& value, std::vector<std::byte>& out) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
  }
  static byte_view view(const T& value) noexcept { return {reinterpret_cast<const std::byte*>(&value), sizeof(T)}; }
  static T decode(byte_view bytes, std::error_code& ec) noexcept {
    T value{};
    if (bytes.size() != sizeof(T)) {
      ec = make_error_code(errc::codec_error);
      return value;
    }
    ec.clear();
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }
};

namespace detail {

template <class T>
struct default_codec_for {};

template <class T>
  requires std::is_trivially_copyable_v<T>
struct default_codec_for<T> {
  using type = trivial_codec<T>;
};

template <>
struct default_codec_for<std::vector<std::byte>> {
  using type = bytes_codec;
};

template <>
struct default_codec_for<byte_view> {
  using type = byte_view_codec;
};

template <>
struct default_codec_for<std::string> {
  using type = string_codec;
};

}  // namespace detail

/// The codec `stream<T>` uses unless told otherwise: `bytes_codec` for
/// `std::vector<std::byte>`, `byte_view_codec` for `byte_view`, `string_codec` for
/// `std::string`, `trivial_codec<T>` for other trivially copyable types.
template <class T>
using default_codec = typename detail::default_codec_for<T>::type;

}  // namespace racket
