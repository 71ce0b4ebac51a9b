// SPDX-License-Identifier: MIT
// partial_message: one message's reference fields, bytes, duplicates and conflicts, the
// hash check and the message it turns into.
#include "racket/detail/reassembly/partial_message.hpp"

#include "reassembly/support.hpp"

#include <cstring>

using namespace reassembly_test;
using racket::detail::partial_message;
using added = partial_message::added;

TEST_CASE("partial_message assembles, counts bytes and hands out the message", "[reassembly]") {
  const auto m = cut("s", 9, 5, payload_of(1000), 200);
  REQUIRE(m.size() > 3);
  partial_message p{9, m[2]};
  CHECK(p.charge() == 1000 + 8 + m.subject.size() + partial_message::entry_overhead);
  CHECK(p.received_bytes() == 0);
  CHECK(p.add(m[2]) == added::fresh);
  CHECK(p.add(m[2]) == added::duplicate);
  CHECK(p.received_bytes() == m[2].bytes.size());
  CHECK(p.add(m[m.size() - 1]) == added::fresh);
  CHECK(p.received_bytes() == m[2].bytes.size() + m[m.size() - 1].bytes.size());
  for (std::size_t k = 0; k < m.size(); ++k) (void)p.add(m[k]);
  CHECK(p.complete());
  CHECK(p.received_bytes() == 1000);
  CHECK(p.verify("s"));
  CHECK_FALSE(p.verify("t"));  // the stream is part of the hash
  const auto out = p.take();
  CHECK(out.publisher_id == 9);
  CHECK(out.sequence == 5);
  CHECK(out.subject == m.subject);
  CHECK(out.flags == 0);
  REQUIRE(out.size == 1000);
  CHECK(std::memcmp(out.data.get(), m.payload.data(), 1000) == 0);
}

TEST_CASE("partial_message refuses what disagrees with its first fragment", "[reassembly]") {
  const auto m = cut("s", 9, 5, payload_of(1000), 200);
  partial_message p{9, m[0]};
  CHECK(p.add(m[0]) == added::fresh);
  // A copy of fragment 0 with one byte changed: conflicting, and the first copy stays.
  bytes changed(m[0].bytes.begin(), m[0].bytes.end());
  changed[3] ^= std::byte{1};
  wire::fragment f = m[0];
  f.bytes = changed;
  CHECK(p.add(f) == added::conflicting);
  // Any message field that differs: inconsistent.
  const auto other = cut("s", 9, 5, payload_of(1001), 200);
  CHECK(p.add(other[1]) == added::inconsistent);  // another total (and hash)
  f = m[1];
  f.timestamp_ns += 1;
  CHECK(p.add(f) == added::inconsistent);
  f = m[1];
  f.interval_ms = 0;
  CHECK(p.add(f) == added::inconsistent);
  f = m[1];
  f.subject = "files.other";
  CHECK(p.add(f) == added::inconsistent);
  f = m[1];
  f.content_hash ^= 1;
  CHECK(p.add(f) == added::inconsistent);
  f = m[1];
  f.flags = wire::flags::snapshot;  // a live message's sequence never carries a snapshot
  CHECK(p.add(f) == added::inconsistent);
  f.flags = wire::flags::resend;  // a re-send of it does
  CHECK(p.add(f) == added::fresh);
  CHECK(p.fragments().received() == 2);
}

TEST_CASE("partial_message flags: live, all re-sent, snapshot", "[reassembly]") {
  const auto live = cut("s", 1, 3, payload_of(300), 200);
  const auto resent = cut("s", 1, 3, payload_of(300), 200, 0, "files.cfg", wire::flags::resend);
  const auto snap = cut("s", 1, 3, payload_of(300), 200, wire::flags::snapshot);
  {
    partial_message p{1, resent[0]};
    for (std::size_t k = 0; k < resent.size(); ++k) CHECK(p.add(resent[k]) == added::fresh);
    CHECK(p.take().flags == wire::flags::resend);
  }
  {
    partial_message p{1, resent[0]};
    CHECK(p.add(resent[0]) == added::fresh);
    for (std::size_t k = 1; k < live.size(); ++k) CHECK(p.add(live[k]) == added::fresh);
    CHECK(p.take().flags == 0);
  }
  {
    partial_message p{1, snap[0]};
    CHECK(p.add(snap[0]) == added::fresh);
    CHECK(p.add(live[1]) == added::inconsistent);
    for (std::size_t k = 1; k < resent.size(); ++k) CHECK(p.add(resent[k]) == added::fresh);
    CHECK(p.take().flags == wire::flags::snapshot);
  }
}
