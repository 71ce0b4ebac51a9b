// SPDX-License-Identifier: MIT
// detail::subscription_entry and entry_call: stop() from another thread waits for a call in
// flight and destroys the handlers before it returns; stop() from inside a call does not wait,
// and the call destroys them as it ends; no call enters after stop(); release waiters run once.
#include "racket/detail/subscriber/subscription_entry.hpp"

#include "catch.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

using racket::detail::delivery_record;
using racket::detail::entry_call;
using racket::detail::subscription_entry;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<subscription_entry> entry_holding(const std::shared_ptr<int>& token) {
  auto e = std::make_shared<subscription_entry>();
  e->deliver = [token](subscription_entry&, const delivery_record&) { return true; };
  return e;
}

}  // namespace

TEST_CASE("stop from another thread waits for the call in flight, then destroys the handler",
          "[subscriber][subscription_entry]") {
  auto token = std::make_shared<int>(0);
  auto e = entry_holding(token);
  std::atomic<bool> inside{false}, finish{false};
  std::atomic<long> uses_when_call_ended{-1};
  std::thread caller([&] {
    const entry_call call(*e);
    REQUIRE(call);
    inside = true;
    while (!finish) std::this_thread::yield();
    std::this_thread::sleep_for(20ms);  // stop() is waiting meanwhile
    uses_when_call_ended = token.use_count();
  });
  while (!inside) std::this_thread::yield();
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    e->stop();
    stopped = true;
  });
  std::this_thread::sleep_for(10ms);
  CHECK_FALSE(stopped);  // waiting for the call
  finish = true;
  stopper.join();
  caller.join();
  CHECK(stopped);
  CHECK(uses_when_call_ended == 2);  // alive during the call
  CHECK(token.use_count() == 1);     // destroyed when stop() returned
  const entry_call late(*e);
  CHECK_FALSE(late);  // no call enters after stop
}

TEST_CASE("stop from inside a call does not wait, and the call destroys the handler as it ends",
          "[subscriber][subscription_entry]") {
  auto token = std::make_shared<int>(0);
  auto e = entry_holding(token);
  int released = 0;
  e->add_release_waiter([&] { ++released; });
  {
    const entry_call call(*e);
    REQUIRE(call);
    CHECK(e->inside());
    e->stop();  // would deadlock if it waited for itself
    CHECK_FALSE(call.active());
    CHECK(token.use_count() == 2);
    CHECK(released == 0);
  }
  CHECK_FALSE(e->inside());
  CHECK(token.use_count() == 1);
  CHECK(released == 1);
  int late = 0;
  e->add_release_waiter([&] { ++late; });  // after the release: runs at once
  CHECK(late == 1);
}

TEST_CASE("stop with no call in flight destroys the handler at once", "[subscriber][subscription_entry]") {
  auto token = std::make_shared<int>(0);
  auto e = entry_holding(token);
  e->stop();
  CHECK(token.use_count() == 1);
  e->stop();  // twice: nothing more
  CHECK(token.use_count() == 1);
}
