// SPDX-License-Identifier: MIT
// Tests of sim::timer: expiry at exact virtual times, cancellation, waits on a past expiry,
// move-only handlers and moved timers.
#include "racket/simulation/timer.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"

#include <asio/error.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

TEST_CASE("timers fire at exactly their virtual expiry, in time order", "[sim][timer]") {
  sim::network net(41);
  const auto t0 = net.now();
  sim::timer t1(net), t2(net), t3(net);
  std::vector<std::pair<int, sim::clock::time_point>> fired;
  t1.expires_after(30ms);
  t2.expires_at(t0 + 10ms);
  t3.expires_after(20ms);
  CHECK(t2.expiry() == t0 + 10ms);
  for (auto [timer, id] : {std::pair{&t1, 1}, std::pair{&t2, 2}, std::pair{&t3, 3}}) {
    timer->async_wait([&fired, id = id](std::error_code ec) {
      CHECK_FALSE(ec);
      fired.emplace_back(id, sim::clock::now());
    });
  }
  net.run_for(15ms);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] == std::pair{2, t0 + 10ms});
  CHECK(net.now() == t0 + 15ms);
  net.run_for(1h);
  REQUIRE(fired.size() == 3);
  CHECK(fired[1] == std::pair{3, t0 + 20ms});
  CHECK(fired[2] == std::pair{1, t0 + 30ms});
}

TEST_CASE("cancel, re-arming and destroying a timer complete waits with operation_aborted", "[sim][timer]") {
  sim::network net(42);
  std::vector<std::error_code> results;
  auto record = [&](std::error_code ec) { results.push_back(ec); };

  sim::timer t(net);
  t.expires_after(10ms);
  t.async_wait(record);
  t.async_wait(record);
  CHECK(t.cancel() == 2);
  CHECK(results.empty());  // completions are posted, never called inline
  net.run_for(20ms);
  REQUIRE(results.size() == 2);
  CHECK(results[0] == asio::error::operation_aborted);
  CHECK(results[1] == asio::error::operation_aborted);
  CHECK(t.cancel() == 0);

  results.clear();
  t.expires_after(10ms);
  t.async_wait(record);
  CHECK(t.expires_after(5ms) == 1);  // re-arming cancels the pending wait
  t.async_wait(record);
  const auto armed = net.now();
  sim::clock::time_point fired_at{};
  t.async_wait([&](std::error_code ec) {
    if (!ec) fired_at = sim::clock::now();
  });
  net.run_for(20ms);
  REQUIRE(results.size() == 2);
  CHECK(results[0] == asio::error::operation_aborted);
  CHECK_FALSE(results[1]);
  CHECK(fired_at == armed + 5ms);

  results.clear();
  {
    sim::timer doomed(net);
    doomed.expires_after(1s);
    doomed.async_wait(record);
  }
  net.run_for(1ms);
  REQUIRE(results.size() == 1);
  CHECK(results[0] == asio::error::operation_aborted);
}

TEST_CASE("a wait on a past expiry completes at once, without advancing virtual time", "[sim][timer]") {
  sim::network net(43);
  sim::timer t(net);
  CHECK(t.expiry() == sim::clock::time_point{});
  const auto t0 = net.now();
  std::optional<std::error_code> result;
  t.async_wait([&](std::error_code ec) { result = ec; });
  CHECK_FALSE(result);
  net.run_until_idle();
  REQUIRE(result);
  CHECK_FALSE(*result);
  CHECK(net.now() == t0);
}

TEST_CASE("timers accept move-only handlers and moved timers keep their waits", "[sim][timer]") {
  sim::network net(44);
  auto token = std::make_unique<int>(5);
  int got = 0;
  sim::timer t(net);
  t.expires_after(1ms);
  t.async_wait([p = std::move(token), &got](std::error_code ec) {
    if (!ec) got = *p;
  });
  sim::timer moved = std::move(t);
  net.run_for(2ms);
  CHECK(got == 5);

  // A periodic timer that re-arms from its own handler.
  int ticks = 0;
  std::function<void(std::error_code)> tick = [&](std::error_code ec) {
    if (ec) return;
    ++ticks;
    moved.expires_at(moved.expiry() + 100ms);
    moved.async_wait(tick);
  };
  moved.expires_after(100ms);
  moved.async_wait(tick);
  net.run_for(1s);
  CHECK(ticks == 10);
}
