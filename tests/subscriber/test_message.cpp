// SPDX-License-Identifier: MIT
// racket/message.hpp: what handlers are given. Plain views, usable without a subscriber.
#include "racket/message.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <type_traits>

TEST_CASE("a message views its stream, subject and payload and refers to the decoded value", "[subscriber][message]") {
  const std::string stream = "sensors", subject = "plant.temp";
  const std::byte bytes[] = {std::byte{1}, std::byte{2}};
  const double value = 21.5;
  const racket::message<double> m{stream, subject, value, bytes, 7, 3, 99, std::chrono::milliseconds(1000), true, false};
  CHECK(m.stream == "sensors");
  CHECK(m.subject == "plant.temp");
  CHECK(&m.value == &value);
  CHECK(m.payload.size() == 2);
  CHECK(m.payload.data() == bytes);
  CHECK(m.publisher_id == 7);
  CHECK(m.sequence == 3);
  CHECK(m.timestamp_ns == 99);
  CHECK(m.interval == std::chrono::seconds(1));
  CHECK(m.is_new);
  CHECK_FALSE(m.resend);
}

TEST_CASE("removals and loss events are plain values", "[subscriber][message]") {
  const racket::removal r{"sensors", "plant.temp", 7, racket::removal_reason::expired};
  CHECK(r.reason == racket::removal_reason::expired);
  CHECK(r.reason != racket::removal_reason::withdrawn);
  CHECK(r.reason != racket::removal_reason::evicted);
  const racket::loss_event l{"sensors", 7, 10, 12};
  CHECK(l.last - l.first + 1 == 3);
  STATIC_REQUIRE(std::is_trivially_copyable_v<racket::removal>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<racket::loss_event>);
}
