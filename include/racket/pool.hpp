// SPDX-License-Identifier: MIT
#pragma once

// The multicast pool (a block of groups and a range of ports, IPv4 or IPv6) and the
// documented, stable mapping of a stream name to one group and port in it. Plain values;
// knows nothing of sockets or datagrams.

#include "racket/detail/hash.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/stream_name.hpp"

#include <asio/ip/address.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/ip/address_v6.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace racket {

namespace detail {

// Decimal digits only (no sign, no space, leading zeros allowed), value <= max.
inline bool parse_decimal(std::string_view text, std::uint32_t max, std::uint32_t& out) noexcept {
  if (text.empty()) return false;
  std::uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > max) return false;  // checked per digit, so it never overflows
  }
  out = value;
  return true;
}

// "ADDRESS/LEN" -> address and prefix length. Only the syntax and the length's
// range for the family are checked here; multicast rules are in check_pool.
inline std::error_code parse_prefix(std::string_view text, asio::ip::address& base,
                                    unsigned& prefix_length) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return make_error_code(errc::invalid_pool_address);
  const auto addr_text = text.substr(0, slash);
  const auto len_text = text.substr(slash + 1);
  // Hex digits, '.' and ':' cover every IPv4 and IPv6 text form; this also
  // refuses spaces, NUL bytes (inet_pton would stop at one) and scope ids ("%eth0").
  if (addr_text.empty() ||
      !std::all_of(addr_text.begin(), addr_text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == '.' || c == ':';
      })) {
    return make_error_code(errc::invalid_pool_address);
  }
  std::error_code ec;
  const auto address = asio::ip::make_address(std::string(addr_text), ec);
  if (ec) return make_error_code(errc::invalid_pool_address);
  std::uint32_t length = 0;
  if (!parse_decimal(len_text, address.is_v4() ? 32 : 128, length)) {
    return make_error_code(errc::invalid_pool_address);
  }
  base = address;
  prefix_length = length;
  return {};
}

// "FIRST-LAST", "FIRST..LAST" or "PORT"; each 1..65535, FIRST <= LAST.
inline std::error_code parse_port_range(std::string_view text, std::uint16_t& first,
                                        std::uint16_t& last) noexcept {
  std::string_view first_text = text;
  std::string_view last_text = text;
  if (const auto dots = text.find(".."); dots != std::string_view::npos) {
    first_text = text.substr(0, dots);
    last_text = text.substr(dots + 2);
  } else if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    first_text = text.substr(0, dash);
    last_text = text.substr(dash + 1);
  }
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  if (!parse_decimal(first_text, 65535, a) || !parse_decimal(last_text, 65535, b) || a == 0 ||
      b == 0 || a > b) {
    return make_error_code(errc::invalid_port_range);
  }
  first = static_cast<std::uint16_t>(a);
  last = static_cast<std::uint16_t>(b);
  return {};
}

// Low 64 bits of an IPv6 address: bytes 8..15, big-endian.
inline std::uint64_t low64(const asio::ip::address_v6::bytes_type& bytes) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 8; i < 16; ++i) v = (v << 8) | bytes[i];
  return v;
}

// Are any bits beyond the first prefix_length bits of the address set?
inline bool has_host_bits_set(const asio::ip::address& base, unsigned prefix_length) noexcept {
  if (base.is_v4()) {
    const std::uint32_t v = base.to_v4().to_uint();
    const std::uint32_t host_mask = prefix_length >= 32 ? 0u : (~0u >> prefix_length);
    return (v & host_mask) != 0;
  }
  const auto bytes = base.to_v6().to_bytes();
  for (unsigned bit = prefix_length; bit < 128; ++bit) {
    if (bytes[bit / 8] & (0x80u >> (bit % 8))) return true;
  }
  return false;
}

// Every pool rule, in the order the errors are reported.
inline std::error_code check_pool(const asio::ip::address& base, unsigned prefix_length,
                                  std::uint16_t first_port, std::uint16_t last_port) noexcept {
  const unsigned width = base.is_v4() ? 32 : 128;
  if (prefix_length > width) return make_error_code(errc::invalid_pool_address);
  if (base.is_v6() && base.to_v6().scope_id() != 0) {
    return make_error_code(errc::invalid_pool_address);
  }
  // The whole prefix must be multicast: the base lies in 224.0.0.0/4 (ff00::/8)
  // and the prefix is at least as long as that range's.
  if (base.is_v4()) {
    if ((base.to_v4().to_uint() >> 28) != 0xE || prefix_length < 4) {
      return make_error_code(errc::pool_not_multicast);
    }
  } else {
    if (base.to_v6().to_bytes()[0] != 0xff || prefix_length < 8) {
      return make_error_code(errc::pool_not_multicast);
    }
  }
  if (prefix_length == width) return make_error_code(errc::pool_no_host_bits);
  if (has_host_bits_set(base, prefix_length)) return make_error_code(errc::pool_host_bits_set);
  if (first_port == 0 || last_port == 0 || first_port > last_port) {
    return make_error_code(errc::invalid_port_range);
  }
  return {};
}

}  // namespace detail

/// A block of multicast addresses plus a range of UDP ports, identical on
/// every node; a stream name maps to one (group, port) inside it.
///
/// A pool is a value: always valid (every constructor and factory checks the
/// rules below), cheap to copy, comparable, and safe to read from any thread.
///
/// Rules (docs/wire-format.md, "Stream to group and port"), each with the error it gives:
/// - prefix text is `ADDRESS/LEN`, IPv4 dotted or IPv6 text, LEN decimal
///   0..32 (IPv4) or 0..128 (IPv6); anything else, or an IPv6 scope id
///   (`%eth0`), is `errc::invalid_pool_address`;
/// - the whole prefix lies in 224.0.0.0/4 (LEN >= 4) or ff00::/8 (LEN >= 8),
///   else `errc::pool_not_multicast`;
/// - LEN leaves at least one host bit, else `errc::pool_no_host_bits`;
/// - the base has no bit set beyond LEN (strict, like Python's `ipaddress`:
///   `239.255.0.1/16` is refused, not silently truncated), else
///   `errc::pool_host_bits_set`;
/// - ports are `FIRST-LAST`, `FIRST..LAST` or one `PORT`, decimal, each
///   1..65535, FIRST <= LAST, else `errc::invalid_port_range`.
///
/// @code
/// racket::multicast_pool pool("ff15::/16", "19090-19097");
/// racket::endpoint where = pool.endpoint_for("plant.telemetry");
/// @endcode
class multicast_pool {
 public:
  /// The default pool: `239.255.0.0/16` (the IPv4 Local Scope of RFC 2365),
  /// ports 19090-19097.
  multicast_pool() = default;

  /// Parses a pool from its prefix (`"239.255.0.0/16"`, `"ff15::/16"`) and
  /// port range (`"19090-19097"`, `"19090..19097"`, `"19090"`).
  ///
  /// Throws `std::system_error` with a `racket::errc` (see the class rules);
  /// what() names the bad text, e.g. `multicast pool '10.0.0.0/8'` or
  /// `multicast pool port range '0-10'`.
  multicast_pool(std::string_view prefix, std::string_view ports) {
    std::error_code ec;
    *this = parse(prefix, ports, ec);
    if (ec) detail::throw_error(ec, parse_context(ec, prefix, ports));
  }

  /// Parses a pool like the two-string constructor, without throwing.
  ///
  /// On success clears `ec`; on error sets it to a `racket::errc` (prefix
  /// errors are reported before port errors) and returns the default pool.
  static multicast_pool parse(std::string_view prefix, std::string_view ports,
                              std::error_code& ec) {
    asio::ip::address base;
    unsigned prefix_length = 0;
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    ec = detail::parse_prefix(prefix, base, prefix_length);
    if (!ec) ec = detail::check_pool(base, prefix_length, 1, 1);
    if (!ec) ec = detail::parse_port_range(ports, first, last);
    if (ec) return {};
    return multicast_pool(base, prefix_length, first, last);
  }

  /// Builds a pool from an address, a prefix length and an inclusive port
  /// range, without throwing.
  ///
  /// Applies the same rules as `parse`; a prefix length beyond the family's
  /// width, or an IPv6 base with a scope id, is `errc::invalid_pool_address`.
  /// On success clears `ec`; on error sets it and returns the default pool.
  static multicast_pool from(const asio::ip::address& base, unsigned prefix_length,
                             std::uint16_t first_port, std::uint16_t last_port,
                             std::error_code& ec) {
    ec = detail::check_pool(base, prefix_length, first_port, last_port);
    if (ec) return {};
    return multicast_pool(base, prefix_length, first_port, last_port);
  }

  /// Builds a pool like the `std::error_code` overload of `from`.
  ///
  /// Throws `std::system_error` whose what() names the bad value, e.g.
  /// `multicast pool '10.0.0.0/8'` or `multicast pool port range '0-10'`.
  static multicast_pool from(const asio::ip::address& base, unsigned prefix_length,
                             std::uint16_t first_port, std::uint16_t last_port) {
    std::error_code ec;
    auto pool = from(base, prefix_length, first_port, last_port, ec);
    if (ec) {
      const auto prefix = base.to_string() + "/" + std::to_string(prefix_length);
      const auto ports = std::to_string(first_port) + "-" + std::to_string(last_port);
      detail::throw_error(ec, parse_context(ec, prefix, ports));
    }
    return pool;
  }

  /// True if the pool is an IPv4 prefix.
  bool is_v4() const noexcept { return base_.is_v4(); }

  /// True if the pool is an IPv6 prefix.
  bool is_v6() const noexcept { return base_.is_v6(); }

  /// The prefix's base address (its host bits are all zero).
  const asio::ip::address& base() const noexcept { return base_; }

  /// The prefix length: 4..31 for IPv4, 8..127 for IPv6.
  unsigned prefix_length() const noexcept { return prefix_length_; }

  /// Address bits the stream hash may fill: 32 or 128 minus the prefix length
  /// (at least 1). Only the low min(host_bits, 64) of them are ever used.
  unsigned host_bits() const noexcept { return (is_v4() ? 32u : 128u) - prefix_length_; }

  /// First port of the inclusive range (>= 1).
  std::uint16_t first_port() const noexcept { return first_port_; }

  /// Last port of the inclusive range (>= first_port()).
  std::uint16_t last_port() const noexcept { return last_port_; }

  /// Number of ports in the range: 1..65535.
  std::uint32_t port_count() const noexcept {
    return std::uint32_t{last_port_} - std::uint32_t{first_port_} + 1;
  }

  /// The group and port a stream maps to (docs/wire-format.md, "Stream to group and port"): with
  /// h = XXH3-64 of the name, the low min(host_bits, 64) bits of the group
  /// are the low bits of h, and the port is first_port + (h >> 32) % port_count.
  ///
  /// Stable across builds, platforms and languages. On an invalid name
  /// (see `validate_stream_name`) sets `ec` to `errc::invalid_stream_name` and
  /// returns a default `endpoint`; on success clears `ec`.
  endpoint endpoint_for(std::string_view stream_name, std::error_code& ec) const {
    ec = validate_stream_name(stream_name);
    if (ec) return {};
    return map(detail::xxh3(stream_name));
  }

  /// The group and port a stream maps to, like the `std::error_code` overload.
  ///
  /// Throws `std::system_error` (`errc::invalid_stream_name`) whose what()
  /// names the stream, with unprintable bytes shown as `\xNN`.
  endpoint endpoint_for(std::string_view stream_name) const {
    std::error_code ec;
    auto result = endpoint_for(stream_name, ec);
    if (ec) detail::throw_error(ec, detail::quote_for_error("stream name", stream_name));
    return result;
  }

  /// The reserved stream name whose group and port are the pool's announce channel.
  static constexpr std::string_view announce_stream_name = "racket.announce";

  /// The pool's announce channel (docs/wire-format.md, "Announcement (kind 3)"): where
  /// publishers and subscribers announce their streams and a directory listens. It is
  /// `endpoint_for("racket.announce")`: the documented mapping, so every implementation finds
  /// it; in the default pool 239.255.63.170 port 19094.
  endpoint announce_endpoint() const { return map(detail::xxh3(announce_stream_name)); }

  /// The pool as text that `parse` reads back: `"239.255.0.0/16 19090-19097"`,
  /// `"ff15::/16 19090-19090"` (the port range is always written FIRST-LAST).
  std::string to_string() const {
    return base_.to_string() + "/" + std::to_string(prefix_length_) + " " +
           std::to_string(first_port_) + "-" + std::to_string(last_port_);
  }

  /// Pools are equal when base, prefix length and port range are equal.
  friend bool operator==(const multicast_pool& a, const multicast_pool& b) noexcept {
    return a.base_ == b.base_ && a.prefix_length_ == b.prefix_length_ &&
           a.first_port_ == b.first_port_ && a.last_port_ == b.last_port_;
  }

 private:
  multicast_pool(const asio::ip::address& base, unsigned prefix_length, std::uint16_t first_port,
                 std::uint16_t last_port)
      : base_(base), prefix_length_(prefix_length), first_port_(first_port), last_port_(last_port) {}

  static std::string parse_context(std::error_code ec, std::string_view prefix,
                                   std::string_view ports) {
    if (ec == errc::invalid_port_range) {
      return detail::quote_for_error("multicast pool port range", ports);
    }
    return detail::quote_for_error("multicast pool", prefix);
  }

  endpoint map(std::uint64_t h) const {
    const unsigned k = std::min(host_bits(), 64u);
    const std::uint64_t mask = k >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << k) - 1;
    const std::uint64_t host = h & mask;
    const auto port =
        static_cast<std::uint16_t>(first_port_ + static_cast<std::uint32_t>((h >> 32) % port_count()));
    if (is_v4()) {
      // k <= 28 here, so host and mask fit 32 bits.
      const std::uint32_t v = (base_.to_v4().to_uint() & ~static_cast<std::uint32_t>(mask)) |
                              static_cast<std::uint32_t>(host);
      return {asio::ip::address_v4(v), port};
    }
    auto bytes = base_.to_v6().to_bytes();
    const std::uint64_t low = (detail::low64(bytes) & ~mask) | host;
    for (std::size_t i = 0; i < 8; ++i) {
      bytes[15 - i] = static_cast<unsigned char>(low >> (8 * i));
    }
    return {asio::ip::address_v6(bytes), port};
  }

  asio::ip::address base_{asio::ip::address_v4(0xEFFF0000u)};  // 239.255.0.0
  unsigned prefix_length_ = 16;
  std::uint16_t first_port_ = 19090;
  std::uint16_t last_port_ = 19097;
};

}  // namespace racket
