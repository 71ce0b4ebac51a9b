// SPDX-License-Identifier: MIT
#pragma once

// The subscriber's error and loss handlers: replaced from any thread, each call made with its
// own reference and no lock held, so a handler may replace itself or call back into the
// subscriber. Knows nothing of when or why they are called (the subscriber's strand does).

#include "racket/detail/unique_function.hpp"
#include "racket/message.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>

namespace racket::detail {

class handler_slots {
 public:
  using error_function = unique_function<void(const std::error_code&, std::string_view)>;
  using loss_function = unique_function<void(const loss_event&)>;

  // Any thread. The handler replaced is destroyed after the lock is released.
  void set_error(error_function h) {
    auto shared = h ? std::make_shared<const error_function>(std::move(h)) : nullptr;
    std::lock_guard lock(mutex_);
    error_.swap(shared);
  }

  void set_loss(loss_function h) {
    auto shared = h ? std::make_shared<const loss_function>(std::move(h)) : nullptr;
    std::lock_guard lock(mutex_);
    has_loss_.store(shared != nullptr, std::memory_order_relaxed);
    loss_.swap(shared);
  }

  // Whether losses are worth collecting (a loss handler is set). Any thread.
  bool has_loss() const noexcept { return has_loss_.load(std::memory_order_relaxed); }

  // The loss handler, held for the call (nullptr: none).
  std::shared_ptr<const loss_function> loss() const {
    std::lock_guard lock(mutex_);
    return loss_;
  }

  // Calls the error handler, if any; its own exception has nowhere to go and is dropped.
  void call_error(const std::error_code& ec, std::string_view what) const {
    std::shared_ptr<const error_function> h;
    {
      std::lock_guard lock(mutex_);
      h = error_;
    }
    if (!h) return;
    try {
      (*h)(ec, what);
    } catch (...) {
    }
  }

 private:
  mutable std::mutex mutex_;  // guards the two pointers only
  std::shared_ptr<const error_function> error_;
  std::shared_ptr<const loss_function> loss_;
  std::atomic<bool> has_loss_{false};
};

}  // namespace racket::detail
