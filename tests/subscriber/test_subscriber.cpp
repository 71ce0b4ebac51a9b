// SPDX-License-Identifier: MIT
// basic_subscriber on the simulated network: move-only handlers, handlers on their associated
// executors, unsubscribe from inside a handler and the release of the handler object,
// async_unsubscribe, async_close, async_fetch with 0, 1 and several publishers, and every
// completion token kind. Virtual time: every wait is a run_until with a deadline.
#include "racket/subscriber.hpp"

#include "catch.hpp"
#include "co_await_support.hpp"

#include "racket/publisher.hpp"
#include "racket/simulation/network.hpp"

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>
#include <asio/version.hpp>
#if ASIO_VERSION >= 102400
#include <asio/deferred.hpp>
#else
#include <asio/experimental/deferred.hpp>
#endif
#if defined(RACKET_TEST_CO_AWAIT)  // tests/co_await_support.hpp
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/use_awaitable.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <future>
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
using sim_subscriber = racket::basic_subscriber<sim::transport>;
using fetched = std::vector<racket::owned_message<std::string>>;

#if ASIO_VERSION >= 102400
constexpr auto deferred_token = asio::deferred;
#else
constexpr auto deferred_token = asio::experimental::deferred;
#endif

struct bed {
  explicit bed(std::uint64_t seed = 1) : net(seed) {
    lan = net.add_lan("lan");
    net.attach(sub_node, lan, "eth0");
  }
  sim::node& add_pub_node(const std::string& name) {
    sim::node& n = net.add_node(name);
    net.attach(n, lan, "eth0");
    return n;
  }
  sim::network net;
  std::size_t lan = 0;
  sim::node& sub_node = net.add_node("sub");
};

const racket::multicast_pool pool{};

racket::publisher_options pub_options(std::uint64_t seed) { return racket::publisher_options{.resend_jitter = 0, .seed = seed}; }

}  // namespace

TEST_CASE("message, removal, loss and error handlers may be move-only", "[subscriber][handlers]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"mo", pool};
  sim_subscriber sub{b.sub_node};
  int got = 0, removed = 0;
  auto h = sub.subscribe(
      s, "*", [n = std::make_unique<int>(1), &got](const racket::message<std::string>&) { got += *n; },
      [n = std::make_unique<int>(1), &removed](const racket::removal&) { removed += *n; });
  sub.set_loss_handler([n = std::make_unique<int>(0)](const racket::loss_event&) {});
  sub.set_error_handler([n = std::make_unique<int>(0)](const std::error_code&, std::string_view) {});
  sim_publisher pub{pn, pub_options(3)};
  pub.publish(s, "a", std::string("x"), 20ms);
  REQUIRE(b.net.run_until([&] { return got == 1; }, 1s));
  b.net.crash(pn);  // its subjects expire
  REQUIRE(b.net.run_until([&] { return removed == 1; }, 1s));
}

TEST_CASE("a handler bound to another executor runs there, not on the subscriber's", "[subscriber][executor]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"bound", pool};
  sim_subscriber sub{b.sub_node};
  asio::io_context other;
  auto strand = asio::make_strand(other);
  std::vector<std::string> got;
  bool on_strand = true;
  std::vector<std::string> removed;
  auto h = sub.subscribe(
      s, "*",
      asio::bind_executor(strand,
                          [&](const racket::message<std::string>& m) {
                            on_strand = on_strand && strand.running_in_this_thread();
                            got.push_back(std::string(m.subject) + "=" + m.value);
                          }),
      asio::bind_executor(strand, [&](const racket::removal& r) {
        on_strand = on_strand && strand.running_in_this_thread();
        removed.emplace_back(r.subject);
      }));
  sim_publisher pub{pn, pub_options(4)};
  pub.publish(s, "a", std::string("1"), 20ms);
  pub.publish(s, "b", std::string("2"), 20ms);
  b.net.run_for(100ms);
  CHECK(got.empty());  // posted to `other`, which nobody ran yet
  other.poll();
  CHECK(got == std::vector<std::string>{"a=1", "b=2"});
  CHECK(on_strand);
  CHECK(sub.stats(s).delivered == 2);
  b.net.crash(pn);  // its subjects expire
  b.net.run_for(200ms);
  CHECK(removed.empty());
  CHECK(sub.stats(s).expired == 2);
  other.restart();
  other.poll();
  CHECK(removed == std::vector<std::string>{"a", "b"});
  CHECK(on_strand);
}

TEST_CASE("a handler bound to the subscriber's own executor is called inline, as an unbound one",
          "[subscriber][executor]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"self", pool};
  sim_subscriber sub{b.sub_node};
  int got = 0;
  auto h = sub.subscribe(s, "*", asio::bind_executor(sub.get_executor(), [&](const racket::message<std::string>&) {
                           ++got;
                         }));
  sim_publisher pub{pn, pub_options(5)};
  pub.publish(s, "a", std::string("1"));
  REQUIRE(b.net.run_until([&] { return got == 1; }, 1s));
}

TEST_CASE("posted deliveries queued when unsubscribe returns are never called", "[subscriber][unsubscribe]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"queued", pool};
  sim_subscriber sub{b.sub_node};
  asio::io_context other;
  auto token = std::make_shared<int>(0);
  int got = 0;
  auto h = sub.subscribe(s, "*", asio::bind_executor(other, [&got, token](const racket::message<std::string>&) { ++got; }));
  sim_publisher pub{pn, pub_options(6)};
  for (int i = 0; i < 10; ++i) pub.publish(s, "k" + std::to_string(i), std::string("v"));
  b.net.run_for(100ms);
  CHECK(sub.stats(s).delivered == 10);  // handed to `other`
  h.unsubscribe();
  CHECK(token.use_count() == 1);  // the handler (and what it captured) is gone
  CHECK(other.poll() == 10);      // the queued calls ran, and each found the subscription gone
  CHECK(got == 0);
}

TEST_CASE("a handler may unsubscribe itself, and is destroyed as that call returns", "[subscriber][unsubscribe]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"self.unsub", pool};
  sim_subscriber sub{b.sub_node};
  auto token = std::make_shared<int>(0);
  racket::subscription h;
  int calls = 0;
  long uses_inside = 0;
  h = sub.subscribe(s, "*", [&, token](const racket::message<std::string>&) {
    ++calls;
    h.unsubscribe();                    // from inside: no wait for itself, no deadlock
    uses_inside = token.use_count();    // still alive: this call is running
  });
  sim_publisher pub{pn, pub_options(7)};
  for (int i = 0; i < 5; ++i) pub.publish(s, "k" + std::to_string(i), std::string("v"));
  b.net.run_for(100ms);
  CHECK(calls == 1);
  CHECK(uses_inside == 2);
  CHECK(token.use_count() == 1);
}

TEST_CASE("async_unsubscribe completes once the handler object is destroyed, never inline",
          "[subscriber][unsubscribe][async]") {
  bed b;
  const racket::stream<std::string> s{"async.unsub", pool};
  sim_subscriber sub{b.sub_node};
  auto token = std::make_shared<int>(0);
  auto h = sub.subscribe(s, "*", [token](const racket::message<std::string>&) {});
  std::optional<std::error_code> done;
  long uses_at_completion = -1;
  h.async_unsubscribe([&](std::error_code ec) {
    done = ec;
    uses_at_completion = token.use_count();
  });
  CHECK_FALSE(done);  // posted, not inline
  CHECK_FALSE(h.active());
  REQUIRE(b.net.run_until([&] { return done.has_value(); }, 1s));
  CHECK_FALSE(*done);
  CHECK(uses_at_completion == 1);
  // On a handle that is no longer active: completes too.
  // (use_future's handler runs on asio's system executor, a thread of its own: a real wait.)
  std::future<void> again = h.async_unsubscribe(asio::use_future);
  b.net.run_for(1ms);
  REQUIRE(again.wait_for(5s) == std::future_status::ready);
  again.get();
}

TEST_CASE("an error handler may call back into the subscriber", "[subscriber][handlers]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"err.stats", pool};
  sim_subscriber sub{b.sub_node};
  std::uint64_t seen_errors = 0;
  int reports = 0;
  sub.set_error_handler([&](const std::error_code&, std::string_view) {
    seen_errors = sub.stats(s).handler_errors;  // takes the subscriber's lock: must not be held
    ++reports;
  });
  auto h = sub.subscribe(s, "*", [](const racket::message<std::string>&) { throw std::runtime_error("no"); });
  sim_publisher pub{pn, pub_options(8)};
  pub.publish(s, "a", std::string("x"));
  REQUIRE(b.net.run_until([&] { return reports == 1; }, 1s));
  CHECK(seen_errors == 1);
}

TEST_CASE("async_fetch with no publisher completes at its timeout with nothing", "[subscriber][fetch]") {
  bed b;
  const racket::stream<std::string> s{"fetch.none", pool};
  sim_subscriber sub{b.sub_node};
  std::optional<std::error_code> result;
  fetched values{racket::owned_message<std::string>{}};
  const auto t0 = b.net.now();
  sim::clock::time_point done_at{};
  sub.async_fetch(s, "*", 200ms, [&](std::error_code ec, fetched v) {
    result = ec;
    values = std::move(v);
    done_at = b.net.now();
  });
  CHECK_FALSE(result);
  REQUIRE(b.net.run_until([&] { return result.has_value(); }, 1s));
  CHECK_FALSE(*result);
  CHECK(values.empty());
  CHECK(done_at - t0 >= 200ms);
  CHECK(done_at - t0 < 210ms);
}

TEST_CASE("async_fetch asks a publisher and completes with its values, well before the timeout",
          "[subscriber][fetch]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"fetch.one", pool};
  sim_publisher pub{pn, pub_options(9)};
  pub.publish(s, "fx.eur", std::string("1.08"), 10s);  // resends far apart: only the request brings it
  pub.publish(s, "fx.gbp", std::string("1.27"), 10s);
  pub.publish(s, "rates.x", std::string("4"), 10s);
  b.net.run_for(50ms);
  // request_snapshots off: a fetch still asks.
  sim_subscriber sub{b.sub_node, racket::subscriber_options{.request_snapshots = false}};
  std::optional<std::error_code> result;
  fetched values;
  const auto t0 = b.net.now();
  sim::clock::time_point done_at{};
  sub.async_fetch(s, "fx.*", 5s, [&](std::error_code ec, fetched v) {
    result = ec;
    values = std::move(v);
    done_at = b.net.now();
  });
  REQUIRE(b.net.run_until([&] { return result.has_value(); }, 6s));
  CHECK_FALSE(*result);
  REQUIRE(values.size() == 2);
  CHECK(values[0].subject == "fx.eur");
  CHECK(values[0].value == "1.08");
  CHECK(values[0].stream == "fetch.one");
  CHECK(values[0].publisher_id == pub.id());
  CHECK(values[0].view().value == "1.08");
  CHECK(values[1].subject == "fx.gbp");
  CHECK(values[1].interval == 10s);
  CHECK(done_at - t0 < 200ms);  // the quiet period after the answer, not the timeout
  CHECK(done_at - t0 >= 50ms);
}

TEST_CASE("async_fetch gathers the latest value per subject from several publishers, and what is held",
          "[subscriber][fetch]") {
  bed b;
  const racket::stream<std::string> s{"fetch.many", pool};
  std::vector<std::unique_ptr<sim_publisher>> pubs;
  for (int i = 0; i < 3; ++i) {
    pubs.push_back(std::make_unique<sim_publisher>(b.add_pub_node("pub" + std::to_string(i)), pub_options(20 + i)));
  }
  sim_subscriber sub{b.sub_node};
  // Held before the fetch: "held" from publisher 0, delivered to a subscription of its own.
  int seen = 0;
  auto h = sub.subscribe(s, "held", [&](const racket::message<std::string>&) { ++seen; });
  b.net.run_for(10ms);
  pubs[0]->publish(s, "held", std::string("h"), 10s);
  REQUIRE(b.net.run_until([&] { return seen == 1; }, 1s));
  for (int i = 0; i < 3; ++i) {
    pubs[static_cast<std::size_t>(i)]->publish(s, "own." + std::to_string(i), std::to_string(i), 10s);
    pubs[static_cast<std::size_t>(i)]->publish(s, "shared", "from " + std::to_string(i), 10s);
    b.net.run_for(5ms);  // publisher 2's "shared" is the newest
  }
  std::optional<std::error_code> result;
  fetched values;
  sub.async_fetch(s, "*", 2s, [&](std::error_code ec, fetched v) {
    result = ec;
    values = std::move(v);
  });
  REQUIRE(b.net.run_until([&] { return result.has_value(); }, 3s));
  CHECK_FALSE(*result);
  std::vector<std::string> got;
  for (const auto& m : values) got.push_back(m.subject + "=" + m.value);
  CHECK(got == std::vector<std::string>{"held=h", "own.0=0", "own.1=1", "own.2=2", "shared=from 2"});
}

TEST_CASE("async_fetch reports a bad filter and a closed subscriber as errors, posted", "[subscriber][fetch]") {
  bed b;
  const racket::stream<std::string> s{"fetch.err", pool};
  sim_subscriber sub{b.sub_node};
  std::optional<std::error_code> bad;
  sub.async_fetch(s, "a..b", 1s, [&](std::error_code ec, fetched) { bad = ec; });
  CHECK_FALSE(bad);
  REQUIRE(b.net.run_until([&] { return bad.has_value(); }, 1s));
  CHECK(*bad == racket::errc::invalid_filter);

  // A fetch in progress when the subscriber closes completes with operation_aborted.
  std::optional<std::error_code> aborted;
  sub.async_fetch(s, "*", 10s, [&](std::error_code ec, fetched) { aborted = ec; });
  b.net.run_for(1ms);
  std::optional<std::error_code> closed;
  sub.async_close([&](std::error_code ec) { closed = ec; });
  REQUIRE(b.net.run_until([&] { return aborted.has_value() && closed.has_value(); }, 1s));
  CHECK(*aborted == asio::error::operation_aborted);
  CHECK_FALSE(*closed);

  std::optional<std::error_code> after;
  sub.async_fetch(s, "*", 1s, [&](std::error_code ec, fetched) { after = ec; });
  REQUIRE(b.net.run_until([&] { return after.has_value(); }, 1s));
  CHECK(*after == racket::errc::not_open);
}

TEST_CASE("async_close drops every subscription and completes after, never inline", "[subscriber][close]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"close", pool};
  sim_subscriber sub{b.sub_node};
  auto token = std::make_shared<int>(0);
  int got = 0;
  auto h = sub.subscribe(s, "*", [&got, token](const racket::message<std::string>&) { ++got; });
  sim_publisher pub{pn, pub_options(10)};
  pub.publish(s, "a", std::string("1"), 20ms);
  REQUIRE(b.net.run_until([&] { return got == 1; }, 1s));
  std::optional<std::error_code> closed;
  long uses_at_close = -1;
  sub.async_close([&](std::error_code ec) {
    closed = ec;
    uses_at_close = token.use_count();
  });
  CHECK_FALSE(closed);
  REQUIRE(b.net.run_until([&] { return closed.has_value(); }, 1s));
  CHECK_FALSE(*closed);
  CHECK(uses_at_close == 1);
  pub.publish(s, "a", std::string("2"), 20ms);
  b.net.run_for(100ms);
  CHECK(got == 1);
  std::error_code ec;
  auto again = sub.subscribe(s, "*", [](const racket::message<std::string>&) {}, ec);
  CHECK(ec == racket::errc::not_open);
}

TEST_CASE("async_fetch and async_close take every completion token kind", "[subscriber][fetch][tokens]") {
  bed b;
  sim::node& pn = b.add_pub_node("pub");
  const racket::stream<std::string> s{"tokens", pool};
  sim_publisher pub{pn, pub_options(11)};
  pub.publish(s, "k", std::string("v"), 10s);
  b.net.run_for(10ms);
  sim_subscriber sub{b.sub_node};

  SECTION("use_future") {
    // The future is set on asio's system executor (a thread of its own): a real wait after the
    // virtual time the fetch needs.
    std::future<fetched> f = sub.async_fetch(s, "*", 1s, asio::use_future);
    b.net.run_for(1s);
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    const fetched v = f.get();
    REQUIRE(v.size() == 1);
    CHECK(v[0].value == "v");
    std::future<void> c = sub.async_close(asio::use_future);
    b.net.run_for(1ms);
    REQUIRE(c.wait_for(5s) == std::future_status::ready);
    c.get();
  }
  SECTION("deferred") {
    auto op = sub.async_fetch(s, "*", 1s, deferred_token);
    std::optional<fetched> v;
    b.net.run_for(100ms);
    CHECK(sub.stats(s).snapshot_requests_sent == 0);  // not started until launched
    std::move(op)([&](std::error_code ec, fetched got) {
      CHECK_FALSE(ec);
      v = std::move(got);
    });
    REQUIRE(b.net.run_until([&] { return v.has_value(); }, 2s));
    REQUIRE(v->size() == 1);
    bool closed = false;
    auto close = sub.async_close(deferred_token);
    std::move(close)([&](std::error_code) { closed = true; });
    REQUIRE(b.net.run_until([&] { return closed; }, 1s));
  }
#if defined(RACKET_TEST_CO_AWAIT)  // tests/co_await_support.hpp
  SECTION("use_awaitable") {
    std::optional<fetched> v;
    bool closed = false;
    asio::co_spawn(
        b.sub_node.get_executor(),
        [&]() -> asio::awaitable<void> {
          v = co_await sub.async_fetch(s, "*", 1s, asio::use_awaitable);
          co_await sub.async_close(asio::use_awaitable);
          closed = true;
        },
        asio::detached);
    REQUIRE(b.net.run_until([&] { return closed; }, 2s));
    REQUIRE(v->size() == 1);
    CHECK((*v)[0].subject == "k");
  }
#endif
}
