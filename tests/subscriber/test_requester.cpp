// SPDX-License-Identifier: MIT
// detail::requester: the requester id, the filter of a full request, and what a repair request
// asks (its target, the head and missing ranges, as many as fit one datagram), sent to the
// stream's request group.
#include "racket/detail/subscriber/requester.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace {

using time_point = std::chrono::steady_clock::time_point;
using stream_type = racket::detail::stream_state<time_point>;

// Records what is sent; `ok` false: every interface refuses.
struct fake_transport {
  struct sent_datagram {
    racket::endpoint to;
    std::vector<std::byte> bytes;
  };
  std::vector<sent_datagram> sent;
  bool ok = true;
  racket::send_result send(const racket::endpoint& to, std::span<const std::byte> bytes) {
    sent.push_back({to, {bytes.begin(), bytes.end()}});
    return ok ? racket::send_result{.ok = 1} : racket::send_result{.failed = 1};
  }
  racket::wire::request_view last() const {
    std::error_code ec;
    const auto v = racket::wire::decode_request(sent.back().bytes, ec);
    REQUIRE_FALSE(ec);
    return v;
  }
};

const racket::endpoint data_ep{asio::ip::make_address("239.255.0.4"), 19090};

struct bed {
  std::size_t tracked = 0;
  stream_type s{"sensors", {}, tracked, 16, true};
  fake_transport t;
  racket::detail::requester<fake_transport> r{t, 42};
};

std::vector<racket::wire::sequence_range> ranges_of(const racket::wire::request_view& v) {
  std::vector<racket::wire::sequence_range> out;
  for (std::size_t i = 0; i < v.range_count(); ++i) out.push_back(v.range(i));
  return out;
}

}  // namespace

TEST_CASE("the requester id comes from the seed and is never 0", "[subscriber][requester]") {
  fake_transport t;
  const racket::detail::requester<fake_transport> a{t, 42}, b{t, 42}, c{t, 43};
  CHECK(a.id() != 0);
  CHECK(a.id() == b.id());
  CHECK(a.id() != c.id());
  CHECK(racket::detail::requester<fake_transport>{t, 0}.id() != 0);
}

TEST_CASE("a full request carries the subscriptions' filter when they share one, else none",
          "[subscriber][requester]") {
  bed b;
  b.s.request_filters = {"plant.*", "plant.*"};
  REQUIRE(b.r.request_snapshot(data_ep, b.s));
  CHECK(b.t.sent.back().to == racket::request_endpoint(data_ep));
  auto v = b.t.last();
  CHECK(v.full());
  CHECK(v.stream() == "sensors");
  CHECK(v.filter() == "plant.*");
  CHECK(v.requester_id() == b.r.id());
  CHECK(v.target_publisher() == 0);
  b.s.request_filters = {"plant.*", "*.temp"};
  REQUIRE(b.r.request_snapshot(data_ep, b.s));
  CHECK(b.t.last().filter().empty());
  b.t.ok = false;  // no interface took it
  CHECK_FALSE(b.r.request_snapshot(data_ep, b.s));
}

TEST_CASE("a repair request names its publisher and asks for the head and the missing ranges",
          "[subscriber][requester]") {
  bed b;
  b.s.filters = {{1, "plant.*"}};
  racket::detail::publisher_gaps<time_point> p;
  p.head.add(1, 9);
  p.missing.add(20, 22);
  REQUIRE(b.r.request_repair(&data_ep, b.s, 77, p));
  const auto v = b.t.last();
  CHECK_FALSE(v.full());
  CHECK(v.target_publisher() == 77);
  CHECK(v.filter() == "plant.*");  // the one subscription's
  CHECK(ranges_of(v) == std::vector<racket::wire::sequence_range>{{1, 9}, {20, 22}});
  CHECK(p.nothing_to_ask());
  // Two subscriptions: every subject.
  b.s.filters.push_back({2, "*.temp"});
  p.missing.add(30, 30);
  REQUIRE(b.r.request_repair(&data_ep, b.s, 77, p));
  CHECK(b.t.last().filter().empty());
}

TEST_CASE("a repair request carries at most what fits one datagram, merging the rest", "[subscriber][requester]") {
  bed b;
  racket::detail::publisher_gaps<time_point> p;
  for (std::uint64_t i = 0; i < 100; ++i) p.missing.add(10 * i + 1, 10 * i + 1);
  REQUIRE(b.r.request_repair(&data_ep, b.s, 77, p));
  const auto v = b.t.last();
  CHECK(v.range_count() == racket::wire::max_request_ranges);
  CHECK(v.range(0).first == 1);
  CHECK(v.range(v.range_count() - 1).last == 991);  // nothing lost, only merged
  CHECK(b.t.sent.back().bytes.size() <= racket::wire::default_max_datagram_size);
}

TEST_CASE("without an endpoint the ranges are dropped and nothing is sent", "[subscriber][requester]") {
  bed b;
  racket::detail::publisher_gaps<time_point> p;
  p.missing.add(5, 6);
  CHECK_FALSE(b.r.request_repair(nullptr, b.s, 77, p));
  CHECK(b.t.sent.empty());
  CHECK(p.nothing_to_ask());
}

TEST_CASE("a fragment request names the publisher and the message's runs, 64 ranges a request",
          "[subscriber][requester]") {
  bed b;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
  for (std::uint32_t i = 0; i < 100; ++i) runs.emplace_back(10 * i, 10 * i + 2);
  CHECK(b.r.request_fragments(data_ep, b.s, 0xABCD, 42, runs) == 2);
  REQUIRE(b.t.sent.size() == 2);
  CHECK(b.t.sent[0].to == racket::request_endpoint(data_ep));
  std::vector<std::pair<std::uint32_t, std::uint32_t>> asked;
  for (const auto& d : b.t.sent) {
    std::error_code ec;
    const auto v = racket::wire::decode_request(d.bytes, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.target_publisher() == 0xABCD);
    CHECK(v.range_count() == 0);
    CHECK(v.filter().empty());
    CHECK_FALSE(v.full());
    for (std::size_t i = 0; i < v.fragment_range_count(); ++i) {
      const auto g = v.fragment_range_at(i);
      CHECK(g.sequence == 42);
      asked.emplace_back(g.first, g.last);
    }
  }
  CHECK(asked == runs);
}
