// SPDX-License-Identifier: MIT
#pragma once

// The RAII handle a subscribe returns: dropping it unsubscribes. Knows only the cancel
// function it was given and its handle number, nothing of the subscriber behind them.

#include <cstdint>
#include <functional>
#include <utility>

namespace racket {

/// An RAII subscription: destroying it (or calling `unsubscribe`) stops delivery; the last
/// subscription on a group and port leaves the group on every interface. Move-only.
class subscription {
 public:
  subscription() = default;
  subscription(std::function<void(std::uint64_t)> cancel, std::uint64_t handle)
      : cancel_(std::move(cancel)), handle_(handle) {}
  subscription(subscription&& o) noexcept : cancel_(std::move(o.cancel_)), handle_(std::exchange(o.handle_, 0)) {}
  subscription& operator=(subscription&& o) noexcept {
    if (this != &o) {
      unsubscribe();
      cancel_ = std::move(o.cancel_);
      handle_ = std::exchange(o.handle_, 0);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { unsubscribe(); }

  /// Stops delivery; safe from any thread and from inside the subscription's own handler.
  void unsubscribe() {
    if (handle_ != 0 && cancel_) cancel_(handle_);
    handle_ = 0;
  }

  /// True until unsubscribed.
  bool active() const noexcept { return handle_ != 0; }

 private:
  std::function<void(std::uint64_t)> cancel_;
  std::uint64_t handle_ = 0;
};

}  // namespace racket
