// SPDX-License-Identifier: MIT
// Hostile applications and hostile networks: a handler that throws, a handler that is slow
// while datagrams pour in, and the error messages of operations that touch the network
// (unknown interface, port in use, payload over the maximum). Runs in a private network
// namespace (tests/tools/in_netns.sh); every test REQUIREs the guard before sending.
#include "racket/subscriber.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include "racket/racket.hpp"

#include <asio/ip/multicast.hpp>
#include <asio/ip/udp.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using racket::test::run_for;
using racket::test::run_until;

using namespace std::chrono_literals;

std::size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};
const racket::publisher_options on_lo{.interfaces = {"lo"}};
const racket::subscriber_options sub_lo{.interfaces = {"lo"}};

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// One raw datagram of stream `stream` with one value record.
std::size_t make_value(std::vector<std::byte>& buf, const std::string& stream, std::uint64_t publisher,
                       std::string_view subject, std::uint64_t seq, std::string_view payload) {
  namespace wire = racket::wire;
  wire::datagram_writer w{buf};
  w.begin(publisher, stream);
  wire::record r;
  r.interval_ms = 60'000;
  r.sequence = seq;
  r.timestamp_ns = seq;
  r.subject = subject;
  r.payload = {reinterpret_cast<const std::byte*>(payload.data()), payload.size()};
  w.append(r);
  return w.finish().size();
}

}  // namespace

TEST_CASE("a handler that throws does not stop delivery and the error handler hears of it", "[hostile]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"hostile.throw", pool};
  racket::subscriber sub{io, sub_lo};
  std::vector<std::string> errors;
  std::vector<std::error_code> codes;
  sub.set_error_handler([&](const std::error_code& ec, std::string_view what) {
    codes.push_back(ec);
    errors.emplace_back(what);
  });
  std::vector<std::string> got;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) {
    got.push_back(m.value);
    if (m.value == "boom") throw std::runtime_error("handler exploded on boom");
    if (m.value == "int") throw 42;  // not a std::exception
  });
  racket::publisher pub{io, on_lo};
  pub.publish(s, "a.one", std::string("boom"));
  pub.publish(s, "a.two", std::string("int"));
  pub.publish(s, "a.three", std::string("fine"));
  REQUIRE(run_until(io, [&] { return got.size() == 3; }));
  CHECK(got == std::vector<std::string>{"boom", "int", "fine"});
  REQUIRE(errors.size() == 2);
  CHECK(contains(errors[0], "hostile.throw"));
  CHECK(contains(errors[0], "handler exploded on boom"));
  CHECK(contains(errors[1], "hostile.throw"));
  CHECK(codes[0]);
  const auto st = sub.stats(s);
  CHECK(st.handler_errors == 2);
  CHECK(st.delivered == 1);

  // The receive loop is alive: later messages are delivered.
  pub.publish(s, "a.four", std::string("later"));
  REQUIRE(run_until(io, [&] { return got.size() == 4; }));
  CHECK(got.back() == "later");
}

TEST_CASE("a removal handler that throws is reported too", "[hostile]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"hostile.removal", pool};
  racket::subscriber sub{io, sub_lo};
  std::vector<std::string> errors;
  sub.set_error_handler([&](const std::error_code&, std::string_view what) { errors.emplace_back(what); });
  int delivered = 0, removed = 0;
  auto h = sub.subscribe(
      s, "*", [&](const racket::message<std::string>&) { ++delivered; },
      [&](const racket::removal&) {
        ++removed;
        throw std::runtime_error("removal handler exploded");
      });
  racket::publisher pub{io, on_lo};
  pub.publish(s, "x.y", std::string("v"), 10'000ms);
  REQUIRE(run_until(io, [&] { return delivered == 1; }));
  pub.withdraw(s, "x.y");
  REQUIRE(run_until(io, [&] { return removed == 1; }));
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors[0], "removal handler exploded"));
  CHECK(sub.stats(s).handler_errors == 1);
  pub.publish(s, "x.z", std::string("w"), 10'000ms);
  REQUIRE(run_until(io, [&] { return delivered == 2; }));
}

// A handler that takes 1 ms per message while 100k datagrams arrive as fast as lo carries them.
// The subscriber does not queue: it reads from its socket only as fast as the handler returns,
// so the backlog stays in the socket's receive buffer (SO_RCVBUF, capped by rmem_max) and what
// does not fit is dropped by the kernel and counted (SO_RXQ_OVFL -> transport kernel_drops).
// Memory stays flat.
TEST_CASE("a slow handler makes the kernel drop (counted) and the subscriber does not grow", "[hostile]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"hostile.slow", pool};
  // A 256 KiB socket buffer (the kernel doubles it) holds a few hundred small datagrams.
  racket::subscriber sub{io, {.interfaces = {"lo"}, .receive_buffer_size = 256 << 10}};
  std::size_t handled = 0;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>&) {
    ++handled;
    std::this_thread::sleep_for(1ms);
  });
  io.run_for(20ms);
  const std::size_t rss_before = rss_bytes();

  constexpr std::size_t count = 100'000;
  std::atomic<bool> done{false};
  std::thread sender([&] {
    asio::io_context sio;
    asio::ip::udp::socket sock(sio, asio::ip::udp::v4());
    sock.set_option(asio::ip::multicast::outbound_interface(asio::ip::make_address_v4("127.0.0.1")));
    sock.set_option(asio::ip::multicast::enable_loopback(true));
    const asio::ip::udp::endpoint to(s.endpoint().group, s.endpoint().port);
    std::vector<std::byte> buf(racket::wire::default_max_datagram_size);
    char subject[32];
    for (std::size_t i = 0; i < count; ++i) {
      std::snprintf(subject, sizeof subject, "slow.%zu", i % 500);
      // A new value every time, so no datagram is a duplicate: each one costs the handler 1 ms.
      const std::string payload = "slow-" + std::to_string(i);
      const std::size_t n = make_value(buf, "hostile.slow", 77, subject, i + 1, payload);
      std::error_code ec;
      sock.send_to(asio::buffer(buf.data(), n), to, 0, ec);
    }
    done.store(true);
  });
  // Run while the flood arrives, and a little after.
  const auto t0 = std::chrono::steady_clock::now();
  while (!done.load() && std::chrono::steady_clock::now() - t0 < 30s) io.run_for(10ms);
  sender.join();
  const std::size_t rss_peak = rss_bytes();
  // Drain what the socket still holds (a few hundred datagrams at 1 ms), then send one marker:
  // the kernel reports its drop counter with the next datagram it delivers.
  std::size_t last = handled;
  while (true) {
    io.run_for(200ms);
    if (handled == last) break;
    last = handled;
  }
  {
    asio::ip::udp::socket sock(io, asio::ip::udp::v4());
    sock.set_option(asio::ip::multicast::outbound_interface(asio::ip::make_address_v4("127.0.0.1")));
    std::vector<std::byte> buf(racket::wire::default_max_datagram_size);
    const std::size_t n = make_value(buf, "hostile.slow", 77, "slow.marker", count + 1, "marker");
    sock.send_to(asio::buffer(buf.data(), n), asio::ip::udp::endpoint(s.endpoint().group, s.endpoint().port));
  }
  REQUIRE(run_until(io, [&] { return sub.stats(s).datagrams_received + sub.transport_statistics().kernel_drops >= count + 1; }));
  const auto st = sub.stats(s);
  const auto ts = sub.transport_statistics();
  std::printf("slow handler: %zu sent, %llu received, %zu handled, %llu kernel drops, rss %+.1f MiB\n", count + 1,
              static_cast<unsigned long long>(st.datagrams_received), handled,
              static_cast<unsigned long long>(ts.kernel_drops),
              (static_cast<double>(rss_peak) - static_cast<double>(rss_before)) / (1 << 20));
  CHECK(st.datagrams_received + ts.kernel_drops == count + 1);
  CHECK(ts.kernel_drops > count / 2);  // most of the flood never reached the slow handler
  CHECK(st.tracked_subjects <= 501);
  CHECK(st.duplicates == 0);
  CHECK(handled == st.delivered);
  // Nothing queues in the process: growth is allocator noise and 501 tracked subjects.
  CHECK(rss_peak < rss_before + (16u << 20));
}

TEST_CASE("network errors name the bad value", "[hostile][errors]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"hostile.errors", pool};

  SECTION("unknown interface: subscriber") {
    racket::subscriber sub{io, {.interfaces = {"nosuch0"}}};
    std::error_code ec;
    auto h = sub.subscribe(s, "*", [](const racket::message<std::string>&) {}, ec);
    CHECK(ec == racket::errc::unknown_interface);
    try {
      auto h2 = sub.subscribe(s, "*", [](const racket::message<std::string>&) {});
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::unknown_interface);
      INFO(e.what());
      CHECK(contains(e.what(), "nosuch0"));
    }
  }
  SECTION("unknown interface: publisher") {
    racket::publisher pub{io, {.interfaces = {"nosuch0"}}};
    try {
      pub.publish(s, "a.b", std::string("v"));
      io.run_for(20ms);
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::unknown_interface);
      INFO(e.what());
      CHECK(contains(e.what(), "nosuch0"));
    }
  }
  SECTION("unknown interface: transport") {
    racket::udp_transport t{io, {.interfaces = {"nosuch0"}}};
    try {
      t.open(racket::address_family::v4);
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::unknown_interface);
      CHECK(contains(e.what(), "nosuch0"));
    }
  }
  SECTION("port in use: a socket bound to the group and port without SO_REUSEADDR") {
    asio::ip::udp::socket squatter(io, asio::ip::udp::v4());
    squatter.bind(asio::ip::udp::endpoint(s.endpoint().group, s.endpoint().port));
    racket::subscriber sub{io, sub_lo};
    std::error_code ec;
    auto h = sub.subscribe(s, "*", [](const racket::message<std::string>&) {}, ec);
    CHECK(ec == std::errc::address_in_use);
    try {
      auto h2 = sub.subscribe(s, "*", [](const racket::message<std::string>&) {});
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::address_in_use);
      INFO(e.what());
      CHECK(contains(e.what(), "hostile.errors"));
      CHECK(contains(e.what(), std::to_string(s.endpoint().port)));
    }
  }
  SECTION("payload over the maximum") {
    // Over one datagram it would travel as fragments: over max_message_size it is refused.
    racket::publisher_options small_max = on_lo;
    small_max.max_message_size = racket::wire::default_max_datagram_size;
    racket::publisher pub{io, small_max};
    const std::string big(racket::wire::default_max_datagram_size + 1, 'x');
    std::error_code ec;
    pub.publish(s, "a.b", big, 0ms, ec);
    CHECK(ec == racket::errc::payload_too_large);
    try {
      pub.publish(s, "a.b", big);
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::payload_too_large);
      INFO(e.what());
      CHECK(contains(e.what(), "hostile.errors"));
      CHECK(contains(e.what(), "a.b"));
      CHECK(contains(e.what(), std::to_string(big.size())));
    }
  }
  SECTION("invalid subject on publish") {
    racket::publisher pub{io, on_lo};
    try {
      pub.publish(s, "a..b", std::string("v"));
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::invalid_subject);
      CHECK(contains(e.what(), "'a..b'"));
    }
    // A NUL in the subject must not cut the message short.
    try {
      pub.publish(s, std::string_view("a.\0b", 4), std::string("v"));
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::invalid_subject);
      INFO(e.what());
      CHECK(contains(e.what(), "\\x00"));
    }
  }
  SECTION("invalid filter on subscribe") {
    racket::subscriber sub{io, sub_lo};
    try {
      auto h = sub.subscribe(s, "a.b*", [](const racket::message<std::string>&) {});
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::invalid_filter);
      CHECK(contains(e.what(), "'a.b*'"));
    }
  }
}

// For TSan: publish from several threads while another thread subscribes and unsubscribes and
// the io_context delivers, all at once.
TEST_CASE("publishing from several threads while subscriptions come and go", "[hostile][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"hostile.threads", pool};
  racket::subscriber sub{io, sub_lo};
  racket::publisher pub{io, on_lo};
  std::atomic<std::uint64_t> steady{0}, churned{0};
  auto all = sub.subscribe(s, "*", [&](const racket::message<std::string>&) { ++steady; });
  std::atomic<bool> stop{false};
  std::thread runner([&] {
    while (!stop.load()) {
      io.run_for(5ms);
      if (io.stopped()) io.restart();
    }
  });

  constexpr int threads = 3, per_thread = 2000;
  std::vector<std::thread> publishers;
  for (int t = 0; t < threads; ++t) {
    publishers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string subject = "t" + std::to_string(t) + ".n" + std::to_string(i % 50);
        pub.publish(s, subject, std::to_string(i), (i % 3 == 0) ? 0ms : 200ms);
        if (i % 100 == 0) std::this_thread::sleep_for(1ms);
      }
    });
  }
  std::thread churn([&] {
    for (int i = 0; i < 100; ++i) {
      auto one = sub.subscribe(s, i % 2 ? "t1.*" : "*.n7", [&](const racket::message<std::string>&) { ++churned; });
      std::this_thread::sleep_for(1ms);
      one.unsubscribe();
    }
  });
  for (auto& p : publishers) p.join();
  churn.join();
  // Let the last messages arrive, then stop the io thread before reading stats.
  std::this_thread::sleep_for(300ms);
  stop.store(true);
  runner.join();
  const auto st = sub.stats(s);
  CHECK(pub.stats("hostile.threads").published == threads * per_thread);
  CHECK(steady.load() > 0);
  CHECK(st.delivered >= steady.load());
  CHECK(st.handler_errors == 0);
}
