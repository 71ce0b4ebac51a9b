// SPDX-License-Identifier: MIT
// A stream's name, endpoint and key: copies share the key (a publisher recognises the stream
// by it), separately made streams never do, and a moved-from stream stays the stream it was.
#include "racket/stream.hpp"

#include "catch.hpp"

#include <string>
#include <system_error>
#include <utility>

namespace {
const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};
}

TEST_CASE("a stream's copies share its key and separately made streams do not", "[stream]") {
  racket::stream<std::string> a{"plant.sensors", pool};
  racket::stream<std::string> again{"plant.sensors", pool};
  racket::stream<std::string> other{"plant.status", pool};
  CHECK(a.key() != 0);
  CHECK(again.key() != a.key());  // same name, still another object: keys stand for objects
  CHECK(other.key() != a.key());
  CHECK(other.key() != again.key());

  const racket::stream<std::string> copy = a;
  CHECK(copy.key() == a.key());
  CHECK(copy.name() == a.name());
  CHECK(copy.endpoint() == a.endpoint());

  racket::stream<std::string> assigned = other;
  assigned = a;
  CHECK(assigned.key() == a.key());
  CHECK(assigned.name() == "plant.sensors");
}

TEST_CASE("a moved-from stream keeps its name with its key", "[stream]") {
  racket::stream<std::string> a{"plant.sensors", pool};
  const auto key = a.key();
  racket::stream<std::string> b = std::move(a);
  CHECK(b.key() == key);
  // The move copied: the source still names what its key stands for.
  CHECK(a.name() == "plant.sensors");  // NOLINT(bugprone-use-after-move)
  CHECK(a.key() == key);               // NOLINT(bugprone-use-after-move)
  CHECK(a.valid());                    // NOLINT(bugprone-use-after-move)
}

TEST_CASE("a stream make refuses has no key", "[stream]") {
  std::error_code ec;
  const auto bad = racket::stream<std::string>::make("", pool, ec);
  CHECK(ec);
  CHECK_FALSE(bad.valid());
  CHECK(bad.key() == 0);
  const auto good = racket::stream<std::string>::make("fine", pool, ec);
  CHECK_FALSE(ec);
  CHECK(good.key() != 0);
}
