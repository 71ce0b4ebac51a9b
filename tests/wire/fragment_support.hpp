// SPDX-License-Identifier: MIT
// What the fragment tests share: the message of docs/wire-format.md's vectors F1-F4, an
// encoder of fragment records written from that document (independent of racket::wire), and
// a reader of the hex the document gives for a vector "F<n>".
#pragma once

#include "support.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace wire_test {

// The message of vectors F1-F3: 150 bytes, byte k = k, cut for 138-byte datagrams (F = 64).
inline constexpr std::uint64_t frag_pub = 0x0123456789ABCDEF;
inline constexpr std::string_view frag_stream = "sensors";
inline constexpr std::string_view frag_subject = "plant.map";
inline constexpr std::uint64_t frag_sequence = 42;
inline constexpr std::uint32_t frag_interval = 1000;
inline constexpr std::uint64_t frag_timestamp = 1700000000000000000;
inline constexpr std::size_t frag_max_datagram = 138;
inline constexpr std::uint64_t frag_hash = 0x6952ba6ae9207ef5;
inline bytes frag_payload() {
  bytes b(150);
  for (std::size_t k = 0; k < b.size(); ++k) b[k] = static_cast<std::byte>(k);
  return b;
}

// A fragment datagram field by field, every field settable (to break one at a time).
struct raw_fragment {
  std::uint16_t record_count = 1;
  std::uint8_t flags = 0x08;  // the encoding bits are added as a writer would, unless `exact`
  bool exact = false;
  std::uint64_t interval = frag_interval;
  std::uint64_t sequence = frag_sequence;
  std::uint64_t timestamp = frag_timestamp;
  std::uint64_t total = 150;
  std::uint64_t index = 0;
  std::uint64_t fragment_size = 64;
  std::uint64_t hash = frag_hash;
  std::string subject{frag_subject};
  bytes payload = bytes(64, std::byte{7});
  std::size_t padding = 0;
  std::size_t cut_record = 0;  // bytes cut off the record's end (before padding and trailer)

  bytes encode() const {
    bytes d;
    put(d, "RKTM");
    put(d, 3, 1);
    put(d, 1, 1);
    put(d, record_count, 2);
    put(d, frag_pub, 8);
    put(d, frag_stream.size(), 1);
    put(d, frag_stream);
    const std::size_t rec = d.size();
    const bool next = !exact && sequence == 1;
    const bool same = !exact && interval == 0;
    put(d, flags | (next ? 0x10 : 0) | (same ? 0x20 : 0), 1);
    put(d, subject.size(), 1);
    put_varint(d, payload.size());
    if ((flags & 0x20) == 0 && !same) put_varint(d, interval);
    if ((flags & 0x10) == 0 && !next) put_varint(d, zz(sequence));
    put_varint(d, zz(timestamp));
    put(d, total, 4);
    put(d, index, 4);
    put(d, fragment_size, 2);
    put(d, hash, 8);
    put(d, subject);
    d.insert(d.end(), payload.begin(), payload.end());
    d.resize(std::max(rec, d.size() - cut_record));
    d.insert(d.end(), padding, std::byte{0});
    put(d, 0, 8);
    fix_checksum(d);
    return d;
  }
};

// The full hex docs/wire-format.md gives for vector `name` ("F1".."F4").
inline bytes doc_fragment_vector(std::string_view name) { return racket_test::doc_vector(name); }

}  // namespace wire_test
