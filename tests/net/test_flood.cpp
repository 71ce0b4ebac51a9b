// SPDX-License-Identifier: MIT
// A flood of hostile-but-valid and garbage datagrams over lo (in a private network
// namespace) keeps a subscriber with small caps within them, counted, and still delivering.
#include "racket/subscriber.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include "racket/racket.hpp"

#include <asio/ip/multicast.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using racket::test::run_for;
using racket::test::run_until;

using namespace std::chrono_literals;

// Catch2 v2 has no SKIP: a test that cannot measure returns (and says so).
#define SKIP_OR_RETURN()                                                       \
  do {                                                                         \
    WARN("sanitizer build: the allocator is replaced, nothing to measure");   \
    return;                                                                    \
  } while (false)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

// Bytes the process has allocated and not freed (glibc), to tell growth of live data from
// allocator fragmentation.
std::size_t heap_in_use() {
#if defined(__GLIBC__)
  return ::mallinfo2().uordblks;
#else
  return 0;
#endif
}

// Resident set size in bytes (/proc/self/statm, second field).
std::size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};
constexpr std::size_t max_subjects = 1000;
constexpr std::size_t max_publishers = 100;

// Builds one datagram of the flood into `buf`; returns its size. Kinds, by i:
//   i % 10 == 3      garbage: random bytes, or a valid datagram with one byte flipped
//   i % 100 == 7     a maximum-size datagram (65507 bytes: one record, the largest payload)
//   i % 50 == 11     20 records with unique subjects in one datagram
//   i % 1000 == 500  the valid traffic: subject "valid.counter", fixed publisher, next sequence
//   otherwise        one record, unique subject, unique publisher id
std::size_t make_datagram(std::size_t i, std::vector<std::byte>& buf, std::mt19937_64& rng,
                          std::uint64_t& valid_seq, bool& is_valid) {
  namespace wire = racket::wire;
  static const std::string stream = "flood";
  is_valid = false;
  wire::datagram_writer w{buf};
  char subject[64];
  std::string payload(8, 'p');
  auto rec = [&](std::string_view subj, std::span<const std::byte> pl, std::uint64_t seq) {
    wire::record r;
    r.interval_ms = 60'000;
    r.sequence = seq;
    r.timestamp_ns = 1'700'000'000'000'000'000ull + i;
    r.subject = subj;
    r.payload = pl;
    return r;
  };
  const auto bytes_of = [](const std::string& s) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size());
  };
  if (i % 10 == 3) {
    if (i % 20 == 3) {
      const std::size_t n = 1 + rng() % 1400;
      for (std::size_t k = 0; k < n; ++k) buf[k] = static_cast<std::byte>(rng());
      return n;
    }
    std::snprintf(subject, sizeof subject, "junk.%zu", i);
    w.begin(rng(), stream);
    w.append(rec(subject, bytes_of(payload), 1));
    const auto d = w.finish();
    buf[rng() % d.size()] ^= std::byte{0x5a};
    return d.size();
  }
  if (i % 1000 == 500) {
    is_valid = true;
    payload = "value-" + std::to_string(++valid_seq);
    w.begin(0x5EED, stream);
    w.append(rec("valid.counter", bytes_of(payload), valid_seq));
    return w.finish().size();
  }
  w.begin(0x1000000 + i, stream);  // a new publisher id for every datagram
  if (i % 100 == 7) {
    std::snprintf(subject, sizeof subject, "big.%zu", i);
    static const std::string big(wire::max_payload(wire::max_datagram_size_limit, stream.size(), 16), 'B');
    std::snprintf(subject, sizeof subject, "big.%012zu", i);  // 16 bytes
    const bool ok = w.append(rec(subject, bytes_of(big), 1));
    (void)ok;
    return w.finish().size();
  }
  const std::size_t records = i % 50 == 11 ? 20 : 1;
  for (std::size_t k = 0; k < records; ++k) {
    std::snprintf(subject, sizeof subject, "flood.%zu.%zu", i, k);
    w.append(rec(subject, bytes_of(payload), k + 1));
  }
  return w.finish().size();
}

// An in-process transport: the test hands datagrams straight to the receive handler, so the
// subscriber's own memory can be measured without kernel buffers or timing in the way.
class direct_transport {
 public:
  using context_type = asio::io_context;
  using executor_type = asio::io_context::executor_type;
  using clock_type = std::chrono::steady_clock;
  using timer_type = asio::steady_timer;

  direct_transport(asio::io_context& io, const racket::transport_options&) : io_(io) { last = this; }
  executor_type get_executor() const noexcept { return io_.get_executor(); }
  timer_type make_timer() { return timer_type(io_); }
  void open(racket::address_family, std::error_code& ec) { ec.clear(); }
  racket::send_result send(const racket::endpoint&, std::span<const std::byte>) { return {.ok = 1}; }
  racket::receiver_id open_receiver(const racket::endpoint&, racket::datagram_handler h, std::error_code& ec) {
    ec.clear();
    handlers_[next_] = std::move(h);
    return next_++;
  }
  void close_receiver(racket::receiver_id id) { handlers_.erase(id); }
  racket::transport_stats stats() const { return {}; }
  void close() { handlers_.clear(); }

  void deliver(std::span<const std::byte> d) {
    for (auto& [id, h] : handlers_) h(d, racket::receive_info{});
  }
  static inline direct_transport* last = nullptr;

 private:
  asio::io_context& io_;
  std::map<racket::receiver_id, racket::datagram_handler> handlers_;
  racket::receiver_id next_ = 1;
};
static_assert(racket::transport<direct_transport>);

// Live heap bytes including large (mmapped) blocks; 0 where glibc's mallinfo2 is missing or a
// sanitizer replaces the allocator.
std::size_t allocated_bytes() {
#if defined(__GLIBC__)
  const auto mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

}  // namespace

// Regression (found by the flood test): every evicted subject left its expiry entry in the
// subscriber's timer heap until the entry's due time (interval x expiry_factor, and the interval
// comes from the wire: up to 2^32 ms x 3, about 149 days), so a flood of unique subjects grew
// the heap by one 32-byte entry per datagram without bound, whatever max_subjects_per_stream.
TEST_CASE("evicting subjects does not leave their expiry entries behind (memory stays bounded)",
          "[flood][regression]") {
  if (sanitized) SKIP_OR_RETURN();
  asio::io_context io;
  const racket::stream<std::string> s{"flood.direct", pool};
  racket::basic_subscriber<direct_transport> sub{io, {.max_subjects_per_stream = 1000, .max_publishers_per_stream = 100}};
  std::size_t delivered = 0;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>&) { ++delivered; });
  io.poll();
  REQUIRE(direct_transport::last != nullptr);

  std::vector<std::byte> buf(racket::wire::default_max_datagram_size);
  const std::string payload = "pppppppp";
  const auto pl = std::span<const std::byte>(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
  char subject[48];
  auto send = [&](std::size_t i) {
    racket::wire::datagram_writer w{buf};
    w.begin(0x1000000 + i, s.name());
    std::snprintf(subject, sizeof subject, "flood.%zu", i);
    racket::wire::record r;
    r.interval_ms = 0xFFFFFFFFu;  // the longest interval the wire allows
    r.sequence = 1;
    r.timestamp_ns = i + 1;
    r.subject = subject;
    r.payload = pl;
    REQUIRE(w.append(r));
    direct_transport::last->deliver(w.finish());
  };
  // Fill to the cap and a little beyond, so every container has reached its steady size.
  for (std::size_t i = 0; i < 20'000; ++i) send(i);
  io.poll();
  const std::size_t before = allocated_bytes();
  constexpr std::size_t flood = 500'000;
  for (std::size_t i = 20'000; i < 20'000 + flood; ++i) {
    send(i);
    if (i % 1000 == 0) io.poll();
  }
  io.poll();
  const std::size_t after = allocated_bytes();
  const auto st = sub.stats(s);
  CHECK(st.tracked_subjects == 1000);
  CHECK(st.evicted == 20'000 + flood - 1000);
  CHECK(delivered == 20'000 + flood);
  // At the cap, 500k more unique subjects must not cost memory that grows with their number.
  // (Before the fix: +16 MiB, a 32-byte heap entry per evicted subject.)
  INFO("live heap grew by " << (static_cast<double>(after) - static_cast<double>(before)) / (1 << 20) << " MiB");
  CHECK(after < before + (1u << 20));
}

TEST_CASE("a flood of unique subjects, publishers, maximum sizes and garbage stays within the caps",
          "[flood]") {
  REQUIRE_PRIVATE_NETNS();
  std::size_t count = sanitized ? 100'000 : 1'000'000;
  if (const char* env = std::getenv("RACKET_FLOOD_COUNT")) count = std::strtoull(env, nullptr, 10);

  asio::io_context io;
  racket::stream<std::string> s{"flood", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"},
                              .max_subjects_per_stream = max_subjects,
                              .max_publishers_per_stream = max_publishers}};
  std::uint64_t valid_delivered = 0, flood_delivered = 0, last_valid = 0;
  std::uint64_t evicted_removals = 0;
  auto valid = sub.subscribe(s, "valid.*", [&](const racket::message<std::string>& m) {
    ++valid_delivered;
    last_valid = m.sequence;
  });
  auto all = sub.subscribe(
      s, "*", [&](const racket::message<std::string>&) { ++flood_delivered; },
      [&](const racket::removal& r) {
        if (r.reason == racket::removal_reason::evicted) ++evicted_removals;
      });
  io.run_for(20ms);  // replays done: live delivery is on

  const std::size_t rss_before = rss_bytes();
  const std::size_t heap_before = heap_in_use();

  const std::size_t total = count + 1;  // the flood, then one last valid message
  std::atomic<std::size_t> sent{0};
  std::atomic<std::size_t> peak_rss{rss_before};
  std::atomic<bool> sender_done{false};
  std::uint64_t valid_sent = 0;
  std::thread sender([&] {
    asio::io_context sio;
    asio::ip::udp::socket sock(sio, asio::ip::udp::v4());
    sock.set_option(asio::ip::multicast::outbound_interface(asio::ip::make_address_v4("127.0.0.1")));
    sock.set_option(asio::ip::multicast::enable_loopback(true));
    sock.set_option(asio::socket_base::send_buffer_size(4 << 20));
    const asio::ip::udp::endpoint to(s.endpoint().group, s.endpoint().port);
    std::vector<std::byte> buf(racket::wire::max_datagram_size_limit);
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i < count; ++i) {
      // Flow control: stay at most 1000 datagrams ahead of the subscriber (its socket buffer
      // holds more), so the flood measures the subscriber, not the kernel's drops.
      if (i % 64 == 0) {
        while (i > sub.stats(s).datagrams_received + 1000) std::this_thread::sleep_for(20us);
      }
      if (i % 10'000 == 0) {
        const std::size_t r = rss_bytes();
        if (r > peak_rss.load()) peak_rss.store(r);
      }
      bool is_valid = false;
      const std::size_t n = make_datagram(i, buf, rng, valid_sent, is_valid);
      std::error_code ec;
      sock.send_to(asio::buffer(buf.data(), n), to, 0, ec);
      sent.store(i + 1, std::memory_order_relaxed);
    }
    // One more valid message once the subscriber caught up: it must be delivered, and it
    // carries the kernel's drop counter (SO_RXQ_OVFL is read from the next datagram).
    std::this_thread::sleep_for(100ms);
    bool is_valid = false;
    const std::size_t n = make_datagram(500, buf, rng, valid_sent, is_valid);
    std::error_code ec;
    sock.send_to(asio::buffer(buf.data(), n), to, 0, ec);
    sender_done.store(true);
  });

  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + (sanitized ? 300s : 120s);
  racket::subscriber_stream_stats st;
  racket::transport_stats ts;
  while (std::chrono::steady_clock::now() < deadline) {
    io.run_for(5ms);
    if (io.stopped()) io.restart();
    ts = sub.transport_statistics();
    st = sub.stats(s);
    if (sender_done.load() && st.datagrams_received + ts.kernel_drops + ts.receive_errors >= total) break;
  }
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  sender.join();
  io.run_for(50ms);
  const std::size_t rss_after = rss_bytes();
  const std::size_t heap_after = heap_in_use();
  if (std::getenv("RACKET_FLOOD_MALLOC_STATS")) ::malloc_stats();
  std::printf("flood: live heap before %.1f MiB, after %+.1f MiB\n", static_cast<double>(heap_before) / (1 << 20),
              (static_cast<double>(heap_after) - static_cast<double>(heap_before)) / (1 << 20));
  st = sub.stats(s);
  ts = sub.transport_statistics();

  const double seconds = std::chrono::duration<double>(elapsed).count();
  const double peak_growth_mb = (static_cast<double>(peak_rss.load()) - static_cast<double>(rss_before)) / (1 << 20);
  const double after_growth_mb = (static_cast<double>(rss_after) - static_cast<double>(rss_before)) / (1 << 20);
  std::printf("flood: %zu datagrams in %.2f s (%.0f/s); rss before %.1f MiB, peak %+.1f MiB, after %+.1f MiB\n"
              "flood: received %llu malformed %llu records %llu delivered %llu evicted %llu tracked %llu "
              "stale %llu duplicates %llu kernel_drops %llu receive_errors %llu; valid sent %llu delivered %llu\n",
              count, seconds, static_cast<double>(count) / seconds, static_cast<double>(rss_before) / (1 << 20),
              peak_growth_mb, after_growth_mb, static_cast<unsigned long long>(st.datagrams_received),
              static_cast<unsigned long long>(st.malformed), static_cast<unsigned long long>(st.received),
              static_cast<unsigned long long>(st.delivered), static_cast<unsigned long long>(st.evicted),
              static_cast<unsigned long long>(st.tracked_subjects), static_cast<unsigned long long>(st.stale),
              static_cast<unsigned long long>(st.duplicates), static_cast<unsigned long long>(ts.kernel_drops),
              static_cast<unsigned long long>(ts.receive_errors), static_cast<unsigned long long>(valid_sent),
              static_cast<unsigned long long>(valid_delivered));

  // Everything sent was received or counted as dropped by the kernel.
  CHECK(st.datagrams_received + ts.kernel_drops + ts.receive_errors == total);
  // The caps hold.
  CHECK(st.tracked_subjects <= max_subjects);
  // Garbage is counted, never delivered: 10% of the flood, less what the kernel dropped.
  const std::uint64_t lost = ts.kernel_drops + ts.receive_errors;
  CHECK(st.malformed + lost >= count / 10);
  CHECK(st.malformed <= count / 10);
  // Subjects beyond the cap were evicted, counted, and told to the removal handler.
  CHECK(st.evicted > count / 2);
  CHECK(st.evicted + st.tracked_subjects <= st.received);
  CHECK(evicted_removals == st.evicted);
  // The valid traffic interleaved with the flood was delivered (less what the kernel dropped).
  CHECK(valid_delivered + lost >= valid_sent);
  CHECK(valid_delivered >= valid_sent * 9 / 10);
  CHECK(last_valid == valid_sent);  // the one sent after the flood
  // Memory: the subscriber holds at most max_subjects values of at most one maximum datagram
  // each (65507 bytes, + ~300 bytes of key, map node, heap entry), max_publishers publisher
  // entries (~64 bytes) and its 16 x 64 KiB receive slots: 1000 x 65.8 KB + 1 MiB = 66.8 MB.
  // Measured growth is far below (the maximum-size records are 1% of the flood and evicted
  // first-in first-out), but the bound asserted is the one the caps guarantee. Sanitizers keep
  // freed memory in quarantine, so the bound is asserted only in plain builds.
  if (!sanitized) {
    CHECK(peak_growth_mb < 80.0);
    CHECK(after_growth_mb < 80.0);
  }
}
