// SPDX-License-Identifier: MIT
// racket/subscriber_options.hpp: the options' documented defaults, designated initialisers, and
// the stats struct starting at zero.
#include "racket/subscriber_options.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("subscriber options have their documented defaults", "[subscriber][options]") {
  const racket::subscriber_options o;
  CHECK(o.interfaces.empty());
  CHECK(o.receive_buffer_size == 32 << 20);
  CHECK(o.rescan_interval == 5s);
  CHECK(o.expiry_factor == 3);
  CHECK(o.max_subjects_per_stream == 1'000'000);
  CHECK(o.max_publishers_per_stream == 4096);
  CHECK(o.event_window == 1s);
  CHECK(o.max_datagram_size == racket::wire::max_datagram_size_limit);
  CHECK(o.request_snapshots);
  CHECK(o.repair_holdoff == 5ms);
  CHECK(o.repair_requests_per_second == 16);
  CHECK(o.repair_request_burst == 8);
  CHECK(o.seed == 0);
  CHECK(o.segmentation_offload);
  CHECK(o.busy_poll == 0us);
  CHECK(o.announce_period == 5s);  // announced unless opted out
  CHECK(o.host_name.empty());
  CHECK(o.process_id == 0);
  CHECK(o.program_name.empty());
}

TEST_CASE("subscriber options are filled with designated initialisers", "[subscriber][options]") {
  const racket::subscriber_options o{.interfaces = {"lo"}, .expiry_factor = 5, .request_snapshots = false};
  CHECK(o.interfaces.size() == 1);
  CHECK(o.expiry_factor == 5);
  CHECK_FALSE(o.request_snapshots);
  CHECK(o.event_window == 1s);  // the rest keep their defaults
}

TEST_CASE("stream stats start at zero", "[subscriber][options]") {
  const racket::subscriber_stream_stats s;
  CHECK(s.datagrams_received == 0);
  CHECK(s.delivered == 0);
  CHECK(s.gaps == 0);
  CHECK(s.tracked_subjects == 0);
}

// for_each_counter: every counter once, named as its member, with its own value. The expected
// list is written by hand, field by field: a field left out of the visitor (or visited twice,
// or under another name, or with another field's value) fails here.
TEST_CASE("subscriber_stream_stats: for_each_counter visits every counter by name", "[subscriber][options]") {
  racket::subscriber_stream_stats s;
  s.datagrams_received = 101;
  s.malformed = 201;
  s.foreign = 301;
  s.received = 401;
  s.delivered = 501;
  s.filtered = 601;
  s.duplicates = 701;
  s.stale = 801;
  s.gaps = 901;
  s.repairs_requested = 1001;
  s.snapshot_requests_sent = 1101;
  s.requests_seen = 1201;
  s.withdrawn = 1301;
  s.expired = 1401;
  s.evicted = 1501;
  s.decode_errors = 1601;
  s.handler_errors = 1701;
  s.tracked_subjects = 1801;
  s.fragments_received = 1901;
  s.fragments_dropped = 2001;
  s.messages_reassembled = 2101;
  s.messages_lost = 2201;
  s.fragment_requests_sent = 2251;
  s.reassembly_bytes = 2301;
  s.no_room = 2381;
  s.held_bytes = 2391;
  s.sequence_jumps = 2401;
  s.rejected = 2501;
  s.replayed = 2601;
  s.unsealed = 2701;
  std::vector<std::pair<std::string, std::uint64_t>> visited;
  racket::for_each_counter(s, [&](std::string_view name, std::uint64_t value) { visited.emplace_back(name, value); });
  CHECK(visited.size() == 30);  // the hand count of the struct's members
  const std::vector<std::pair<std::string, std::uint64_t>> expected{
      {"datagrams_received", 101},
      {"malformed", 201},
      {"foreign", 301},
      {"received", 401},
      {"delivered", 501},
      {"filtered", 601},
      {"duplicates", 701},
      {"stale", 801},
      {"gaps", 901},
      {"repairs_requested", 1001},
      {"snapshot_requests_sent", 1101},
      {"requests_seen", 1201},
      {"withdrawn", 1301},
      {"expired", 1401},
      {"evicted", 1501},
      {"decode_errors", 1601},
      {"handler_errors", 1701},
      {"tracked_subjects", 1801},
      {"fragments_received", 1901},
      {"fragments_dropped", 2001},
      {"messages_reassembled", 2101},
      {"messages_lost", 2201},
      {"fragment_requests_sent", 2251},
      {"reassembly_bytes", 2301},
      {"no_room", 2381},
      {"held_bytes", 2391},
      {"sequence_jumps", 2401},
      {"rejected", 2501},
      {"replayed", 2601},
      {"unsealed", 2701}};
  CHECK(visited == expected);
  // A default-constructed struct visits zeros.
  std::size_t zeros = 0;
  racket::for_each_counter(racket::subscriber_stream_stats{}, [&](std::string_view, std::uint64_t value) { zeros += value == 0; });
  CHECK(zeros == 30);
}
