// SPDX-License-Identifier: MIT
#pragma once

// `sim::timer`: a one-shot timer on the network's virtual time, started through
// `asio::async_initiate`, that dies with the node incarnation it belongs to. Knows nothing of
// datagrams, faults or the transport.

#include "racket/simulation/clock.hpp"
#include "racket/simulation/network_core.hpp"

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace racket::sim {

namespace detail {

// A pending async_wait, type-erased; the handler may be move-only.
struct wait_op {
  virtual ~wait_op() = default;
  // Posts the completion; it runs only if `owner` (when set) is still the same incarnation.
  virtual void complete(std::error_code ec, asio::io_context& ctx, const node* owner,
                        std::uint64_t incarnation) = 0;
};

struct timer_state {
  network* net = nullptr;
  const node* owner = nullptr;  // null: a network-wide timer, immune to crashes
  std::uint64_t incarnation = 0;
  clock::time_point expiry{};
  std::uint64_t next_wait = 0;
  std::vector<std::pair<std::uint64_t, std::unique_ptr<wait_op>>> waits;
};

}  // namespace detail

/// A one-shot timer on virtual time, used like `asio::basic_waitable_timer<sim::clock>`:
/// `expires_at` / `expires_after` set the expiry (cancelling pending waits), `async_wait`
/// completes with an empty `std::error_code` at exactly the expiry (at once, in a later
/// handler, if the expiry is already past), and `cancel()` or the destructor complete pending
/// waits with `asio::error::operation_aborted`. Completions are posted to the handler's
/// associated executor (default: the network's), never called from inside `async_wait`.
/// Any Asio completion token for `void(std::error_code)` works.
///
/// A timer made for a node (`timer(node&)`, or `transport::make_timer()`) dies with the
/// node's incarnation: after `network::crash`, pending and later waits never complete, and
/// their handlers are destroyed unrun. A timer made for the network is never affected.
///
/// Not thread-safe. Movable; a moved-from timer may only be destroyed or assigned to.
///
/// ```cpp
/// racket::sim::timer t{net};
/// t.expires_after(std::chrono::milliseconds{10});
/// t.async_wait([](std::error_code ec) { if (!ec) { /* fired at start + 10 ms */ } });
/// net.run_for(std::chrono::seconds{1});
/// ```
class timer {
 public:
  using clock_type = sim::clock;
  using duration = clock::duration;
  using time_point = clock::time_point;
  using executor_type = asio::io_context::executor_type;

  /// A network-wide timer.
  explicit timer(network& net) : state_(std::make_shared<detail::timer_state>()) { state_->net = &net; }

  /// A timer belonging to the current incarnation of node `n`.
  explicit timer(node& n) : timer(n, n.incarnation()) {}

  timer(timer&&) noexcept = default;

  timer& operator=(timer&& other) noexcept {
    if (this != &other) {
      if (state_) cancel();
      state_ = std::move(other.state_);
    }
    return *this;
  }

  /// Cancels pending waits (they complete with `operation_aborted`).
  ~timer() {
    if (state_) cancel();
  }

  /// The executor completions run on by default.
  executor_type get_executor() const noexcept { return state_->net->get_executor(); }

  /// The expiry last set (the epoch for a new timer, so a wait completes at once).
  time_point expiry() const noexcept { return state_->expiry; }

  /// Sets the expiry; pending waits complete with `operation_aborted`. Returns how many.
  std::size_t expires_at(time_point t) {
    const auto cancelled = cancel();
    state_->expiry = t;
    return cancelled;
  }

  /// `expires_at(network.now() + d)`.
  std::size_t expires_after(duration d) {
    return expires_at(detail::saturating_add(state_->net->now(), d));
  }

  /// Starts a wait that completes at the expiry with an empty error code, or with
  /// `asio::error::operation_aborted` when cancelled first. Several waits may be pending.
  template <asio::completion_token_for<void(std::error_code)> WaitToken>
  auto async_wait(WaitToken&& token) {
    return asio::async_initiate<WaitToken, void(std::error_code)>(
        [state = state_](auto handler) { start_wait(state, std::move(handler)); }, token);
  }

  /// Completes every pending wait with `asio::error::operation_aborted` (posted, not called
  /// here). Returns how many (0 on a dead node's timer, whose waits are dropped unrun).
  std::size_t cancel() {
    auto waits = std::move(state_->waits);
    state_->waits.clear();
    if (state_->net->closing_) return 0;  // the network is being destroyed: drop them
    const bool alive = is_alive(*state_);
    auto& ctx = state_->net->context();
    for (auto& [id, op] : waits) {
      if (alive) {
        op->complete(asio::error::operation_aborted, ctx, state_->owner, state_->incarnation);
      } else {
        discard(ctx, std::move(op));
      }
    }
    return alive ? waits.size() : 0;
  }

 private:
  friend class transport;

  timer(node& n, std::uint64_t incarnation) : state_(std::make_shared<detail::timer_state>()) {
    state_->net = &n.net();
    state_->owner = &n;
    state_->incarnation = incarnation;
  }

  template <class Handler>
  struct wait_op_impl final : detail::wait_op {
    explicit wait_op_impl(Handler&& h) : handler(std::move(h)) {}

    void complete(std::error_code ec, asio::io_context& ctx, const node* owner,
                  std::uint64_t incarnation) override {
      auto ex = asio::get_associated_executor(handler, ctx.get_executor());
      asio::post(ex, [h = std::move(handler), ec, owner, incarnation]() mutable {
        if (owner != nullptr && (owner->crashed() || owner->incarnation() != incarnation)) return;
        std::move(h)(ec);
      });
    }

    Handler handler;
  };

  static bool is_alive(const detail::timer_state& s) noexcept {
    return s.owner == nullptr || (!s.owner->crashed() && s.owner->incarnation() == s.incarnation);
  }

  // Destroys a wait without running it, from the event loop rather than the caller's stack
  // (the handler may own the object that called us).
  static void discard(asio::io_context& ctx, std::unique_ptr<detail::wait_op> op) {
    asio::post(ctx, [op = std::move(op)] {});
  }

  template <class Handler>
  static void start_wait(const std::shared_ptr<detail::timer_state>& state, Handler&& handler) {
    auto op = std::make_unique<wait_op_impl<std::decay_t<Handler>>>(std::move(handler));
    if (state->net->closing_) return;
    if (!is_alive(*state)) {
      discard(state->net->context(), std::move(op));
      return;
    }
    const auto id = ++state->next_wait;
    state->waits.emplace_back(id, std::move(op));
    state->net->schedule(state->expiry, [net = state->net, weak = std::weak_ptr(state), id] { fire(*net, weak, id); });
  }

  // The event of wait `wait`: completes it with success unless it was cancelled, the timer is
  // gone or its node crashed.
  static void fire(network& net, const std::weak_ptr<detail::timer_state>& weak, std::uint64_t wait);

  std::shared_ptr<detail::timer_state> state_;
};

inline void timer::fire(network& net, const std::weak_ptr<detail::timer_state>& weak, std::uint64_t wait) {
  const auto state = weak.lock();
  if (!state) return;
  auto it = std::find_if(state->waits.begin(), state->waits.end(), [&](const auto& w) { return w.first == wait; });
  if (it == state->waits.end()) return;  // cancelled
  auto op = std::move(it->second);
  state->waits.erase(it);
  if (!is_alive(*state)) return;  // the node crashed: never fires
  if (net.tracing()) net.trace_line(std::string("timer ") + (state->owner ? state->owner->name() : std::string("-")));
  op->complete({}, *net.ctx_, state->owner, state->incarnation);
}

}  // namespace racket::sim
