// SPDX-License-Identifier: MIT
#pragma once

// Announcements (kind 3), which publishers and subscribers send on their pool's announce
// channel so that a directory can list who is on the network: `announcement_writer` writes
// one, `decode_announcement` validates one and `announcement_view` reads it. Knows nothing of
// data records, of requests, of when announcements are sent or of what a directory keeps.
//
//   announcement = "RKTM" u8 version=3 u8 kind=3 u16 entry_count E u64 sender_id
//                  u8 H, H bytes host, u8 role, u32 pid, u32 period_ms, u8 P, P bytes program,
//                  E * entry, u64 XXH3-64 of every byte before it
//   entry (role 1, publisher)  = u8 S, S bytes stream, u32 subject_count, u64 rate_milli
//   entry (role 2, subscriber) = u8 S, S bytes stream, u8 N, N * (u8 F, F bytes filter)

#include "racket/detail/hash.hpp"
#include "racket/detail/wire_bytes.hpp"
#include "racket/error.hpp"
#include "racket/subject.hpp"
#include "racket/wire/format.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <system_error>

namespace racket::wire {

/// The datagram kind of an announcement (byte 5). Receivers older than it drop it as `bad_kind`.
inline constexpr kind announcement_kind = static_cast<kind>(3);

/// Who sent an announcement.
enum class announce_role : std::uint8_t {
  publisher = 1,   ///< entries are streams published on, with subject count and rate
  subscriber = 2,  ///< entries are streams subscribed to, with their filters
};

/// Most entries (streams) one announcement carries; more streams go in several datagrams.
inline constexpr std::size_t max_announce_entries = 64;
/// Most filters one subscriber entry lists (a subscriber with more lists the first 16).
inline constexpr std::size_t max_announce_filters = 16;
/// Bytes of an announcement without host, program and entries:
/// 17 (header) + 1 (role) + 4 (pid) + 4 (period) + 1 (P) + 8 (trailer).
inline constexpr std::size_t announce_fixed_size = 35;
/// The longest announce period that may be written or accepted: one day, in milliseconds.
inline constexpr std::uint32_t max_announce_period_ms = 86'400'000;

/// What every announcement carries once, before its entries.
struct announce_header {
  announce_role role = announce_role::publisher;
  std::uint64_t sender_id = 0;    ///< the publisher's id, or the subscriber's requester id
  std::string_view host{};        ///< 1..255 bytes, no NUL
  std::uint32_t pid = 0;          ///< the sender's process id
  std::uint32_t period_ms = 0;    ///< how often the sender announces: 1..`max_announce_period_ms`
  std::string_view program{};     ///< 0..255 bytes, no NUL
};

/// One stream a publisher announces.
struct announced_publication {
  std::string_view stream{};          ///< 1..255 bytes, no NUL
  std::uint32_t subject_count = 0;    ///< subjects whose value the publisher keeps (cached subjects)
  std::uint64_t rate_milli = 0;       ///< messages per second over the last period, times 1000
};

/// One stream a subscriber announces, with up to `max_announce_filters` filters.
struct announced_subscription {
  std::string_view stream{};
  std::array<std::string_view, max_announce_filters> filters{};
  std::size_t filter_count = 0;
};

namespace detail_announce {
inline bool valid_name(std::string_view s, std::size_t min) noexcept {
  return s.size() >= min && s.size() <= max_name_length &&
         (s.empty() || std::memchr(s.data(), 0, s.size()) == nullptr);  // an empty view may hold nullptr
}
inline bool valid_period(std::uint32_t ms) noexcept { return ms != 0 && ms <= max_announce_period_ms; }
}  // namespace detail_announce

/// Writes one announcement into a caller's buffer: the header, then entries with `add` until
/// it returns false (full: send it with `finish` and start another), then `finish`. Never
/// allocates, never throws.
///
/// ```
/// std::array<std::byte, 1452> buf;
/// racket::wire::announcement_writer w(buf, {.role = racket::wire::announce_role::publisher,
///                                           .sender_id = id, .host = "h1", .pid = 42,
///                                           .period_ms = 5000, .program = "sender"});
/// w.add({.stream = "plant", .subject_count = 3, .rate_milli = 2000});
/// transport.send(channel, w.finish());
/// ```
class announcement_writer {
 public:
  /// `ok()` is false when the header is invalid (see `announce_header`) or does not fit.
  announcement_writer(std::span<std::byte> buffer, const announce_header& h) noexcept : buf_(buffer), role_(h.role) {
    const std::size_t need = announce_fixed_size + h.host.size() + h.program.size();
    if (!detail_announce::valid_name(h.host, 1) || !detail_announce::valid_name(h.program, 0) ||
        !detail_announce::valid_period(h.period_ms) ||
        (h.role != announce_role::publisher && h.role != announce_role::subscriber) || need > buffer.size() ||
        buffer.size() < header_fixed_size)
      return;
    std::byte* const d = buf_.data();
    std::memcpy(d, magic, sizeof magic);
    d[4] = std::byte{version};
    d[5] = static_cast<std::byte>(announcement_kind);
    detail::store_u16(d + 6, 0);
    detail::store_u64(d + 8, h.sender_id);
    std::byte* p = d + header_fixed_size - 1;
    *p++ = static_cast<std::byte>(h.host.size());
    std::memcpy(p, h.host.data(), h.host.size());
    p += h.host.size();
    *p++ = static_cast<std::byte>(h.role);
    detail::store_u32(p, h.pid);
    detail::store_u32(p + 4, h.period_ms);
    p += 8;
    *p++ = static_cast<std::byte>(h.program.size());
    if (!h.program.empty()) std::memcpy(p, h.program.data(), h.program.size());
    p += h.program.size();
    end_ = static_cast<std::size_t>(p - d);
    ok_ = true;
  }

  bool ok() const noexcept { return ok_; }
  std::size_t count() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

  /// Adds a publisher entry (only to a publisher's announcement). False, with nothing written,
  /// when it is full (`max_announce_entries`, or the entry does not fit before the trailer) or
  /// the entry is invalid.
  bool add(const announced_publication& e) noexcept {
    if (!ok_ || role_ != announce_role::publisher || !detail_announce::valid_name(e.stream, 1)) return false;
    const std::size_t need = 1 + e.stream.size() + 4 + 8;
    std::byte* p = reserve(need);
    if (p == nullptr) return false;
    p = put_name(p, e.stream);
    detail::store_u32(p, e.subject_count);
    detail::store_u64(p + 4, e.rate_milli);
    return commit(need);
  }

  /// Adds a subscriber entry (only to a subscriber's announcement); its filters must be valid
  /// subject filters, at most `max_announce_filters` of them. False as for the other `add`.
  bool add(const announced_subscription& e) noexcept {
    if (!ok_ || role_ != announce_role::subscriber || !detail_announce::valid_name(e.stream, 1) ||
        e.filter_count > max_announce_filters)
      return false;
    std::size_t need = 1 + e.stream.size() + 1;
    for (std::size_t i = 0; i < e.filter_count; ++i) {
      const std::string_view f = e.filters[i];
      if (f.empty() || f.size() > max_name_length || validate_filter(f)) return false;
      need += 1 + f.size();
    }
    std::byte* p = reserve(need);
    if (p == nullptr) return false;
    p = put_name(p, e.stream);
    *p++ = static_cast<std::byte>(e.filter_count);
    for (std::size_t i = 0; i < e.filter_count; ++i) p = put_name(p, e.filters[i]);
    return commit(need);
  }

  /// The finished datagram (a view of the buffer): entry count and checksum written. Empty
  /// when the header was invalid or no entry was added (an announcement has at least one).
  std::span<const std::byte> finish() noexcept {
    if (!ok_ || count_ == 0) return {};
    std::byte* const d = buf_.data();
    detail::store_u16(d + 6, static_cast<std::uint16_t>(count_));
    detail::store_u64(d + end_, detail::xxh3(d, end_));
    return {d, end_ + trailer_size};
  }

 private:
  std::byte* reserve(std::size_t need) noexcept {
    if (count_ >= max_announce_entries || end_ + need + trailer_size > buf_.size() ||
        end_ + need + trailer_size > max_datagram_size_limit)
      return nullptr;
    return buf_.data() + end_;
  }
  bool commit(std::size_t n) noexcept {
    end_ += n;
    ++count_;
    return true;
  }
  static std::byte* put_name(std::byte* p, std::string_view s) noexcept {
    *p++ = static_cast<std::byte>(s.size());
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
  }

  std::span<std::byte> buf_;
  announce_role role_;
  std::size_t end_ = 0;
  std::size_t count_ = 0;
  bool ok_ = false;
};

/// A decoded announcement. It points into the bytes given to `decode_announcement` and is
/// valid as long as they are. Only `decode_announcement` makes a non-empty one.
class announcement_view {
 public:
  announcement_view() noexcept = default;

  announce_header header() const noexcept { return header_; }
  announce_role role() const noexcept { return header_.role; }
  std::uint64_t sender_id() const noexcept { return header_.sender_id; }
  /// Number of entries: 1..`max_announce_entries`.
  std::size_t entry_count() const noexcept { return count_; }

  /// Calls `f(const announced_publication&)` for each entry of a publisher's announcement.
  template <class F>
  void for_each_publication(F&& f) const {
    if (header_.role != announce_role::publisher) return;
    const std::byte* p = entries_;
    for (std::size_t i = 0; i < count_; ++i) {
      announced_publication e;
      p = get_name(p, e.stream);
      e.subject_count = detail::load_u32(p);
      e.rate_milli = detail::load_u64(p + 4);
      p += 12;
      f(e);
    }
  }

  /// Calls `f(const announced_subscription&)` for each entry of a subscriber's announcement.
  template <class F>
  void for_each_subscription(F&& f) const {
    if (header_.role != announce_role::subscriber) return;
    const std::byte* p = entries_;
    for (std::size_t i = 0; i < count_; ++i) {
      announced_subscription e;
      p = get_name(p, e.stream);
      e.filter_count = std::to_integer<std::size_t>(*p++);
      for (std::size_t k = 0; k < e.filter_count; ++k) p = get_name(p, e.filters[k]);
      f(e);
    }
  }

  /// The whole datagram, trailer included.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  friend announcement_view decode_announcement(std::span<const std::byte>, std::error_code&, std::size_t) noexcept;

  static const std::byte* get_name(const std::byte* p, std::string_view& out) noexcept {
    const std::size_t n = std::to_integer<std::size_t>(*p);
    out = std::string_view(reinterpret_cast<const char*>(p + 1), n);
    return p + 1 + n;
  }

  std::span<const std::byte> bytes_;
  announce_header header_;
  const std::byte* entries_ = nullptr;
  std::size_t count_ = 0;
};

/// Validates an announcement in one pass and returns a view of it. Treats the bytes as
/// hostile: never reads out of bounds, never throws, never allocates.
///
/// On success `ec` is cleared; on failure `ec` is set and an empty view is returned. The first
/// failing check decides the error (docs/wire-format.md, "Decoding an announcement"):
///  1.-5. as for every kind: `oversize`, `truncated`, `bad_magic`, `bad_version`, `bad_kind`
///        (kind != 3), `truncated` (< 17 bytes)
///  6. host length H (byte 16) == 0                             → `errc::bad_length`
///  7. fewer than 27 + H bytes (P missing), or fewer than 35 + H + P → `errc::truncated`
///  8. trailer != XXH3-64 of the bytes before it                → `errc::bad_checksum`
///  9. role not 1 or 2; E == 0 or E > 64; period 0 or over a day; host or program with a NUL
///                                                              → `errc::bad_record`
/// 10. walking the E entries: one that runs into the trailer   → `errc::truncated`;
///     S == 0, a NUL in a stream name, N > 16, a filter that is not valid → `errc::bad_record`
/// 11. bytes left between the last entry and the trailer       → `errc::bad_length`
inline announcement_view decode_announcement(std::span<const std::byte> bytes, std::error_code& ec,
                                             std::size_t max_size = max_datagram_size_limit) noexcept {
  const auto fail = [&ec](errc e) noexcept {
    ec = make_error_code(e);
    return announcement_view{};
  };
  const std::byte* const d = bytes.data();
  const std::size_t n = bytes.size();
  if (const errc e = check_common_header(bytes, max_size, announcement_kind); e != errc{}) return fail(e);
  const std::size_t h_len = std::to_integer<std::size_t>(d[16]);
  const std::size_t role_off = header_fixed_size + h_len;
  if (n < role_off + 10) return fail(errc::truncated);
  const std::size_t p_len = std::to_integer<std::size_t>(d[role_off + 9]);
  if (n < announce_fixed_size + h_len + p_len) return fail(errc::truncated);
  const std::size_t trailer_off = n - trailer_size;
  if (detail::xxh3(d, trailer_off) != detail::load_u64(d + trailer_off)) return fail(errc::bad_checksum);

  announce_header h;
  const std::uint8_t role = std::to_integer<std::uint8_t>(d[role_off]);
  h.role = static_cast<announce_role>(role);
  h.sender_id = detail::load_u64(d + 8);
  h.host = std::string_view(reinterpret_cast<const char*>(d + header_fixed_size), h_len);
  h.pid = detail::load_u32(d + role_off + 1);
  h.period_ms = detail::load_u32(d + role_off + 5);
  h.program = std::string_view(reinterpret_cast<const char*>(d + role_off + 10), p_len);
  const std::size_t count = detail::load_u16(d + 6);
  if ((role != 1 && role != 2) || count == 0 || count > max_announce_entries ||
      !detail_announce::valid_period(h.period_ms) || !detail_announce::valid_name(h.host, 1) ||
      !detail_announce::valid_name(h.program, 0))
    return fail(errc::bad_record);

  // The entries, each proven present before it is read.
  const std::byte* const first = d + role_off + 10 + p_len;
  const std::byte* const end = d + trailer_off;
  const std::byte* p = first;
  const auto name = [&](std::string_view& out) noexcept -> errc {
    if (end - p < 1) return errc::truncated;
    const std::size_t len = std::to_integer<std::size_t>(*p);
    if (static_cast<std::size_t>(end - p) < 1 + len) return errc::truncated;
    out = std::string_view(reinterpret_cast<const char*>(p + 1), len);
    p += 1 + len;
    return errc{};
  };
  for (std::size_t i = 0; i < count; ++i) {
    std::string_view stream;
    if (const errc e = name(stream); e != errc{}) return fail(e);
    if (!detail_announce::valid_name(stream, 1)) return fail(errc::bad_record);
    if (h.role == announce_role::publisher) {
      if (end - p < 12) return fail(errc::truncated);
      p += 12;
      continue;
    }
    if (end - p < 1) return fail(errc::truncated);
    const std::size_t filters = std::to_integer<std::size_t>(*p++);
    if (filters > max_announce_filters) return fail(errc::bad_record);
    for (std::size_t k = 0; k < filters; ++k) {
      std::string_view f;
      if (const errc e = name(f); e != errc{}) return fail(e);
      if (f.empty() || validate_filter(f)) return fail(errc::bad_record);
    }
  }
  if (p != end) return fail(errc::bad_length);

  announcement_view v;
  v.bytes_ = bytes;
  v.header_ = h;
  v.entries_ = first;
  v.count_ = count;
  ec.clear();
  return v;
}

}  // namespace racket::wire
