// SPDX-License-Identifier: MIT
#pragma once

// The handler calls of one batch: the deliveries, removals and loss reports that a datagram
// or a timer produced, collected while the subscriber holds its lock and called after it has
// released it (so a handler may subscribe, unsubscribe or publish); a handler's exception is
// caught and handed to the caller's `on_error`. Also keeps alive the subscriptions dropped
// while a batch is in flight, whose entries the batch still points at. Knows nothing of
// streams' state, the rules, locks or executors: the subscriber locks around it.

#include "racket/detail/config.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/detail/unique_function.hpp"
#include "racket/message.hpp"
#include "racket/wire.hpp"

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racket::detail {

class dispatcher {
 public:
  using entry_ptr = std::shared_ptr<subscription_entry>;

  // A plain pointer: the entry is held by the index (and its handle) while the batch is
  // built under the lock, and by the retired entries if it is dropped while the batch runs.
  //
  // Built in place in the batch (emplace_back with these arguments): a delivery_record
  // made on the stack and copied in was read back with 16-byte loads over its 1-, 4- and
  // 8-byte stores, a stall the CPU cannot forward around (a fifth of process's time at 64 B
  // payloads), and a default-constructed one was zeroed first.
  struct delivery {
    delivery(subscription_entry* e, std::string_view stream, const wire::record& r, std::uint64_t publisher_id,
             bool is_new) noexcept
        : entry(e),
          rec{stream,      r.subject,      r.payload,      publisher_id, r.sequence,
              r.timestamp_ns, r.interval_ms, is_new, r.resend() || r.snapshot()} {}
    subscription_entry* entry;
    delivery_record rec;
  };

  // What the delivery handlers of a batch did: `delivered` calls, `refused` payloads (the
  // codec's), not counting the calls that threw.
  struct outcome {
    std::uint64_t delivered = 0;
    std::uint64_t refused = 0;
  };

  // --- collecting (under the subscriber's lock) ---

  RACKET_HOT_INLINE void add_delivery(subscription_entry* e, std::string_view stream, const wire::record& r,
                                      std::uint64_t publisher_id, bool is_new) {
    deliveries_.emplace_back(e, stream, r, publisher_id, is_new);
  }

  void add_removal(const entry_ptr& e, const std::string& subject, std::uint64_t publisher_id, removal_reason why) {
    removals_.push_back(pending_removal{e, subject, publisher_id, why});
  }

  void add_loss(const std::string& stream, std::uint64_t publisher_id, std::uint64_t first, std::uint64_t last) {
    losses_.push_back(pending_loss{stream, publisher_id, first, last});
  }

  bool has_deliveries() const noexcept { return !deliveries_.empty(); }
  bool has_removals() const noexcept { return !removals_.empty(); }
  bool has_losses() const noexcept { return !losses_.empty(); }
  // The entry of the batch's first delivery (has_deliveries()).
  const subscription_entry& first_entry() const noexcept { return *deliveries_.front().entry; }

  void clear_deliveries_and_removals() noexcept {
    deliveries_.clear();
    removals_.clear();
  }
  void clear_losses() noexcept { losses_.clear(); }

  // --- entries dropped during a batch (under the subscriber's lock) ---

  // The deliveries collected are in flight until end_flight: entries dropped meanwhile are
  // kept (retire), not destroyed.
  void start_flight() noexcept { in_flight_ = true; }
  void retire(const entry_ptr& e) {
    if (in_flight_) retired_.push_back(e);
  }
  // Ends the flight; the entries retired during it are returned, for the caller to drop
  // after it has released its lock.
  std::vector<entry_ptr> end_flight() noexcept {
    in_flight_ = false;
    std::vector<entry_ptr> retired;
    retired.swap(retired_);
    return retired;
  }

  // --- calling (without the lock) ---

  // Calls `h` (may be empty) for every loss collected, then forgets them; a throw is ignored.
  void call_loss_handler(const unique_function<void(const loss_event&)>& h) {
    for (const auto& l : losses_) {
      if (!h) break;
      try {
        h(loss_event{l.stream, l.publisher_id, l.first, l.last});
      } catch (...) {
      }
    }
    losses_.clear();
  }

  // Calls the delivery handler of every delivery whose subscription is still active.
  // `on_error(const subscription_entry&)` runs inside the catch of a handler's exception.
  template <class OnError>
  outcome call_deliveries(OnError&& on_error) {
    outcome out;
    // Consecutive deliveries to one subscription (the usual case: one subscription, a
    // datagram of records) are one stretch inside its call guard: one pair of atomic
    // operations per stretch, and a plain load of its flag per call.
    std::size_t i = 0;
    const std::size_t n = deliveries_.size();
    while (i < n) {
      subscription_entry& e = *deliveries_[i].entry;
      const entry_call call(e);
      for (; i < n && deliveries_[i].entry == &e; ++i) {
        if (!call.active()) continue;
        delivery& d = deliveries_[i];
        d.rec.stream = e.stream;  // the entry is held; the stream state may be gone
        bool ok = true;
        try {
          ok = e.deliver(e, d.rec);
        } catch (...) {
          on_error(e);
          continue;
        }
        ++(ok ? out.delivered : out.refused);
      }
    }
    return out;
  }

  // Calls the removal handler of every removal whose subscription is still active.
  template <class OnError>
  void call_removals(OnError&& on_error) {
    for (auto& r : removals_) {
      subscription_entry& e = *r.entry;
      const entry_call call(e);
      if (!call) continue;
      try {
        e.on_removed(e, removal{e.stream, r.subject, r.publisher_id, r.reason});
      } catch (...) {
        on_error(e);
      }
    }
  }

  enum class call_result { delivered, refused, threw, inactive };

  // One delivery outside a batch (the replay of held values to a new subscription).
  template <class OnError>
  static call_result call_one(subscription_entry& e, const delivery_record& rec, OnError&& on_error) {
    const entry_call call(e);
    if (!call) return call_result::inactive;
    bool ok = true;
    try {
      ok = e.deliver(e, rec);
    } catch (...) {
      on_error(e);
      return call_result::threw;
    }
    return ok ? call_result::delivered : call_result::refused;
  }

  // What a handler's exception says, for the error handler; call it inside the catch.
  static std::string describe_handler_error(const subscription_entry& e) {
    std::string what = "handler for stream '" + e.stream + "' threw";
    try {
      throw;
    } catch (const std::exception& ex) {
      what += std::string(": ") + ex.what();
    } catch (...) {
    }
    return what;
  }

 private:
  struct pending_removal {
    entry_ptr entry;
    std::string subject;
    std::uint64_t publisher_id;
    removal_reason reason;
  };

  struct pending_loss {
    std::string stream;
    std::uint64_t publisher_id;
    std::uint64_t first;
    std::uint64_t last;
  };

  std::vector<delivery> deliveries_;
  std::vector<pending_removal> removals_;
  std::vector<pending_loss> losses_;
  bool in_flight_ = false;
  std::vector<entry_ptr> retired_;
};

}  // namespace racket::detail
