// Output formatting shared by the example programs: payloads as text or hex, JSON lines
// (nlohmann/json), every counter of a stats struct as text or JSON, the stats lines, times.
// SPDX-License-Identifier: MIT
#pragma once

#include <racket/racket.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
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

/// A payload (or subject) in a JSON object: `key` when it is printable UTF-8, else
/// `key`_hex with its bytes in hex (so the JSON is always valid and loses nothing).
inline void put_bytes(nlohmann::ordered_json& j, const std::string& key, std::string_view bytes) {
  if (is_printable_utf8(bytes)) {
    j[key] = std::string(bytes);
  } else {
    j[key + "_hex"] = to_hex(bytes);
  }
}

/// One line (a newline added) on `out`, flushed.
inline void emit_line(const std::string& line, std::FILE* out = stdout) {
  std::fwrite(line.data(), 1, line.size(), out);
  std::fputc('\n', out);
  std::fflush(out);
}

/// One JSON line (compact, ending in a newline) on `out`, flushed.
inline void emit_json(const nlohmann::ordered_json& j, std::FILE* out = stdout) {
  emit_line(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), out);
}

/// The start of a JSON stats line, {"event":"stats","program":PROGRAM,"final":FINAL}: the
/// program adds its fields and emits it.
inline nlohmann::ordered_json stats_event(std::string_view program, bool final) {
  nlohmann::ordered_json j;
  j["event"] = "stats";
  j["program"] = std::string(program);
  j["final"] = final;
  return j;
}

/// Appends the word "PREFIXNAME=VALUE" to `words` (a space first when it is not empty).
inline void append_counter_word(std::string& words, std::string_view prefix, std::string_view name,
                                std::uint64_t value) {
  if (!words.empty()) words += ' ';
  words.append(prefix);
  words.append(name);
  words += '=';
  words += std::to_string(value);
}

/// Every counter of a stats struct (`racket::for_each_counter`) as "name=value" words, each
/// name prefixed with `prefix`.
template <class Stats>
std::string counter_words(const Stats& s, std::string_view prefix = {}) {
  std::string out;
  racket::for_each_counter(
      s, [&](std::string_view name, std::uint64_t value) { append_counter_word(out, prefix, name, value); });
  return out;
}

/// Every counter of a stats struct as a JSON object.
template <class Stats>
nlohmann::ordered_json counter_object(const Stats& s) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  racket::for_each_counter(s, [&](std::string_view name, std::uint64_t value) { j[std::string(name)] = value; });
  return j;
}

/// The human stats line on stderr: "PROGRAM: stats: WORDS" ("final stats" at exit).
inline void print_stats_line(std::string_view program, bool final, const std::string& words) {
  std::fprintf(stderr, "%.*s: %s: %s\n", static_cast<int>(program.size()), program.data(),
               final ? "final stats" : "stats", words.c_str());
}

/// Wall-clock time now, ns since the Unix epoch.
inline std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

/// "HH:MM:SS.mmm", local time, of a wall-clock time in ns since the Unix epoch.
inline std::string clock_time(std::uint64_t ns) {
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000u);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned>(ns / 1'000'000u % 1000u));
  return buf;
}

}  // namespace racket_examples
