// SPDX-License-Identifier: MIT
// racket/publisher.hpp on the simulated network, deterministic: async_flush and async_close
// with each kind of completion token, completions on their associated executor and never
// inline, the bounded publish queue (would_block), move-only error handlers. The same on
// real UDP with many threads: tests/net/test_publisher_threads.cpp.
#include "racket/publisher.hpp"

#include "catch.hpp"
#include "co_await_support.hpp"

#include "racket/simulation/network.hpp"
#include "racket/wire.hpp"

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/version.hpp>
#if ASIO_VERSION >= 102400
#include <asio/deferred.hpp>
#else
#include <asio/experimental/deferred.hpp>
#endif

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;

#if ASIO_VERSION >= 102400
constexpr auto deferred_token = asio::deferred;
#else
constexpr auto deferred_token = asio::experimental::deferred;
#endif

const racket::multicast_pool pool{};

// A publisher node and a listener node on one LAN; the listener keeps every record it hears.
struct bed {
  explicit bed(racket::publisher_options opts = {}) : net(11) {
    const auto lan = net.add_lan("lan");
    net.attach(pub_node, lan, "eth0");
    net.attach(rx_node, lan, "eth0");
    opts.seed = 5;
    pub.emplace(pub_node, opts);
    rx = std::make_unique<sim::transport>(rx_node, racket::transport_options{});
    std::error_code ec;
    rx->open(racket::address_family::v4, ec);
    REQUIRE_FALSE(ec);
    rx->open_receiver(
        s.endpoint(),
        [this](std::span<const std::byte> d, const racket::receive_info&) {
          std::error_code e;
          for (const racket::wire::record& r : racket::wire::decode(d, e))
            heard.push_back({std::string(r.subject), r.tombstone()});
        },
        ec);
    REQUIRE_FALSE(ec);
  }

  struct record {
    std::string subject;
    bool tombstone;
  };

  sim::network net;
  sim::node& pub_node = net.add_node("pub");
  sim::node& rx_node = net.add_node("rx");
  racket::stream<std::string> s{"async", pool};
  std::optional<sim_publisher> pub;
  std::unique_ptr<sim::transport> rx;
  std::vector<record> heard;
};

}  // namespace

TEST_CASE("async_flush with a callback completes on the executor after the queue went out, never inline",
          "[publisher][async_flush]") {
  bed b;
  // The test's thread is not running the network: these queue.
  for (int i = 0; i < 5; ++i) b.pub->publish(b.s, "q." + std::to_string(i), std::string("v"));
  int calls = 0;
  bool on_executor = false;
  std::error_code got = make_error_code(racket::errc::not_open);
  b.pub->async_flush([&](std::error_code ec) {
    ++calls;
    got = ec;
    on_executor = b.pub->get_executor().running_in_this_thread();
  });
  CHECK(calls == 0);  // never inside the call
  REQUIRE(b.net.run_until([&] { return calls == 1; }, 1s));
  CHECK_FALSE(got);
  CHECK(on_executor);
  CHECK(b.pub->stats("async").published == 5);
  b.net.run_for(10ms);
  CHECK(b.heard.size() == 5);
  CHECK(calls == 1);
}

TEST_CASE("async_flush waits for the fragment turns of the large messages published before it",
          "[publisher][async_flush][large]") {
  bed b{racket::publisher_options{.tail_probe_delay = 0ms}};  // no probe re-sends a last fragment later
  const std::string big(std::size_t{1} << 20, 'x');  // some 770 fragments: several turns
  b.pub->publish(b.s, "big.a", big, 0ms);
  b.pub->publish(b.s, "small", std::string("v"));
  b.pub->publish(b.s, "big.b", big, 1000ms);
  std::optional<std::error_code> got;
  std::uint64_t fragments_then = 0;
  b.pub->async_flush([&](std::error_code ec) {
    got = ec;
    fragments_then = b.pub->stats("async").fragments_sent;
  });
  REQUIRE(b.net.run_until([&] { return got.has_value(); }, 2s));
  CHECK_FALSE(*got);
  b.net.run_for(200ms);  // well before big.b's first resend (1 s)
  const std::uint64_t fragments = b.pub->stats("async").fragments_sent;
  CHECK(fragments > 2 * 700);
  CHECK(fragments_then == fragments);  // every fragment had gone when it completed

  SECTION("closed before the fragments went: not_open") {
    b.pub->publish(b.s, "big.c", big, 0ms);
    std::optional<std::error_code> late;
    b.pub->async_flush([&](std::error_code ec) { late = ec; });
    b.pub->close();
    REQUIRE(b.net.run_until([&] { return late.has_value(); }, 2s));
    CHECK(*late == racket::errc::not_open);
  }
}

TEST_CASE("async_flush reports not_open once closed, and io_error when no interface took a datagram",
          "[publisher][async_flush]") {
  SECTION("closed") {
    bed b;
    b.pub->close();
    std::optional<std::error_code> got;
    b.pub->async_flush([&](std::error_code ec) { got = ec; });
    CHECK_FALSE(got);
    b.net.run_for(1ms);
    REQUIRE(got);
    CHECK(*got == racket::errc::not_open);
  }
  SECTION("every send refused") {
    bed b;
    b.pub->publish(b.s, "warm", std::string("v"));  // opens the transport
    b.net.run_for(1ms);
    b.net.crash(b.pub_node);  // its transport is dead: sends fail on every interface
    b.pub->publish(b.s, "lost", std::string("v"));
    std::optional<std::error_code> got;
    b.pub->async_flush([&](std::error_code ec) { got = ec; });
    b.net.run_for(1ms);
    REQUIRE(got);
    CHECK(*got == std::errc::io_error);
    CHECK(b.pub->stats("async").send_errors >= 1);
  }
}

TEST_CASE("async_flush honours bind_executor and takes move-only handlers", "[publisher][async_flush]") {
  bed b;
  auto strand = asio::make_strand(b.pub->get_executor());
  b.pub->publish(b.s, "x", std::string("v"));
  auto owned = std::make_unique<int>(41);
  int seen = 0;
  bool on_strand = false;
  b.pub->async_flush(asio::bind_executor(strand, [&, owned = std::move(owned)](std::error_code ec) {
    on_strand = strand.running_in_this_thread();
    seen = *owned + (ec ? 0 : 1);
  }));
  b.net.run_for(1ms);
  CHECK(on_strand);
  CHECK(seen == 42);
}

TEST_CASE("async_flush with use_awaitable in a coroutine and with deferred", "[publisher][async_flush]") {
  bed b;
#if defined(RACKET_TEST_CO_AWAIT)  // tests/co_await_support.hpp
  SECTION("use_awaitable") {
    bool done = false;
    asio::co_spawn(
        b.pub->get_executor(),
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 3; ++i) b.pub->publish(b.s, "c." + std::to_string(i), std::string("v"));
          co_await b.pub->async_flush(asio::use_awaitable);  // throws on an error
          CHECK(b.pub->stats("async").published == 3);
          b.pub->close();
          try {
            co_await b.pub->async_flush(asio::use_awaitable);
            FAIL("no error after close");
          } catch (const std::system_error& e) {
            CHECK(e.code() == racket::errc::not_open);
          }
          done = true;
        },
        asio::detached);
    REQUIRE(b.net.run_until([&] { return done; }, 1s));
  }
#endif
  SECTION("deferred") {
    b.pub->publish(b.s, "d", std::string("v"));
    std::optional<std::error_code> got;
    b.pub->async_flush(deferred_token)([&](std::error_code ec) { got = ec; });
    CHECK_FALSE(got);
    b.net.run_for(1ms);
    REQUIRE(got);
    CHECK_FALSE(*got);
    CHECK(b.pub->stats("async").published == 1);

    // A deferred operation starts when it is launched, not when it is made.
    auto op = b.pub->async_flush(deferred_token);
    b.pub->close();
    got.reset();
    std::move(op)([&](std::error_code ec) { got = ec; });
    b.net.run_for(1ms);
    REQUIRE(got);
    CHECK(*got == racket::errc::not_open);
  }
}

TEST_CASE("async_close completes after the shutdown ran: queued records and withdraw_on_close tombstones sent",
          "[publisher][async_close]") {
  bed b{racket::publisher_options{.withdraw_on_close = true}};
  for (int i = 0; i < 4; ++i) b.pub->publish(b.s, "k." + std::to_string(i), std::string("v"), 1s);
  std::optional<std::error_code> got;
  racket::publisher_stream_stats at_completion;
  b.pub->async_close([&](std::error_code ec) {
    got = ec;
    at_completion = b.pub->stats("async");
  });
  CHECK_FALSE(got);
  std::error_code ec;
  b.pub->publish(b.s, "late", std::string("v"), 0ms, ec);  // closed at once
  CHECK(ec == racket::errc::not_open);
  b.net.run_for(1ms);
  REQUIRE(got);
  CHECK_FALSE(*got);
  CHECK(at_completion.published == 4);
  CHECK(at_completion.withdrawn == 4);
  b.net.run_for(10ms);
  std::size_t tombstones = 0;
  for (const auto& r : b.heard) tombstones += r.tombstone ? 1 : 0;
  CHECK(tombstones == 4);

  // A second close, and close() followed by async_close, complete too.
  std::optional<std::error_code> again;
  b.pub->close();
  b.pub->async_close([&](std::error_code e) { again = e; });
  b.net.run_for(1ms);
  REQUIRE(again);
  CHECK_FALSE(*again);
}

TEST_CASE("a full publish queue refuses with would_block, counts each refusal and drops nothing silently",
          "[publisher][would_block]") {
  using queue = racket::detail::publish_queue<racket::detail::publisher_stream<sim::clock>>;
  const std::string value(20, 'v');
  const std::size_t cost = queue::cost(std::string("w.00").size(), value.size());
  bed b{racket::publisher_options{.max_queued_bytes = 10 * cost + cost / 2}};
  // Not on the executor (the network is not running): every publish queues.
  int ok = 0, refused = 0;
  for (int i = 0; i < 25; ++i) {
    std::error_code ec;
    b.pub->publish(b.s, "w." + std::string(i < 10 ? "0" : "") + std::to_string(i), value, 0ms, ec);
    if (!ec) {
      ++ok;
    } else {
      CHECK(ec == racket::errc::would_block);
      ++refused;
    }
  }
  CHECK(ok == 10);
  CHECK(refused == 15);
  CHECK(b.pub->stats("async").would_block == 15);
  std::error_code wec;
  b.pub->withdraw(b.s, "w.00", wec);  // a withdraw queues too
  CHECK(wec == racket::errc::would_block);
  CHECK(b.pub->stats("async").would_block == 16);

  // The throwing overload names the stream, the subject, the bytes queued and the limit.
  try {
    b.pub->publish(b.s, "w.99", value);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::would_block);
    const std::string what = e.what();
    CHECK(what.find("'async'") != std::string::npos);
    CHECK(what.find("'w.99'") != std::string::npos);
    CHECK(what.find(std::to_string(10 * cost) + " bytes queued") != std::string::npos);
    CHECK(what.find("limit " + std::to_string(10 * cost + cost / 2) + " bytes") != std::string::npos);
    CHECK(what.find("publish queue full") != std::string::npos);
  }
  CHECK(b.pub->stats("async").would_block == 17);

  // What was accepted goes out; after the flush the queue takes records again.
  std::optional<std::error_code> flushed;
  b.pub->async_flush([&](std::error_code ec) { flushed = ec; });
  REQUIRE(b.net.run_until([&] { return flushed.has_value(); }, 1s));
  CHECK_FALSE(*flushed);
  CHECK(b.pub->stats("async").published == 10);
  std::error_code ec;
  b.pub->publish(b.s, "w.10", value, 0ms, ec);
  CHECK_FALSE(ec);
  b.net.run_for(10ms);
  CHECK(b.heard.size() == 11);
}

TEST_CASE("the direct path (on the executor, nothing queued) is never refused", "[publisher][would_block]") {
  bed b{racket::publisher_options{.max_queued_bytes = 1}};
  std::error_code ec;
  b.pub->publish(b.s, "off", std::string("v"), 0ms, ec);  // off the executor: refused
  CHECK(ec == racket::errc::would_block);
  int sent = 0;
  asio::post(b.pub->get_executor(), [&] {
    for (int i = 0; i < 3; ++i) {
      std::error_code e;
      b.pub->publish(b.s, "on", std::string("v"), 0ms, e);
      sent += e ? 0 : 1;
    }
  });
  b.net.run_for(1ms);
  CHECK(sent == 3);
  CHECK(b.pub->stats("async").published == 3);
  CHECK(b.pub->stats("async").would_block == 1);
}

TEST_CASE("large messages count against the bound until their fragments are sent, not only until the executor took them",
          "[publisher][would_block][large]") {
  // Bound max(max_queued_bytes, max_message_size) = 1 MiB; each message 400 KB, three fragment
  // turns for two. (The bound once counted a large message only until the executor had taken
  // it into its fragment outbox: a publisher faster than its network queued without end.)
  bed b{racket::publisher_options{.max_message_size = std::size_t{1} << 20, .max_queued_bytes = std::size_t{1} << 20}};
  const std::string value(400'000, 'L');
  std::error_code ec;
  b.pub->publish(b.s, "big.1", value, 0ms, ec);
  REQUIRE_FALSE(ec);
  b.pub->publish(b.s, "big.2", value, 0ms, ec);
  REQUIRE_FALSE(ec);
  b.pub->publish(b.s, "big.3", value, 0ms, ec);  // 1.2 MB posted: over
  CHECK(ec == racket::errc::would_block);

  // Handler by handler until the executor has taken both: their fragments are still going out.
  for (int i = 0; i < 100 && b.pub->stats("async").published < 2; ++i) b.net.context().poll_one();
  REQUIRE(b.pub->stats("async").published == 2);
  const std::uint64_t fragments = b.pub->stats("async").fragments_sent;
  INFO("fragments sent so far " << fragments);
  REQUIRE(fragments < 2 * (value.size() / 1400));
  b.pub->publish(b.s, "big.3", value, 0ms, ec);
  CHECK(ec == racket::errc::would_block);
  CHECK(b.pub->stats("async").would_block == 2);

  // Once everything went out, the bound takes messages again.
  std::optional<std::error_code> flushed;
  b.pub->async_flush([&](std::error_code e) { flushed = e; });
  REQUIRE(b.net.run_until([&] { return flushed.has_value(); }, 5s));
  CHECK_FALSE(*flushed);
  b.pub->publish(b.s, "big.3", value, 0ms, ec);
  CHECK_FALSE(ec);
  b.pub->publish(b.s, "big.4", value, 0ms, ec);
  CHECK_FALSE(ec);
}

TEST_CASE("set_error_handler takes move-only handlers and std::function alike", "[publisher][error_handler]") {
  // The simulated transport reports nothing: this checks what compiles and is accepted; the
  // calls themselves are checked on real UDP (tests/net/test_publisher_threads.cpp).
  bed b;
  auto owned = std::make_unique<int>(1);
  b.pub->set_error_handler([owned = std::move(owned)](const std::error_code&, std::string_view) { (void)*owned; });
  b.pub->set_error_handler(std::function<void(const std::error_code&, std::string_view)>{});
  b.pub->publish(b.s, "x", std::string("v"));
  b.net.run_for(10ms);
  CHECK(b.heard.size() == 1);
}

TEST_CASE("an error_code left over from an earlier call does not fail the next publish", "[publisher][would_block]") {
  // One error_code reused across calls, as loops do: a refusal must not stick to it. (It did:
  // every publish after the first would_block failed with it, uncounted, until the
  // application cleared the code itself.)
  const std::string value(20, 'v');
  bed b{racket::publisher_options{.max_queued_bytes = 2 * racket::detail::publish_queue<
                                      racket::detail::publisher_stream<sim::clock>>::cost(4, value.size())}};
  std::error_code ec = make_error_code(std::errc::io_error);
  b.pub->publish(b.s, "e.01", value, 0ms, ec);
  CHECK_FALSE(ec);
  b.pub->publish(b.s, "e.02", value, 0ms, ec);
  CHECK_FALSE(ec);
  b.pub->publish(b.s, "e.03", value, 0ms, ec);
  CHECK(ec == racket::errc::would_block);
  std::optional<std::error_code> flushed;
  b.pub->async_flush([&](std::error_code e) { flushed = e; });
  REQUIRE(b.net.run_until([&] { return flushed.has_value(); }, 1s));
  b.pub->publish(b.s, "e.03", value, 0ms, ec);  // the same `ec`, still holding would_block
  CHECK_FALSE(ec);
  CHECK(b.pub->stats("async").would_block == 1);
  b.net.run_for(10ms);
  CHECK(b.heard.size() == 3);
}

TEST_CASE("a long queue goes out in turns, in order, the bound counting the turn under way, async_flush waiting for the last",
          "[publisher][flush]") {
  using queue = racket::detail::publish_queue<racket::detail::publisher_stream<sim::clock>>;
  const std::string value(1000, 'v');
  const auto subject = [](std::size_t i) { return "t." + std::to_string(100000 + i); };
  const std::size_t records = 3 * racket::detail::flush_turn_bytes / 1000 + 10;  // over three turns
  const std::size_t cost = queue::cost(subject(0).size(), value.size());
  bed b{racket::publisher_options{.max_queued_bytes = records * cost}};
  std::error_code ec;
  for (std::size_t i = 0; i < records; ++i) {
    b.pub->publish(b.s, subject(i), value, 0ms, ec);
    REQUIRE_FALSE(ec);
  }
  std::optional<std::error_code> flushed;
  b.pub->async_flush([&](std::error_code e) { flushed = e; });

  // Handler by handler until the flush's first turn has run: it takes part of the queue only.
  for (int i = 0; i < 100 && b.pub->stats("async").published == 0; ++i) b.net.context().poll_one();
  const std::uint64_t first_turn = b.pub->stats("async").published;
  INFO("first turn " << first_turn << " of " << records);
  CHECK(first_turn >= racket::detail::flush_turn_bytes / (1000 + subject(0).size()));
  CHECK(first_turn < records / 2);
  CHECK_FALSE(flushed.has_value());

  // What the turn under way has not sent counts against max_queued_bytes: only about one
  // turn's worth of room came free, not the whole queue.
  std::size_t accepted = 0;
  for (std::size_t i = records; i < 2 * records; ++i) {
    b.pub->publish(b.s, subject(i), value, 0ms, ec);
    if (ec) break;
    ++accepted;
  }
  CHECK(ec == racket::errc::would_block);
  CHECK(accepted == first_turn);  // every record costs the same

  REQUIRE(b.net.run_until([&] { return flushed.has_value(); }, 5s));
  CHECK_FALSE(*flushed);
  // Then the records queued behind the flush under way: everything, in publish order (and
  // after it, the stream's tail probe: its last record again).
  b.net.run_for(50ms);
  CHECK(b.pub->stats("async").published == records + accepted);
  REQUIRE(b.heard.size() >= records + accepted);
  bool in_order = true;
  for (std::size_t i = 0; i < records + accepted; ++i) in_order = in_order && b.heard[i].subject == subject(i);
  CHECK(in_order);
  for (std::size_t i = records + accepted; i < b.heard.size(); ++i)
    CHECK(b.heard[i].subject == subject(records + accepted - 1));
}
