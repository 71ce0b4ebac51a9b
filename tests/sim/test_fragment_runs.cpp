// SPDX-License-Identifier: MIT
// A subscriber handed runs of fragments at once (segment_receiving_transport, what
// udp_transport does with a UDP GRO buffer) must do exactly what it does with the same
// datagrams one by one: the same deliveries, the same loss reports, every counter the same.
// Two subscribers on the simulated network's virtual clock get the same datagrams, one as GRO
// buffers (a test transport over sim::transport that offers them like udp_transport's receive
// loop), the other datagram by datagram; the inputs mix messages, publishers, streams,
// subjects no filter matches, resends, duplicates, losses, reordering, damaged and forged
// datagrams, and records, at random over many seeds.
#include "racket/subscriber.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

using bytes = std::vector<std::byte>;

// sim::transport with the segments handler of udp_transport: `offer` hands a buffer of several
// datagrams to it as udp_transport's receive loop does (the rest, and what it does not take,
// one by one); `each` hands them one by one only.
class run_transport : public sim::transport {
 public:
  // The subscriber holds its transport out of reach: a test finds it by its node.
  run_transport(sim::node& n, const racket::transport_options& options) : sim::transport(n, options), node_(&n) {
    on(n) = this;
  }
  run_transport(const run_transport&) = delete;
  run_transport& operator=(const run_transport&) = delete;
  ~run_transport() { on(*node_) = nullptr; }

  static run_transport*& on(const sim::node& n) {
    static std::map<const sim::node*, run_transport*> transports;
    return transports[&n];
  }

  using sim::transport::open_receiver;

  racket::receiver_id open_receiver(const racket::endpoint& ep, racket::datagram_handler handler,
                                    racket::segments_handler segments, std::error_code& ec) {
    const racket::receiver_id id = sim::transport::open_receiver(ep, handler, ec);
    if (!ec) receivers_.push_back({id, std::move(handler), std::move(segments)});
    return id;
  }

  void close_receiver(racket::receiver_id id) {
    std::erase_if(receivers_, [id](const entry& e) { return e.id == id; });
    sim::transport::close_receiver(id);
  }

  void close() {
    receivers_.clear();
    sim::transport::close();
  }

  // As udp_transport's receive loop with a GRO buffer: offered to the segments handler while
  // two datagrams or more are left and it takes some, the rest to the datagram handler.
  void offer(std::span<const std::byte> buffer, std::size_t segment) {
    REQUIRE(receivers_.size() == 1);
    const racket::receiver_id id = receivers_.front().id;
    std::size_t offset = 0;
    if (segment < buffer.size()) {
      while (buffer.size() - offset > segment) {
        const std::size_t took = receivers_.front().segments(buffer.subspan(offset), segment, {});
        ++offers;
        if (took > 1) taken_in_runs += took;
        if (!listening(id)) return;
        if (took == 0) break;
        offset = std::min(buffer.size(), offset + took * segment);
      }
    } else {
      segment = buffer.size();
    }
    each(buffer.subspan(offset), segment);
  }

  void each(std::span<const std::byte> buffer, std::size_t segment) {
    REQUIRE(receivers_.size() == 1);
    const racket::receiver_id id = receivers_.front().id;
    for (std::size_t at = 0; at < buffer.size() && listening(id); at += segment)
      receivers_.front().handler(buffer.subspan(at, std::min(segment, buffer.size() - at)), {});
  }

  std::size_t offers = 0;         // buffers offered to the segments handler
  std::size_t taken_in_runs = 0;  // datagrams it took two or more at a time

 private:
  struct entry {
    racket::receiver_id id;
    racket::datagram_handler handler;
    racket::segments_handler segments;
  };
  bool listening(racket::receiver_id id) const {
    return std::any_of(receivers_.begin(), receivers_.end(), [id](const entry& e) { return e.id == id; });
  }
  std::vector<entry> receivers_;
  sim::node* node_;
};

static_assert(racket::segment_receiving_transport<run_transport>);
static_assert(!racket::segment_receiving_transport<sim::transport>);

using run_subscriber = racket::basic_subscriber<run_transport>;

const racket::multicast_pool pool{};

struct rng {
  std::uint64_t x;
  std::uint64_t operator()(std::uint64_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % n;
  }
};

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(sim::clock::now().time_since_epoch()).count());
}

// One large message cut into its fragment datagrams, as a publisher writes them.
struct message {
  std::uint64_t publisher;
  std::string stream;
  std::string subject;
  std::uint64_t sequence;
  std::uint32_t interval_ms;
  bytes payload;
  std::vector<bytes> fragments;          // live
  std::vector<bytes> resent_fragments;   // flag resend
};

message cut(rng& r, std::uint64_t publisher, std::string stream, std::string subject, std::uint64_t sequence,
            std::uint32_t interval_ms, std::uint8_t checksum_flag, const bytes* same_payload = nullptr) {
  message m{publisher, std::move(stream), std::move(subject), sequence, interval_ms, bytes(2000 + r(40000)), {}, {}};
  for (std::byte& b : m.payload) b = static_cast<std::byte>(r(256));
  if (same_payload != nullptr) m.payload = *same_payload;
  const std::uint64_t stamp = now_ns();
  const racket::wire::large_message lm{.flags = 0, .interval_ms = interval_ms, .sequence = sequence,
                                       .timestamp_ns = stamp, .subject = m.subject, .payload = m.payload};
  const racket::wire::fragmenter f{publisher, m.stream, lm, 1452,
                                   racket::wire::content_hash(m.stream, m.subject, m.payload)};
  REQUIRE(f.valid());
  bytes buf(1452);
  for (std::uint32_t k = 0; k < f.fragment_count(); ++k) {
    const auto d = f.encode(k, buf, checksum_flag);
    m.fragments.emplace_back(d.begin(), d.end());
    const auto e = f.encode(k, buf, static_cast<std::uint8_t>(checksum_flag | racket::wire::flags::resend));
    m.resent_fragments.emplace_back(e.begin(), e.end());
  }
  return m;
}

// A datagram of records (not fragments) on `stream`.
bytes records(std::uint64_t publisher, std::string_view stream, std::uint64_t sequence) {
  bytes buf(1452);
  racket::wire::datagram_writer w{buf};
  w.begin(publisher, stream);
  const std::string payload(100, 'r');
  REQUIRE(w.append({.interval_ms = 0, .sequence = sequence, .timestamp_ns = now_ns(), .subject = "files.small",
                    .payload = std::as_bytes(std::span(payload))}));
  const auto d = w.finish();
  return bytes(d.begin(), d.end());
}

struct seen {
  std::string subject;
  std::uint64_t publisher;
  std::uint64_t sequence;
  std::uint64_t hash;
  bool operator==(const seen&) const = default;
};

// A subscriber of "files.*" on the stream "large", recording what it is told.
struct listener {
  listener(sim::node& n, const racket::stream<std::string>& s)
      : sub{n, racket::subscriber_options{.request_snapshots = false, .announce_period = 0ms}} {
    sub.set_loss_handler([this](const racket::loss_event& e) {
      lost.push_back({"", e.publisher_id, e.first, e.last});
    });
    handle = sub.subscribe(s, "files.*", [this](const racket::message<std::string>& m) {
      got.push_back({std::string(m.subject), m.publisher_id, m.sequence, racket::detail::xxh3(m.value)});
    });
  }
  run_subscriber sub;
  std::vector<seen> got;
  std::vector<seen> lost;
  racket::subscription handle;
};

// The datagrams of one seed: a few messages of two publishers, a subject no filter matches,
// a stream not subscribed, interleaved in runs, with losses, duplicates, swaps, damage,
// forged payloads, resends and records.
std::vector<bytes> scenario(rng& r) {
  const std::uint8_t hc = racket::wire::flags::header_checksum;
  std::vector<message> msgs;
  msgs.push_back(cut(r, 0xA1, "large", "files.a", 5, 1000, hc));
  msgs.push_back(cut(r, 0xA1, "large", "files.b", 6, 0, hc));
  msgs.push_back(cut(r, 0xB2, "large", "files.a", 1, 1000, r(2) == 0 ? hc : std::uint8_t{0}));
  msgs.push_back(cut(r, 0xA1, "large", "other.x", 7, 0, hc));  // the filter does not match
  msgs.push_back(cut(r, 0xA1, "elsewhere", "files.a", 3, 0, hc));  // a stream not subscribed
  msgs.push_back(cut(r, 0xA1, "large", "files.a", 8, 1000, hc));  // newer value of files.a
  std::vector<std::size_t> next(msgs.size(), 0);
  std::vector<bytes> out;
  const std::size_t loss = r(4), dup = r(4), damage = r(4);  // percent
  for (;;) {
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < msgs.size(); ++i)
      if (next[i] < msgs[i].fragments.size()) open.push_back(i);
    if (open.empty()) break;
    const std::size_t i = open[r(open.size())];
    const std::size_t run = 1 + r(50);
    for (std::size_t k = 0; k < run && next[i] < msgs[i].fragments.size(); ++k) {
      bytes d = msgs[i].fragments[next[i]++];
      if (r(100) < loss) continue;
      if (r(100) < damage) d[r(d.size())] ^= static_cast<std::byte>(1u << r(8));
      if (r(200) == 0) d.resize(d.size() - 1 - r(10));  // cut short
      out.push_back(d);
      if (r(100) < dup) out.push_back(out.back());
      if (r(100) < 2 && out.size() >= 2) std::swap(out[out.size() - 1], out[out.size() - 2]);
      if (r(300) == 0) out.push_back(records(0xA1, "large", 100 + r(5)));
    }
  }
  // Resends: of a cached value delivered (duplicates of it), and of a message in part.
  for (const bytes& d : msgs[0].resent_fragments)
    if (r(100) >= loss) out.push_back(d);
  for (std::size_t k = 0; k < msgs[1].resent_fragments.size() / 2; ++k) out.push_back(msgs[1].resent_fragments[k]);
  // Repeats of the whole of message 2 (already complete, or completing it now), some
  // with a forged payload byte in a header-checksummed fragment (a conflict, or a wrong hash).
  for (bytes d : msgs[2].fragments) {
    if (r(20) == 0) d[d.size() - 20] ^= std::byte{1};
    out.push_back(std::move(d));
  }
  // The value of message 5 published again unchanged (a new sequence): when message 5 was
  // delivered, each of its fragments is a duplicate of the value held (checked one by one in
  // a run, and counted), else it completes in the middle of a run (its short last fragment
  // came first) and copies of its first fragments follow in the same run.
  const message again = cut(r, 0xA1, "large", "files.a", 9, 1000, hc, &msgs[5].payload);
  out.push_back(again.fragments.back());
  for (std::size_t k = 0; k + 1 < again.fragments.size(); ++k) out.push_back(again.fragments[k]);
  for (std::size_t k = 0; k < 3 && k + 1 < again.fragments.size(); ++k) out.push_back(again.fragments[k]);
  return out;
}

// Cuts the datagrams into GRO buffers as the kernel makes them: consecutive datagrams of one
// size, at most `limit`, the last one of a buffer possibly shorter.
std::vector<std::pair<bytes, std::size_t>> gro_buffers(const std::vector<bytes>& datagrams, rng& r) {
  std::vector<std::pair<bytes, std::size_t>> out;
  for (std::size_t i = 0; i < datagrams.size();) {
    const std::size_t segment = datagrams[i].size();
    const std::size_t limit = 1 + r(64);
    bytes buf = datagrams[i++];
    std::size_t n = 1;
    while (i < datagrams.size() && n < limit && datagrams[i].size() <= segment) {
      const bool shorter = datagrams[i].size() < segment;
      buf.insert(buf.end(), datagrams[i].begin(), datagrams[i].end());
      ++i;
      ++n;
      if (shorter) break;
    }
    out.emplace_back(std::move(buf), segment);
  }
  return out;
}

std::vector<std::pair<std::string, std::uint64_t>> counters(const racket::subscriber_stream_stats& s) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  racket::for_each_counter(s, [&](std::string_view name, std::uint64_t v) { out.emplace_back(std::string(name), v); });
  return out;
}

void run_seed(std::uint64_t seed, std::size_t& in_runs, std::size_t& delivered) {
  CAPTURE(seed);
  sim::network net(seed);
  const std::size_t lan = net.add_lan("lan");
  sim::node& na = net.add_node("runs");
  sim::node& nb = net.add_node("each");
  net.attach(na, lan, "eth0");
  net.attach(nb, lan, "eth0");
  const racket::stream<std::string> s{"large", pool};
  listener a{na, s};
  listener b{nb, s};
  net.run_for(10ms);
  rng r{seed * 0x9E3779B97F4A7C15ull + 1};
  const std::vector<bytes> datagrams = scenario(r);
  for (const auto& [buf, segment] : gro_buffers(datagrams, r)) {
    run_transport::on(na)->offer(buf, segment);
    run_transport::on(nb)->each(buf, segment);
    net.run_for(50us);
  }
  net.run_for(10ms);
  CHECK(a.got == b.got);
  CHECK(a.lost == b.lost);
  CHECK(counters(a.sub.stats(s)) == counters(b.sub.stats(s)));
  net.run_for(3s);  // past the reassembly timeout: what did not complete is given up alike
  CHECK(a.lost == b.lost);
  CHECK(counters(a.sub.stats(s)) == counters(b.sub.stats(s)));
  in_runs += run_transport::on(na)->taken_in_runs;
  delivered += a.got.size();
}

}  // namespace

TEST_CASE("a subscriber handed runs of fragments delivers and counts exactly as datagram by datagram (fuzzed)",
          "[sim][large][gro]") {
  std::size_t in_runs = 0, delivered = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) run_seed(seed, in_runs, delivered);
  CHECK(in_runs > 10000);  // datagrams were taken as runs
  CHECK(delivered > 500);  // and messages completed through them
}

TEST_CASE("a run of one message's fragments reassembles the message byte for byte", "[sim][large][gro]") {
  sim::network net(7);
  const std::size_t lan = net.add_lan("lan");
  sim::node& n = net.add_node("sub");
  net.attach(n, lan, "eth0");
  const racket::stream<std::string> s{"large", pool};
  std::string value;
  run_subscriber sub{n, racket::subscriber_options{.request_snapshots = false, .announce_period = 0ms}};
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { value = std::string(m.value); });
  net.run_for(10ms);
  rng r{99};
  const message m = cut(r, 0xC3, "large", "files.one", 1, 0, racket::wire::flags::header_checksum);
  // One GRO buffer per 44 full fragments, the short last one ending the final buffer.
  std::vector<std::pair<bytes, std::size_t>> bufs;
  for (std::size_t k = 0; k < m.fragments.size(); ++k) {
    if (k % 44 == 0) bufs.push_back({{}, m.fragments[k].size()});
    bufs.back().first.insert(bufs.back().first.end(), m.fragments[k].begin(), m.fragments[k].end());
  }
  for (const auto& [buf, segment] : bufs) run_transport::on(n)->offer(buf, segment);
  net.run_for(1ms);
  REQUIRE(value.size() == m.payload.size());
  CHECK(std::equal(value.begin(), value.end(), m.payload.begin(),
                   [](char c, std::byte b) { return static_cast<std::byte>(c) == b; }));
  const auto st = sub.stats(s);
  CHECK(st.fragments_received == m.fragments.size());
  CHECK(st.datagrams_received == m.fragments.size());
  CHECK(st.messages_reassembled == 1);
  CHECK(st.delivered == 1);
  CHECK(st.malformed == 0);
  std::size_t several = 0;  // buffers of two datagrams or more: offered, each taken whole at once
  for (const auto& [buf, segment] : bufs) several += buf.size() > segment ? 1 : 0;
  CHECK(several > 0);
  CHECK(run_transport::on(n)->offers == several);
}
