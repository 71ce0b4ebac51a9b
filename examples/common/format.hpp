// Output formatting shared by the `sender` and `receiver` examples: payloads as text or hex,
// JSON strings, one-line stats.
// SPDX-License-Identifier: MIT
#pragma once

#include <racket/racket.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace racket_examples {

inline std::string_view as_text(racket::byte_view bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// Lower-case hex of the bytes.
inline std::string to_hex(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += hex[u >> 4];
    out += hex[u & 0xf];
  }
  return out;
}

/// A 64-bit id as 16 hex digits.
inline std::string to_hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// Length of the well-formed UTF-8 sequence at the start of `s` (1..4), or 0 if it is not one
/// (overlong forms, surrogates and code points past U+10FFFF are not well formed).
inline std::size_t utf8_sequence(std::string_view s, char32_t& cp) noexcept {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t n = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

/// True if `s` is well-formed UTF-8 without control characters (tab allowed), so it can be
/// shown as text on one line.
inline bool is_printable_utf8(std::string_view s) noexcept {
  while (!s.empty()) {
    char32_t cp = 0;
    const std::size_t n = utf8_sequence(s, cp);
    if (n == 0) return false;
    if ((cp < 0x20 && cp != '\t') || (cp >= 0x7F && cp <= 0x9F)) return false;
    s.remove_prefix(n);
  }
  return true;
}

/// `s` as a JSON string literal (with quotes). Bytes that are not well-formed UTF-8 become
/// U+FFFD, so the output is always valid JSON.
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  while (!s.empty()) {
    char32_t cp = 0;
    std::size_t n = utf8_sequence(s, cp);
    if (n == 0) {
      out += "\\ufffd";
      s.remove_prefix(1);
      continue;
    }
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.data(), n);
    }
    s.remove_prefix(n);
  }
  out += '"';
  return out;
}

/// `s` for one line of human output: bytes that could break the line or the terminal
/// (controls, invalid UTF-8, backslash) shown as \xNN.
inline std::string human_text(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  while (!s.empty()) {
    char32_t cp = 0;
    std::size_t n = utf8_sequence(s, cp);
    if (n == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == '\\') {
      const auto u = static_cast<unsigned char>(s[0]);
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
      s.remove_prefix(1);
      continue;
    }
    out.append(s.data(), n);
    s.remove_prefix(n);
  }
  return out;
}

/// A payload for human output: its text if printable UTF-8, "hex:..." otherwise, "(empty)".
inline std::string human_payload(std::string_view payload) {
  if (payload.empty()) return "(empty)";
  if (is_printable_utf8(payload)) return std::string(payload);
  return "hex:" + to_hex(payload);
}

inline const char* reason_name(racket::removal_reason r) noexcept {
  switch (r) {
    case racket::removal_reason::withdrawn: return "withdrawn";
    case racket::removal_reason::expired: return "expired";
    case racket::removal_reason::evicted: return "evicted";
  }
  return "unknown";
}

/// One stats line of a publisher stream: "published=3 resent=12 ...".
inline std::string stats_line(const racket::publisher_stream_stats& s) {
  return "published=" + std::to_string(s.published) + " resent=" + std::to_string(s.resent) +
         " withdrawn=" + std::to_string(s.withdrawn) + " datagrams=" + std::to_string(s.datagrams_sent) +
         " bytes=" + std::to_string(s.bytes_sent) + " send_errors=" + std::to_string(s.send_errors) +
         " cached=" + std::to_string(s.cached_subjects);
}

/// One stats line of a subscriber stream plus the transport's kernel drops and busy-polled datagrams. `delivered` is
/// what the program delivered to its output (the library's own count is per subscription, so a
/// message that several overlapping filters match counts once per filter there).
inline std::string stats_line(const racket::subscriber_stream_stats& s, const racket::transport_stats& t,
                              std::uint64_t delivered) {
  return "received=" + std::to_string(s.received) + " delivered=" + std::to_string(delivered) +
         " duplicates=" + std::to_string(s.duplicates) + " stale=" + std::to_string(s.stale) +
         " malformed=" + std::to_string(s.malformed) + " gaps=" + std::to_string(s.gaps) +
         " expired=" + std::to_string(s.expired) + " withdrawn=" + std::to_string(s.withdrawn) +
         " kernel_drops=" + std::to_string(t.kernel_drops) + " busy_polled=" + std::to_string(t.busy_poll_datagrams);
}

}  // namespace racket_examples
