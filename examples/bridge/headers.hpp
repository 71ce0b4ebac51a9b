// SPDX-License-Identifier: MIT
#pragma once

// What a Racket message carries besides its subject and payload (its origin: publisher id,
// sequence, timestamp, interval, tombstone, site, content hash), written as NATS message
// headers and as the one-line prefix of a key-value bucket entry (docs/bridge.md, "Headers"
// and "Bucket entries"), and read back from either with every field checked: what comes from
// NATS is hostile. Pure string functions: they must NOT know NATS's client, sockets or Racket's
// publisher and subscriber.

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace racket_bridge {

/// The origin of a message as the exporting bridge saw it on its LAN.
struct origin {
  std::uint64_t publisher = 0;     ///< the LAN publisher's id
  std::uint64_t sequence = 0;      ///< its sequence number on the stream
  std::uint64_t timestamp_ns = 0;  ///< its wall clock, ns since 1970
  std::uint32_t interval_ms = 0;   ///< the resend interval (0: an event)
  bool tombstone = false;          ///< a withdrawal (empty payload)
  std::string site;                ///< the exporting bridge's --site
  std::uint64_t hash = 0;          ///< the content hash (XXH3-64 of stream, subject, payload)

  friend bool operator==(const origin&, const origin&) = default;
};

/// The header names (NATS 2.2+ headers).
namespace header {
inline constexpr std::string_view publisher = "Racket-Publisher";
inline constexpr std::string_view sequence = "Racket-Sequence";
inline constexpr std::string_view timestamp = "Racket-Timestamp";
inline constexpr std::string_view interval = "Racket-Interval";
inline constexpr std::string_view tombstone = "Racket-Tombstone";
inline constexpr std::string_view site = "Racket-Site";
inline constexpr std::string_view hash = "Racket-Hash";
}  // namespace header

/// Longest site name: one byte of length on Racket's wire, so the same bound here.
inline constexpr std::size_t max_site_length = 255;

/// A site name is 1..255 bytes of printable ASCII without spaces (it travels in a header
/// value and in the bucket entry's first line).
inline bool valid_site(std::string_view site) noexcept {
  if (site.empty() || site.size() > max_site_length) return false;
  for (const char c : site) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

namespace detail {

inline std::string hex16(std::uint64_t v) {
  constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[v & 0xf];
    v >>= 4;
  }
  return out;
}

// Exactly 16 hex digits (either case).
inline std::optional<std::uint64_t> parse_hex16(std::string_view text) noexcept {
  if (text.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// A decimal number without sign, spaces or leading zeros (other than "0"), at most `max`.
inline std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) noexcept {
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
  if (ec != std::errc{} || ptr != text.data() + text.size() || v > max) return std::nullopt;
  return v;
}

}  // namespace detail

/// The headers of a message, in the order of the table in docs/bridge.md. A header whose value
/// is empty is left out (Racket-Tombstone, but on a withdrawal).
inline std::array<std::pair<std::string_view, std::string>, 7> encode_headers(const origin& o) {
  return {{{header::publisher, detail::hex16(o.publisher)},
           {header::sequence, std::to_string(o.sequence)},
           {header::timestamp, std::to_string(o.timestamp_ns)},
           {header::interval, std::to_string(o.interval_ms)},
           {header::tombstone, o.tombstone ? "1" : ""},
           {header::site, o.site},
           {header::hash, detail::hex16(o.hash)}}};
}

/// The origin in a message's headers; nullopt when one is missing or malformed.
/// `get(std::string_view name)` returns the header's value as `std::optional<std::string_view>`.
/// Racket-Tombstone is optional ("1": a withdrawal; absent or "0": not).
template <class Get>
std::optional<origin> decode_headers(Get&& get) {
  const auto field = [&](std::string_view name) -> std::optional<std::string_view> { return get(name); };
  origin o;
  const auto publisher = field(header::publisher);
  const auto sequence = field(header::sequence);
  const auto timestamp = field(header::timestamp);
  const auto interval = field(header::interval);
  const auto site = field(header::site);
  const auto hash = field(header::hash);
  if (!publisher || !sequence || !timestamp || !interval || !site || !hash) return std::nullopt;
  const auto p = detail::parse_hex16(*publisher);
  const auto s = detail::parse_decimal(*sequence, UINT64_MAX);
  const auto t = detail::parse_decimal(*timestamp, UINT64_MAX);
  const auto i = detail::parse_decimal(*interval, UINT32_MAX);
  const auto h = detail::parse_hex16(*hash);
  if (!p || !s || !t || !i || !h || !valid_site(*site)) return std::nullopt;
  if (const auto tomb = field(header::tombstone)) {
    if (*tomb == "1") {
      o.tombstone = true;
    } else if (!tomb->empty() && *tomb != "0") {
      return std::nullopt;
    }
  }
  o.publisher = *p;
  o.sequence = *s;
  o.timestamp_ns = *t;
  o.interval_ms = static_cast<std::uint32_t>(*i);
  o.site = std::string(*site);
  o.hash = *h;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Bucket entries: the key-value API carries no headers, so a value's origin is its first line:
//   "racket1 PUBLISHER SEQUENCE TIMESTAMP INTERVAL SITE\n" then the payload's bytes unchanged.
// Tombstones are never stored (the key is deleted) and the hash is recomputed on reading.

/// Longest first line a bucket entry may have (with its newline).
inline constexpr std::size_t max_entry_prefix = 8 + 17 + 21 + 21 + 11 + max_site_length + 1;

/// A bucket entry: the origin's first line, then the payload.
inline std::string encode_entry(const origin& o, std::string_view payload) {
  std::string out = "racket1 " + detail::hex16(o.publisher) + ' ' + std::to_string(o.sequence) + ' ' +
                    std::to_string(o.timestamp_ns) + ' ' + std::to_string(o.interval_ms) + ' ' + o.site + '\n';
  out.append(payload);
  return out;
}

/// A bucket entry read back: its origin (tombstone false, hash 0) and payload.
struct decoded_entry {
  origin from;
  std::string_view payload;  ///< views the entry given to decode_entry
};

/// The origin and payload of a bucket entry; nullopt when it is not one encode_entry made.
inline std::optional<decoded_entry> decode_entry(std::string_view entry) {
  const std::size_t nl = entry.substr(0, max_entry_prefix).find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = entry.substr(0, nl);
  std::array<std::string_view, 6> fields{};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::size_t sp = line.find(' ');
    if ((sp == std::string_view::npos) != (i + 1 == fields.size())) return std::nullopt;
    fields[i] = line.substr(0, sp);
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  }
  if (fields[0] != "racket1") return std::nullopt;
  const auto p = detail::parse_hex16(fields[1]);
  const auto s = detail::parse_decimal(fields[2], UINT64_MAX);
  const auto t = detail::parse_decimal(fields[3], UINT64_MAX);
  const auto i = detail::parse_decimal(fields[4], UINT32_MAX);
  if (!p || !s || !t || !i || !valid_site(fields[5])) return std::nullopt;
  decoded_entry out;
  out.from.publisher = *p;
  out.from.sequence = *s;
  out.from.timestamp_ns = *t;
  out.from.interval_ms = static_cast<std::uint32_t>(*i);
  out.from.site = std::string(fields[5]);
  out.payload = entry.substr(nl + 1);
  return out;
}

}  // namespace racket_bridge
