// SPDX-License-Identifier: MIT
// racket::publisher_options and racket::publisher_stream_stats: the documented defaults.
#include "racket/publisher_options.hpp"

#include "catch.hpp"

using namespace std::chrono_literals;

TEST_CASE("publisher_options: defaults are the documented ones", "[publisher][publisher_options]") {
  const racket::publisher_options o;
  CHECK(o.interfaces.empty());
  CHECK(o.ttl == 1);
  CHECK(o.loopback);
  CHECK(o.send_buffer_size == 1 << 20);
  CHECK(o.rescan_interval == 5000ms);
  CHECK(o.max_datagram_size == 1452);
  CHECK(o.resend_jitter == 0.05);
  CHECK(o.resend_coalesce == 20ms);
  CHECK_FALSE(o.withdraw_on_close);
  CHECK(o.seed == 0);
  CHECK(o.answer_snapshots);
  CHECK(o.snapshot_rate_bytes == std::size_t{64} << 20);
  CHECK(o.snapshot_delay_max == 10ms);
  CHECK(o.repair_delay_max == 2ms);
  CHECK(o.snapshot_answer_spacing == 10ms);
  CHECK(o.snapshot_requests_per_second == 20);
  CHECK(o.snapshot_request_burst == 10);
  CHECK(o.max_snapshot_requesters == 4096);
  CHECK(o.tail_probe_delay == 10ms);
  CHECK(o.segmentation_offload);
  CHECK(o.max_queued_bytes == std::size_t{16} << 20);
}

TEST_CASE("publisher_options: designated initialisers set what they name", "[publisher][publisher_options]") {
  const racket::publisher_options o{.interfaces = {"lo"}, .ttl = 2, .tail_probe_delay = 0ms};
  CHECK(o.interfaces == std::vector<std::string>{"lo"});
  CHECK(o.ttl == 2);
  CHECK(o.tail_probe_delay == 0ms);
  CHECK(o.max_datagram_size == 1452);
  const racket::publisher_stream_stats s;
  CHECK(s.published == 0);
  CHECK(s.would_block == 0);
  CHECK(s.tail_probes == 0);
}
