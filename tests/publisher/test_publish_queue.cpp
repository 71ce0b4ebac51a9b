// SPDX-License-Identifier: MIT
// detail::publish_queue and detail::byte_queue: records waiting for the publisher's flush.
#include "racket/detail/publisher/publish_queue.hpp"

#include "catch.hpp"

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

namespace {

struct stream {
  int id = 0;
};

racket::byte_view bytes_of(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

using entry = std::tuple<int, std::string, std::string, std::uint32_t, bool>;

std::vector<entry> drain(const racket::detail::publish_queue<stream>& q) {
  std::vector<entry> out;
  q.for_each([&](stream& s, std::string_view subject, racket::byte_view payload, std::uint32_t interval, bool withdraw) {
    out.emplace_back(s.id, std::string(subject), std::string(reinterpret_cast<const char*>(payload.data()), payload.size()),
                     interval, withdraw);
  });
  return out;
}

}  // namespace

TEST_CASE("publish_queue: records come out in order, with copies of their bytes", "[publisher][publish_queue]") {
  racket::detail::publish_queue<stream> q;
  stream a{1}, b{2};
  CHECK(q.empty());
  std::string payload = "first";
  q.push(&a, "x.y", bytes_of(payload), 100, false);
  payload = "XXXXX";  // the queue holds its own copy
  q.push(&b, "z", {}, 0, true);
  const std::string big(10000, 'q');  // grows the byte buffer past its first 4 KiB
  q.push(&a, "x.big", bytes_of(big), 7, false);
  CHECK(q.size() == 3);
  const auto out = drain(q);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == entry{1, "x.y", "first", 100, false});
  CHECK(out[1] == entry{2, "z", "", 0, true});
  CHECK(out[2] == entry{1, "x.big", big, 7, false});
}

TEST_CASE("publish_queue: swap hands the records over and takes an empty queue back", "[publisher][publish_queue]") {
  racket::detail::publish_queue<stream> pending, flushing;
  stream a{1};
  const std::string p = "v";
  pending.push(&a, "a", bytes_of(p), 1, false);
  flushing.swap(pending);
  CHECK(pending.empty());
  CHECK(drain(flushing).size() == 1);
  pending.push(&a, "b", bytes_of(p), 1, false);
  flushing.clear();
  CHECK(flushing.empty());
  CHECK(drain(pending) == std::vector<entry>{{1, "b", "v", 1, false}});
}

TEST_CASE("publish_queue: bytes() counts subjects, payloads and a fixed overhead per record",
          "[publisher][publish_queue]") {
  using queue = racket::detail::publish_queue<stream>;
  queue q, other;
  stream a{1};
  CHECK(q.bytes() == 0);
  const std::string p(100, 'p');
  q.push(&a, "sub.ject", bytes_of(p), 1, false);
  CHECK(q.bytes() == 8 + 100 + queue::record_overhead);
  CHECK(queue::cost(8, 100) == q.bytes());
  q.push(&a, "w", {}, 0, true);
  CHECK(q.bytes() == queue::cost(8, 100) + queue::cost(1, 0));
  other.swap(q);  // the count goes with the records
  CHECK(q.bytes() == 0);
  CHECK(other.bytes() == queue::cost(8, 100) + queue::cost(1, 0));
  other.clear();
  CHECK(other.bytes() == 0);
}

TEST_CASE("byte_queue: extends without losing what it holds", "[publisher][publish_queue]") {
  racket::detail::byte_queue q;
  for (int i = 0; i < 1000; ++i) {
    std::byte* at = q.extend(37);
    std::memset(at, i % 251, 37);
  }
  CHECK(q.size() == 37000);
  for (int i = 0; i < 1000; ++i) CHECK(std::to_integer<int>(q.data()[i * 37 + 36]) == i % 251);
  q.clear();
  CHECK(q.size() == 0);
}
