// bridge_bench: what two bridges cost site to site, against raw NATS on the same server in the
// same run (issue 22, "Performance").
//
// One process, inside a private network namespace whose only interface is `lo` (it refuses to
// run otherwise): it starts nats-server (JetStream on, storage in a temporary folder), then
//   raw NATS: one connection publishes, another subscribed receives (64-byte payloads);
//   bridged:  a Racket publisher on "site A" (the pool's ports 19090-19097) -> bridge A ->
//             NATS -> bridge B -> a Racket subscriber on "site B" (ports 19190-19197), both
//             bridges being examples/bridge's site_bridge, each on its own io_context thread.
// For each: throughput (N messages sent as fast as accepted, messages per second until the
// last one arrived) and one-way latency (paced, the send time in the payload, one clock: p50,
// p90, p99), then the ratios. Events (interval 0) are used, so the figures are of the flow
// alone (a bucket put per subject would coalesce anyway).
//
//   tests/tools/in_netns.sh build/<preset>/bench/bridge_bench [--messages N]
//       [--latency-messages N] [--latency-rate PER_SECOND] [--nats-server PATH]
// SPDX-License-Identifier: MIT

#include "../examples/bridge/site_bridge.hpp"

#include <racket/racket.hpp>

#include "common/loopback_guard.hpp"
#include "common/measures.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rb = racket_bridge;
using clock_type = std::chrono::steady_clock;

namespace {

using bench_common::only_loopback;
using bench_common::percentile;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count());
}

// A 64-byte payload: the send time (ns, steady clock) and a counter, then padding.
std::string payload(std::uint64_t sent_ns, std::uint64_t i) {
  std::string p(64, 'x');
  std::memcpy(p.data(), &sent_ns, 8);
  std::memcpy(p.data() + 8, &i, 8);
  return p;
}
std::uint64_t sent_of(const void* data) {
  std::uint64_t v = 0;
  std::memcpy(&v, data, 8);
  return v;
}

// What a receiver collects: a count and the one-way latencies (us).
struct collector {
  std::mutex mutex;
  std::vector<double> latencies_us;
  std::atomic<std::uint64_t> count{0};
  void on(const void* data, std::size_t size) {
    if (size < 16) return;
    const double us = static_cast<double>(now_ns() - sent_of(data)) / 1000.0;
    {
      std::lock_guard lock(mutex);
      latencies_us.push_back(us);
    }
    count.fetch_add(1);
  }
  void reset() {
    std::lock_guard lock(mutex);
    latencies_us.clear();
    count.store(0);
  }
  bool wait_for(std::uint64_t n, std::chrono::seconds limit) {
    const auto deadline = clock_type::now() + limit;
    while (count.load() < n) {
      if (clock_type::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }
};

struct figures {
  double rate = 0;  // messages per second
  std::uint64_t delivered = 0;
  double p50 = 0, p90 = 0, p99 = 0;
};

// Runs `send(i)` for n messages, as fast as it accepts them (false: try again), and measures
// until `c` counted them all (or 30 s).
template <class Send>
figures throughput(collector& c, std::uint64_t n, Send&& send) {
  c.reset();
  const auto t0 = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    while (!send(i)) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  c.wait_for(n, std::chrono::seconds(30));
  const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  figures f;
  f.delivered = c.count.load();
  f.rate = static_cast<double>(f.delivered) / s;
  return f;
}

// `n` messages paced at `per_second`, then the latency percentiles of what arrived.
template <class Send>
figures latency(collector& c, std::uint64_t n, double per_second, Send&& send) {
  c.reset();
  const auto t0 = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(t0 + std::chrono::duration_cast<clock_type::duration>(
                                           std::chrono::duration<double>(static_cast<double>(i) / per_second)));
    while (!send(i)) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  c.wait_for(n, std::chrono::seconds(10));
  figures f;
  f.delivered = c.count.load();
  std::lock_guard lock(c.mutex);
  f.p50 = percentile(c.latencies_us, 0.50);
  f.p90 = percentile(c.latencies_us, 0.90);
  f.p99 = percentile(c.latencies_us, 0.99);
  return f;
}

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) {
    std::fprintf(stderr, "bridge_bench: %s: %s\n", what, natsStatus_GetText(s));
    std::exit(1);
  }
}

natsConnection* connect(const std::string& url) {
  natsConnection* nc = nullptr;
  for (int i = 0; i < 100; ++i) {
    if (natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK) return nc;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "bridge_bench: no NATS server at %s\n", url.c_str());
  std::exit(1);
}

// --- raw NATS ---------------------------------------------------------------------------------

void on_raw(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  static_cast<collector*>(closure)->on(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  natsMsg_Destroy(m);
}

std::pair<figures, figures> raw_nats(const std::string& url, std::uint64_t n, std::uint64_t lat_n, double lat_rate) {
  natsConnection* pub = connect(url);
  natsConnection* sub_conn = connect(url);
  collector c;
  natsSubscription* sub = nullptr;
  check(natsConnection_Subscribe(&sub, sub_conn, "bench.raw", on_raw, &c), "subscribe");
  natsSubscription_SetPendingLimits(sub, -1, -1);
  check(natsConnection_Flush(sub_conn), "flush");
  const auto send = [&](std::uint64_t i) {
    const std::string p = payload(now_ns(), i);
    return natsConnection_Publish(pub, "bench.raw", p.data(), static_cast<int>(p.size())) == NATS_OK;
  };
  const figures t = throughput(c, n, [&](std::uint64_t i) {
    const bool ok = send(i);
    if (i + 1 == n) natsConnection_Flush(pub);
    return ok;
  });
  const figures l = latency(c, lat_n, lat_rate, [&](std::uint64_t i) {
    const bool ok = send(i);
    natsConnection_FlushTimeout(pub, 1000);  // a paced message goes out at once
    return ok;
  });
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(sub_conn);
  natsConnection_Destroy(pub);
  return {t, l};
}

// --- through two bridges ----------------------------------------------------------------------

// A site_bridge on its own io_context thread.
class bridge_thread {
 public:
  bridge_thread(const std::string& url, const std::string& site, const racket::multicast_pool& pool) {
    rb::bridge_config cfg;
    cfg.nats_urls = {url};
    cfg.streams = {"bench"};
    cfg.site = site;
    cfg.pool = pool;
    cfg.interfaces = {"lo"};
    cfg.announce_period = std::chrono::milliseconds(500);
    rb::site_bridge::events ev;
    ev.link = [this](rb::site_bridge::link_event e, const std::string&) {
      if (e != rb::site_bridge::link_event::disconnected) up_.store(true);
    };
    ev.error = [site](const std::string& e) { std::fprintf(stderr, "bridge %s: %s\n", site.c_str(), e.c_str()); };
    bridge_ = std::make_unique<rb::site_bridge>(io_, std::move(cfg), std::move(ev));
    bridge_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~bridge_thread() {
    asio::post(io_, [this] { bridge_->stop([this] { io_.stop(); }); });
    thread_.join();
    bridge_.reset();
  }
  bool up() const { return up_.load(); }

 private:
  asio::io_context io_;
  std::atomic<bool> up_{false};
  std::unique_ptr<rb::site_bridge> bridge_;
  std::thread thread_;
};

std::pair<figures, figures> bridged(const std::string& url, std::uint64_t n, std::uint64_t lat_n, double lat_rate) {
  std::error_code ec;
  const auto pool_a = racket::multicast_pool::parse("239.255.0.0/16", "19090-19097", ec);
  const auto pool_b = racket::multicast_pool::parse("239.255.0.0/16", "19190-19197", ec);
  bridge_thread a(url, "a", pool_a);
  bridge_thread b(url, "b", pool_b);

  asio::io_context io;
  racket::publisher pub(io, racket::publisher_options{.interfaces = {"lo"}, .announce_period = std::chrono::milliseconds(0)});
  racket::subscriber sub(io, racket::subscriber_options{.interfaces = {"lo"}, .announce_period = std::chrono::milliseconds(0)});
  const racket::stream<racket::byte_view> at_a("bench", pool_a);
  const racket::stream<racket::byte_view> at_b("bench", pool_b);
  collector c;
  auto s = sub.subscribe(at_b, "*", [&](const racket::message<racket::byte_view>& m) { c.on(m.payload.data(), m.payload.size()); });
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });

  const auto deadline = clock_type::now() + std::chrono::seconds(10);
  while (!(a.up() && b.up()) && clock_type::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto send = [&](std::uint64_t i) {
    const std::string p = payload(now_ns(), i);
    const std::string subject = "bench.s" + std::to_string(i % 1000);
    std::error_code ec;
    pub.publish(at_a, subject, racket::byte_view(reinterpret_cast<const std::byte*>(p.data()), p.size()),
                std::chrono::milliseconds(0), ec);
    return !ec;
  };
  // Warm-up: the subscriptions on both sides are live once one message crosses.
  for (std::uint64_t i = 0; c.count.load() == 0 && clock_type::now() < deadline + std::chrono::seconds(5); ++i) {
    send(1'000'000 + i);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const figures t = throughput(c, n, send);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const figures l = latency(c, lat_n, lat_rate, send);
  s.unsubscribe();
  work.reset();
  pub.close();
  io.stop();
  runner.join();
  return {t, l};
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 20000;
  std::uint64_t lat_n = 2000;
  double lat_rate = 500;
  std::string server = "nats-server";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--messages") n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--latency-messages") lat_n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--latency-rate") lat_rate = std::strtod(argv[i + 1], nullptr);
    else if (a == "--nats-server") server = argv[i + 1];
  }
  std::string why;
  if (!only_loopback(why, "run it through tests/tools/in_netns.sh")) {
    std::fprintf(stderr, "bridge_bench: refusing to run: %s\n", why.c_str());
    return 77;
  }
  char dir_template[] = "/tmp/bridge_bench.XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) return 1;
  const std::string port = "14399";
  const std::string store = std::string(dir) + "/js";
  const pid_t server_pid = ::fork();
  if (server_pid == 0) {
    const std::string log = std::string(dir) + "/nats.log";
    std::freopen(log.c_str(), "w", stderr);
    std::freopen(log.c_str(), "w", stdout);
    ::execlp(server.c_str(), server.c_str(), "-a", "127.0.0.1", "-p", port.c_str(), "-js", "-sd", store.c_str(),
             static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  const std::string url = "nats://127.0.0.1:" + port;
  natsConnection_Destroy(connect(url));  // the server is up

  const auto [raw_t, raw_l] = raw_nats(url, n, lat_n, lat_rate);
  const auto [br_t, br_l] = bridged(url, n, lat_n, lat_rate);

  ::kill(server_pid, SIGTERM);
  ::waitpid(server_pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  nats_Close();

  std::printf("| path | messages/s | delivered | latency p50 (us) | p90 | p99 |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf("| raw NATS publish/subscribe | %.0f | %llu/%llu | %.0f | %.0f | %.0f |\n", raw_t.rate,
              static_cast<unsigned long long>(raw_t.delivered), static_cast<unsigned long long>(n), raw_l.p50, raw_l.p90,
              raw_l.p99);
  std::printf("| Racket -> bridge A -> NATS -> bridge B -> Racket | %.0f | %llu/%llu | %.0f | %.0f | %.0f |\n", br_t.rate,
              static_cast<unsigned long long>(br_t.delivered), static_cast<unsigned long long>(n), br_l.p50, br_l.p90,
              br_l.p99);
  std::printf("\nbridged / raw NATS: throughput %.2f, latency p50 %.2f (added p50: %.0f us); latency samples %llu and %llu of %llu\n",
              raw_t.rate > 0 ? br_t.rate / raw_t.rate : 0.0, raw_l.p50 > 0 ? br_l.p50 / raw_l.p50 : 0.0,
              br_l.p50 - raw_l.p50, static_cast<unsigned long long>(raw_l.delivered),
              static_cast<unsigned long long>(br_l.delivered), static_cast<unsigned long long>(lat_n));
  return 0;
}
