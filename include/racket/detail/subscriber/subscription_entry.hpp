// SPDX-License-Identifier: MIT
#pragma once

// One subscription as a subscriber holds it (`subscription_entry`: its stream, endpoint,
// filter and type-erased handlers) and what its delivery handler is given
// (`delivery_record`, before the codec turns it into a `message<T>`); and the rule that makes
// unsubscribe reliable: every call of the entry's handlers goes through an `entry_call`, and
// `stop` (what unsubscribe does) waits for the calls in flight, then destroys the handlers.
// Knows nothing of subject state, the subscriber's lock or executors.

#include "racket/codec.hpp"
#include "racket/detail/unique_function.hpp"
#include "racket/endpoint.hpp"
#include "racket/message.hpp"
#include "racket/subject.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace racket::detail {

struct delivery_record {
  std::string_view stream;
  std::string_view subject;
  byte_view payload;
  std::uint64_t publisher_id;
  std::uint64_t sequence;
  std::uint64_t timestamp_ns;
  std::uint32_t interval_ms;
  bool is_new;
  bool resend;
};

struct subscription_entry;

// The entries whose handlers this thread is inside now, innermost last (more than one when a
// handler runs an event loop). Unsubscribe from inside a handler finds its entry here.
inline std::vector<const subscription_entry*>& entries_called_on_this_thread() {
  thread_local std::vector<const subscription_entry*> entries;
  return entries;
}

struct subscription_entry : std::enable_shared_from_this<subscription_entry> {
  using deliver_function = unique_function<bool(subscription_entry&, const delivery_record&)>;
  using removal_function = unique_function<void(subscription_entry&, const removal&)>;

  std::uint64_t id = 0;
  std::string stream;
  endpoint ep;
  subject_filter filter;
  // Read only inside an entry_call (stop destroys them once no call is in flight).
  deliver_function deliver;  // false: the codec refused the payload
  removal_function on_removed;
  bool wants_removals = false;  // set before the entry is shared; on_removed is not read to decide
  std::atomic<bool> active{true};
  bool replayed = false;  // executor only: live deliveries start after the replay of held values

  // Called once the handlers are destroyed (never under a lock of the subscriber's).
  void add_release_waiter(unique_function<void()> w) {
    std::unique_lock lock(release_mutex_);
    if (!released_) {
      waiters_.push_back(std::move(w));
      return;
    }
    lock.unlock();
    w();
  }

  // Unsubscribe's half: no call starts after this returns; when not called from inside one of
  // this entry's handler calls, it waits for the calls in flight (bounded by the running call)
  // and destroys the handlers before returning; from inside, the call in flight that finishes
  // last destroys them. Never call it under a lock a handler may take.
  void stop() {
    if (inside()) {
      release_on_leave_.store(true, std::memory_order_seq_cst);
      active.store(false, std::memory_order_seq_cst);
      return;
    }
    active.store(false, std::memory_order_seq_cst);
    while (in_flight_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    release();
  }

  // Whether this thread is inside a call of this entry's handlers.
  bool inside() const noexcept;

  // --- the call protocol (entry_call) ---
  bool enter() noexcept {
    in_flight_.fetch_add(1, std::memory_order_seq_cst);
    if (active.load(std::memory_order_seq_cst)) return true;
    leave();
    return false;
  }
  void leave() noexcept {
    if (in_flight_.fetch_sub(1, std::memory_order_seq_cst) == 1 && release_on_leave_.load(std::memory_order_seq_cst)) {
      release();
    }
  }

 private:
  void release() noexcept {
    if (released_flag_.exchange(true, std::memory_order_acq_rel)) return;
    {
      // The handlers (and what they captured) go here, on this thread, with no lock held.
      deliver_function d = std::move(deliver);
      removal_function r = std::move(on_removed);
    }
    std::vector<unique_function<void()>> waiters;
    {
      std::lock_guard lock(release_mutex_);
      released_ = true;
      waiters.swap(waiters_);
    }
    for (auto& w : waiters) w();
  }

  std::atomic<int> in_flight_{0};
  std::atomic<bool> release_on_leave_{false};
  std::atomic<bool> released_flag_{false};
  std::mutex release_mutex_;
  bool released_ = false;  // under release_mutex_
  std::vector<unique_function<void()>> waiters_;
};

// One stretch of calls into an entry's handlers: entered (and the entry still active) or not;
// while it lives, the entry's handlers are alive and this thread is marked as inside them.
class entry_call {
 public:
  explicit entry_call(subscription_entry& e) : entry_(&e), entered_(e.enter()) {
    if (!entered_) return;
    try {
      entries_called_on_this_thread().push_back(&e);
    } catch (...) {
      e.leave();
      throw;
    }
  }
  entry_call(const entry_call&) = delete;
  entry_call& operator=(const entry_call&) = delete;
  ~entry_call() {
    if (!entered_) return;
    entries_called_on_this_thread().pop_back();
    entry_->leave();
  }
  explicit operator bool() const noexcept { return entered_; }
  // Still active (checked before each call of a stretch of several).
  bool active() const noexcept { return entered_ && entry_->active.load(std::memory_order_acquire); }

 private:
  subscription_entry* entry_;
  bool entered_;
};

inline bool subscription_entry::inside() const noexcept {
  for (const subscription_entry* e : entries_called_on_this_thread()) {
    if (e == this) return true;
  }
  return false;
}

}  // namespace racket::detail
