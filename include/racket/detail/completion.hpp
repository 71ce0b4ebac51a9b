// SPDX-License-Identifier: MIT
#pragma once

// How a finished asynchronous operation completes its handler: posted to the handler's
// associated executor (the object's own executor when it has none), never inline in the
// caller, with outstanding work kept on that executor from the start of the operation until
// the handler has run. Knows nothing of what the operations do; the objects that start them
// (publisher, subscriber) go through `asio::async_initiate` and then through here.

#include <asio/associated_executor.hpp>
#include <asio/execution/executor.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace racket::detail {

// Posts `handler(args...)` to `asio::get_associated_executor(handler, fallback)`: so
// `asio::bind_executor(strand, h)` is honoured, and the handler never runs inside the call
// that completes it (nor under a lock the caller holds). The arguments are stored by value.
// The post itself keeps work outstanding on that executor until the handler has run.
template <class Handler, class Executor, class... Args>
void complete_later(Handler&& handler, const Executor& fallback, Args&&... args) {
  using handler_type = std::decay_t<Handler>;
  const auto ex = asio::get_associated_executor(handler, fallback);
  asio::post(ex, [h = handler_type(std::forward<Handler>(handler)),
                  stored = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]() mutable {
    std::apply([&h](auto&... a) { std::move(h)(std::move(a)...); }, stored);
  });
}

// Outstanding work on `ex` for as long as the result lives: the standard executor model's
// `outstanding_work.tracked` where `ex` has it (a strand over `any_io_executor` has only
// that), else the older model's work guard.
template <class Executor>
auto track_work(const Executor& ex) {
  if constexpr (asio::execution::is_executor<Executor>::value) {
    return asio::prefer(ex, asio::execution::outstanding_work.tracked);
  } else {
    return asio::make_work_guard(ex);
  }
}

// A handler whose operation is under way: holds outstanding work on the handler's associated
// executor from the start (so an `io_context::run()` there does not return while the
// operation is pending), and completes it once through `complete_later`. Move-only; dropped
// without completing (its operation abandoned, the object that ran it destroyed), it only
// releases the work: the handler is destroyed, never called.
template <class Handler, class Executor>
class pending_completion {
 public:
  using handler_type = std::decay_t<Handler>;
  using executor_type = std::decay_t<decltype(asio::get_associated_executor(std::declval<const handler_type&>(),
                                                                            std::declval<const Executor&>()))>;

  pending_completion(handler_type handler, const Executor& fallback)
      : handler_(std::move(handler)),
        fallback_(fallback),
        work_(track_work(asio::get_associated_executor(*handler_, fallback_))) {}

  // The moved-from one is left empty (not pending), so the handler completes once.
  pending_completion(pending_completion&& other)
      : handler_(std::move(other.handler_)), fallback_(other.fallback_), work_(std::move(other.work_)) {
    other.handler_.reset();
    other.work_.reset();
  }
  pending_completion& operator=(pending_completion&&) = delete;
  pending_completion(const pending_completion&) = delete;
  pending_completion& operator=(const pending_completion&) = delete;

  bool pending() const noexcept { return handler_.has_value(); }

  // Posts the handler with `args`; the work is released only after the post holds its own.
  template <class... Args>
  void complete(Args&&... args) {
    if (!handler_) return;
    complete_later(std::move(*handler_), fallback_, std::forward<Args>(args)...);
    handler_.reset();
    work_.reset();
  }

 private:
  std::optional<handler_type> handler_;
  Executor fallback_;
  std::optional<decltype(track_work(std::declval<const executor_type&>()))> work_;
};

}  // namespace racket::detail
