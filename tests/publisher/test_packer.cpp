// SPDX-License-Identifier: MIT
// detail::packer: records into datagrams, the outbox, GSO runs and their padding.
#include "racket/detail/publisher/packer.hpp"

#include "catch.hpp"
#include "room_fakes.hpp"

#include <deque>
#include <string>
#include <vector>

using namespace room_test;

namespace {

// What the packer reads of a stream.
struct stream {
  std::string name{};
  racket::endpoint ep{};
  std::uint32_t ordinal = 0;
  racket::detail::open_datagram out{};
  racket::detail::publisher_stream_counters counters{};
};

using packer = racket::detail::packer<recording_sender, stream>;

struct fixture {
  recording_sender sender;
  std::deque<std::string> payloads;  // the records' bytes live until they are sent
  std::uint64_t sequence = 0;

  racket::wire::record record(std::string_view subject, std::size_t payload_size) {
    payloads.emplace_back(payload_size, 'p');
    racket::wire::record r;
    r.interval_ms = 1000;
    r.sequence = ++sequence;
    r.timestamp_ns = 1'700'000'000'000'000'000;
    r.subject = subject;
    r.payload = bytes_of(payloads.back());
    return r;
  }
};

// A stream's datagrams of very different sizes, and another stream's datagram between them.
// Payloads: a run of three within 1/16 then a much shorter one (which ends it as its last),
// then a run of two whose last is the largest.
void fill(packer& p, fixture& f, stream& s, stream& t) {
  p.append(s, f.record("s.a", 850));
  p.next_datagram(s);
  p.append(t, f.record("t.a", 100));
  p.next_datagram(t);
  for (std::size_t size : {830, 810, 350, 850}) {
    p.append(s, f.record("s.b", size));
    p.next_datagram(s);
  }
  p.append(s, f.record("s.c", 900));
}

}  // namespace

TEST_CASE("packer: one datagram goes out alone, unpadded, through send", "[publisher][packer]") {
  fixture f;
  f.sender.segmenting = true;
  packer p{f.sender, 77, 1452};
  stream s{.name = "st"};
  p.append(s, f.record("a.b", 10));
  p.append(s, f.record("a.c", 10));
  CHECK(f.sender.log.empty());  // nothing goes before send_open
  std::vector<stream*> after;
  p.send_open();
  for (stream* x : p.opened()) after.push_back(x);
  p.clear_opened();
  REQUIRE(f.sender.log.size() == 1);
  CHECK(f.sender.single_sends == 1);
  CHECK(f.sender.batches == 0);
  CHECK(f.sender.log[0].padding == 0);
  CHECK(f.sender.log[0].subjects == std::vector<std::string>{"a.b", "a.c"});
  CHECK(after == std::vector<stream*>{&s});
  CHECK(s.counters.datagrams_sent.load() == 1);
  CHECK(s.counters.bytes_sent.load() == f.sender.log[0].bytes.size());

  p.send_open();
  CHECK(p.opened().empty());  // no stream has a datagram open
  CHECK(f.sender.log.size() == 1);
}

TEST_CASE("packer: a stream's datagrams go as runs within the 1/16 rule, padded but the last", "[publisher][packer]") {
  fixture f;
  f.sender.segmenting = true;
  packer p{f.sender, 77, 1000};
  stream s{.name = "st", .ordinal = 0};
  stream t{.name = "tt", .ordinal = 1};
  fill(p, f, s, t);
  p.send_open();
  p.clear_opened();
  CHECK(f.sender.batches == 1);
  CHECK(f.sender.single_sends == 0);
  const auto& log = f.sender.log;
  REQUIRE(log.size() == 7);
  // Stream by stream in creation order, each in its own order.
  std::vector<std::string> firsts;
  for (const auto& d : log) firsts.push_back(d.subjects.at(0));
  CHECK(firsts == std::vector<std::string>{"s.a", "s.b", "s.b", "s.b", "s.b", "s.c", "t.a"});
  std::vector<std::uint16_t> runs;
  for (const auto& d : log) runs.push_back(d.run_length);
  CHECK(runs == std::vector<std::uint16_t>{4, 0, 0, 0, 2, 0, 0});

  // Run of 4: the first three padded to the largest of the run, the short last one not.
  const std::size_t seg = log[0].bytes.size();
  for (int i = 0; i < 3; ++i) {
    CHECK(log[static_cast<std::size_t>(i)].bytes.size() == seg);
    CHECK((seg - log[static_cast<std::size_t>(i)].natural_size()) * 16 <= seg);
  }
  CHECK(log[0].padding == 0);  // the largest
  CHECK(log[1].padding > 0);
  CHECK(log[3].padding == 0);
  CHECK(log[3].bytes.size() < seg / 2);
  // Run of 2: padded to its last, the largest.
  CHECK(log[4].bytes.size() == log[5].bytes.size());
  CHECK(log[4].padding > 0);
  CHECK(log[5].padding == 0);
  // A lone datagram is never padded.
  CHECK(log[6].padding == 0);
  for (const auto& d : log) CHECK(d.subjects.at(0).rfind('<', 0) == std::string::npos);  // every one decodes

  std::uint64_t s_bytes = 0;
  for (std::size_t i = 0; i < 6; ++i) s_bytes += log[i].bytes.size();
  CHECK(s.counters.datagrams_sent.load() == 6 * 2);  // the sender reports two interfaces each
  CHECK(s.counters.bytes_sent.load() == s_bytes * 2);
  CHECK(t.counters.datagrams_sent.load() == 2);
}

TEST_CASE("packer: without segmentation, no runs, no padding, the outbox's order", "[publisher][packer]") {
  fixture f;
  f.sender.segmenting = false;
  packer p{f.sender, 77, 1000};
  stream s{.name = "st", .ordinal = 0};
  stream t{.name = "tt", .ordinal = 1};
  fill(p, f, s, t);
  p.send_open();
  p.clear_opened();
  const auto& log = f.sender.log;
  REQUIRE(log.size() == 7);
  std::vector<std::string> firsts;
  for (const auto& d : log) {
    firsts.push_back(d.subjects.at(0));
    CHECK(d.run_length == 0);
    CHECK(d.padding == 0);
  }
  CHECK(firsts == std::vector<std::string>{"s.a", "t.a", "s.b", "s.b", "s.b", "s.b", "s.c"});
}

TEST_CASE("packer: records fill a datagram, then the next, and a full outbox goes out at once", "[publisher][packer]") {
  fixture f;
  packer p{f.sender, 77, 1452};
  CHECK(packer::batch_limit_for(1452) == 64);
  CHECK(packer::batch_limit_for(16384) == 16);
  CHECK(packer::batch_limit_for(65507) == 4);
  stream s{.name = "st"};
  CHECK(p.try_append(s, f.record("x.y", 1000)));
  CHECK_FALSE(p.try_append(s, f.record("x.z", 1000)));  // refused, not started anew
  CHECK_FALSE(packer::open_empty(s));
  // 64 datagrams of one record each: the 64th joining the outbox sends the batch.
  for (int i = 1; i < 64; ++i) p.append(s, f.record("x.y", 1000));
  CHECK(f.sender.log.size() == 0);
  p.append(s, f.record("x.y", 1000));
  CHECK(f.sender.batches == 1);
  CHECK(f.sender.log.size() == 64);
  p.send_open();
  p.clear_opened();
  CHECK(f.sender.log.size() == 65);
  CHECK(f.sender.single_sends == 1);
  for (const auto& d : f.sender.log) CHECK(d.subjects == std::vector<std::string>{"x.y"});
}
