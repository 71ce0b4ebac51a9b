// SPDX-License-Identifier: MIT
// large_bench: large messages (issue 20) through Racket against raw UDP with GSO, on loopback,
// in the same run.
//
// For each size (64 KiB, 1 MiB, 16 MiB): one publisher process and one subscriber process,
// forked from this one, so they share nothing but the kernel.
//   racket:  a publisher with default options publishes messages of that size as events
//            (interval 0: no resends; lost fragments repaired from the publisher's recent
//            messages, `large_repair_window`) on subjects in turn, as fast as it accepts
//            them (or paced), each a buffer it gives up (publish of a shared_ptr: no copy;
//            `--copy`: publish of a byte_view, copied at publish); a subscriber with default options subscribes `*` with the
//            zero-copy byte_view codec and counts whole deliveries.
//   raw GSO: the same bytes cut into full datagrams of Racket's datagram size (1452), handed to
//            the kernel as UDP_SEGMENT sends of up to 64 datagrams; the receiver reads with
//            UDP_GRO and counts bytes.
//   raw GSO, hashing: the same, with each message's content hash computed before its sends,
//            as Racket's protocol requires (every fragment carries it): from the one buffer
//            (the most any sender that hashes can reach against raw GSO), and from as many
//            buffers as Racket's publisher is given, taken in turn (as cold in the caches as
//            Racket's: what the protocol and the bench's buffers cost before any of Racket's
//            own code). Racket's rate is given against each.
// Delivered MB/s = payload bytes delivered / (the last delivery - the first send), both read
// on the steady clock, which every process on the machine shares. A point with more than
// 0.1 % of its bytes lost is re-run paced at 0.9, 0.7, 0.5 and 0.3 x its delivered rate; the
// first with at most 0.1 % is the no-loss rate, the figure compared. Peak subscriber memory:
// the subscriber's peak resident memory (VmHWM, reset through /proc/self/clear_refs once it is
// set up) minus its resident memory then, against the message size (the largest message in
// flight per publisher). Each size is measured `--repeat` times (3), Racket and raw in turn,
// the order alternating. Method and figures: docs/performance.md, "Large messages".
//
// It sends multicast: it refuses to run unless `lo` is its only interface.
//   unshare -n sh -c 'ip link set lo up; build/gcc/bench/large_bench [--quick] [--repeat N]
//                     [--sizes 65536,1048576,16777216] [--mib-per-point N] [--copy] [--io-thread]'
#include "racket/racket.hpp"

#include "common/loopback_guard.hpp"
#include "common/measures.hpp"
#include "common/processes.hpp"
#include "common/raw_udp.hpp"
#include "common/stop_when.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace bench_common;
using bytes_stream = racket::stream<racket::byte_view>;

const racket::multicast_pool bench_pool{"239.255.0.0/16", "19090-19097"};
constexpr const char* raw_group_addr = "239.254.0.2";
constexpr std::uint16_t raw_port = 19201;
constexpr std::size_t datagram = racket::wire::default_max_datagram_size;

// The peak resident memory starts again from the resident memory now (Linux >= 4.0); false
// where that is refused (the growth is then measured from the peak so far).
bool reset_peak_rss() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

// Paces a sender at `rate` messages per second (0: as fast as it can): `sent` messages (a
// fraction: part of one) are due at sent / rate. `idle(seconds)` is what it does while early
// (sleep, or run an event loop). Racket is paced per message (a message's fragments go out at
// the publisher's own pace), raw UDP per GSO send.
template <class Idle>
void pace(double rate, double start, double sent, Idle&& idle) {
  if (rate <= 0) return;
  for (;;) {
    const double ahead = sent / rate - (now_s() - start);
    if (ahead <= 0) return;
    idle(ahead);
  }
}

void sleep_s(double s) {
  const double d = std::min(s, 0.001);
  timespec ts{0, static_cast<long>(d * 1e9)};
  ::nanosleep(&ts, nullptr);
}

// --- the subscribers ----------------------------------------------------------------------------
// Results: [0] payload bytes delivered, [1] the last delivery (steady clock, s), [2] CPU s from
// the first delivery on, [3] the first delivery, [4] peak RSS growth (bytes), [5] messages lost
// (Racket's count), [6] fragments dropped, [7] fragments received, [8] deliveries.

result racket_subscriber(std::size_t size, std::uint64_t expected, const std::function<void()>& ready) {
  asio::io_context io;
  racket::subscriber sub{io, {.interfaces = {"lo"}}};
  bytes_stream s{"large", bench_pool};
  double bytes = 0, first = 0, last = 0, c0 = 0, deliveries = 0;
  auto h = sub.subscribe(s, "*", [&](const racket::message<racket::byte_view>& m) {
    if (deliveries == 0) {
      first = now_s();
      c0 = cpu_s();
    }
    ++deliveries;
    bytes += static_cast<double>(m.payload.size());
    last = now_s();
  });
  io.run_for(100ms);  // the subscription's replay runs: live delivery is on
  const bool reset = reset_peak_rss();
  const double rss0 = reset ? rss_bytes() : peak_rss_bytes();
  const double started = now_s();
  // Done when every message came, or nothing came for 3 s (the rest was lost: a one-shot
  // message missing a fragment is given up after the reassembly timeout, 2 s).
  const stop_when finished(io, sub.get_executor(), 20ms, [&] {
    return deliveries >= static_cast<double>(expected) || now_s() - std::max(started, last) > 3;
  });
  ready();
  io.restart();
  io.run();
  result r{};
  r[0] = bytes;
  r[1] = last;
  r[2] = deliveries > 0 ? cpu_s() - c0 : 0;
  r[3] = first;
  r[4] = peak_rss_bytes() - rss0;
  const auto st = sub.stats(s);
  r[5] = static_cast<double>(st.messages_lost);
  r[6] = static_cast<double>(st.fragments_dropped);
  r[7] = static_cast<double>(st.fragments_received);
  r[8] = deliveries;
  r[9] = static_cast<double>(sub.transport_statistics().kernel_drops);
  (void)size;
  return r;
}

result raw_subscriber(std::size_t size, std::uint64_t expected, const std::function<void()>& ready) {
  const int fd = raw_receiver(raw_group_addr, raw_port, 300);
  enable_gro(fd);
  std::vector<char> buf(65536);
  reset_peak_rss();
  const double rss0 = rss_bytes();
  ready();
  double bytes = 0, first = 0, last = 0, c0 = 0;
  const double started = now_s(), want = static_cast<double>(expected) * static_cast<double>(size);
  while (bytes < want) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (bytes > 0 || now_s() - started > 30) break;
      continue;
    }
    if (bytes == 0) {
      first = now_s();
      c0 = cpu_s();
    }
    bytes += static_cast<double>(n);
    last = now_s();
  }
  ::close(fd);
  result r{};
  r[0] = bytes;
  r[1] = last;
  r[2] = bytes > 0 ? cpu_s() - c0 : 0;
  r[3] = first;
  r[4] = peak_rss_bytes() - rss0;
  r[8] = std::floor(bytes / static_cast<double>(size));
  return r;
}

// --- the publishers -----------------------------------------------------------------------------
// Results: [0] messages sent, [1] the first send (steady clock, s), [2] the last publish
// accepted, [3] CPU s, [4] publishes refused (not would_block), [5] would_block answers,
// [6] datagrams sent (Racket's count; raw: sends of GSO runs).

bool racket_copy = false;  // --copy: publish copies each message (publish of a byte_view)
// --io-thread: the publisher's io_context runs on a thread of its own while the bench's thread
// publishes (the usual Asio program), instead of the bench's thread running it between
// publishes. The publishing thread then copies (with --copy) and hashes each message while the
// io thread sends the ones before it.
bool racket_io_thread = false;

result racket_publisher(std::size_t size, std::uint64_t n, double rate, std::chrono::milliseconds interval,
                        const std::function<void()>& ready) {
  asio::io_context io;
  racket::publisher pub{io, {.interfaces = {"lo"}}};
  bytes_stream s{"large", bench_pool};
  std::vector<std::byte> msg(size, std::byte{0x5A});
  // Without --copy: each message a buffer the bench gives up (publish of a shared_ptr, no copy
  // at publish), taken from a pool of buffers the publisher no longer holds (it keeps recent
  // messages for repair), as an application that fills a fresh buffer per message would.
  // The pool is filled before the clock starts (as raw GSO's one buffer is), with what the
  // publisher keeps at most (large_repair_bytes of recent messages) and a few in flight.
  std::vector<std::shared_ptr<std::vector<std::byte>>> pool;
  if (!racket_copy) {
    const std::size_t held = racket::publisher_options{}.large_repair_bytes / size + 8;
    for (std::size_t k = 0; k < held; ++k) pool.push_back(std::make_shared<std::vector<std::byte>>(size, std::byte{0x5A}));
  }
  std::size_t next_buffer = 0;
  const auto free_buffer = [&]() -> std::shared_ptr<std::vector<std::byte>>& {
    for (std::size_t k = 0; k < pool.size(); ++k) {  // round robin: the oldest first
      auto& b = pool[(next_buffer + k) % pool.size()];
      if (b.use_count() == 1) {  // the publisher has let go of it (on this thread, or the io thread's)
        std::atomic_thread_fence(std::memory_order_acquire);  // its last release happened before our writes
        next_buffer = (next_buffer + k + 1) % pool.size();
        return b;
      }
    }
    return pool.emplace_back(std::make_shared<std::vector<std::byte>>(size, std::byte{0x5A}));
  };
  // Subjects in turn, 64 MiB of them (4 at least): a message whose lost fragments are asked
  // for and sent again completes after later ones, and a later message of the SAME subject
  // would make it stale (dropped, as it must be). With an interval, each message stays cached
  // until its subject is published again; without, the publisher keeps it for repair a while
  // (publisher_options::large_repair_window).
  const std::size_t subject_count = std::max<std::size_t>(4, (std::size_t{64} << 20) / size);
  std::vector<std::string> subjects;
  for (std::size_t k = 0; k < subject_count; ++k) subjects.push_back("bench.large." + std::to_string(k));
  io.run_for(50ms);
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread io_thread;
  if (racket_io_thread) {
    io.restart();
    work.emplace(io.get_executor());
    io_thread = std::thread([&] { io.run(); });
  }
  ready();
  const double c0 = cpu_s(), t0 = now_s();
  std::error_code ec;
  std::uint64_t sent = 0, failed = 0, blocked = 0;
  // While early, or refused (would_block: the outbox holds max_queued_bytes): let the sends go
  // on, on this thread or, with --io-thread, on the io thread.
  auto run_a_while = [&](double s) {
    if (racket_io_thread)
      sleep_s(std::min(s, 0.0001));
    else
      io.run_one_for(std::chrono::microseconds(static_cast<long>(std::min(s, 0.005) * 1e6) + 1));
  };
  for (std::uint64_t i = 0; i < n; ++i) {
    pace(rate, t0, static_cast<double>(i), run_a_while);
    std::shared_ptr<std::vector<std::byte>> shared;
    if (racket_copy) {
      std::memcpy(msg.data(), &i, sizeof i);  // each message differs (no duplicate suppression)
    } else {
      shared = free_buffer();
      std::memcpy(shared->data(), &i, sizeof i);
    }
    for (;;) {
      if (racket_copy)
        pub.publish(s, subjects[i % subject_count], racket::byte_view(msg), interval, ec);
      else
        pub.publish(s, subjects[i % subject_count], std::shared_ptr<const std::vector<std::byte>>(shared), interval, ec);
      if (ec != racket::errc::would_block) break;
      ++blocked;
      run_a_while(0.005);
    }
    if (ec) ++failed; else ++sent;
    if (!racket_io_thread) {
      io.poll();
      io.restart();
    }
  }
  const double t_last = now_s();
  // Every fragment goes out, and the requests for lost ones are answered (cached values from
  // the cache, one-shot messages from the publisher's recent ones: large_repair_window): run
  // until the count has not moved for 2.5 s (a stalled message's sixth request comes 1.26 s
  // after it stalled).
  std::uint64_t fragments = 0;
  for (double quiet_since = now_s(); now_s() - quiet_since < 2.5;) {
    if (racket_io_thread)
      std::this_thread::sleep_for(20ms);
    else
      io.run_for(20ms);
    const auto f = pub.stats("large").fragments_sent;
    if (f != fragments) {
      fragments = f;
      quiet_since = now_s();
    }
  }
  const auto st = pub.stats("large");
  if (racket_io_thread) {
    work.reset();
    io.stop();
    io_thread.join();
  }
  result r{};
  r[0] = static_cast<double>(sent);
  r[1] = t0;
  r[2] = t_last;
  r[3] = cpu_s() - c0;
  r[4] = static_cast<double>(failed + st.send_errors);
  r[5] = static_cast<double>(blocked);
  r[6] = static_cast<double>(st.datagrams_sent);
  r[7] = static_cast<double>(st.fragment_requests_answered);
  return r;
}

// `hashing` ("raw GSO, hashing"): each message's content hash (wire::content_hash, XXH3-64
// of names and payload, which every fragment carries and so must be known before the first
// goes) computed before its sends. `pooled`: each message taken in turn from as many buffers
// as Racket's publisher is given (so as cold in the caches); else one buffer, always hot.
result raw_publisher(std::size_t size, std::uint64_t n, double rate, bool hashing, bool pooled,
                     const std::function<void()>& ready) {
  const int fd = raw_sender();
  const sockaddr_in to = raw_group(raw_group_addr, raw_port);
  const std::size_t buffers = pooled ? racket::publisher_options{}.large_repair_bytes / size + 8 : 1;
  std::vector<std::vector<std::byte>> pool(buffers, std::vector<std::byte>(size, std::byte{0x5A}));
  const std::size_t run = gso_segments(datagram) * datagram;  // bytes per GSO send
  gso_send send(to, std::span<const std::byte>(pool[0].data(), std::min(run, size)), datagram);
  ready();
  const double c0 = cpu_s(), t0 = now_s();
  std::uint64_t sends = 0, failed = 0, sink = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::vector<std::byte>& msg = pool[i % buffers];
    std::memcpy(msg.data(), &i, sizeof i);
    if (hashing) sink += racket::wire::content_hash("large", "bench.large.0", msg);
    for (std::size_t off = 0; off < size; off += run) {
      pace(rate, t0, static_cast<double>(i) + static_cast<double>(off) / static_cast<double>(size), sleep_s);
      send.rebind(std::span<const std::byte>(msg.data() + off, std::min(run, size - off)));
      if (send(fd) > 0) ++sends; else ++failed;
    }
  }
  result r{};
  r[0] = static_cast<double>(n);
  r[1] = t0;
  r[2] = now_s();
  r[3] = cpu_s() - c0;
  r[4] = static_cast<double>(failed);
  r[6] = static_cast<double>(sends);
  r[7] = static_cast<double>(sink & 1);  // kept, so the hash is computed
  ::close(fd);
  return r;
}

// --- one point ----------------------------------------------------------------------------------

// What a point runs: Racket, or raw GSO (the reference), or raw GSO hashing each message,
// from one buffer or from Racket's (raw_publisher's `hashing` and `pooled`).
enum class kind { racket, raw, raw_hashing, raw_hashing_pooled };

struct point {
  bool racket = false;
  double rate = 0;  // messages/s asked (0: full speed)
  double sent_bytes = 0, delivered_bytes = 0, seconds = 0, pub_cpu = 0, sub_cpu = 0;
  double rss_growth = 0, messages_lost = 0, fragments_dropped = 0, send_failures = 0;
  double delivered_messages = 0, repairs_answered = 0, kernel_drops = 0;
  double mbps() const { return seconds > 0 ? delivered_bytes / seconds / 1e6 : 0; }
  double loss() const { return sent_bytes > 0 ? 1 - delivered_bytes / sent_bytes : 0; }
  double message_rate() const { return seconds > 0 ? delivered_messages / seconds : 0; }
};

std::chrono::milliseconds racket_interval{0};  // --interval-ms (0: events; N > 0: cached values)

point run_point(kind what, std::size_t size, std::uint64_t n, double rate) {
  const bool racket = what == kind::racket;
  child sub = spawn([&](const auto& ready) {
    return racket ? racket_subscriber(size, n, ready) : raw_subscriber(size, n, ready);
  });
  wait_ready(sub);
  child pub = spawn([&](const auto& ready) {
    return racket ? racket_publisher(size, n, rate, racket_interval, ready)
                  : raw_publisher(size, n, rate, what == kind::raw_hashing || what == kind::raw_hashing_pooled,
                                  what == kind::raw_hashing_pooled, ready);
  });
  wait_ready(pub);
  const result pr = finish(pub);
  const result sr = finish(sub);
  point p;
  p.racket = racket;
  p.rate = rate;
  p.sent_bytes = pr[0] * static_cast<double>(size);
  p.delivered_bytes = sr[0];
  p.seconds = sr[1] > pr[1] ? sr[1] - pr[1] : 0;
  p.pub_cpu = pr[2] > pr[1] ? pr[3] / (std::max(pr[2], sr[1]) - pr[1]) : 0;
  p.sub_cpu = sr[1] > sr[3] ? sr[2] / (sr[1] - sr[3]) : 0;
  p.rss_growth = sr[4];
  p.messages_lost = sr[5];
  p.fragments_dropped = sr[6];
  p.send_failures = pr[4];
  p.delivered_messages = sr[8];
  p.kernel_drops = sr[9];
  p.repairs_answered = pr[7];
  return p;
}

// Full speed, then paced at 0.9, 0.7, 0.5, 0.3 x the delivered rate until at most 0.1 % of
// the bytes are lost. Returns {full speed, no-loss point (rate < 0 when none)}.
std::pair<point, point> no_loss(kind what, std::size_t size, std::uint64_t n) {
  const point full = run_point(what, size, n, 0);
  if (full.loss() <= 0.001) return {full, full};
  for (const double f : {0.9, 0.7, 0.5, 0.3}) {
    const point p = run_point(what, size, n, f * full.message_rate());
    if (p.loss() <= 0.001) return {full, p};
  }
  point none;
  none.rate = -1;
  return {full, none};
}

std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "?";
  char buf[64] = {};
  if (std::fgets(buf, sizeof buf, f) == nullptr) buf[0] = 0;
  std::fclose(f);
  std::string s(buf);
  // The 1-minute average only.
  return s.substr(0, s.find(' '));
}

std::string size_name(std::size_t size) {
  if (size >= (1u << 20) && size % (1u << 20) == 0) return std::to_string(size >> 20) + " MiB";
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size >> 10) + " KiB";
  return std::to_string(size) + " B";
}

std::string rate_text(const point& p) {
  if (p.rate < 0) return "n/a";
  char b[64];
  std::snprintf(b, sizeof b, "%.0f", p.mbps());
  return b;
}

// --passes: what each pass over a large message's bytes costs here, in user space, with no
// network: the passes Racket makes on top of the kernel's copy, which is all raw GSO pays
// (docs/performance.md, "Large messages", "Where the rest goes"). Over a 1 MiB message the
// caches hold (hashed and copied 64 times) and over 64 MiB they do not (a stream of large
// messages, each in memory of its own); best of 5.
void print_passes() {
  constexpr std::size_t fragment = 1369;  // a fragment's payload in a 1452-byte datagram (wire-format.md)
  constexpr std::size_t header = 83;      // the fragment datagram's bytes before it
  std::uint64_t sink = 0;
  std::printf("| pass over a large message's payload | side | 1 MiB in cache: GB/s, ns/B | 64 MiB: GB/s, ns/B |\n"
              "|---|---|---|---|\n");
  struct pass {
    const char* what;
    const char* side;
    double seconds[2];
  };
  std::vector<pass> rows{{"copy at publish (memcpy)", "publisher", {}},
                         {"content hash (XXH3-64 of names and payload)", "both", {}},
                         {"fragment copy into a turn's datagrams", "publisher", {}},
                         {"datagram checksums (XXH3-64 of 1444 bytes each)", "both", {}},
                         {"fragment copy into the reassembly buffer", "subscriber", {}}};
  const std::size_t sizes[2] = {std::size_t{1} << 20, std::size_t{64} << 20};
  for (int z = 0; z < 2; ++z) {
    const std::size_t total = sizes[z];
    const int reps = z == 0 ? 64 : 1;
    std::vector<std::byte> src(total), dst(total), turn(256 * datagram);
    for (std::size_t i = 0; i < total; ++i) src[i] = static_cast<std::byte>((i * 2654435761u) >> 11);
    std::memset(dst.data(), 1, total);
    std::memset(turn.data(), 1, turn.size());
    const auto best = [&](auto&& f) {
      double b = 1e9;
      for (int k = 0; k < 5; ++k) {
        const double t0 = now_s();
        for (int r = 0; r < reps; ++r) f();
        b = std::min(b, (now_s() - t0) / reps);
      }
      return b;
    };
    rows[0].seconds[z] = best([&] { std::memcpy(dst.data(), src.data(), total); });
    rows[1].seconds[z] = best([&] { sink += racket::wire::content_hash("large", "bench.large.0", src); });
    rows[2].seconds[z] = best([&] {
      for (std::size_t off = 0, k = 0; off < total; off += fragment, ++k)
        std::memcpy(turn.data() + (k % 256) * datagram + header, src.data() + off, std::min(fragment, total - off));
    });
    rows[3].seconds[z] = best([&] {
      for (std::size_t off = 0, k = 0; off < total; off += fragment, ++k)
        sink += racket::detail::xxh3(turn.data() + (k % 256) * datagram, datagram - 8);
    });
    rows[4].seconds[z] = best([&] {
      for (std::size_t off = 0, k = 0; off < total; off += fragment, ++k)
        std::memcpy(dst.data() + off, turn.data() + (k % 256) * datagram + header, std::min(fragment, total - off));
    });
  }
  for (const pass& p : rows) {
    std::printf("| %s | %s |", p.what, p.side);
    for (int z = 0; z < 2; ++z) {
      const double b = static_cast<double>(sizes[z]);
      std::printf(" %.1f, %.3f |", b / p.seconds[z] / 1e9, p.seconds[z] * 1e9 / b);
    }
    std::printf("\n");
  }
  std::printf("\n(load average %s; sink %llu)\n", load_average().c_str(), static_cast<unsigned long long>(sink & 1));
}

// --send-costs: what a sending process pays per byte of 1 MiB messages handed to the kernel as
// GSO sends on loopback (its CPU time, user and kernel, ÷ bytes; a receiver process takes them
// with UDP_GRO), by where the bytes are and what is done to them first: from one buffer
// (always in cache, as raw GSO sends) or from 72 buffers in turn (as Racket's publisher is
// given: out of cache); as one iovec per GSO send (raw GSO) or three per datagram (a
// fragment's head, its payload slice where the message lies, its trailer: as Racket sends);
// with the message's XXH3-64 computed first or not. The lower bound of a publisher that must
// hash each message before its first fragment goes (docs/performance.md, "Large messages").
void print_send_costs() {
  constexpr std::size_t size = std::size_t{1} << 20, head = 75, trailer = 8, count = 2048;
  const std::size_t payload = datagram - head - trailer, per_send = gso_segments(datagram);
  const int rfd = raw_receiver(raw_group_addr, raw_port, 300);
  enable_gro(rfd);
  const pid_t child_pid = ::fork();
  if (child_pid == 0) {
    std::vector<char> b(65536);
    while (::recv(rfd, b.data(), b.size(), 0) > 0) {
    }
    ::_exit(0);
  }
  ::close(rfd);
  const int fd = raw_sender();
  const sockaddr_in to = raw_group(raw_group_addr, raw_port);
  std::vector<std::byte> heads(per_send * (head + trailer), std::byte{1});
  std::vector<iovec> iov(3 * per_send);
  gso_send send(to, std::span<const std::byte>(heads.data(), heads.size()), datagram);  // rebound per send
  std::uint64_t sink = 0;
  std::printf("| where the bytes are | iovecs | hashed first | sender CPU, ns/B | against raw GSO |\n|---|---|---|---|---|\n");
  double reference = 0;
  for (const bool pooled : {false, true}) {
    std::vector<std::vector<std::byte>> pool(pooled ? 72 : 1, std::vector<std::byte>(size, std::byte{0x5A}));
    for (const bool three : {false, true}) {
      for (const bool hashed : {false, true}) {
        const double c0 = cpu_s();
        for (std::size_t i = 0; i < count; ++i) {
          std::byte* m = pool[i % pool.size()].data();
          std::memcpy(m, &i, sizeof i);
          if (hashed) sink += racket::detail::xxh3(m, size);
          const std::size_t step = per_send * (three ? payload : datagram);
          for (std::size_t off = 0; off < size; off += step) {
            std::size_t n = 0;
            if (!three) {
              iov[n++] = {m + off, std::min(step, size - off)};
            } else {
              for (std::size_t p = off, k = 0; p < std::min(size, off + step); p += payload, ++k) {
                iov[n++] = {heads.data() + k * (head + trailer), head};
                iov[n++] = {m + p, std::min(payload, size - p)};
                iov[n++] = {heads.data() + k * (head + trailer) + head, trailer};
              }
            }
            send.rebind(std::span<iovec>(iov.data(), n));
            if (send(fd) < 0) {
              std::perror("large_bench: sendmsg");
              std::exit(1);
            }
          }
        }
        const double ns = (cpu_s() - c0) * 1e9 / static_cast<double>(count * size);
        if (reference == 0) reference = ns;
        std::printf("| %s | %s | %s | %.3f | %.2f× |\n", pooled ? "72 buffers in turn (out of cache)" : "one buffer (in cache)",
                    three ? "3 per datagram" : "1 per send", hashed ? "yes" : "no", ns, reference / ns);
        std::fflush(stdout);
      }
    }
  }
  ::close(fd);
  ::kill(child_pid, SIGTERM);
  ::waitpid(child_pid, nullptr, 0);
  std::printf("\n(load average %s; sink %llu)\n", load_average().c_str(), static_cast<unsigned long long>(sink & 1));
}

}  // namespace

int main(int argc, char** argv) {
  bench_common::program_name = "large_bench";
  bool quick = false;
  int repeat = 3;
  double mib_per_point = 0;
  std::vector<std::size_t> sizes{std::size_t{64} << 10, std::size_t{1} << 20, std::size_t{16} << 20};
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--passes") {
      print_passes();  // sends nothing
      return 0;
    }
    if (a == "--send-costs") {
      std::string why;
      if (!only_loopback(why, "run it inside unshare -n, or through tests/tools/in_netns.sh")) {
        std::fprintf(stderr, "large_bench: refusing to send: %s\n", why.c_str());
        return 1;
      }
      print_send_costs();
      return 0;
    }
    if (a == "--quick") quick = true;
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (a == "--copy") racket_copy = true;
    else if (a == "--io-thread") racket_io_thread = true;
    else if (a == "--interval-ms" && i + 1 < argc) racket_interval = std::chrono::milliseconds(std::atol(argv[++i]));
    else if (a == "--mib-per-point" && i + 1 < argc) mib_per_point = std::strtod(argv[++i], nullptr);
    else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      const std::string list = argv[++i];
      for (std::size_t at = 0; at < list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        const std::size_t v = std::strtoull(list.substr(at, comma - at).c_str(), nullptr, 10);
        if (v > 0) sizes.push_back(v);
        at = comma + 1;
      }
    } else {
      std::fprintf(stderr, "usage: large_bench [--quick] [--repeat N] [--sizes BYTES[,BYTES...]] [--mib-per-point N] [--interval-ms N] [--copy] [--io-thread]\n"
                           "       large_bench --passes   (the cost of each pass over the bytes; sends nothing)\n"
                           "       large_bench --send-costs   (a GSO sender's CPU per byte, by layout and cache; sends)\n");
      return 2;
    }
  }
  std::string why;
  if (!only_loopback(why, "run it inside unshare -n, or through tests/tools/in_netns.sh")) {
    std::fprintf(stderr, "large_bench: refusing to send: %s\n", why.c_str());
    return 1;
  }
  if (mib_per_point <= 0) mib_per_point = quick ? 64 : 256;
  std::printf("# %s\n", command.c_str());
  std::printf("# datagram %zu B, raw GSO runs of %zu datagrams; %.0f MiB per point; racket interval %lld ms, "
              "publish %s%s; load average before: %s\n\n",
              datagram, gso_segments(datagram), mib_per_point, static_cast<long long>(racket_interval.count()),
              racket_copy ? "copying (byte_view)" : "shared (no copy)",
              racket_io_thread ? ", io_context on a thread of its own" : "",
              load_average().c_str());
  std::printf("| size | run | racket MB/s (full / no-loss) | raw GSO MB/s (full / no-loss) | ratio (no-loss) | "
              "raw GSO hashing, one buffer / Racket's buffers: MB/s (no-loss) | ratio to each | "
              "racket pub CPU / sub CPU | raw pub CPU / sub CPU | racket at full speed: msgs delivered of sent, sub kernel drops, fragment answers | sub peak RSS growth | ÷ size | load |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  for (const std::size_t size : sizes) {
    const auto n = static_cast<std::uint64_t>(std::max(4.0, mib_per_point * 1048576.0 / static_cast<double>(size)));
    std::vector<double> ratios, hashing_ratios, pooled_ratios;
    const auto ratio_of = [](const point& a, const point& b, std::vector<double>& into, char (&text)[32]) {
      std::snprintf(text, sizeof text, "n/a");
      if (a.rate < 0 || b.rate < 0 || b.mbps() <= 0) return;
      into.push_back(a.mbps() / b.mbps());
      std::snprintf(text, sizeof text, "%.2f", into.back());
    };
    for (int k = 0; k < repeat; ++k) {
      std::pair<point, point> r, g, h, q;
      if (k % 2 == 0) {
        r = no_loss(kind::racket, size, n);
        g = no_loss(kind::raw, size, n);
        h = no_loss(kind::raw_hashing, size, n);
        q = no_loss(kind::raw_hashing_pooled, size, n);
      } else {
        q = no_loss(kind::raw_hashing_pooled, size, n);
        h = no_loss(kind::raw_hashing, size, n);
        g = no_loss(kind::raw, size, n);
        r = no_loss(kind::racket, size, n);
      }
      char ratio_text[32], hashing_text[32], pooled_text[32];
      ratio_of(r.second, g.second, ratios, ratio_text);
      ratio_of(r.second, h.second, hashing_ratios, hashing_text);
      ratio_of(r.second, q.second, pooled_ratios, pooled_text);
      std::printf("| %s | %d | %.0f / %s | %.0f / %s | %s | %s / %s | %s / %s | %.0f%% / %.0f%% | %.0f%% / %.0f%% | %.0f of %llu, %.0f, %.0f | %.1f MiB | %.2f | %s |\n",
                  size_name(size).c_str(), k + 1, r.first.mbps(), rate_text(r.second).c_str(), g.first.mbps(),
                  rate_text(g.second).c_str(), ratio_text, rate_text(h.second).c_str(), rate_text(q.second).c_str(),
                  hashing_text, pooled_text,
                  100 * r.first.pub_cpu, 100 * r.first.sub_cpu,
                  100 * g.first.pub_cpu, 100 * g.first.sub_cpu, r.first.delivered_messages,
                  static_cast<unsigned long long>(n), r.first.kernel_drops, r.first.repairs_answered,
                  r.first.rss_growth / 1048576.0,
                  r.first.rss_growth / static_cast<double>(size), load_average().c_str());
      std::fflush(stdout);
    }
    std::sort(ratios.begin(), ratios.end());
    std::sort(hashing_ratios.begin(), hashing_ratios.end());
    std::sort(pooled_ratios.begin(), pooled_ratios.end());
    if (!ratios.empty() && !hashing_ratios.empty() && !pooled_ratios.empty())
      std::printf("| %s | median | | | **%.2f** | | **%.2f** / **%.2f** | | | | | | |\n", size_name(size).c_str(),
                  ratios[ratios.size() / 2], hashing_ratios[hashing_ratios.size() / 2],
                  pooled_ratios[pooled_ratios.size() / 2]);
    std::fflush(stdout);
  }
  return 0;
}
