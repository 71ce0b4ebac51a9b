// SPDX-License-Identifier: MIT
// detail::snapshot_responder: merging snapshot requests, answer passes, their spacing and pacing.
#include "racket/detail/publisher/snapshot_responder.hpp"

#include "catch.hpp"
#include "racket/detail/publisher/large_values.hpp"
#include "room_fakes.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

using namespace room_test;

namespace {

// What the responder reads of a stream.
struct stream {
  std::uint64_t next_sequence = 1;
  racket::detail::last_value_cache<time_point> cache;
  racket::detail::large_value_cache<time_point> large;
  racket::detail::stream_answers<time_point> answers;
  racket::detail::publisher_stream_counters counters;
};

using responder = racket::detail::snapshot_responder<stream, no_clock>;

struct emitted {
  std::string subject;
  std::uint64_t sequence;
  std::uint8_t flags;
  std::size_t size;
};

struct fixture {
  racket::detail::slab values;
  racket::detail::splitmix64 rng{5};
  responder answers;
  stream s;
  std::deque<std::vector<std::byte>> datagrams;  // the requests' bytes, which the views point into
  std::vector<emitted> out;
  std::vector<emitted> large_out;  // large values handed out (sequence: their cached one)

  explicit fixture(const racket::publisher_options& o) : answers(o) {}

  // Caches `subject` as if published now (it takes the stream's next number).
  void cache(const std::string& subject, std::size_t payload_size = 20) {
    const std::string payload(payload_size, 'v');
    const auto f = s.cache.find(subject);
    s.cache.store(values, f, subject, bytes_of(payload), 1000, s.next_sequence++, 3);
  }

  racket::wire::request_view request(std::uint64_t requester, std::string_view filter, std::uint64_t target = 0,
                                     std::vector<racket::wire::sequence_range> ranges = {}) {
    auto& buf = datagrams.emplace_back(2048);
    const auto bytes = racket::wire::encode_request(
        buf, {.requester_id = requester, .stream = "st", .filter = filter, .target_publisher = target, .ranges = ranges});
    std::error_code ec;
    const auto view = racket::wire::decode_request(bytes, ec);
    if (bytes.empty() || ec) throw std::logic_error("not a valid request");
    return view;
  }

  time_point ask(const racket::wire::request_view& r, time_point now) { return answers.request(s, r, now, rng); }

  time_point run(time_point now) {
    return answers.run(
        now,
        [this](stream& x, const racket::wire::record& r) {
          CHECK(&x == &s);
          const std::size_t size = racket::wire::record_size(r.subject.size(), r.payload.size());
          out.push_back({std::string(r.subject), r.sequence, r.flags, size});
        },
        [this](stream& x, std::string_view subject, const racket::detail::large_value<time_point>& v) {
          CHECK(&x == &s);
          large_out.push_back({std::string(subject), v.sequence, 0, v.payload->size()});
        });
  }

  // Caches a large value of `subject` (it takes the stream's next number).
  void cache_large(const std::string& subject, std::size_t size) {
    auto bytes = racket::detail::copy_bytes(std::vector<std::byte>(size, std::byte{7}));
    s.large.store(subject, {bytes, s.next_sequence++, 3, 99, 1000, {}}, at(0ms));
  }

  std::vector<std::string> subjects() const {
    std::vector<std::string> v;
    for (const auto& e : out) v.push_back(e.subject);
    std::sort(v.begin(), v.end());
    return v;
  }
};

racket::publisher_options unpaced() {
  return {.snapshot_rate_bytes = 0,
          .snapshot_delay_max = std::chrono::milliseconds{10},
          .repair_delay_max = std::chrono::milliseconds{2},
          .snapshot_answer_spacing = std::chrono::milliseconds{10}};
}

}  // namespace

TEST_CASE("snapshot_responder: requests merge into one pass that re-sends each selected subject under a new number",
          "[publisher][snapshot_responder]") {
  fixture f{unpaced()};
  for (const char* subject : {"a.1", "a.2", "b.1", "b.2", "c.1"}) f.cache(subject);
  const time_point due = f.ask(f.request(1, "a.*"), at(0ms));
  CHECK(due >= at(0ms));
  CHECK(due <= at(10ms));
  // A later full request joins the pending answer and never moves it.
  CHECK(f.ask(f.request(2, "b.*"), at(1ms)) == due);
  CHECK(f.s.counters.snapshot_requests.load() == 2);

  CHECK(f.run(at(20ms)) == time_point::max());  // one pass, nothing left pending
  CHECK(f.s.counters.snapshot_answers.load() == 1);
  CHECK(f.subjects() == std::vector<std::string>{"a.1", "a.2", "b.1", "b.2"});
  CHECK(f.s.counters.snapshot_records.load() == 4);
  std::vector<std::uint64_t> numbers;
  for (const auto& e : f.out) {
    CHECK(e.flags == racket::wire::flags::snapshot);
    numbers.push_back(e.sequence);
  }
  CHECK(numbers == std::vector<std::uint64_t>{6, 7, 8, 9});  // after the 5 the cache was published with
  CHECK(f.s.next_sequence == 10);
  CHECK(f.s.cache[f.s.cache.find("b.2").index].sequence == 9);  // a range request names it by this
  CHECK(f.s.cache[f.s.cache.find("c.1").index].sequence == 5);
}

TEST_CASE("snapshot_responder: passes on a stream start at least the spacing apart", "[publisher][snapshot_responder]") {
  fixture f{unpaced()};
  f.cache("a.1");
  f.ask(f.request(1, ""), at(0ms));
  f.run(at(10ms));  // the pass starts at 10 ms
  CHECK(f.out.size() == 1);
  const time_point next = f.ask(f.request(2, ""), at(11ms));
  CHECK(next >= at(20ms));  // not before 10 ms after the last pass started
  CHECK(f.run(at(15ms)) == next);
  CHECK(f.out.size() == 1);
  f.run(next);
  CHECK(f.out.size() == 2);
  CHECK(f.s.counters.snapshot_answers.load() == 2);
}

TEST_CASE("snapshot_responder: a requester over its rate is refused and counted", "[publisher][snapshot_responder]") {
  auto o = unpaced();
  o.snapshot_requests_per_second = 20;
  o.snapshot_request_burst = 10;
  fixture f{o};
  f.cache("a.1");
  int refused = 0;
  for (int i = 0; i < 12; ++i) refused += f.ask(f.request(9, "a.*"), at(0ms)) == time_point::max() ? 1 : 0;
  CHECK(refused == 2);
  CHECK(f.s.counters.snapshot_requests.load() == 12);
  CHECK(f.s.counters.snapshot_requests_limited.load() == 2);
  CHECK(f.ask(f.request(10, "a.*"), at(0ms)) != time_point::max());  // another requester is not limited
}

TEST_CASE("snapshot_responder: a repair re-sends what now holds a requested number, and comes sooner",
          "[publisher][snapshot_responder]") {
  fixture f{unpaced()};
  for (const char* subject : {"a.1", "a.2", "a.3", "b.4", "a.5"}) f.cache(subject);  // numbers 1..5
  f.cache("a.1");  // republished: now number 6
  const time_point due = f.ask(f.request(3, "a.*", 77, {{1, 4}}), at(0ms));
  CHECK(due <= at(2ms));
  f.run(due);
  // a.1 holds 6 now (its value under 1 was superseded); b.4 is not the repair's filter.
  CHECK(f.subjects() == std::vector<std::string>{"a.2", "a.3"});
}

TEST_CASE("snapshot_responder: passes are paced by bytes, and requests during a pass make one follow-up",
          "[publisher][snapshot_responder]") {
  auto o = unpaced();
  o.snapshot_rate_bytes = 10000;  // bytes per second
  o.max_datagram_size = 300;      // the bucket holds max(2 ms worth, 4 datagrams) = 1200 bytes
  fixture f{o};
  for (int i = 0; i < 40; ++i) f.cache("k." + std::to_string(i), 80);  // ~90 bytes a record
  f.ask(f.request(1, ""), at(0ms));
  time_point now = at(10ms);
  time_point next = f.run(now);
  const std::size_t first = f.out.size();
  std::size_t first_bytes = 0;
  for (const auto& e : f.out) first_bytes += e.size;
  CHECK(first > 0);
  CHECK(first < 40);                         // yielded: out of tokens
  CHECK(first_bytes - f.out.back().size < 1200);  // it stops once the bucket is spent
  CHECK(next > now);
  CHECK(next <= now + 70ms);  // when half the bucket is back (600 bytes at 10 kB/s, plus the overdraft)

  // Requests during the pass wait for it, then run as one follow-up pass.
  CHECK(f.ask(f.request(2, ""), now + 1ms) == time_point::max());
  CHECK(f.ask(f.request(3, ""), now + 2ms) == time_point::max());
  int runs = 0;
  while (next != time_point::max() && runs < 1000) {
    now = next;
    next = f.run(now);
    ++runs;
  }
  CHECK(f.out.size() == 80);  // the whole cache twice: the pass, and the one follow-up
  CHECK(f.s.counters.snapshot_answers.load() == 2);
  // Paced: 80 records of ~90 bytes at 10 kB/s take about 0.7 s, less the first bucket.
  CHECK(now >= at(500ms));
}

TEST_CASE("snapshot_responder: large values the answer selects are handed out under their cached number",
          "[publisher][snapshot_responder]") {
  fixture f{unpaced()};
  f.cache("a.1");               // 1
  f.cache_large("a.map", 5000);  // 2
  f.cache_large("b.map", 5000);  // 3
  f.ask(f.request(1, "a.*"), at(0ms));
  f.run(at(20ms));
  CHECK(f.subjects() == std::vector<std::string>{"a.1"});
  REQUIRE(f.large_out.size() == 1);
  CHECK(f.large_out[0].subject == "a.map");
  CHECK(f.large_out[0].sequence == 2);  // not renumbered: its fragments carry the cached number
  CHECK(f.large_out[0].size == 5000);
  CHECK(f.s.next_sequence == 5);  // only a.1 took a new number (4)
  CHECK(f.s.counters.snapshot_records.load() == 2);

  // A repair naming b.map's number selects it too.
  f.large_out.clear();
  f.ask(f.request(2, "", 77, {{3, 3}}), at(100ms));
  f.run(at(200ms));
  REQUIRE(f.large_out.size() == 1);
  CHECK(f.large_out[0].subject == "b.map");
}
