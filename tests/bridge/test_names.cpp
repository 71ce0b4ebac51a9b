// SPDX-License-Identifier: MIT
#include "../../examples/bridge/names.hpp"

// docs/bridge.md, "Names": the bridge's mapping of streams, subjects and filters to NATS.

#include <random>
#include <string>

#include "catch.hpp"

using namespace racket_bridge;

TEST_CASE("bridge names: the document's example") {
  CHECK(nats_subject("plant.eu", "line 3.temp") == "racket.plant=2Eeu.line=203.temp");
  CHECK(bucket_name("plant.eu") == "racket_plant_2Eeu");
  CHECK(escape_subject("line 3.temp") == "line=203.temp");
}

TEST_CASE("bridge names: plain names stay as they are") {
  CHECK(nats_subject("sensors", "plant.line3.temp") == "racket.sensors.plant.line3.temp");
  CHECK(bucket_name("my-stream") == "racket_my-stream");
  CHECK(escape_token("A_z-09") == "A_z-09");
}

TEST_CASE("bridge names: NATS's special characters and the marks themselves are escaped") {
  CHECK(escape_token("a*b>c") == "a=2Ab=3Ec");
  CHECK(escape_token("x=y") == "x=3Dy");
  CHECK(escape_token("caf\xc3\xa9") == "caf=C3=A9");
  CHECK(bucket_name("a_b") == "racket_a_5Fb");
  CHECK(bucket_name("a=b") == "racket_a_3Db");
}

TEST_CASE("bridge names: filters map to NATS wildcards") {
  CHECK(nats_filter("s", "*") == "racket.s.>");
  CHECK(nats_filter("s", "plant.*") == "racket.s.plant.>");
  CHECK(nats_filter("s", "plant.*.temp") == "racket.s.plant.*.temp");
  CHECK(nats_filter("s", "a b.c") == "racket.s.a=20b.c");
  CHECK(nats_filter("s.t", "x") == "racket.s=2Et.x");
}

TEST_CASE("bridge names: parse_nats_subject inverts nats_subject and refuses the rest") {
  const auto p = parse_nats_subject("racket.plant=2Eeu.line=203.temp");
  REQUIRE(p);
  CHECK(p->stream == "plant.eu");
  CHECK(p->subject == "line 3.temp");
  for (const char* bad : {"other.s.x", "racket.s", "racket.s.", "racket..x", "racket.s.a=2", "racket.s.a=2e",
                          "racket.s.a=41", "racket.s.a b", "racket.s=2.x"})
    CHECK_FALSE(parse_nats_subject(bad));
}

TEST_CASE("bridge names: escaping is a bijection over random names") {
  std::mt19937 rng(22);
  for (int i = 0; i < 20000; ++i) {
    std::string stream(1 + rng() % 12, 'x');
    for (char& c : stream) c = static_cast<char>(1 + rng() % 255);
    std::string subject;
    const int tokens = 1 + static_cast<int>(rng() % 4);
    for (int t = 0; t < tokens; ++t) {
      if (t) subject += '.';
      std::string token(1 + rng() % 6, 'y');
      for (char& c : token) {
        do c = static_cast<char>(1 + rng() % 255); while (c == '.' || c == '*');
      }
      subject += token;
    }
    const std::string nats = nats_subject(stream, subject);
    for (const char c : nats)
      REQUIRE(((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '=' || c == '.'));
    const auto back = parse_nats_subject(nats);
    REQUIRE(back);
    REQUIRE(back->stream == stream);
    REQUIRE(back->subject == subject);
    const std::string bucket = bucket_name(stream);
    for (const char c : bucket)
      REQUIRE(((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'));
  }
}
