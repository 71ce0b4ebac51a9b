// SPDX-License-Identifier: MIT
#pragma once

// How the bridge names Racket's streams, subjects and filters in NATS (docs/bridge.md,
// "Names"): subjects `racket.<stream>.<tokens>`, key-value buckets `racket_<stream>` and keys
// `<tokens>`, with one escape that is valid in NATS subjects and key-value keys. Pure string
// functions: they must NOT know NATS's client, sockets or Racket's publisher and subscriber.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace racket_bridge {

namespace detail {

inline bool plain(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lowercase is not the canonical form: refused, so the escape stays a bijection
}

// `text` with every byte outside [A-Za-z0-9_-] (and `mark` itself) written as mark + 2 hex
// digits; with `keep_dots`, dots are kept as separators instead.
inline std::string escape_with(std::string_view text, char mark, bool keep_dots) {
  constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((plain(c) && ch != mark) || (keep_dots && ch == '.')) {
      out += ch;
    } else {
      out += mark;
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

inline std::optional<std::string> unescape_with(std::string_view text, char mark, bool keep_dots) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == mark) {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const auto c = static_cast<unsigned char>(hi * 16 + lo);
      // Only what escape_with writes escaped may come escaped (one spelling per name).
      if ((plain(c) && static_cast<char>(c) != mark) || (keep_dots && c == '.')) return std::nullopt;
      out += static_cast<char>(c);
      i += 2;
    } else if (plain(static_cast<unsigned char>(ch)) || (keep_dots && ch == '.')) {
      out += ch;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace detail

/// One NATS subject token (or key-value key token) for a Racket name: bytes outside
/// [A-Za-z0-9_-] as `=XX`. A stream name's dots are escaped (the stream is one token).
inline std::string escape_token(std::string_view name) { return detail::escape_with(name, '=', false); }

/// The name `escape_token` made `token` from; nullopt if `token` is not such an escape.
inline std::optional<std::string> unescape_token(std::string_view token) {
  return detail::unescape_with(token, '=', false);
}

/// A published subject as NATS tokens (its dots kept, each token escaped): also the
/// key-value key of the subject.
inline std::string escape_subject(std::string_view subject) { return detail::escape_with(subject, '=', true); }

/// The subject `escape_subject` made; nullopt if it is not such an escape.
inline std::optional<std::string> unescape_subject(std::string_view escaped) {
  return detail::unescape_with(escaped, '=', true);
}

/// The NATS subject of a message: `racket.<stream>.<subject>`.
inline std::string nats_subject(std::string_view stream, std::string_view subject) {
  return "racket." + escape_token(stream) + "." + escape_subject(subject);
}

/// The NATS subscription for a Racket filter on a stream: a last `*` becomes `>`, an inner
/// `*` stays `*`, other tokens are escaped.
inline std::string nats_filter(std::string_view stream, std::string_view filter) {
  std::string out = "racket." + escape_token(stream);
  std::size_t start = 0;
  while (start <= filter.size()) {
    const std::size_t dot = filter.find('.', start);
    const std::string_view token = filter.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const bool last = dot == std::string_view::npos;
    out += '.';
    if (token == "*")
      out += last ? ">" : "*";
    else
      out += escape_token(token);
    if (last) break;
    start = dot + 1;
  }
  return out;
}

/// The stream and subject of a NATS subject the bridge made; nullopt for anything else.
struct parsed_subject {
  std::string stream;
  std::string subject;
};
inline std::optional<parsed_subject> parse_nats_subject(std::string_view nats) {
  constexpr std::string_view prefix = "racket.";
  if (nats.substr(0, prefix.size()) != prefix) return std::nullopt;
  nats.remove_prefix(prefix.size());
  const std::size_t dot = nats.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= nats.size()) return std::nullopt;
  auto stream = unescape_token(nats.substr(0, dot));
  auto subject = unescape_subject(nats.substr(dot + 1));
  if (!stream || !subject || stream->empty()) return std::nullopt;
  return parsed_subject{std::move(*stream), std::move(*subject)};
}

/// The JetStream key-value bucket of a stream: `racket_` and the name with bytes outside
/// [A-Za-z0-9-] (and `_`) as `_XX` (bucket names allow no `=`).
inline std::string bucket_name(std::string_view stream) { return "racket_" + detail::escape_with(stream, '_', false); }

}  // namespace racket_bridge
