// SPDX-License-Identifier: MIT
// The fragmenter (wire/fragmenter.hpp): vectors F1-F3, F5-F6 encoded byte for byte as
// docs/wire-format.md gives them, full datagrams for GSO, re-sends, and round trips through
// decode_fragment of messages up to the format's limit.
#include "racket/wire/fragmenter.hpp"

#include "fragment_support.hpp"
#include "racket/wire/fragment.hpp"

#include <cstring>
#include <vector>

using namespace wire_test;

namespace {

wire::large_message frag_message(const bytes& payload, std::uint8_t flags = 0) {
  return {.flags = flags,
          .interval_ms = frag_interval,
          .sequence = frag_sequence,
          .timestamp_ns = frag_timestamp,
          .subject = frag_subject,
          .payload = payload};
}

}  // namespace

TEST_CASE("the fragmenter writes vectors F1-F3", "[wire][fragment]") {
  const bytes payload = frag_payload();
  const wire::fragmenter f{frag_pub, frag_stream, frag_message(payload), frag_max_datagram,
                           wire::content_hash(frag_stream, frag_subject, payload)};
  REQUIRE(f.valid());
  CHECK(f.fragment_size() == 64);
  CHECK(f.fragment_count() == 3);
  bytes buf(frag_max_datagram);
  CHECK(to_hex(f.encode(0, buf)) == to_hex(doc_fragment_vector("F1")));
  // F2: the middle fragment re-sent (a repair answer).
  CHECK(to_hex(f.encode(1, buf, wire::flags::resend)) == to_hex(doc_fragment_vector("F2")));
  CHECK(to_hex(f.encode(2, buf)) == to_hex(doc_fragment_vector("F3")));
  CHECK(f.datagram_size(0) == 138);
  CHECK(f.datagram_size(1) == 138);
  CHECK(f.datagram_size(2) == 96);
}

TEST_CASE("the fragmenter writes vectors F5-F6: header-checksummed, whole or in three parts", "[wire][fragment]") {
  const bytes payload = frag_payload();
  const wire::fragmenter f{frag_pub, frag_stream, frag_message(payload), frag_max_datagram,
                           wire::content_hash(frag_stream, frag_subject, payload)};
  bytes buf(frag_max_datagram);
  CHECK(to_hex(f.encode(0, buf, wire::flags::header_checksum)) == to_hex(doc_fragment_vector("F5")));
  CHECK(to_hex(f.encode(2, buf, wire::flags::header_checksum | wire::flags::resend)) ==
        to_hex(doc_fragment_vector("F6")));
  const auto joined = [&](const wire::fragmenter::parts& p) {
    bytes d(p.head.begin(), p.head.end());
    d.insert(d.end(), p.payload.begin(), p.payload.end());
    d.insert(d.end(), p.trailer.begin(), p.trailer.end());
    return d;
  };
  bytes head(f.head_size() + 8);
  const auto p0 = f.encode_parts(0, head);
  CHECK(p0.payload.data() == payload.data());  // the message's own bytes, not a copy
  CHECK(p0.head.size() == 66);
  CHECK(p0.trailer.data() == p0.head.data() + p0.head.size());
  CHECK(to_hex(joined(p0)) == to_hex(doc_fragment_vector("F5")));
  const auto p2 = f.encode_parts(2, head, wire::flags::resend);
  CHECK(p2.payload.data() == payload.data() + 128);
  CHECK(to_hex(joined(p2)) == to_hex(doc_fragment_vector("F6")));
  CHECK(f.head_size() >= p0.head.size());
}

TEST_CASE("a re-send of a snapshot answer's fragment carries resend alone", "[wire][fragment]") {
  const bytes payload = frag_payload();
  const wire::fragmenter f{frag_pub, frag_stream, frag_message(payload, wire::flags::snapshot), frag_max_datagram,
                           frag_hash};
  bytes buf(frag_max_datagram);
  std::error_code ec;
  CHECK(wire::decode_fragment(f.encode(0, buf), ec).frag.flags == wire::flags::snapshot);
  CHECK(wire::decode_fragment(f.encode(0, buf, wire::flags::resend), ec).frag.flags == wire::flags::resend);
  REQUIRE_FALSE(ec);
}

TEST_CASE("every fragment but the last fills the datagram, and the payload comes back whole", "[wire][fragment]") {
  const std::size_t sizes[] = {1, 63, 64, 1369, 1370, 100000, std::size_t{1} << 20, wire::max_message_size_limit};
  const std::size_t datagrams[] = {1452, 9000, 65507};
  for (const std::size_t m : datagrams) {
    for (const std::size_t n : sizes) {
      if (n == wire::max_message_size_limit && m != 65507) continue;  // keep the run short
      CAPTURE(m, n);
      bytes payload(n);
      for (std::size_t k = 0; k < n; ++k) payload[k] = static_cast<std::byte>((k * 131) >> 7);
      const std::uint64_t hash = wire::content_hash("files", "cfg.main", payload);
      const wire::fragmenter f{7, "files", {.interval_ms = 0, .sequence = 1, .timestamp_ns = 5, .subject = "cfg.main", .payload = payload}, m, hash};
      REQUIRE(f.valid());
      bytes rebuilt(n);
      std::vector<bool> seen(f.fragment_count());
      bytes buf(m);
      for (std::uint32_t k = 0; k < f.fragment_count(); ++k) {
        const auto d = f.encode(k, buf);
        REQUIRE(d.size() == f.datagram_size(k));
        if (k + 1 < f.fragment_count()) REQUIRE(d.size() == m);  // a GSO run of full datagrams
        REQUIRE(d.size() <= m);
        std::error_code ec;
        const wire::fragment_datagram g = wire::decode_fragment(d, ec);
        REQUIRE_FALSE(ec);
        REQUIRE(g.frag.index == k);
        REQUIRE(g.frag.total_size == n);
        REQUIRE(g.frag.content_hash == hash);
        REQUIRE(g.frag.sequence == 1);
        std::memcpy(rebuilt.data() + g.frag.offset(), g.frag.bytes.data(), g.frag.bytes.size());
        seen[k] = true;
      }
      CHECK(rebuilt == payload);
    }
  }
}

TEST_CASE("messages the fragmenter refuses", "[wire][fragment]") {
  const bytes empty;
  const bytes one(1);
  CHECK_FALSE(wire::fragmenter(1, "s", {.sequence = 1, .subject = "a", .payload = empty}, 1452, 0).valid());
  // 255-byte stream and subject leave no room for 64 bytes in a 600-byte datagram.
  const std::string name(255, 'n');
  CHECK_FALSE(wire::fragmenter(1, name, {.sequence = 1, .subject = name, .payload = one}, 600, 0).valid());
  CHECK(wire::fragmenter(1, name, {.sequence = 1, .subject = name, .payload = one}, 1452, 0).valid());
  CHECK(wire::fragmenter(1, name, {.sequence = 1, .subject = name, .payload = one}, 1452, 0).fragment_count() == 1);
  // Over 64 MiB.
  const std::vector<std::byte> big(wire::max_message_size_limit + 1);
  CHECK_FALSE(wire::fragmenter(1, "s", {.sequence = 1, .subject = "a", .payload = big}, 65507, 0).valid());
}
