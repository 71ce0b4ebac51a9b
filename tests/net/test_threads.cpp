// SPDX-License-Identifier: MIT
// Publisher and subscriber on one io_context run by several threads, the way Asio servers run
// one: concurrent publishing, subscribe/unsubscribe churn, stats readers, handlers that call
// back into the library, close and destruction from other threads during traffic, and
// everything bound to one application strand. Every test sends: each runs in a private network
// namespace (tests/tools/in_netns.sh) and REQUIREs the guard first. CI runs this file under
// ThreadSanitizer too.
#include "racket/racket.hpp"

#include "catch.hpp"
#include "net/io_threads.hpp"
#include "net/net_test.hpp"

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using racket::test::io_threads;
using racket::test::wait_until;

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};

// Publishes `count` values on `subjects`, in turn, from the calling thread. A publish the
// queue refuses (would_block) is retried after a yield, and counted.
struct publishing {
  std::atomic<std::uint64_t> accepted{0}, refused{0};
  std::array<std::string, 64> last{};  // the last value accepted per subject index

  void run(racket::publisher& pub, const racket::stream<std::string>& s, int first_subject, int subjects, int count,
           int thread_tag) {
    for (int i = 0; i < count; ++i) {
      const int k = first_subject + i % subjects;
      const std::string value = "t" + std::to_string(thread_tag) + "." + std::to_string(i);
      for (;;) {
        std::error_code ec;
        pub.publish(s, "mt.s" + std::to_string(k), value, 100ms, ec);
        if (!ec) break;
        REQUIRE(ec == racket::errc::would_block);
        refused.fetch_add(1);
        std::this_thread::yield();
      }
      last[static_cast<std::size_t>(k)] = value;
      accepted.fetch_add(1);
    }
  }
};

// What one subscription saw, per subject: every value, to tell a value delivered twice.
struct ledger {
  std::mutex m;
  std::map<std::string, std::vector<std::string>> values;
  std::atomic<std::uint64_t> calls{0};
  std::uint64_t twice = 0;
  std::set<std::string> all;

  void add(const racket::message<std::string>& msg) {
    std::lock_guard lock(m);
    if (!all.insert(msg.value).second) ++twice;
    values[std::string(msg.subject)].push_back(msg.value);
    calls.fetch_add(1);
  }
  std::string last(const std::string& subject) {
    std::lock_guard lock(m);
    auto it = values.find(subject);
    return it == values.end() || it->second.empty() ? std::string() : it->second.back();
  }
};

}  // namespace

TEST_CASE("threads: four io threads, two publishing threads, subscribe churn and stats readers", "[net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::publisher pub{io, {.interfaces = {"lo"}}};
  racket::subscriber sub{io, {.interfaces = {"lo"}}};
  const racket::stream<std::string> s{"mt", pool};
  ledger kept;
  auto keeper = sub.subscribe(s, "mt.*", [&](const racket::message<std::string>& m) { kept.add(m); });
  io_threads threads(io, 4);

  // Churn: a subscription lives ~2 ms; a call starting after its unsubscribe() returned is a fault.
  std::atomic<std::uint64_t> churn_calls{0}, late_calls{0};
  std::thread churn([&] {
    for (int i = 0; i < 150; ++i) {
      auto gone = std::make_shared<std::atomic<bool>>(false);
      auto x = sub.subscribe(s, "mt.*", [gone, &churn_calls, &late_calls](const racket::message<std::string>&) {
        if (gone->load()) late_calls.fetch_add(1);
        churn_calls.fetch_add(1);
      });
      std::this_thread::sleep_for(2ms);
      x.unsubscribe();
      gone->store(true);
    }
  });
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    while (reading) {
      (void)sub.stats(s);
      (void)pub.stats("mt");
      (void)sub.transport_statistics();
      std::this_thread::sleep_for(1ms);
    }
  });
  // Two publishing threads, 20,000 values each, on 32 subjects each (64 in all).
  publishing a, b;
  std::thread pa([&] { a.run(pub, s, 0, 32, 20'000, 0); });
  std::thread pb([&] { b.run(pub, s, 32, 32, 20'000, 1); });
  pa.join();
  pb.join();
  churn.join();

  const std::uint64_t published = a.accepted + b.accepted;
  CHECK(published == 40'000);
  CHECK(wait_until([&] { return pub.stats("mt").published == published; }));
  // Every subject ends on its last value: delivered live, or repaired after a loss.
  CHECK(wait_until(
      [&] {
        for (int k = 0; k < 64; ++k) {
          const auto& p = k < 32 ? a : b;
          if (kept.last("mt.s" + std::to_string(k)) != p.last[static_cast<std::size_t>(k)]) return false;
        }
        return true;
      },
      10'000ms));
  reading = false;
  reader.join();
  const auto st = sub.stats(s);
  const auto ts = sub.transport_statistics();
  INFO("delivered " << kept.calls << " of " << published << ", gaps " << st.gaps << ", kernel drops "
                    << ts.kernel_drops);
  CHECK(kept.twice == 0);  // no value delivered twice
  // Every value delivered, or its loss counted: a gap the subscriber saw.
  if (kept.calls < published) CHECK(st.gaps > 0);
  CHECK(kept.calls <= published);
  CHECK(late_calls == 0);
  CHECK(churn_calls > 0);
  threads.stop();
}

TEST_CASE("threads: handlers that call back into the library from four io threads", "[net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::publisher pub{io, {.interfaces = {"lo"}}};
  racket::subscriber sub{io, {.interfaces = {"lo"}}};
  const racket::stream<std::string> s{"cb", pool};
  std::atomic<int> stats_reads{0};
  std::atomic<bool> self_dropped{false};
  racket::subscription self;
  std::mutex self_m;
  // Echo: a handler publishes on another subject, reads stats, and drops its own subscription.
  auto echo = sub.subscribe(s, "ping.*", [&](const racket::message<std::string>& m) {
    (void)sub.stats(s);
    (void)pub.stats("cb");
    stats_reads.fetch_add(1);
    pub.publish(s, "pong." + std::string(m.subject.substr(5)), m.value);
  });
  ledger pongs;
  auto pong = sub.subscribe(s, "pong.*", [&](const racket::message<std::string>& m) { pongs.add(m); });
  {
    std::lock_guard lock(self_m);
    self = sub.subscribe(s, "ping.*", [&](const racket::message<std::string>&) {
      std::lock_guard inner(self_m);
      self.unsubscribe();  // from inside its own handler: no deadlock, no further call
      self_dropped = true;
    });
  }
  io_threads threads(io, 4);
  for (int i = 0; i < 200; ++i) pub.publish(s, "ping." + std::to_string(i), "v" + std::to_string(i));
  CHECK(wait_until([&] { return pongs.calls == 200; }, 10'000ms));
  CHECK(self_dropped);
  CHECK(stats_reads >= 200);
  threads.stop();
}

TEST_CASE("threads: a publisher and a subscriber made on one application strand share it", "[net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  auto app = asio::make_strand(io);
  racket::publisher pub{app, {.interfaces = {"lo"}}};
  racket::subscriber sub{app, {.interfaces = {"lo"}}};
  CHECK(pub.get_executor() == sub.get_executor());
  // Made from the io_context, each has a strand of its own (they may run at the same time).
  racket::publisher own_pub{io, {.interfaces = {"lo"}}};
  racket::subscriber own_sub{io, {.interfaces = {"lo"}}};
  CHECK(own_pub.get_executor() != own_sub.get_executor());
  // The subscriber's handlers run on the publisher's strand: a publish from one takes the
  // direct path (nothing queued, no hand-off), with four threads running io.
  const racket::stream<std::string> s{"shared", pool};
  std::atomic<int> calls{0}, off_pub_strand{0};
  ledger pongs;
  auto echo = sub.subscribe(s, "ping.*", [&](const racket::message<std::string>& m) {
    if (!pub.get_executor().running_in_this_thread()) off_pub_strand.fetch_add(1);
    calls.fetch_add(1);
    pub.publish(s, "pong." + std::string(m.subject.substr(5)), m.value);
  });
  auto pong = sub.subscribe(s, "pong.*", [&](const racket::message<std::string>& m) { pongs.add(m); });
  io_threads threads(io, 4);
  for (int i = 0; i < 100; ++i) pub.publish(s, "ping." + std::to_string(i), "v" + std::to_string(i));
  CHECK(wait_until([&] { return pongs.calls == 100; }, 10'000ms));
  CHECK(calls.load() >= 100);
  CHECK(off_pub_strand.load() == 0);
  threads.stop();
}

TEST_CASE("threads: close and destruction from other threads while traffic flows", "[net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  for (int round = 0; round < 5; ++round) {
    asio::io_context io;
    auto pub = std::make_unique<racket::publisher>(io, racket::publisher_options{.interfaces = {"lo"}});
    auto sub = std::make_unique<racket::subscriber>(io, racket::subscriber_options{.interfaces = {"lo"}});
    const racket::stream<std::string> s{"cd", pool};
    std::atomic<std::uint64_t> got{0};
    auto h = sub->subscribe(s, "*", [&](const racket::message<std::string>&) { got.fetch_add(1); });
    io_threads threads(io, 4);
    std::atomic<bool> go{true};
    std::atomic<std::uint64_t> refused{0};
    std::thread p([&] {
      for (int i = 0; go; ++i) {
        std::error_code ec;
        pub->publish(s, "x." + std::to_string(i % 16), std::to_string(i), 50ms, ec);
        if (ec) refused.fetch_add(1);  // would_block, or not_open once closed
      }
    });
    REQUIRE(wait_until([&] { return got > 100; }));
    // The subscriber dies on this thread while its strand delivers.
    std::thread killer([&] {
      h = {};
      sub.reset();
    });
    killer.join();
    // The publisher is closed from another thread while `p` publishes: further calls fail.
    std::thread closer([&] { pub->close(); });
    closer.join();
    REQUIRE(wait_until([&] { return refused > 0; }));
    go = false;
    p.join();
    pub.reset();  // destroyed with the io threads still running
    threads.stop();
  }
}

TEST_CASE("threads: everything on one application strand, the io_context on four threads", "[net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  auto app = asio::make_strand(io);
  racket::publisher pub{app, {.interfaces = {"lo"}}};
  racket::subscriber sub{app, {.interfaces = {"lo"}}};
  const racket::stream<std::string> s{"st", pool};
  std::atomic<int> off_app{0};
  int calls = 0;  // touched only on `app`: no atomic needed, TSan checks that
  auto h = sub.subscribe(s, "*", asio::bind_executor(app, [&](const racket::message<std::string>&) {
                           if (!app.running_in_this_thread()) off_app.fetch_add(1);
                           ++calls;
                         }));
  io_threads threads(io, 4);
  asio::post(app, [&] {
    for (int i = 0; i < 500; ++i) pub.publish(s, "st." + std::to_string(i), std::to_string(i));
  });
  std::atomic<int> seen{0};
  REQUIRE(wait_until([&] {
    asio::post(app, [&] { seen = calls; });
    return seen.load() == 500;
  }));
  CHECK(off_app == 0);
  threads.stop();
}
