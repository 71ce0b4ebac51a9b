// SPDX-License-Identifier: MIT
#include "../../examples/bridge/headers.hpp"

// docs/bridge.md, "Headers" and "Bucket entries": a message's origin as NATS headers and as a
// bucket entry's first line, and back, with every malformed field refused.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "catch.hpp"

using namespace racket_bridge;

namespace {

origin sample() {
  origin o;
  o.publisher = 0x0123456789abcdefULL;
  o.sequence = 42;
  o.timestamp_ns = 1'765'000'000'123'456'789ULL;
  o.interval_ms = 1000;
  o.site = "plant-a";
  o.hash = 0xfedcba9876543210ULL;
  return o;
}

using header_map = std::map<std::string, std::string, std::less<>>;

header_map as_map(const origin& o) {
  header_map m;
  for (const auto& [name, value] : encode_headers(o)) {
    if (!value.empty()) m.emplace(std::string(name), value);
  }
  return m;
}

std::optional<origin> decode(const header_map& m) {
  return decode_headers([&](std::string_view name) -> std::optional<std::string_view> {
    const auto it = m.find(name);
    if (it == m.end()) return std::nullopt;
    return std::string_view(it->second);
  });
}

}  // namespace

TEST_CASE("bridge headers: the values as the document shows them") {
  const auto m = as_map(sample());
  CHECK(m.at("Racket-Publisher") == "0123456789abcdef");
  CHECK(m.at("Racket-Sequence") == "42");
  CHECK(m.at("Racket-Timestamp") == "1765000000123456789");
  CHECK(m.at("Racket-Interval") == "1000");
  CHECK(m.at("Racket-Site") == "plant-a");
  CHECK(m.at("Racket-Hash") == "fedcba9876543210");
  CHECK(m.count("Racket-Tombstone") == 0);  // only on a withdrawal
}

TEST_CASE("bridge headers: encode then decode gives the origin back") {
  auto o = sample();
  CHECK(decode(as_map(o)) == o);
  o.tombstone = true;
  o.interval_ms = 0;
  o.sequence = UINT64_MAX;
  o.publisher = 0;
  const auto m = as_map(o);
  CHECK(m.at("Racket-Tombstone") == "1");
  CHECK(decode(m) == o);
}

TEST_CASE("bridge headers: a missing or malformed field refuses the message") {
  const auto good = as_map(sample());
  for (const char* name : {"Racket-Publisher", "Racket-Sequence", "Racket-Timestamp", "Racket-Interval", "Racket-Site",
                           "Racket-Hash"}) {
    auto m = good;
    m.erase(name);
    CHECK_FALSE(decode(m));
  }
  const std::string long_site(256, 'x');  // outlives the table that points into it
  const std::pair<const char*, const char*> bad[] = {
      {"Racket-Publisher", "0123456789abcde"},     {"Racket-Publisher", "0123456789abcdef0"},
      {"Racket-Publisher", "0123456789abcdeg"},    {"Racket-Publisher", "+123456789abcdef"},
      {"Racket-Sequence", ""},                     {"Racket-Sequence", "-1"},
      {"Racket-Sequence", "042"},                  {"Racket-Sequence", "18446744073709551616"},
      {"Racket-Sequence", "4 2"},                  {"Racket-Timestamp", "1e9"},
      {"Racket-Interval", "4294967296"},           {"Racket-Interval", "10ms"},
      {"Racket-Tombstone", "yes"},                 {"Racket-Tombstone", "2"},
      {"Racket-Site", ""},                         {"Racket-Site", "plant a"},
      {"Racket-Site", long_site.c_str()}, {"Racket-Hash", "xyz"},
  };
  for (const auto& [name, value] : bad) {
    auto m = good;
    m[name] = value;
    INFO(name << ": " << value);
    CHECK_FALSE(decode(m));
  }
  auto m = good;
  m["Racket-Tombstone"] = "0";
  CHECK(decode(m));
  m["Racket-Interval"] = "4294967295";
  CHECK(decode(m)->interval_ms == 4294967295u);
  m["Racket-Publisher"] = "0123456789ABCDEF";  // either case is read
  CHECK(decode(m)->publisher == 0x0123456789abcdefULL);
}

TEST_CASE("bridge headers: a bucket entry is its origin's line, then the payload unchanged") {
  const auto o = sample();
  const std::string payload("21.5\n\0\xff", 7);
  const std::string entry = encode_entry(o, payload);
  CHECK(entry.substr(0, entry.find('\n') + 1) == "racket1 0123456789abcdef 42 1765000000123456789 1000 plant-a\n");
  const auto d = decode_entry(entry);
  REQUIRE(d);
  CHECK(d->payload == payload);
  auto want = o;
  want.hash = 0;
  CHECK(d->from == want);
  CHECK(decode_entry(encode_entry(o, ""))->payload.empty());
}

TEST_CASE("bridge headers: a bucket entry not made by the bridge is refused") {
  for (const std::string_view bad : {
           "",
           "racket1 0123456789abcdef 42 1 1000 plant-a",             // no newline
           "racket2 0123456789abcdef 42 1 1000 plant-a\nx",           // another version
           "racket1 0123456789abcdef 42 1 1000\nx",                   // a field missing
           "racket1 0123456789abcdef 42 1 1000 plant-a extra\nx",     // one too many
           "racket1 0123456789abcdef 42 1 1000  plant-a\nx",          // two spaces
           "racket1 0123456789abcdef -42 1 1000 plant-a\nx",
           "racket1 0123456789abcdef 42 1 4294967296 plant-a\nx",
           "racket1 0123456789abcdeX 42 1 1000 plant-a\nx",
       }) {
    INFO(bad);
    CHECK_FALSE(decode_entry(bad));
  }
  // A first line longer than any the bridge writes is not searched for its end.
  std::string long_line = "racket1 0123456789abcdef 42 1 1000 " + std::string(400, 's') + "\nx";
  CHECK_FALSE(decode_entry(long_line));
}
