// SPDX-License-Identifier: MIT
// detail::dispatcher: a batch's handler calls (deliveries, removals, loss reports), skipping
// subscriptions dropped meanwhile, counting what the codec refused, handing exceptions to the
// caller inside their catch; and the entries it keeps alive while a batch is in flight.
#include "racket/detail/subscriber/dispatcher.hpp"

#include "catch.hpp"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using racket::detail::dispatcher;
using racket::detail::subscription_entry;
using entry_ptr = std::shared_ptr<subscription_entry>;

// An entry whose handlers record what they were called with; payload "refuse" is refused by
// the "codec", "throw" throws.
struct recorder {
  std::vector<std::string> calls;
  entry_ptr make(const std::string& stream) {
    auto e = std::make_shared<subscription_entry>();
    e->stream = stream;
    e->deliver = [this](subscription_entry&, const racket::detail::delivery_record& r) {
      const std::string payload(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
      if (payload == "throw") throw std::runtime_error("bad value");
      calls.push_back(std::string(r.stream) + "/" + std::string(r.subject) + "=" + payload +
                      (r.is_new ? " new" : "") + (r.resend ? " resend" : ""));
      return payload != "refuse";
    };
    e->on_removed = [this](subscription_entry&, const racket::removal& r) {
      if (r.subject == "throw") throw 42;
      calls.push_back("removed " + std::string(r.stream) + "/" + std::string(r.subject));
    };
    return e;
  }
};

racket::wire::record rec(std::string_view subject, std::string_view payload, std::uint8_t flags = 0) {
  return racket::wire::record{.flags = flags,
                              .interval_ms = 1000,
                              .sequence = 1,
                              .subject = subject,
                              .payload = {reinterpret_cast<const std::byte*>(payload.data()), payload.size()}};
}

}  // namespace

TEST_CASE("deliveries are called in order, with the entry's stream, and refusals and throws are counted apart",
          "[subscriber][dispatcher]") {
  recorder r;
  const auto a = r.make("sensors");
  dispatcher batch;
  CHECK_FALSE(batch.has_deliveries());
  batch.add_delivery(a.get(), "gone", rec("x", "1"), 7, true);
  batch.add_delivery(a.get(), "gone", rec("y", "refuse", racket::wire::flags::resend), 7, false);
  batch.add_delivery(a.get(), "gone", rec("z", "throw"), 7, false);
  batch.add_delivery(a.get(), "gone", rec("w", "2", racket::wire::flags::snapshot), 7, false);
  CHECK(&batch.first_entry() == a.get());
  std::vector<std::string> errors;
  const auto out = batch.call_deliveries([&](const subscription_entry& e) {
    errors.push_back(dispatcher::describe_handler_error(e));  // inside the catch
  });
  CHECK(out.delivered == 2);
  CHECK(out.refused == 1);
  CHECK(r.calls == std::vector<std::string>{"sensors/x=1 new", "sensors/y=refuse resend", "sensors/w=2 resend"});
  CHECK(errors == std::vector<std::string>{"handler for stream 'sensors' threw: bad value"});
  batch.clear_deliveries_and_removals();
  CHECK_FALSE(batch.has_deliveries());
}

TEST_CASE("a subscription dropped before its call gets none", "[subscriber][dispatcher]") {
  recorder r;
  const auto a = r.make("s");
  const auto b = r.make("s");
  dispatcher batch;
  batch.add_delivery(a.get(), "s", rec("x", "1"), 7, false);
  batch.add_delivery(b.get(), "s", rec("x", "1"), 7, false);
  batch.add_removal(a, "x", 7, racket::removal_reason::expired);
  batch.add_removal(b, "x", 7, racket::removal_reason::expired);
  a->active = false;
  const auto none = [](const subscription_entry&) { FAIL("no handler throws"); };
  CHECK(batch.call_deliveries(none).delivered == 1);
  batch.call_removals(none);
  CHECK(r.calls == std::vector<std::string>{"s/x=1", "removed s/x"});
}

TEST_CASE("removal handlers hear the subject, and a throw goes to on_error", "[subscriber][dispatcher]") {
  recorder r;
  const auto a = r.make("s");
  dispatcher batch;
  batch.add_removal(a, "throw", 7, racket::removal_reason::withdrawn);
  batch.add_removal(a, "kept", 7, racket::removal_reason::evicted);
  CHECK(batch.has_removals());
  std::vector<std::string> errors;
  batch.call_removals([&](const subscription_entry& e) { errors.push_back(dispatcher::describe_handler_error(e)); });
  CHECK(r.calls == std::vector<std::string>{"removed s/kept"});
  CHECK(errors == std::vector<std::string>{"handler for stream 's' threw"});  // not a std::exception
}

TEST_CASE("loss reports go to the loss handler, if any, and are forgotten", "[subscriber][dispatcher]") {
  dispatcher batch;
  batch.add_loss("s", 7, 3, 4);
  batch.add_loss("s", 7, 9, 9);
  std::vector<std::uint64_t> firsts;
  batch.call_loss_handler([&](const racket::loss_event& e) {
    CHECK(e.stream == "s");
    CHECK(e.publisher_id == 7);
    firsts.push_back(e.first);
    throw std::runtime_error("ignored");
  });
  CHECK(firsts == std::vector<std::uint64_t>{3, 9});
  CHECK_FALSE(batch.has_losses());
  batch.add_loss("s", 7, 1, 1);
  batch.call_loss_handler({});
  CHECK_FALSE(batch.has_losses());
}

TEST_CASE("entries dropped while a batch is in flight are kept until it ends", "[subscriber][dispatcher]") {
  recorder r;
  dispatcher batch;
  auto a = r.make("s");
  std::weak_ptr<subscription_entry> weak = a;
  batch.retire(a);  // not in flight: nothing kept
  CHECK(batch.end_flight().empty());
  batch.start_flight();
  batch.retire(a);
  a.reset();
  CHECK_FALSE(weak.expired());
  auto retired = batch.end_flight();
  CHECK(retired.size() == 1);
  retired.clear();
  CHECK(weak.expired());
  batch.retire(r.make("s"));  // the flight is over
  CHECK(batch.end_flight().empty());
}

TEST_CASE("one call outside a batch says what happened", "[subscriber][dispatcher]") {
  recorder r;
  const auto a = r.make("s");
  const auto call = [&](std::string_view payload) {
    const racket::detail::delivery_record d{
        "s", "x", {reinterpret_cast<const std::byte*>(payload.data()), payload.size()}, 7, 1, 0, 1000, true, true};
    int errors = 0;
    const auto result = dispatcher::call_one(*a, d, [&](const subscription_entry&) { ++errors; });
    CHECK(errors == (result == dispatcher::call_result::threw ? 1 : 0));
    return result;
  };
  CHECK(call("1") == dispatcher::call_result::delivered);
  CHECK(call("refuse") == dispatcher::call_result::refused);
  CHECK(call("throw") == dispatcher::call_result::threw);
}
