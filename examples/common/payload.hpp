// Payloads of any size as the `sender` and `receiver` examples show them: the XXH3-64 of the
// bytes, a short preview of a large payload for human output, the payload in a JSON line only
// up to a size, and a payload saved to a file (temporary file, then rename). Knows nothing of
// streams, subscriptions or the command lines.
// SPDX-License-Identifier: MIT
#pragma once

#include "format.hpp"

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace racket_examples {

/// Human output shows payloads up to this size whole; a larger one as its first
/// `preview_bytes` bytes and the count of the rest.
inline constexpr std::size_t preview_limit = 256;
inline constexpr std::size_t preview_bytes = 64;
/// JSON lines carry the payload itself only up to this size (size and xxh3 always).
inline constexpr std::size_t json_payload_limit = 64 * 1024;

/// XXH3-64 (seed 0) of the bytes as 16 lower-case hex digits.
inline std::string xxh3_hex(std::string_view payload) { return to_hex(XXH3_64bits(payload.data(), payload.size())); }

/// The payload as human output shows it: whole (text, or hex:...) up to `preview_limit`
/// bytes, else its first `preview_bytes` bytes (cut at a UTF-8 boundary) and "... (+N bytes)".
inline std::string payload_preview(std::string_view payload) {
  if (payload.size() <= preview_limit) return human_payload(payload);
  std::size_t n = preview_bytes;
  // Not inside a UTF-8 character (at most three continuation bytes back; binary stays cut at 64).
  for (int back = 0; back < 3 && n > 0 && (static_cast<unsigned char>(payload[n]) & 0xC0) == 0x80; ++back) --n;
  return human_payload(payload.substr(0, n)) + "... (+" + std::to_string(payload.size() - n) + " bytes)";
}

/// "size", "xxh3", and the payload ("payload" or "payload_hex") when it is at most
/// `json_payload_limit` bytes.
inline void put_payload(nlohmann::ordered_json& j, std::string_view payload) {
  j["size"] = payload.size();
  j["xxh3"] = xxh3_hex(payload);
  if (payload.size() <= json_payload_limit) put_bytes(j, "payload", payload);
}

/// Whether a subject can name a file in a directory: not containing '/' (subjects are
/// dot-separated tokens, never "." or "..", at most 255 bytes: a file name as it is).
inline bool subject_is_file_name(std::string_view subject) noexcept {
  return !subject.empty() && subject.find('/') == std::string_view::npos;
}

/// Writes `payload` to DIR/NAME so that a reader never sees half a file: into a temporary
/// file in DIR first, then renamed over NAME. Returns "" or what went wrong.
inline std::string save_file(const std::string& dir, std::string_view name, std::string_view payload) {
  std::string tmp = dir + "/.racket-save.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return "cannot create a temporary file in " + dir + ": " + std::strerror(errno);
  std::size_t done = 0;
  while (done < payload.size()) {
    const ssize_t n = ::write(fd, payload.data() + done, payload.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return "cannot write " + tmp + ": " + why;
    }
    done += static_cast<std::size_t>(n);
  }
  // Readable like a file made with the default umask (mkstemp makes it 0600).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + why;
  }
  const std::string target = dir + "/" + std::string(name);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot rename " + tmp + " to " + target + ": " + why;
  }
  return {};
}

}  // namespace racket_examples
