// SPDX-License-Identifier: MIT
// libFuzzer target: wire::decode and iteration over every record it accepts.
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
  std::size_t consumed = wire::header_size(v.stream().size()) + wire::trailer_size;
  for (const wire::record& r : v) {
    ++count;
    RACKET_FUZZ_CHECK(r.sequence != 0);
    RACKET_FUZZ_CHECK(racket::detail::is_valid_wire_subject(r.subject));
    RACKET_FUZZ_CHECK(!r.tombstone() || r.payload.empty());
    const auto* s = reinterpret_cast<const std::byte*>(r.subject.data());
    RACKET_FUZZ_CHECK(s >= lo && s + r.subject.size() <= hi);
    if (!r.payload.empty()) RACKET_FUZZ_CHECK(r.payload.data() >= lo && r.payload.data() + r.payload.size() <= hi);
    consumed += wire::record_size(r.subject.size(), r.payload.size());
    // Touch every byte so ASan sees any read out of bounds.
    volatile std::uint64_t sink = wire::content_hash(v.stream(), r.subject, r.payload);
    (void)sink;
  }
  RACKET_FUZZ_CHECK(count == v.record_count());
  RACKET_FUZZ_CHECK(consumed == bytes.size());

  // Whatever decodes must re-encode to the same bytes (the format has one encoding).
  std::vector<std::byte> buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(v.publisher_id(), v.stream());
  for (const wire::record& r : v) RACKET_FUZZ_CHECK(w.append(r));
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
  racket::fuzz::fix_checksum(d);
  check(d);
  // A smaller max_size must refuse, never misbehave.
  std::error_code ec;
  (void)wire::decode(d, ec, size / 2);
  if (size > size / 2) RACKET_FUZZ_CHECK(ec == racket::errc::oversize);
  return 0;
}
