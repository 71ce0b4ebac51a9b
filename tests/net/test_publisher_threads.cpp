// SPDX-License-Identifier: MIT
// racket/publisher.hpp on real UDP with many threads: the io_context run by several threads,
// publishes, stats and close from others; error handlers on their associated executor;
// async_flush with asio::use_future from a thread that is not running the io_context. Every
// test sends, so every test runs in a private network namespace (tests/tools/in_netns.sh)
// and REQUIREs the guard first. Every wait has a deadline.
#include "racket/publisher.hpp"

#include "catch.hpp"
#include "net/io_threads.hpp"
#include "net/net_test.hpp"

#include "racket/transport/udp.hpp"
#include "racket/wire.hpp"

#include <asio/bind_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using udp_publisher = racket::basic_publisher<racket::udp_transport>;  // racket::publisher (racket.hpp)

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};

using racket::test::io_threads;  // declared after the objects on its io_context: stops first

// Waits for `f` with a deadline; true if it became ready.
template <class T>
bool ready_within(std::future<T>& f, std::chrono::milliseconds d = 10s) {
  return f.wait_for(d) == std::future_status::ready;
}

// Publishes from `publishers` threads, `per_thread` messages each on 64 subjects, while
// `io` runs on its threads, a thread reads stats, and `closer` closes the publisher once
// `close_after` messages went in. Returns what each side counted.
struct stress_counts {
  std::uint64_t ok = 0, would_block = 0, not_open = 0, other = 0;
  bool stats_monotonic = true;
};

template <class Publisher>
stress_counts stress(Publisher& pub, const racket::stream<std::string>& s, int publishers, int per_thread,
                     std::uint64_t close_after) {
  std::atomic<std::uint64_t> ok{0}, would_block{0}, not_open{0}, other{0};
  std::atomic<bool> done{false};
  bool monotonic = true;  // the reader's (Catch2's macros are for the test's thread only)
  std::vector<std::string> subjects;
  for (int i = 0; i < 64; ++i) subjects.push_back("mt.s" + std::to_string(i));

  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      const auto st = pub.stats("mt");
      if (st.published < last) monotonic = false;  // counters only grow
      last = st.published;
      std::this_thread::yield();
    }
  });
  std::thread closer([&] {
    while (ok.load() < close_after && !done.load()) std::this_thread::yield();
    pub.close();
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < publishers; ++t) {
    workers.emplace_back([&, t] {
      const std::string value(8, static_cast<char>('a' + t));
      for (int i = 0; i < per_thread; ++i) {
        std::error_code ec;
        pub.publish(s, subjects[static_cast<std::size_t>(i + t) % subjects.size()], value,
                    std::chrono::milliseconds{100}, ec);
        if (!ec) {
          ++ok;
        } else if (ec == racket::errc::would_block) {
          ++would_block;
        } else if (ec == racket::errc::not_open) {
          ++not_open;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  reader.join();
  closer.join();
  return {ok.load(), would_block.load(), not_open.load(), other.load(), monotonic};
}

}  // namespace

TEST_CASE("many threads: 4 io threads, 4 publishing threads, a stats reader, close mid-traffic",
          "[publisher][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context ctx;
  racket::stream<std::string> s{"mt", pool};
  auto pub = std::make_unique<udp_publisher>(ctx, racket::publisher_options{.interfaces = {"lo"}});
  io_threads io(ctx, 4);
  const stress_counts c = stress(*pub, s, 4, 20'000, 30'000);

  // The shutdown ran (close() posted it; async_close completes after it): every accepted
  // record was processed, each counted once.
  auto closed = pub->async_close(asio::use_future);
  REQUIRE(ready_within(closed));
  closed.get();
  const auto st = pub->stats("mt");
  INFO("ok " << c.ok << ", would_block " << c.would_block << ", not_open " << c.not_open);
  CHECK(c.other == 0);
  CHECK(c.stats_monotonic);
  CHECK(c.ok + c.would_block + c.not_open == 80'000);
  CHECK(c.ok >= 30'000);
  CHECK(st.published == c.ok);
  CHECK(st.would_block == c.would_block);
  pub.reset();  // from this thread, while the io threads still run
  io.stop();
}

namespace {

// Active once udp_transport is constructible from an executor (the strand transport): a
// template, so that until then the branch is never instantiated.
template <class Transport>
bool stress_on_strand() {
  using strand_type = asio::strand<asio::io_context::executor_type>;
  if constexpr (std::constructible_from<Transport, strand_type, const racket::transport_options&>) {
    asio::io_context ctx;
    racket::stream<std::string> s{"mt", pool};
    auto pub = std::make_unique<racket::basic_publisher<Transport>>(asio::make_strand(ctx.get_executor()),
                                                                    racket::publisher_options{.interfaces = {"lo"}});
    io_threads io(ctx, 4);
    const stress_counts c = stress(*pub, s, 4, 5'000, 10'000);
    auto closed = pub->async_close(asio::use_future);
    REQUIRE(ready_within(closed));
    CHECK(c.other == 0);
    CHECK(c.stats_monotonic);
    CHECK(pub->stats("mt").published == c.ok);
    return true;
  } else {
    return false;
  }
}

}  // namespace

TEST_CASE("many threads on one strand: the publisher made from a strand executor", "[publisher][threads]") {
  REQUIRE_PRIVATE_NETNS();
  if (!stress_on_strand<racket::udp_transport>()) WARN("udp_transport is not constructible from an executor yet: test inactive");
}

TEST_CASE("async_flush with use_future from a thread not running the io_context (2 io threads)",
          "[publisher][threads][async_flush]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context ctx;
  racket::stream<std::string> s{"fut", pool};
  udp_publisher pub{ctx, racket::publisher_options{.interfaces = {"lo"}}};
  io_threads io(ctx, 2);
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 500; ++i) pub.publish(s, "f." + std::to_string(i % 50), std::string("value"));
    auto f = pub.async_flush(asio::use_future);
    REQUIRE(ready_within(f));
    f.get();  // throws on an error
    // Everything published before the call was handed to the transport.
    CHECK(pub.stats("fut").published == static_cast<std::uint64_t>(500 * (round + 1)));
  }
  pub.close();
  // The error through use_future(f), which hands the code to `f` instead of throwing: an
  // exception stored in a future and freed on an io thread after the test thread caught it
  // made TSan report a race inside libstdc++'s exception_ptr (its reference count is not
  // instrumented). Turning the code into an exception is Asio's part of use_future.
  auto f = pub.async_flush(asio::use_future([](std::error_code ec) { return ec; }));
  REQUIRE(ready_within(f));
  CHECK(f.get() == racket::errc::not_open);
}

TEST_CASE("a move-only error handler bound to a strand runs on that strand and may call the publisher",
          "[publisher][threads][error_handler][veth]") {
  REQUIRE_PRIVATE_NETNS();
  racket::test::veth_pair veth("rkpt0", "rkpt1", {"198.18.7.1/24"}, {});
  REQUIRE(veth.ok());
  REQUIRE(racket::test::run("ip link set rkpt0 down"));
  asio::io_context ctx;
  auto strand = asio::make_strand(ctx);
  racket::stream<std::string> s{"failing", pool};
  udp_publisher pub{ctx, racket::publisher_options{.interfaces = {"rkpt0", "lo"}}};
  std::atomic<bool> all_on_strand{true};
  std::atomic<int> calls{0};
  auto owned = std::make_unique<std::promise<std::string>>();
  auto got = owned->get_future();
  io_threads io(ctx, 2);
  pub.set_error_handler(asio::bind_executor(
      strand, [&, owned = std::move(owned)](const std::error_code&, std::string_view name) {
        if (!strand.running_in_this_thread()) all_on_strand = false;
        (void)pub.stats("failing");  // back into the publisher: no deadlock
        if (calls++ == 0) owned->set_value(std::string(name));
      }));
  pub.publish(s, "x", std::string("via lo"));
  REQUIRE(got.wait_for(10s) == std::future_status::ready);
  CHECK(got.get() == "rkpt0");
  CHECK(all_on_strand.load());
  auto flushed = pub.async_flush(asio::use_future);
  REQUIRE(ready_within(flushed));
  CHECK(pub.stats("failing").send_errors >= 1);
}

TEST_CASE("destroying a publisher from another thread while its resends flow on 4 io threads",
          "[publisher][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context ctx;
  io_threads io(ctx, 4);
  racket::stream<std::string> s{"resends", pool};
  for (int round = 0; round < 5; ++round) {
    auto pub = std::make_unique<udp_publisher>(
        ctx, racket::publisher_options{.interfaces = {"lo"}, .resend_coalesce = std::chrono::milliseconds{0}});
    for (int i = 0; i < 200; ++i)
      pub->publish(s, "r." + std::to_string(i), std::string("v"), std::chrono::milliseconds{1});
    auto flushed = pub->async_flush(asio::use_future);
    REQUIRE(ready_within(flushed));
    // Wait (with a deadline) until resends are flowing, then drop it from a thread of its own.
    CHECK(racket::test::wait_until([&] { return pub->stats("resends").resent >= 400; }, 10s));
    std::thread([p = std::move(pub)]() mutable { p.reset(); }).join();
  }
  io.stop();
}

TEST_CASE("a long queue on a slow link goes out whole, each turn waiting for the transport's backlog to drain",
          "[publisher][flush][net]") {
  REQUIRE_PRIVATE_NETNS();
  racket::test::veth_pair veth("rkfa", "rkfb", {"198.18.1.1/24"}, {"198.18.1.2/24"});
  REQUIRE(veth.ok());
  // 200 Mbit/s behind a tiny send buffer: the kernel soon answers EAGAIN and the transport's
  // backlog (4 MiB) holds what it refused. 8 MiB queued at once overran it before flushes
  // went in turns: datagrams were dropped (send_errors) and async_flush said no_buffer_space.
  REQUIRE(racket::test::run("tc qdisc add dev rkfa root tbf rate 200mbit burst 64kb latency 2s"));
  asio::io_context io;
  udp_publisher pub{io, {.interfaces = {"rkfa"}, .loopback = false, .send_buffer_size = 1}};
  racket::udp_transport rx{io, {.interfaces = {"rkfb"}}};
  const racket::stream<std::string> s{"slow.link", pool};
  std::set<std::uint64_t> heard;  // sequence numbers: a tail probe repeats the last one
  std::error_code ec;
  const auto id = rx.open_receiver(
      s.endpoint(),
      [&](std::span<const std::byte> d, const racket::receive_info&) {
        std::error_code e;
        for (const racket::wire::record& r : racket::wire::decode(d, e)) heard.insert(r.sequence);
      },
      ec);
  REQUIRE_FALSE(ec);
  REQUIRE(id != 0);

  const std::string value(1000, 'x');
  const std::size_t records = (std::size_t{8} << 20) / value.size();
  for (std::size_t i = 0; i < records; ++i) {
    pub.publish(s, "slow." + std::to_string(i % 512), value, 0ms, ec);
    REQUIRE_FALSE(ec);
  }
  std::optional<std::error_code> flushed;
  pub.async_flush([&](std::error_code e) { flushed = e; });
  REQUIRE(racket::test::run_until(io, [&] { return flushed.has_value(); }, 20s));
  CHECK_FALSE(*flushed);
  REQUIRE(racket::test::run_until(io, [&] { return heard.size() >= records; }, 20s));
  const auto st = pub.stats("slow.link");
  CHECK(st.published == records);
  CHECK(st.send_errors == 0);
  CHECK(heard.size() == records);
}
