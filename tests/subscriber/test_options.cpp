// SPDX-License-Identifier: MIT
// racket/subscriber_options.hpp: the options' documented defaults, designated initialisers, and
// the stats struct starting at zero.
#include "racket/subscriber_options.hpp"

#include "catch.hpp"

#include <chrono>

using namespace std::chrono_literals;

TEST_CASE("subscriber options have their documented defaults", "[subscriber][options]") {
  const racket::subscriber_options o;
  CHECK(o.interfaces.empty());
  CHECK(o.receive_buffer_size == 4 << 20);
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
