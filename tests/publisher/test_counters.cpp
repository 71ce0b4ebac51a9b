// SPDX-License-Identifier: MIT
// detail::publisher_stream_counters: a publisher stream's counters and their copy for stats().
#include "racket/detail/publisher/counters.hpp"

#include "catch.hpp"

TEST_CASE("publisher_stream_counters: bump adds, and load copies every counter to its own field", "[publisher][counters]") {
  racket::detail::publisher_stream_counters c;
  using racket::detail::bump;
  std::uint64_t n = 0;
  for (auto* a : {&c.published, &c.resent, &c.withdrawn, &c.datagrams_sent, &c.bytes_sent, &c.send_errors,
                  &c.cached_subjects, &c.snapshot_requests, &c.snapshot_requests_limited, &c.snapshot_answers,
                  &c.snapshot_records, &c.tail_probes, &c.would_block}) {
    bump(*a);
    bump(*a, ++n * 10);
  }
  const racket::publisher_stream_stats s = c.load();
  CHECK(s.published == 11);
  CHECK(s.resent == 21);
  CHECK(s.withdrawn == 31);
  CHECK(s.datagrams_sent == 41);
  CHECK(s.bytes_sent == 51);
  CHECK(s.send_errors == 61);
  CHECK(s.cached_subjects == 71);
  CHECK(s.snapshot_requests == 81);
  CHECK(s.snapshot_requests_limited == 91);
  CHECK(s.snapshot_answers == 101);
  CHECK(s.snapshot_records == 111);
  CHECK(s.tail_probes == 121);
  CHECK(s.would_block == 131);
}
