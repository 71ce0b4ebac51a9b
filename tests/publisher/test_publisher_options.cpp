// SPDX-License-Identifier: MIT
// racket::publisher_options and racket::publisher_stream_stats: the documented defaults.
#include "racket/publisher_options.hpp"

#include "catch.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  CHECK(o.max_message_size == std::size_t{16} << 20);
  CHECK(o.large_repair_window == 2000ms);
  CHECK(o.large_repair_bytes == std::size_t{64} << 20);
  CHECK(o.announce_period == 5s);
  CHECK(o.host_name.empty());
  CHECK(o.process_id == 0);
  CHECK(o.program_name.empty());
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

// for_each_counter: every counter once, named as its member, with its own value. The expected
// list is written by hand, field by field: a field left out of the visitor (or visited twice,
// or under another name, or with another field's value) fails here.
TEST_CASE("publisher_stream_stats: for_each_counter visits every counter by name", "[publisher][publisher_options]") {
  racket::publisher_stream_stats s;
  s.published = 101;
  s.resent = 201;
  s.withdrawn = 301;
  s.datagrams_sent = 401;
  s.bytes_sent = 501;
  s.send_errors = 601;
  s.cached_subjects = 701;
  s.snapshot_requests = 801;
  s.snapshot_requests_limited = 901;
  s.snapshot_answers = 1001;
  s.snapshot_records = 1101;
  s.tail_probes = 1201;
  s.would_block = 1301;
  s.fragments_sent = 1401;
  s.fragment_requests_answered = 1501;
  s.requests_rejected = 1601;
  std::vector<std::pair<std::string, std::uint64_t>> visited;
  racket::for_each_counter(s, [&](std::string_view name, std::uint64_t value) { visited.emplace_back(name, value); });
  CHECK(visited.size() == 16);  // the hand count of the struct's members
  const std::vector<std::pair<std::string, std::uint64_t>> expected{
      {"published", 101},
      {"resent", 201},
      {"withdrawn", 301},
      {"datagrams_sent", 401},
      {"bytes_sent", 501},
      {"send_errors", 601},
      {"cached_subjects", 701},
      {"snapshot_requests", 801},
      {"snapshot_requests_limited", 901},
      {"snapshot_answers", 1001},
      {"snapshot_records", 1101},
      {"tail_probes", 1201},
      {"would_block", 1301},
      {"fragments_sent", 1401},
      {"fragment_requests_answered", 1501},
      {"requests_rejected", 1601}};
  CHECK(visited == expected);
  // A default-constructed struct visits zeros.
  std::size_t zeros = 0;
  racket::for_each_counter(racket::publisher_stream_stats{}, [&](std::string_view, std::uint64_t value) { zeros += value == 0; });
  CHECK(zeros == 16);
}
