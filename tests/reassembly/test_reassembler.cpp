// SPDX-License-Identifier: MIT
// reassembler: messages in order, reversed, shuffled, duplicated and interleaved, a 16 MiB
// message; every hostile case (conflicting and inconsistent fragments, totals over the
// maximum, floods of first fragments, caps per stream and per publisher, timeouts); and 1,000
// seeds of loss, duplication and reordering of a 1 MiB message, repaired or reported.
#include "racket/detail/reassembly/reassembler.hpp"

#include "reassembly/support.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

using namespace reassembly_test;
using racket::detail::assembled_message;
using racket::detail::fragment_outcome;
using racket::detail::loss_reason;
using racket::detail::lost_message;
using racket::detail::reassembler;
using racket::detail::reassembly_limits;

namespace {

struct lost_record {
  std::string stream;
  std::uint64_t publisher = 0;
  std::uint64_t sequence = 0;
  std::size_t received = 0;
  loss_reason reason{};
};

struct harness {
  reassembler<> r;
  std::vector<assembled_message> delivered;
  std::vector<lost_record> lost;

  explicit harness(reassembly_limits l = {}) : r(l) {}

  fragment_outcome feed(const message_fragments& m, std::size_t k, time_point now = at(0ms)) {
    assembled_message out;
    const auto o = r.add(m.stream, m.publisher, m[k], now, out, [this](const lost_message& l) {
      lost.push_back({std::string(l.stream), l.publisher_id, l.sequence, l.received_bytes, l.reason});
    });
    if (o == fragment_outcome::completed) delivered.push_back(std::move(out));
    return o;
  }
  void feed_all(const message_fragments& m, const std::vector<std::size_t>& order, time_point now = at(0ms)) {
    for (const std::size_t k : order) (void)feed(m, k, now);
  }
  std::size_t expire(time_point now) {
    return r.expire(now, [this](const lost_message& l) {
      lost.push_back({std::string(l.stream), l.publisher_id, l.sequence, l.received_bytes, l.reason});
    });
  }
};

std::vector<std::size_t> in_order(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::iota(v.begin(), v.end(), std::size_t{0});
  return v;
}

bool intact(const assembled_message& a, const message_fragments& m) {
  return a.size == m.payload.size() && std::memcmp(a.data.get(), m.payload.data(), a.size) == 0 &&
         a.subject == m.subject && a.content_hash == wire::content_hash(m.stream, m.subject, m.payload);
}

// Fragment 3 completes a message whose payload one damaged fragment spoilt: it fails the
// content hash, is reported lost and holds nothing; sent again intact, it is delivered whole.
void completes_damaged_then_whole(harness& h, const message_fragments& m) {
  CHECK(h.feed(m, 3) == fragment_outcome::hash_mismatch);
  CHECK(h.delivered.empty());
  REQUIRE(h.lost.size() == 1);
  CHECK(h.lost[0].reason == loss_reason::hash_mismatch);
  CHECK(h.r.counters().hash_mismatch == 1);
  CHECK(h.r.bytes_in_use() == 0);
  h.feed_all(m, in_order(m.size()));
  REQUIRE(h.delivered.size() == 1);
  CHECK(intact(h.delivered[0], m));
}

}  // namespace

TEST_CASE("reassembler: in order, reversed, shuffled, duplicated", "[reassembly]") {
  const auto m = cut("files", 7, 3, payload_of(20000), 1452);
  REQUIRE(m.size() == 15);
  std::vector<std::vector<std::size_t>> orders;
  orders.push_back(in_order(m.size()));
  auto rev = in_order(m.size());
  std::reverse(rev.begin(), rev.end());
  orders.push_back(rev);
  auto shuffled = in_order(m.size());
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937{42});
  orders.push_back(shuffled);
  auto twice = in_order(m.size());
  twice.insert(twice.end(), shuffled.begin(), shuffled.end());  // every fragment twice
  orders.push_back(twice);
  for (const auto& order : orders) {
    harness h;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const auto o = h.feed(m, order[i]);
      if (i == 0)
        CHECK(o == fragment_outcome::started);
      else if (i + 1 < m.size())
        CHECK(o == fragment_outcome::added);
      else if (i + 1 == m.size())
        CHECK(o == fragment_outcome::completed);
      else
        CHECK(o == fragment_outcome::already_complete);  // late copies: never a second delivery
    }
    REQUIRE(h.delivered.size() == 1);
    CHECK(intact(h.delivered[0], m));
    CHECK(h.delivered[0].sequence == 3);
    CHECK(h.delivered[0].publisher_id == 7);
    CHECK(h.delivered[0].interval_ms == 1000);
    CHECK(h.delivered[0].timestamp_ns == 1003);
    CHECK(h.r.bytes_in_use() == 0);
    CHECK(h.r.messages_in_progress() == 0);
    CHECK(h.r.counters().completed == 1);
    CHECK(h.r.counters().already_complete == order.size() - m.size());
  }
  // Duplicates before completion are counted as such.
  harness h;
  CHECK(h.feed(m, 0) == fragment_outcome::started);
  CHECK(h.feed(m, 0) == fragment_outcome::duplicate);
  CHECK(h.r.counters().duplicates == 1);
  CHECK(h.r.bytes_in_use() > 20000);
}

TEST_CASE("reassembler: a stream_ref given back spares the lookup and changes no outcome", "[reassembly]") {
  // Two messages of one stream fed through one stream_ref, one of another stream through its
  // own: the same outcomes, deliveries and counters as without.
  const auto a = cut("files", 1, 10, payload_of(9000, 1), 1452);
  const auto b = cut("files", 2, 10, payload_of(7000, 2), 1452);
  const auto c = cut("other", 1, 11, payload_of(8000, 3), 1452);
  harness plain, with_ref;
  reassembler<>::stream_ref files, other;
  const auto lost = [](const lost_message&) {};
  for (std::size_t k = 0; k < std::max({a.size(), b.size(), c.size()}); ++k) {
    for (const auto* m : {&a, &b, &c}) {
      if (k >= m->size()) continue;
      CAPTURE(m->stream, m->publisher, k);
      assembled_message out;
      const auto o = with_ref.r.add(m->stream, m->publisher, (*m)[k], at(0ms), out, lost, m == &c ? other : files);
      if (o == fragment_outcome::completed) with_ref.delivered.push_back(std::move(out));
      CHECK(o == plain.feed(*m, k));
    }
  }
  REQUIRE(with_ref.delivered.size() == 3);
  for (const auto& d : with_ref.delivered) CHECK((intact(d, a) || intact(d, b) || intact(d, c)));
  CHECK(with_ref.delivered[0].subject == plain.delivered[0].subject);
  CHECK(with_ref.r.counters().completed == plain.r.counters().completed);
  CHECK(with_ref.r.counters().fragments == plain.r.counters().fragments);
  CHECK(with_ref.r.bytes_in_use() == 0);
}

TEST_CASE("reassembler: interleaved messages of one and of two publishers", "[reassembly]") {
  const auto a = cut("files", 1, 10, payload_of(9000, 1), 1452);
  const auto b = cut("files", 1, 11, payload_of(7000, 2), 1452);
  const auto c = cut("files", 2, 10, payload_of(8000, 3), 1452);  // same sequence, other publisher
  const auto d = cut("logs", 1, 10, payload_of(5000, 4), 1452);   // same key, other stream
  harness h;
  const std::size_t most = std::max({a.size(), b.size(), c.size(), d.size()});
  for (std::size_t k = 0; k < most; ++k)
    for (const auto* m : {&a, &b, &c, &d})
      if (k < m->size()) (void)h.feed(*m, k);
  REQUIRE(h.delivered.size() == 4);
  for (const auto& x : h.delivered) {
    const message_fragments* m = x.publisher_id == 2 ? &c : x.sequence == 11 ? &b : x.size == 5000 ? &d : &a;
    CHECK(intact(x, *m));
  }
  CHECK(h.r.bytes_in_use() == 0);
}

TEST_CASE("reassembler: a 16 MiB message, shuffled, under its caps", "[reassembly]") {
  const auto m = cut("maps", 3, 100, payload_of(std::size_t{16} << 20, 9), 1452);
  CHECK(m.size() == 12105);  // F = 1386 for these names at 1452 bytes
  harness h;
  auto order = in_order(m.size());
  std::shuffle(order.begin(), order.end(), std::mt19937{7});
  std::size_t peak = 0;
  for (const std::size_t k : order) {
    (void)h.feed(m, k);
    peak = std::max(peak, h.r.bytes_in_use());
  }
  REQUIRE(h.delivered.size() == 1);
  CHECK(intact(h.delivered[0], m));
  CHECK(peak >= std::size_t{16} << 20);
  CHECK(peak <= h.r.limits().max_bytes_per_publisher);
  CHECK(h.r.bytes_in_use() == 0);
}

TEST_CASE("reassembler: conflicting bytes, a forged first copy, inconsistent totals", "[reassembly]") {
  const auto m = cut("files", 7, 3, payload_of(5000), 1452);
  {
    // The honest copy first: the conflicting one is dropped and the message is intact.
    harness h;
    (void)h.feed(m, 0);
    bytes evil(m[1].bytes.begin(), m[1].bytes.end());
    evil[0] ^= std::byte{0xFF};
    wire::fragment f = m[1];
    f.bytes = evil;
    (void)h.feed(m, 1);
    assembled_message out;
    CHECK(h.r.add("files", 7, f, at(0ms), out) == fragment_outcome::conflicting);
    CHECK(h.r.counters().conflicting == 1);
    h.feed_all(m, {2, 3});
    REQUIRE(h.delivered.size() == 1);
    CHECK(intact(h.delivered[0], m));
  }
  {
    // The forged copy first: the message completes with it, fails the hash, is reported lost
    // and is not remembered as complete, so a re-send can still make it.
    harness h;
    bytes evil(m[1].bytes.begin(), m[1].bytes.end());
    evil[0] ^= std::byte{0xFF};
    wire::fragment f = m[1];
    f.bytes = evil;
    assembled_message out;
    CHECK(h.r.add("files", 7, f, at(0ms), out) == fragment_outcome::started);
    h.feed_all(m, {0, 2});
    completes_damaged_then_whole(h, m);
  }
  {
    // Another total for the same (stream, publisher, sequence): inconsistent, dropped.
    harness h;
    const auto other = cut("files", 7, 3, payload_of(6000), 1452);
    (void)h.feed(m, 0);
    CHECK(h.feed(other, 1) == fragment_outcome::inconsistent);
    CHECK(h.r.counters().inconsistent == 1);
    h.feed_all(m, {1, 2, 3});
    REQUIRE(h.delivered.size() == 1);
    CHECK(intact(h.delivered[0], m));
  }
}

TEST_CASE("reassembler: malformed fields and totals over the maximum", "[reassembly]") {
  const auto m = cut("files", 7, 3, payload_of(5000), 1452);
  harness h{{.max_message_size = 4096}};
  CHECK(h.feed(m, 0) == fragment_outcome::too_large);
  CHECK(h.r.counters().too_large == 1);
  CHECK(h.r.bytes_in_use() == 0);
  harness g;
  assembled_message out;
  wire::fragment f = m[0];
  f.index = f.fragment_count();  // offset past the total
  CHECK(g.r.add("files", 7, f, at(0ms), out) == fragment_outcome::malformed);
  f = m[0];
  f.bytes = f.bytes.first(10);  // not F bytes
  CHECK(g.r.add("files", 7, f, at(0ms), out) == fragment_outcome::malformed);
  f = m[0];
  f.fragment_size = 10;
  CHECK(g.r.add("files", 7, f, at(0ms), out) == fragment_outcome::malformed);
  f = m[0];
  f.total_size = static_cast<std::uint32_t>(wire::max_message_size_limit + 1);
  CHECK(g.r.add("files", 7, f, at(0ms), out) == fragment_outcome::malformed);
  f = m[0];
  f.sequence = 0;
  CHECK(g.r.add("files", 7, f, at(0ms), out) == fragment_outcome::malformed);
  CHECK(g.r.counters().malformed == 5);
  CHECK(g.r.bytes_in_use() == 0);
  // A total within the maximum but over a cap: too large, never allocated.
  harness c{{.max_message_size = 1 << 20, .max_bytes_per_publisher = 4096}};
  CHECK(c.feed(m, 0) == fragment_outcome::too_large);
  CHECK(c.r.bytes_in_use() == 0);
}

TEST_CASE("reassembler: a flood of first fragments evicts itself, not a message still arriving", "[reassembly]") {
  const reassembly_limits limits{.max_message_size = 1 << 20,
                                 .max_bytes_per_publisher = std::size_t{4} << 20,
                                 .max_bytes_per_stream = std::size_t{8} << 20,
                                 .max_messages_per_stream = 16};
  harness h{limits};
  const auto honest = cut("files", 1, 1, payload_of(1 << 20, 5), 1452);
  std::vector<message_fragments> flood;
  for (std::uint64_t s = 1; s <= 40; ++s) flood.push_back(cut("files", 100 + s % 4, s, payload_of(1 << 20, s), 65507));
  std::size_t k = 0;
  for (std::size_t round = 0; round < 200; ++round) {
    (void)h.feed(flood[round % flood.size()], round / flood.size());  // first fragments, never complete
    for (int i = 0; i < 4 && k < honest.size(); ++i) (void)h.feed(honest, k++);
    CHECK(h.r.bytes_in_use() <= limits.max_bytes_per_stream);
    CHECK(h.r.stream_bytes("files") <= limits.max_bytes_per_stream);
    for (std::uint64_t p = 100; p < 104; ++p) CHECK(h.r.publisher_bytes(p) <= limits.max_bytes_per_publisher);
    CHECK(h.r.messages_in_progress() <= limits.max_messages_per_stream);
  }
  while (k < honest.size()) (void)h.feed(honest, k++);
  REQUIRE(h.delivered.size() == 1);
  CHECK(intact(h.delivered[0], honest));
  CHECK(h.r.counters().evicted > 0);
  CHECK(h.r.counters().evicted == h.lost.size());
  for (const auto& l : h.lost) {
    CHECK(l.reason == loss_reason::evicted);
    CHECK(l.publisher >= 100);
  }
}

TEST_CASE("reassembler: the publisher cap evicts that publisher's oldest only", "[reassembly]") {
  const reassembly_limits limits{.max_message_size = 1 << 20, .max_bytes_per_publisher = (std::size_t{1} << 20) * 2 + 8192};
  harness h{limits};
  const auto a1 = cut("files", 1, 1, payload_of(1 << 20, 1), 65507);
  const auto a2 = cut("logs", 1, 2, payload_of(1 << 20, 2), 65507);
  const auto a3 = cut("files", 1, 3, payload_of(1 << 20, 3), 65507);
  const auto b1 = cut("files", 2, 1, payload_of(1 << 20, 4), 65507);
  (void)h.feed(b1, 0, at(0ms));
  (void)h.feed(a1, 0, at(1ms));
  (void)h.feed(a2, 0, at(2ms));
  (void)h.feed(a1, 1, at(3ms));  // a1 progresses: a2 is now the one that progressed longest ago
  CHECK(h.lost.empty());
  (void)h.feed(a3, 0, at(4ms));
  REQUIRE(h.lost.size() == 1);
  CHECK(h.lost[0].publisher == 1);
  CHECK(h.lost[0].sequence == 2);
  CHECK(h.lost[0].stream == "logs");
  CHECK(h.lost[0].reason == loss_reason::evicted);
  CHECK(h.r.publisher_bytes(1) <= limits.max_bytes_per_publisher);
  CHECK(h.r.messages_in_progress() == 3);  // b1, a1, a3
  CHECK(h.r.stream_bytes("logs") == 0);
}

TEST_CASE("reassembler: messages without progress time out and are reported once", "[reassembly]") {
  harness h{{.timeout = 2s}};
  const auto m = cut("files", 7, 3, payload_of(5000), 1452);
  (void)h.feed(m, 0, at(0ms));
  (void)h.feed(m, 2, at(1500ms));
  CHECK(h.expire(at(3000ms)) == 0);  // 1.5 s since its last new fragment
  (void)h.feed(m, 2, at(3000ms));    // a duplicate is no progress
  CHECK(h.expire(at(3499ms)) == 0);
  CHECK(h.expire(at(3500ms)) == 1);
  REQUIRE(h.lost.size() == 1);
  CHECK(h.lost[0].reason == loss_reason::timed_out);
  CHECK(h.lost[0].sequence == 3);
  CHECK(h.lost[0].received == m[0].bytes.size() + m[2].bytes.size());
  CHECK(h.r.counters().timed_out == 1);
  CHECK(h.r.bytes_in_use() == 0);
  CHECK(h.expire(at(10000ms)) == 0);
}

TEST_CASE("reassembler: missing fragments for repair requests", "[reassembly]") {
  harness h;
  const auto m = cut("files", 7, 3, payload_of(30000), 1452);
  REQUIRE(m.size() == 22);
  h.feed_all(m, {0, 1, 5, 6, 7, 21});
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
  CHECK(h.r.missing("files", 7, 3, 10, [&](std::uint32_t a, std::uint32_t b) { runs.emplace_back(a, b); }));
  CHECK(runs == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{2, 4}, {8, 20}});
  CHECK_FALSE(h.r.missing("files", 7, 4, 10, [](std::uint32_t, std::uint32_t) {}));
  CHECK_FALSE(h.r.missing("other", 7, 3, 10, [](std::uint32_t, std::uint32_t) {}));
  std::size_t seen = 0;
  h.r.for_each_in_progress([&](std::string_view stream, const racket::detail::partial_message& p, time_point) {
    CHECK(stream == "files");
    CHECK(p.sequence() == 3);
    ++seen;
  });
  CHECK(seen == 1);
  // The repair answer (re-sent fragments) completes it.
  const auto again = cut("files", 7, 3, payload_of(30000), 1452, 0, "files.cfg", wire::flags::resend);
  for (const auto& [a, b] : runs)
    for (std::uint32_t k = a; k <= b; ++k) (void)h.feed(again, k);
  REQUIRE(h.delivered.size() == 1);
  CHECK(intact(h.delivered[0], m));
  CHECK(h.delivered[0].flags == 0);  // live fragments took part
}

TEST_CASE("reassembler: places per stream and streams are bounded", "[reassembly]") {
  harness h{{.max_messages_per_stream = 3, .max_streams = 2}};
  std::vector<message_fragments> ms;
  for (std::uint64_t s = 1; s <= 5; ++s) ms.push_back(cut("files", 1, s, payload_of(3000, s), 1452));
  for (std::uint64_t s = 0; s < 5; ++s) (void)h.feed(ms[s], 0, at(std::chrono::milliseconds(s)));
  CHECK(h.r.messages_in_progress() == 3);
  REQUIRE(h.lost.size() == 2);
  CHECK(h.lost[0].sequence == 1);
  CHECK(h.lost[1].sequence == 2);
  const auto l = cut("logs", 1, 1, payload_of(3000), 1452);
  const auto t = cut("third", 1, 1, payload_of(3000), 1452);
  CHECK(h.feed(l, 0) == fragment_outcome::started);
  CHECK(h.feed(t, 0) == fragment_outcome::no_room);
  CHECK(h.r.counters().no_room == 1);
  // A single-fragment message completes at once, and frees its stream for others.
  harness g{{.max_streams = 1}};
  const auto one = cut("a", 1, 1, payload_of(100), 1452);
  REQUIRE(one.size() == 1);
  CHECK(g.feed(one, 0) == fragment_outcome::completed);
  CHECK(g.feed(t, 0) == fragment_outcome::started);
}

TEST_CASE("reassembler: 1,000 seeds of loss, duplication and reordering of a 1 MiB message", "[reassembly]") {
  const auto m = cut("files", 7, 3, payload_of(1 << 20, 77), 1452);
  const auto resent = cut("files", 7, 3, payload_of(1 << 20, 77), 1452, 0, "files.cfg", wire::flags::resend);
  const std::size_t n = m.size();
  std::size_t completed = 0;
  std::size_t reported = 0;
  for (std::uint32_t seed = 1; seed <= 1000; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng{seed};
    std::uniform_real_distribution<double> u{0.0, 1.0};
    const double loss = 0.3 * u(rng);
    const double dup = 0.3 * u(rng);
    std::vector<std::size_t> order;
    std::vector<bool> sent(n);
    for (std::size_t k = 0; k < n; ++k) {
      if (u(rng) < loss) continue;
      order.push_back(k);
      sent[k] = true;
      if (u(rng) < dup) order.push_back(k);
    }
    // Reorder: swap within windows of up to 64 positions.
    for (std::size_t i = 0; i < order.size(); ++i)
      std::swap(order[i], order[std::min(order.size() - 1, i + rng() % 64)]);
    harness h{{.max_message_size = 1 << 20, .max_bytes_per_publisher = (1 << 20) + 65536}};
    for (const std::size_t k : order) {
      (void)h.feed(m, k);
      REQUIRE(h.r.bytes_in_use() <= h.r.limits().max_bytes_per_publisher);
    }
    const bool all = std::all_of(sent.begin(), sent.end(), [](bool b) { return b; });
    if (all) {
      REQUIRE(h.delivered.size() == 1);
      REQUIRE(intact(h.delivered[0], m));
      ++completed;
      continue;
    }
    REQUIRE(h.delivered.empty());
    // What it reports missing is exactly what was lost.
    std::vector<bool> missing(n);
    const bool found = h.r.missing("files", 7, 3, n, [&](std::uint32_t a, std::uint32_t b) {
      for (std::uint32_t k = a; k <= b; ++k) missing[k] = true;
    });
    if (order.empty()) {
      REQUIRE_FALSE(found);
      continue;
    }
    REQUIRE(found);
    for (std::size_t k = 0; k < n; ++k) REQUIRE(missing[k] == !sent[k]);
    if (seed % 2 == 0) {
      // Repaired: the missing fragments re-sent.
      for (std::size_t k = 0; k < n; ++k)
        if (missing[k]) (void)h.feed(resent, k);
      REQUIRE(h.delivered.size() == 1);
      REQUIRE(intact(h.delivered[0], m));
      ++completed;
    } else {
      // Not repaired: reported lost once, memory given back.
      REQUIRE(h.expire(at(5000ms)) == 1);
      REQUIRE(h.lost.size() == 1);
      REQUIRE(h.r.bytes_in_use() == 0);
      ++reported;
    }
  }
  CHECK(completed + reported >= 990);
  CHECK(reported > 100);
}

TEST_CASE("a header-checksummed fragment damaged in its payload makes its whole message fail the content hash",
          "[reassembly]") {
  // The datagram's checksum covers the head only (docs/wire-format.md, "Header-checksummed
  // fragments"): the damaged datagram decodes, and the message must be dropped, counted and
  // reported at completion, never delivered damaged.
  auto m = cut("files", 7, 3, payload_of(5000), 1452, 0, "files.cfg", wire::flags::header_checksum);
  REQUIRE(m.size() == 4);
  bytes damaged = m.datagrams[2];
  damaged[damaged.size() - 8 - 100] ^= std::byte{0x20};  // a payload byte of fragment 2
  std::error_code ec;
  const wire::fragment_datagram g = wire::decode_fragment(damaged, ec);
  REQUIRE_FALSE(ec);  // not the datagram's to catch
  REQUIRE(g.frag.index == 2);
  harness h;
  h.feed_all(m, {0, 1});
  assembled_message out;
  CHECK(h.r.add("files", 7, g.frag, at(0ms), out) == fragment_outcome::added);
  completes_damaged_then_whole(h, m);  // sent again intact (a resend of a cached value), it completes
}

TEST_CASE("a handed-out message's buffer, recycled, carries the next message that fits it", "[reassembly]") {
  harness h;
  auto a = cut("files", 7, 3, payload_of(5000, 1), 1452);
  auto b = cut("files", 7, 4, payload_of(4000, 2), 1452);   // fits a's buffer (not under half of it)
  auto c = cut("files", 7, 5, payload_of(1000, 3), 1452);   // under half of it: a fresh buffer
  auto d = cut("files", 7, 6, payload_of(9000, 4), 1452);   // larger: a fresh buffer
  assembled_message out;
  for (std::size_t k = 0; k < a.size(); ++k) (void)h.r.add("files", 7, a[k], at(0ms), out);
  REQUIRE(out.size == 5000);
  CHECK(out.capacity == 5000);
  const std::byte* const buffer = out.data.get();
  h.r.recycle(out);
  CHECK(out.data == nullptr);
  CHECK(h.r.spare_bytes() == 5000);
  for (std::size_t k = 0; k < c.size(); ++k) (void)h.r.add("files", 7, c[k], at(1ms), out);
  REQUIRE(out.size == 1000);
  CHECK(out.data.get() != buffer);
  CHECK(h.r.counters().buffers_reused == 0);
  for (std::size_t k = 0; k < b.size(); ++k) (void)h.r.add("files", 7, b[k], at(2ms), out);
  REQUIRE(out.size == 4000);
  CHECK(out.data.get() == buffer);  // the same memory, holding b's bytes whole
  CHECK(out.capacity == 5000);
  CHECK(std::ranges::equal(out.payload(), b.payload));
  CHECK(h.r.counters().buffers_reused == 1);
  CHECK(h.r.spare_bytes() == 0);
  h.r.recycle(out);
  for (std::size_t k = 0; k < d.size(); ++k) (void)h.r.add("files", 7, d[k], at(3ms), out);
  REQUIRE(out.size == 9000);
  CHECK(std::ranges::equal(out.payload(), d.payload));
  CHECK(h.r.spare_bytes() == 5000);  // kept for a message that fits it
  CHECK(h.r.bytes_in_use() == 0);
}
