// SPDX-License-Identifier: MIT
// handler_slots alone: set, replaced (also from inside the handler), called without its lock
// held, move-only handlers, and an error handler's exception dropped.
#include "racket/detail/subscriber/handler_slots.hpp"

#include "catch.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

TEST_CASE("handler_slots: error and loss handlers set, replaced and called", "[handler_slots]") {
  racket::detail::handler_slots slots;
  slots.call_error(std::error_code{}, "nobody listens");  // none set: nothing happens
  CHECK_FALSE(slots.has_loss());
  CHECK(slots.loss() == nullptr);

  std::string seen;
  auto owned = std::make_unique<int>(5);  // a move-only handler
  slots.set_error([&, owned = std::move(owned)](const std::error_code&, std::string_view what) {
    seen = std::string(what) + std::to_string(*owned);
    slots.set_error({});  // replaces itself: no deadlock, and this call's copy stays alive
  });
  slots.call_error(std::make_error_code(std::errc::io_error), "x");
  CHECK(seen == "x5");
  seen.clear();
  slots.call_error(std::make_error_code(std::errc::io_error), "y");
  CHECK(seen.empty());

  int losses = 0;
  slots.set_loss([&](const racket::loss_event&) { ++losses; });
  REQUIRE(slots.has_loss());
  const auto h = slots.loss();
  REQUIRE(h != nullptr);
  (*h)(racket::loss_event{});
  CHECK(losses == 1);
  slots.set_loss({});
  CHECK_FALSE(slots.has_loss());
  (*h)(racket::loss_event{});  // the reference taken still works
  CHECK(losses == 2);

  slots.set_error([](const std::error_code&, std::string_view) { throw std::runtime_error("boom"); });
  CHECK_NOTHROW(slots.call_error(std::error_code{}, "z"));
}
