// SPDX-License-Identifier: MIT
#pragma once

// Racket's errors: `errc`, its error category and `make_error_code`, and how an untrusted
// value is shown in a message (the one escaper, `detail::quoted`). Knows nothing else.

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace racket {

/// Racket's own error conditions, reported as `std::error_code` in
/// `racket::error_category()`. Outcomes that are normal (a duplicate
/// suppressed, a send that would block) are values, never errors.
enum class errc {
  // Multicast pool
  invalid_pool_address = 1,  ///< pool text is not `address/prefix`
  pool_not_multicast,        ///< pool base (or the whole prefix) is not multicast
  pool_no_host_bits,         ///< prefix leaves no host bits to hash into
  pool_host_bits_set,        ///< base address has bits set beyond its prefix
  invalid_port_range,        ///< port text unparsable, empty range, 0, or > 65535
  family_mismatch,           ///< IPv4 where IPv6 was expected, or the reverse
  // Names, subjects, filters
  invalid_stream_name,       ///< stream name empty, > 255 bytes, or holds a NUL
  invalid_subject,           ///< empty token, > 255 bytes, wildcard or NUL in subject
  invalid_filter,            ///< empty token, > 255 bytes, `*` inside a token
  // Publishing
  payload_too_large,         ///< payload larger than the publisher's `max_message_size`
  codec_error,               ///< the codec could not turn bytes into a value
  // Wire decoding (every datagram from the network is hostile)
  truncated,                 ///< shorter than the fixed header or a record says
  bad_magic,                 ///< does not start with the Racket magic
  bad_version,               ///< a wire version this build does not speak
  bad_kind,                  ///< unknown datagram kind
  bad_checksum,              ///< integrity check failed
  bad_length,                ///< a length field points past the end, or is zero where it may not be
  oversize,                  ///< larger than the largest datagram accepted
  bad_record,                ///< a record's fields make no sense (bad subject, bad flags, count mismatch)
  // Transport
  unknown_interface,         ///< an interface name the machine does not have
  no_interfaces,             ///< no usable interface for the pool's address family
  not_open,                  ///< operation on a closed publisher, subscriber or transport
  // Back-pressure
  would_block,               ///< the publisher's queue holds `max_queued_bytes` already: nothing was queued
  // Options
  invalid_option,            ///< an option outside its documented range (e.g. `max_message_size` over 64 MiB)
  // Security
  invalid_key,               ///< a stream key is not 64 hexadecimal digits (256 bits)
  not_authentic,             ///< a sealed datagram's tag does not verify: a wrong key, or changed or forged
  cipher_unavailable,        ///< the datagram's cipher suite cannot run here (AES-256-GCM without AES-NI), or no libsodium
  no_sending_key,            ///< a publish on a stream the key ring names with accepted keys only: nothing to seal with
};

namespace detail {

class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "racket"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::invalid_pool_address: return "invalid multicast pool address (expected address/prefix)";
      case errc::pool_not_multicast: return "multicast pool is not inside a multicast range";
      case errc::pool_no_host_bits: return "multicast pool prefix leaves no host bits";
      case errc::pool_host_bits_set: return "multicast pool base address has host bits set";
      case errc::invalid_port_range: return "invalid port range (expected first-last within 1..65535, first <= last)";
      case errc::family_mismatch: return "address family mismatch";
      case errc::invalid_stream_name: return "invalid stream name (1..255 bytes, no NUL)";
      case errc::invalid_subject: return "invalid subject (dot-separated non-empty tokens, at most 255 bytes, no wildcard)";
      case errc::invalid_filter: return "invalid subject filter (dot-separated non-empty tokens, '*' only as a whole token)";
      case errc::payload_too_large: return "message larger than the maximum message size";
      case errc::codec_error: return "payload could not be decoded by the stream's codec";
      case errc::truncated: return "datagram truncated";
      case errc::bad_magic: return "datagram has a bad magic";
      case errc::bad_version: return "datagram has an unsupported wire version";
      case errc::bad_kind: return "datagram has an unknown kind";
      case errc::bad_checksum: return "datagram checksum mismatch";
      case errc::bad_length: return "datagram length field out of bounds";
      case errc::oversize: return "datagram larger than the maximum accepted size";
      case errc::bad_record: return "datagram record is malformed";
      case errc::unknown_interface: return "unknown network interface";
      case errc::no_interfaces: return "no usable network interface for the pool's address family";
      case errc::not_open: return "object is not open";
      case errc::would_block: return "publish queue full";
      case errc::invalid_option: return "option outside its documented range";
      case errc::invalid_key: return "invalid stream key (expected 64 hexadecimal digits: 256 bits)";
      case errc::not_authentic: return "sealed datagram not authentic (wrong key, or changed or forged)";
      case errc::cipher_unavailable: return "cipher suite not available on this machine";
      case errc::no_sending_key: return "stream is keyed with accepted keys only: no key to seal with";
    }
    return "unknown racket error";
  }
};

}  // namespace detail

/// The category of every `racket::errc`.
inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl instance;
  return instance;
}

/// Makes `racket::errc` usable wherever a `std::error_code` is expected.
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

namespace detail {

// Racket's one escaper for text in messages (exception what(), the programs' errors):
// 'text' in single quotes, with control bytes, DEL and backslashes as \xNN (a NUL would
// otherwise cut what() short, a newline forge a log line), other bytes as they are (UTF-8
// names stay readable). Past 80 bytes only the first 64 are shown, then "...' (N bytes)".
inline std::string quoted(std::string_view text) {
  constexpr std::size_t shown = 64;
  constexpr char hex[] = "0123456789abcdef";
  std::string out = "'";
  const std::string_view head = text.size() > shown + 16 ? text.substr(0, shown) : text;
  for (const char c : head) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  if (head.size() != text.size()) {
    out += "...' (";
    out += std::to_string(text.size());
    out += " bytes)";
  } else {
    out += '\'';
  }
  return out;
}

// "KIND 'text'": an untrusted value named for an exception message (see `quoted`).
inline std::string quote_for_error(std::string_view kind, std::string_view text) {
  std::string out(kind);
  out += ' ';
  out += quoted(text);
  return out;
}

// " (interfaces: 'lo' 'eth9')": the interfaces an operation was configured with, for errors
// about them (unknown_interface, no_interfaces).
inline std::string interfaces_for_error(const std::vector<std::string>& names) {
  std::string out = " (interfaces:";
  if (names.empty()) out += " all";
  for (const auto& name : names) {
    out += ' ';
    out += quoted(name);
  }
  out += ")";
  return out;
}

// Throws std::system_error whose what() names the offending value, e.g.
// "stream name 'x': invalid stream name ...".
[[noreturn]] inline void throw_error(std::error_code ec, const std::string& context) {
  throw std::system_error(ec, context);
}

inline void throw_if(std::error_code ec, const std::string& context) {
  if (ec) throw_error(ec, context);
}

}  // namespace detail
}  // namespace racket

template <>
struct std::is_error_code_enum<racket::errc> : std::true_type {};
