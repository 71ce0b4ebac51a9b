// SPDX-License-Identifier: MIT
// libFuzzer target: wire::decode and iteration over every record it accepts, and
// wire::decode_announcement and every entry of what it accepts.
//
// The input is decoded twice: as it is (so the checks before the checksum are fuzzed), and
// with its trailer recomputed (so the record parser behind the checksum is reached).
#include "racket/wire.hpp"

#include "fuzz_common.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

namespace wire = racket::wire;

void check(std::span<const std::byte> bytes) {
  std::error_code ec;
  const wire::datagram_view v = wire::decode(bytes, ec);
  if (ec) {
    RACKET_FUZZ_CHECK(ec.category() == racket::error_category());
    RACKET_FUZZ_CHECK(v.begin() == v.end());
    return;
  }
  RACKET_FUZZ_CHECK(bytes.size() >= wire::min_datagram_size);
  RACKET_FUZZ_CHECK(v.stream().size() >= 1 && v.stream().size() <= wire::max_name_length);
  const auto* lo = bytes.data();
  const auto* hi = bytes.data() + bytes.size() - wire::trailer_size;
  std::size_t count = 0;
  // Records are back to back: each takes 4..30 bytes besides its subject and payload.
  const std::byte* prev_end = lo + wire::header_size(v.stream().size());
  std::vector<wire::record> records;
  for (const wire::record& r : v) {
    ++count;
    RACKET_FUZZ_CHECK(r.sequence != 0);
    RACKET_FUZZ_CHECK((r.flags & ~wire::flags::known) == 0);
    RACKET_FUZZ_CHECK(racket::detail::is_valid_wire_subject(r.subject));
    RACKET_FUZZ_CHECK(!r.tombstone() || r.payload.empty());
    const auto* s = reinterpret_cast<const std::byte*>(r.subject.data());
    RACKET_FUZZ_CHECK(s >= lo && s + r.subject.size() <= hi);
    RACKET_FUZZ_CHECK(s - prev_end >= static_cast<std::ptrdiff_t>(wire::record_min_overhead) &&
                      s - prev_end <= static_cast<std::ptrdiff_t>(wire::record_max_overhead));
    RACKET_FUZZ_CHECK(r.payload.data() == s + r.subject.size() && r.payload.data() + r.payload.size() <= hi);
    prev_end = r.payload.data() + r.payload.size();
    // Touch every byte so ASan sees any read out of bounds.
    volatile std::uint64_t sink = wire::content_hash(v.stream(), r.subject, r.payload);
    (void)sink;
    records.push_back(r);
  }
  RACKET_FUZZ_CHECK(count == v.record_count());
  // Between the last record and the trailer: padding, all 0x00.
  RACKET_FUZZ_CHECK(prev_end <= hi && v.padding_size() == static_cast<std::size_t>(hi - prev_end));
  for (const std::byte* p = prev_end; p != hi; ++p) RACKET_FUZZ_CHECK(*p == std::byte{0});

  // Whatever decodes re-encodes to the same records. The writer always takes the shortest
  // form (sequence_next, same_interval; varints are canonical) and does not pad, so its bytes
  // are the same, or fewer when the input spelled out a delta of +1 or a repeated interval, or
  // was padded.
  std::vector<std::byte> buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(v.publisher_id(), v.stream());
  for (const wire::record& r : v) RACKET_FUZZ_CHECK(w.append(r));
  const std::size_t body = w.finish_unsealed();
  const auto again = wire::seal(buf, body, body + wire::trailer_size);
  RACKET_FUZZ_CHECK(again.size() <= bytes.size());
  if (again.size() == bytes.size()) RACKET_FUZZ_CHECK(std::memcmp(again.data(), bytes.data(), bytes.size()) == 0);
  const wire::datagram_view v2 = wire::decode(again, ec);
  RACKET_FUZZ_CHECK(!ec && v2.record_count() == count);
  std::size_t i = 0;
  for (const wire::record& r : v2) {
    const wire::record& o = records[i++];
    RACKET_FUZZ_CHECK(r.flags == o.flags && r.interval_ms == o.interval_ms && r.sequence == o.sequence &&
                      r.timestamp_ns == o.timestamp_ns && r.subject == o.subject &&
                      r.payload.size() == o.payload.size() &&
                      (r.payload.empty() || std::memcmp(r.payload.data(), o.payload.data(), r.payload.size()) == 0));
  }
  // Records in the writer's form, padded back to the input's size with `seal`: the input itself.
  if (body == static_cast<std::size_t>(prev_end - lo)) {
    const auto padded = wire::seal(buf, body, bytes.size());
    RACKET_FUZZ_CHECK(padded.size() == bytes.size() && std::memcmp(padded.data(), bytes.data(), bytes.size()) == 0);
  }
}

// An announcement that decodes: every entry inside the datagram, valid, and written again by
// announcement_writer to the same bytes (its layout has exactly one encoding).
void check_announcement(std::span<const std::byte> bytes) {
  std::error_code ec;
  const wire::announcement_view v = wire::decode_announcement(bytes, ec);
  if (ec) {
    RACKET_FUZZ_CHECK(ec.category() == racket::error_category());
    RACKET_FUZZ_CHECK(v.entry_count() == 0);
    return;
  }
  RACKET_FUZZ_CHECK(v.entry_count() >= 1 && v.entry_count() <= wire::max_announce_entries);
  const auto* lo = bytes.data();
  const auto* hi = bytes.data() + bytes.size() - wire::trailer_size;
  const auto inside = [&](std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return p >= lo && p + s.size() <= hi && std::memchr(s.data(), 0, s.size()) == nullptr;
  };
  std::vector<std::byte> buf(wire::max_datagram_size_limit);
  wire::announcement_writer w(buf, v.header());
  RACKET_FUZZ_CHECK(w.ok());
  std::size_t count = 0;
  v.for_each_publication([&](const wire::announced_publication& e) {
    ++count;
    RACKET_FUZZ_CHECK(!e.stream.empty() && inside(e.stream));
    RACKET_FUZZ_CHECK(w.add(e));
  });
  v.for_each_subscription([&](const wire::announced_subscription& e) {
    ++count;
    RACKET_FUZZ_CHECK(!e.stream.empty() && inside(e.stream) && e.filter_count <= wire::max_announce_filters);
    for (std::size_t i = 0; i < e.filter_count; ++i)
      RACKET_FUZZ_CHECK(inside(e.filters[i]) && !racket::validate_filter(e.filters[i]));
    RACKET_FUZZ_CHECK(w.add(e));
  });
  RACKET_FUZZ_CHECK(count == v.entry_count());
  const auto again = w.finish();
  RACKET_FUZZ_CHECK(again.size() == bytes.size() && std::memcmp(again.data(), bytes.data(), bytes.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > wire::max_datagram_size_limit + 16) return -1;
  // An exact-size heap copy, so a read one past the end is an ASan error.
  std::vector<std::byte> d(size);
  if (size) std::memcpy(d.data(), data, size);
  check(d);
  check_announcement(d);
  racket::fuzz::fix_checksum(d);
  check(d);
  check_announcement(d);
  // A smaller max_size must refuse, never misbehave.
  std::error_code ec;
  (void)wire::decode(d, ec, size / 2);
  if (size > size / 2) RACKET_FUZZ_CHECK(ec == racket::errc::oversize);
  (void)wire::decode_announcement(d, ec, size / 2);
  if (size > size / 2) RACKET_FUZZ_CHECK(ec == racket::errc::oversize);
  return 0;
}
