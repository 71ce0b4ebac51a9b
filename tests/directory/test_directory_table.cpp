// SPDX-License-Identifier: MIT
// The directory's rules alone, on a virtual clock: an entry appears on its first
// announcement, is refreshed by later ones (fields updated, no second appearance), expires
// expiry_factor of its sender's periods after it was last heard, and the table holds at most
// max_entries (new ones refused and counted, existing ones still refreshed).
#include "racket/detail/directory/directory_table.hpp"

#include "catch.hpp"

#include "racket/wire/announce.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using table = racket::detail::directory_table<time_point>;
namespace wire = racket::wire;

// An announcement's bytes, and the view decode_announcement gives of them.
struct datagram {
  std::array<std::byte, 1452> buf{};
  std::vector<std::byte> bytes;
  wire::announcement_view view() const {
    std::error_code ec;
    auto v = wire::decode_announcement(bytes, ec);
    REQUIRE_FALSE(ec);
    return v;
  }
};

datagram publisher(std::uint64_t id, std::uint32_t period_ms, const std::vector<std::pair<std::string, std::uint32_t>>& streams,
                   std::uint64_t rate_milli = 0, std::string host = "h") {
  datagram d;
  wire::announcement_writer w(d.buf, {.role = wire::announce_role::publisher, .sender_id = id, .host = host,
                                      .pid = 10, .period_ms = period_ms, .program = "p"});
  for (const auto& [name, subjects] : streams)
    REQUIRE(w.add(wire::announced_publication{.stream = name, .subject_count = subjects, .rate_milli = rate_milli}));
  const auto s = w.finish();
  d.bytes.assign(s.begin(), s.end());
  return d;
}

datagram subscriber(std::uint64_t id, const std::string& stream, const std::vector<std::string>& filters) {
  datagram d;
  wire::announcement_writer w(d.buf, {.role = wire::announce_role::subscriber, .sender_id = id, .host = "s",
                                      .pid = 11, .period_ms = 1000, .program = "r"});
  wire::announced_subscription e{.stream = stream};
  for (const auto& f : filters) e.filters[e.filter_count++] = f;
  REQUIRE(w.add(e));
  const auto s = w.finish();
  d.bytes.assign(s.begin(), s.end());
  return d;
}

}  // namespace

TEST_CASE("an entry appears once, is refreshed, and expires factor periods after last heard", "[directory]") {
  table t(3, 100);
  const time_point t0{};
  std::vector<racket::directory_entry> appeared;
  const auto on_appear = [&](const racket::directory_entry& e) { appeared.push_back(e); };

  CHECK(t.next_expiry() == time_point::max());
  CHECK(t.heard(publisher(1, 1000, {{"plant", 3}, {"fx", 0}}, 2500).view(), t0, on_appear) == 0);
  REQUIRE(appeared.size() == 2);
  CHECK(appeared[0].stream == "plant");
  CHECK(appeared[0].subjects == 3);
  CHECK(appeared[0].rate == 2.5);
  CHECK(appeared[0].role == racket::participant_role::publisher);
  CHECK(appeared[0].id == 1);
  CHECK(appeared[0].period == 1000ms);
  CHECK(appeared[0].announcements == 1);
  CHECK(t.size() == 2);
  CHECK(t.next_expiry() == t0 + 3s);

  // Refreshed at 2 s with new values: no new appearance, expiry moves to 5 s.
  t.heard(publisher(1, 1000, {{"plant", 7}}, 0, "h2").view(), t0 + 2s, on_appear);
  CHECK(appeared.size() == 2);
  auto snap = t.snapshot(t0 + 2500ms);
  REQUIRE(snap.size() == 2);
  CHECK(snap[0].stream == "fx");  // ordered by stream
  CHECK(snap[0].age == 2500ms);
  CHECK(snap[1].stream == "plant");
  CHECK(snap[1].subjects == 7);
  CHECK(snap[1].host == "h2");
  CHECK(snap[1].announcements == 2);
  CHECK(snap[1].age == 500ms);

  std::vector<racket::directory_entry> gone;
  const auto on_gone = [&](const racket::directory_entry& e) { gone.push_back(e); };
  CHECK(t.expire(t0 + 2999ms, on_gone) == 0);
  CHECK(t.expire(t0 + 3s, on_gone) == 1);  // fx, last heard at 0
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].stream == "fx");
  CHECK(gone[0].age == 3s);
  CHECK(t.next_expiry() == t0 + 5s);
  CHECK(t.expire(t0 + 5s, on_gone) == 1);
  CHECK(t.size() == 0);

  // Heard again after it expired: it appears again.
  t.heard(publisher(1, 1000, {{"plant", 1}}).view(), t0 + 6s, on_appear);
  CHECK(appeared.size() == 3);
}

TEST_CASE("the period on the wire sets each entry's expiry, and the sender may change it", "[directory]") {
  table t(2, 100);
  const time_point t0{};
  const auto none = [](const racket::directory_entry&) {};
  t.heard(publisher(1, 500, {{"fast", 1}}).view(), t0, none);
  t.heard(publisher(2, 60000, {{"slow", 1}}).view(), t0, none);
  CHECK(t.next_expiry() == t0 + 1s);
  std::vector<std::string> gone;
  t.expire(t0 + 1s, [&](const racket::directory_entry& e) { gone.push_back(e.stream); });
  CHECK(gone == std::vector<std::string>{"fast"});
  CHECK(t.next_expiry() == t0 + 120s);
  t.heard(publisher(2, 1000, {{"slow", 1}}).view(), t0 + 10s, none);
  CHECK(t.next_expiry() == t0 + 12s);
}

TEST_CASE("publishers and subscribers of one stream are separate entries, keyed by id", "[directory]") {
  table t(3, 100);
  const time_point t0{};
  std::vector<racket::directory_entry> appeared;
  const auto on_appear = [&](const racket::directory_entry& e) { appeared.push_back(e); };
  t.heard(publisher(1, 1000, {{"plant", 1}}).view(), t0, on_appear);
  t.heard(publisher(2, 1000, {{"plant", 1}}).view(), t0, on_appear);
  t.heard(subscriber(1, "plant", {"a.*", "b"}).view(), t0, on_appear);  // same id, other role
  CHECK(appeared.size() == 3);
  const auto snap = t.snapshot(t0);
  REQUIRE(snap.size() == 3);
  CHECK(snap[0].role == racket::participant_role::publisher);
  CHECK(snap[1].role == racket::participant_role::publisher);
  CHECK(snap[2].role == racket::participant_role::subscriber);
  CHECK(snap[2].filters == std::vector<std::string>{"a.*", "b"});
  t.heard(subscriber(1, "plant", {"c"}).view(), t0 + 1s, on_appear);
  CHECK(t.snapshot(t0 + 1s)[2].filters == std::vector<std::string>{"c"});
}

TEST_CASE("the table holds at most max_entries: new ones are refused, held ones still refreshed", "[directory]") {
  table t(3, 4);
  const time_point t0{};
  int appeared = 0;
  const auto on_appear = [&](const racket::directory_entry&) { ++appeared; };
  CHECK(t.heard(publisher(1, 1000, {{"a", 1}, {"b", 1}, {"c", 1}}).view(), t0, on_appear) == 0);
  CHECK(t.heard(publisher(2, 1000, {{"a", 1}, {"b", 1}, {"c", 1}}).view(), t0, on_appear) == 2);
  CHECK(appeared == 4);
  CHECK(t.size() == 4);
  // A flood of new senders changes nothing held.
  for (std::uint64_t id = 100; id < 1100; ++id) CHECK(t.heard(publisher(id, 1000, {{"x", 1}}).view(), t0, on_appear) == 1);
  CHECK(t.size() == 4);
  // Held entries are still refreshed.
  t.heard(publisher(1, 1000, {{"a", 9}}).view(), t0 + 2s, on_appear);
  CHECK(t.snapshot(t0 + 2s)[0].subjects == 9);
  // Once some expire, new ones fit again.
  t.expire(t0 + 3s, [](const racket::directory_entry&) {});
  CHECK(t.size() == 1);
  CHECK(t.heard(publisher(5, 1000, {{"y", 1}}).view(), t0 + 3s, on_appear) == 0);
  CHECK(t.size() == 2);
}
