// SPDX-License-Identifier: MIT
// racket::owned_message: owns what message<T> views, and views it back unchanged.
#include "racket/owned_message.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

TEST_CASE("an owned_message copies a message and gives the same view back", "[subscriber][owned_message]") {
  std::string stream = "s", subject = "a.b";
  const double value = 2.5;
  const std::vector<std::byte> bytes{std::byte{1}, std::byte{2}};
  racket::owned_message<double> owned;
  {
    const racket::message<double> m{stream, subject, value, racket::byte_view(bytes), 7, 9, 11,
                                    std::chrono::milliseconds(100), true, false};
    owned = racket::owned_message<double>::from(m);
  }
  stream = "changed";
  subject = "changed";
  const auto v = owned.view();
  CHECK(v.stream == "s");
  CHECK(v.subject == "a.b");
  CHECK(v.value == 2.5);
  CHECK(v.payload.size() == 2);
  CHECK(v.payload[1] == std::byte{2});
  CHECK(v.publisher_id == 7);
  CHECK(v.sequence == 9);
  CHECK(v.timestamp_ns == 11);
  CHECK(v.interval == std::chrono::milliseconds(100));
  CHECK(v.is_new);
  CHECK_FALSE(v.resend);
}
