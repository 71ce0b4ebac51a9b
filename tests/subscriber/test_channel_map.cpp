// SPDX-License-Identifier: MIT
// detail::channel_map, channel and stream_state: where subscriptions live (channels by
// endpoint, streams by name, handles), the bookkeeping of adding and dropping them, and the
// counters a stream reports.
#include "racket/detail/subscriber/channel_map.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace {

using time_point = std::chrono::steady_clock::time_point;
using map = racket::detail::channel_map<time_point>;
using racket::detail::subscription_entry;

const racket::endpoint ep_a{asio::ip::make_address("239.255.0.4"), 19090};
const racket::endpoint ep_b{asio::ip::make_address("239.255.0.6"), 19090};

std::shared_ptr<subscription_entry> entry(const std::string& filter) {
  auto e = std::make_shared<subscription_entry>();
  e->filter = racket::subject_filter{filter};
  return e;
}

struct bed {
  std::size_t tracked = 0;
  map channels;
  map::stream_type& stream(const racket::endpoint& ep, const std::string& name) {
    return channels.find_or_add(ep).find_or_add(name, racket::detail::subject_limits{}, tracked, 16, true);
  }
};

}  // namespace

TEST_CASE("channels are found by endpoint and streams by name", "[subscriber][channel_map]") {
  bed b;
  CHECK(b.channels.find(ep_a) == nullptr);
  auto& ch = b.channels.find_or_add(ep_a);
  CHECK(&b.channels.find_or_add(ep_a) == &ch);
  CHECK(ch.ep == ep_a);
  CHECK_FALSE(ch.open);
  auto& s = b.stream(ep_a, "sensors");
  CHECK(&b.stream(ep_a, "sensors") == &s);
  CHECK(b.channels.find_stream(ep_a, "sensors") == &s);
  CHECK(b.channels.find_stream(ep_a, "other") == nullptr);
  CHECK(b.channels.find_stream(ep_b, "sensors") == nullptr);
  CHECK(b.channels.channel_of(s) == &ch);
  auto& t = b.stream(ep_b, "sensors");  // the same name on another channel is another stream
  CHECK(&t != &s);
  CHECK(b.channels.channel_of(t) == b.channels.find(ep_b));
}

TEST_CASE("a subscription is registered in its stream and taken out again", "[subscriber][channel_map]") {
  bed b;
  auto& ch = b.channels.find_or_add(ep_a);
  auto& s = b.stream(ep_a, "sensors");
  const auto e1 = entry("plant.*");
  const auto e2 = entry("*");
  const auto h1 = b.channels.add(ch, s, e1);
  const auto h2 = b.channels.add(ch, s, e2);
  CHECK(h1 != h2);
  CHECK(ch.subscriptions == 2);
  CHECK(s.filters.size() == 2);
  CHECK(s.repair_filter().empty());  // two subscriptions: every subject
  CHECK(b.channels.handles().size() == 2);

  const auto info = b.channels.take(h1);
  REQUIRE(info);
  CHECK(info->entry == e1);
  CHECK(info->stream == &s);
  CHECK_FALSE(b.channels.take(h1));  // once
  CHECK_FALSE(b.channels.unlink(h1, *info));  // e2 still listens
  CHECK(s.repair_filter() == "*");
  const auto last = b.channels.take(h2);
  REQUIRE(last);
  CHECK(b.channels.unlink(h2, *last));  // nobody listens any more

  ch.last_stream = &s;
  const auto dropped = b.channels.streams_dropped();
  b.channels.erase_stream(ch, s);
  CHECK(ch.last_stream == nullptr);
  CHECK(b.channels.streams_dropped() == dropped + 1);
  CHECK(b.channels.find_stream(ep_a, "sensors") == nullptr);
}

TEST_CASE("a stream reports its own counters, the rules' and its channel's", "[subscriber][channel_map]") {
  bed b;
  auto& ch = b.channels.find_or_add(ep_a);
  auto& s = b.stream(ep_a, "sensors");
  s.stats.received = 5;
  s.stats.delivered = 4;
  ch.datagrams = 3;
  ch.malformed = 1;
  ch.foreign = 2;
  ch.requests_seen = 6;
  auto out = s.counters();
  ch.fill_counters(out);
  CHECK(out.received == 5);
  CHECK(out.delivered == 4);
  CHECK(out.datagrams_received == 3);
  CHECK(out.malformed == 1);
  CHECK(out.foreign == 2);
  CHECK(out.requests_seen == 6);
  CHECK(out.tracked_subjects == 0);
  CHECK(out.gaps == 0);
}

TEST_CASE("a full request's filter is the subscriptions' when they share one", "[subscriber][channel_map]") {
  bed b;
  auto& s = b.stream(ep_a, "sensors");
  s.request_filters = {"a.*"};
  CHECK(s.request_filter() == "a.*");
  s.request_filters = {"a.*", "a.*"};
  CHECK(s.request_filter() == "a.*");
  s.request_filters = {"a.*", "b"};
  CHECK(s.request_filter().empty());
}
