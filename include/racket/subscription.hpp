// SPDX-License-Identifier: MIT
#pragma once

// The RAII handle a subscribe returns: dropping it unsubscribes. Knows only the cancel
// function it was given, its handle number and the executor its completions fall back to,
// nothing of the subscriber behind them.

#include "racket/detail/completion.hpp"
#include "racket/detail/unique_function.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/system_executor.hpp>

#include <cstdint>
#include <functional>
#include <system_error>
#include <utility>

namespace racket {

/// An RAII subscription: destroying it (or calling `unsubscribe`) stops delivery; the last
/// subscription on a group and port leaves the group on every interface. Move-only.
///
/// What `unsubscribe()` promises: when it returns on a thread that is not running one of this
/// subscription's handlers, no call of them starts any more, none is running, and the handler
/// objects (with what they captured) have been destroyed: it waits for a call in flight on
/// another thread (bounded by that call). Called from inside its own handler it cannot wait
/// for itself: no further call starts, and the handlers are destroyed as the running call
/// returns; `async_unsubscribe` tells when. Two handlers that unsubscribe each other from two
/// threads at once wait for each other: do not. The handle itself is a plain object: use one
/// from one thread at a time (the subscriber behind it is what any thread may call).
///
/// ```cpp
/// auto s = sub.subscribe(prices, "fx.*", [state = std::make_unique<book>()](const auto& m) { ... });
/// s.async_unsubscribe([](std::error_code) { /* the handler and its book are gone */ });
/// ```
class subscription {
 public:
  /// What the subscriber gives the handle: cancels `handle`, then calls `released` (may be
  /// empty) once the handlers are destroyed.
  using cancel_function = detail::unique_function<void(std::uint64_t handle, detail::unique_function<void()> released)>;

  subscription() = default;
  /// A handle whose cancel function knows nothing of release: `released` runs right after it.
  subscription(std::function<void(std::uint64_t)> cancel, std::uint64_t handle)
      : handle_(cancel ? handle : 0) {
    if (cancel) {
      cancel_ = [c = std::move(cancel)](std::uint64_t h, detail::unique_function<void()> released) {
        c(h);
        if (released) released();
      };
    }
  }
  subscription(cancel_function cancel, std::uint64_t handle, asio::any_io_executor executor)
      : cancel_(std::move(cancel)), handle_(handle), executor_(std::move(executor)) {}
  subscription(subscription&& o) noexcept
      : cancel_(std::move(o.cancel_)), handle_(std::exchange(o.handle_, 0)), executor_(std::move(o.executor_)) {}
  subscription& operator=(subscription&& o) noexcept {
    if (this != &o) {
      unsubscribe();
      cancel_ = std::move(o.cancel_);
      handle_ = std::exchange(o.handle_, 0);
      executor_ = std::move(o.executor_);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { unsubscribe(); }

  /// Stops delivery (see the class comment for what holds when it returns); safe from any
  /// thread and from inside the subscription's own handler.
  void unsubscribe() {
    if (handle_ != 0 && cancel_) cancel_(handle_, {});
    handle_ = 0;
  }

  /// Unsubscribes as `unsubscribe()` does, and completes with `void(std::error_code)` (never
  /// an error) once the subscription's handler objects have been destroyed, on the completion
  /// handler's associated executor (default: the subscriber's strand), never inline. Any
  /// completion token: a callback, `asio::use_future`, `asio::use_awaitable`, deferred. On an
  /// inactive handle it completes at once (posted).
  template <class CompletionToken>
  auto async_unsubscribe(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [this](auto handler) {
          asio::any_io_executor fallback = executor_;
          if (!fallback) fallback = asio::system_executor();
          detail::unique_function<void()> released = [h = std::move(handler), fallback]() mutable {
            detail::complete_later(std::move(h), fallback, std::error_code{});
          };
          const std::uint64_t handle = std::exchange(handle_, 0);
          if (handle != 0 && cancel_) {
            cancel_(handle, std::move(released));
          } else {
            released();
          }
        },
        token);
  }

  /// True until unsubscribed.
  bool active() const noexcept { return handle_ != 0; }

 private:
  cancel_function cancel_;
  std::uint64_t handle_ = 0;
  asio::any_io_executor executor_;
};

}  // namespace racket
