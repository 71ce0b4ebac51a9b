// SPDX-License-Identifier: MIT
// racket/transport/concepts.hpp: the plain types that cross the Transport contract
// (transport_stats and its counter visitor).
#include "racket/transport/concepts.hpp"

#include "catch.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// for_each_counter: every counter once, named as its member, with its own value. The expected
// list is written by hand, field by field: a field left out of the visitor (or visited twice,
// or under another name, or with another field's value) fails here.
TEST_CASE("transport_stats: for_each_counter visits every counter by name", "[core][transport]") {
  racket::transport_stats s;
  s.datagrams_sent = 101;
  s.bytes_sent = 201;
  s.send_errors = 301;
  s.send_would_block = 401;
  s.datagrams_received = 501;
  s.bytes_received = 601;
  s.receive_errors = 701;
  s.join_errors = 801;
  s.kernel_drops = 901;
  s.interfaces_added = 1001;
  s.interfaces_removed = 1101;
  s.segmented_sends = 1201;
  s.segmentation_fallbacks = 1301;
  s.busy_poll_datagrams = 1401;
  std::vector<std::pair<std::string, std::uint64_t>> visited;
  racket::for_each_counter(s, [&](std::string_view name, std::uint64_t value) { visited.emplace_back(name, value); });
  CHECK(visited.size() == 14);  // the hand count of the struct's members
  const std::vector<std::pair<std::string, std::uint64_t>> expected{
      {"datagrams_sent", 101},
      {"bytes_sent", 201},
      {"send_errors", 301},
      {"send_would_block", 401},
      {"datagrams_received", 501},
      {"bytes_received", 601},
      {"receive_errors", 701},
      {"join_errors", 801},
      {"kernel_drops", 901},
      {"interfaces_added", 1001},
      {"interfaces_removed", 1101},
      {"segmented_sends", 1201},
      {"segmentation_fallbacks", 1301},
      {"busy_poll_datagrams", 1401}};
  CHECK(visited == expected);
  // A default-constructed struct visits zeros.
  std::size_t zeros = 0;
  racket::for_each_counter(racket::transport_stats{}, [&](std::string_view, std::uint64_t value) { zeros += value == 0; });
  CHECK(zeros == 14);
}
