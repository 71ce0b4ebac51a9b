// SPDX-License-Identifier: MIT
#pragma once

// The subscriber a user holds: `basic_subscriber<Transport, Clock>`, a thin typed front
// (decoding with the stream's codec into `message<T>`, binding handlers to their executors,
// starting the asynchronous operations) that forwards to its engine,
// detail/subscriber/subscriber_impl.hpp. Also brings in what its API names: the options and
// stats, the handler types, `owned_message` and the `subscription` handle.

#include "racket/detail/subscriber/bound_handlers.hpp"
#include "racket/detail/completion.hpp"
#include "racket/detail/subscriber/fetch_op.hpp"
#include "racket/detail/subscriber/subscriber_impl.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/error.hpp"
#include "racket/message.hpp"
#include "racket/owned_message.hpp"
#include "racket/stream.hpp"
#include "racket/subscriber_options.hpp"
#include "racket/subscription.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace racket {

/// Receives the streams it subscribes to, filters by subject, suppresses duplicates (same
/// content hash as the last delivered value of the subject) and stale messages (older
/// sequence from the same publisher, older stamp from another), applies tombstones, and
/// expires subjects not refreshed within `expiry_factor` intervals.
///
/// Threads: the io_context may be run by any number of threads. The subscriber's own work
/// (datagrams, timers) runs on its strand, `get_executor()` (the transport's). Every member
/// may be called from any thread, from inside handlers too, and the subscriber may be
/// destroyed from any thread while traffic flows. Handlers (message, removal, loss, error) run
/// on their associated executor, `asio::get_associated_executor(handler, get_executor())`:
/// by default on the strand, called straight from the batch of a datagram on views into it;
/// with `asio::bind_executor(ex, handler)` posted to `ex` with the message copied
/// (`owned_message`). Never under a lock of the subscriber's, never inline in the call that
/// subscribed or set them. Handlers may be move-only. A new subscription first receives the
/// values this subscriber already holds that match its filter (flagged `resend`), then live
/// ones. `subscription::unsubscribe()` waits for a running call (see `subscription`).
///
/// ```cpp
/// racket::subscriber sub{io, {.interfaces = {"lo"}}};
/// auto s = sub.subscribe(temperature, "plant.*", [](const racket::message<double>& m) {
///   std::cout << m.subject << " = " << m.value << '\n';
/// });
/// ```
template <transport Transport, class Clock = typename Transport::clock_type>
class basic_subscriber {
  static_assert(std::is_same_v<typename Clock::time_point, typename Transport::clock_type::time_point>,
                "the subscriber's Clock must be the clock of its transport's timers");
  using impl_type = detail::subscriber_impl<Transport, Clock>;

 public:
  using transport_type = Transport;
  using clock_type = Clock;
  using executor_type = typename Transport::executor_type;
  /// A removal handler that is none.
  using removal_handler = std::function<void(const removal&)>;

  /// Made from whatever its transport is made from: an execution context (`asio::io_context&`),
  /// an executor (a strand too), or for `sim::transport` a `sim::node&`.
  template <class ContextOrExecutor>
    requires(!std::same_as<std::remove_cvref_t<ContextOrExecutor>, basic_subscriber> &&
             std::constructible_from<Transport, ContextOrExecutor &&, const transport_options&>)
  explicit basic_subscriber(ContextOrExecutor&& ctx, const subscriber_options& opts = {})
      : impl_(std::make_shared<impl_type>(std::forward<ContextOrExecutor>(ctx), opts)) {}

  basic_subscriber(const basic_subscriber&) = delete;
  basic_subscriber& operator=(const basic_subscriber&) = delete;
  basic_subscriber(basic_subscriber&&) noexcept = default;
  basic_subscriber& operator=(basic_subscriber&&) noexcept = default;

  /// Closes (as `close()`); any thread, also from inside a handler.
  ~basic_subscriber() {
    if (impl_) impl_->close();
  }

  /// Subscribes `handler` to the subjects of `s` that `filter` matches; `on_removed` (may be
  /// empty) hears of subjects withdrawn, expired or evicted. Both may be move-only, and run on
  /// their associated executors (class comment). Errors: `invalid_filter`, `not_open` (after
  /// close), and the transport's (`no_interfaces`, `unknown_interface`, socket errors). Any thread.
  template <class T, class C, class Handler, class Removed = removal_handler>
    requires std::invocable<Handler&, const message<T>&> && std::invocable<Removed&, const removal&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       Removed on_removed, std::error_code& ec) {
    const auto strand = impl_->strand();
    auto deliver = detail::make_delivery<T, C>(std::move(handler), strand, posted_error_reporter());
    detail::subscription_entry::removal_function removed;
    if constexpr (std::is_same_v<Removed, removal_handler>) {
      if (on_removed) removed = detail::make_removal(std::move(on_removed), strand, posted_error_reporter());
    } else {
      removed = detail::make_removal(std::move(on_removed), strand, posted_error_reporter());
    }
    const auto handle = impl_->subscribe(s.name(), s.endpoint(), filter, std::move(deliver), std::move(removed), ec,
                                         /*force_request=*/false, s.announce_endpoint());
    if (ec) return {};
    std::weak_ptr<impl_type> weak = impl_;
    return subscription(
        [weak](std::uint64_t h, detail::unique_function<void()> released) {
          if (auto impl = weak.lock()) {
            impl->unsubscribe(h, std::move(released));
          } else if (released) {
            released();  // the subscriber is gone, and with it every handler
          }
        },
        handle, asio::any_io_executor(strand));
  }

  /// As above, without a removal handler.
  template <class T, class C, class Handler>
    requires std::invocable<Handler&, const message<T>&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       std::error_code& ec) {
    return subscribe(s, filter, std::move(handler), removal_handler{}, ec);
  }

  /// Throwing overload: `std::system_error` naming the stream and filter.
  template <class T, class C, class Handler, class Removed = removal_handler>
    requires std::invocable<Handler&, const message<T>&> && std::invocable<Removed&, const removal&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       Removed on_removed = {}) {
    std::error_code ec;
    auto sub = subscribe(s, filter, std::move(handler), std::move(on_removed), ec);
    if (ec) {
      std::string what = "subscribe to " + detail::quote_for_error("stream", s.name()) + " " +
                         detail::quote_for_error("filter", filter) + " on " + s.endpoint().to_string();
      if (ec == errc::unknown_interface || ec == errc::no_interfaces) {
        what += detail::interfaces_for_error(impl_->options().interfaces);
      }
      detail::throw_error(ec, what);
    }
    return sub;
  }

  /// Asks the publishers of `s` for the current values of the subjects `filter` matches (a
  /// snapshot request, sent even when `request_snapshots` is off) and completes with
  /// `void(std::error_code, std::vector<owned_message<T>>)`: the latest value per subject, in
  /// subject order, values this subscriber already held included. It completes once no answer
  /// arrived for `subscriber_options::fetch_quiet_period` (50 ms) after the first, or at
  /// `timeout`: with no publisher, at the timeout with an empty vector and no error. Errors:
  /// `invalid_filter`, `not_open`, the transport's; `asio::error::operation_aborted` when the
  /// subscriber closes first. Completes on the token's associated executor (default: the
  /// strand), never inline. Any completion token: a callback, `asio::use_future`,
  /// `asio::use_awaitable`, deferred. Any thread.
  ///
  /// ```cpp
  /// std::vector<racket::owned_message<double>> values = co_await sub.async_fetch(prices, "fx.*", 500ms, asio::use_awaitable);
  /// ```
  template <class T, class C, class Rep, class Period, class CompletionToken>
  auto async_fetch(const stream<T, C>& s, std::string_view filter, std::chrono::duration<Rep, Period> timeout,
                   CompletionToken&& token) {
    using signature = void(std::error_code, std::vector<owned_message<T>>);
    const auto wait = std::chrono::ceil<typename Clock::duration>(timeout);
    return asio::async_initiate<CompletionToken, signature>(
        [impl = impl_, s, filter = std::string(filter), wait](auto handler) {
          using op_type = detail::fetch_op<impl_type, T, C, decltype(handler)>;
          auto op = std::make_shared<op_type>(impl, std::move(handler));
          asio::post(impl->strand(), [op, s, filter, wait] { op->start(s, filter, wait); });
        },
        token);
  }

  /// Drops every subscription (as `unsubscribe()` each, so no handler call starts afterwards),
  /// stops the subscriber's timers and completes with `void(std::error_code)` (never an error)
  /// once that work on the strand has stopped; subscribe then fails with `not_open`. On the
  /// token's associated executor (default: the strand), never inline. Any thread.
  template <class CompletionToken>
  auto async_close(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [impl = impl_](auto handler) {
          const auto strand = impl->strand();
          impl->close_then([h = std::move(handler), strand]() mutable {
            detail::complete_later(std::move(h), strand, std::error_code{});
          });
        },
        token);
  }

  /// Counters of one stream. Any thread.
  template <class T, class C>
  subscriber_stream_stats stats(const stream<T, C>& s) const {
    return impl_->stats(s.name(), s.endpoint());
  }

  /// Calls `f(std::string_view subject, byte_view payload)` for every value held on `s` now,
  /// under the subscriber's lock: `f` must not call into the subscriber. Any thread.
  template <class T, class C, class F>
  void for_each_value(const stream<T, C>& s, F&& f) const {
    impl_->for_each_value(s.name(), s.endpoint(), std::forward<F>(f));
  }

  /// `h(const std::error_code&, std::string_view what)` is called when a handler throws
  /// (delivery goes on) or an interface fails; on its associated executor, later (never
  /// inside the call that failed). May be move-only. Any thread.
  template <class Handler>
    requires std::invocable<Handler&, const std::error_code&, std::string_view>
  void set_error_handler(Handler h) {
    impl_->set_error_handler(detail::make_error_handler(std::move(h), impl_->strand()));
  }

  /// `h(const loss_event&)` is called for every run of sequence numbers of a publisher that did
  /// not arrive (a gap), before the repair request for it goes out; on its associated
  /// executor. Optional; may be move-only; any thread.
  template <class Handler>
    requires std::invocable<Handler&, const loss_event&>
  void set_loss_handler(Handler h) {
    impl_->set_loss_handler(detail::make_loss_handler(std::move(h), impl_->strand()));
  }

  /// Replaces the key ring: a key rotation without restarting the process
  /// (docs/security.md, "Rotation"). Senders under keys that stay keep their replay windows.
  /// Applied on the strand (at once when called there). Error: `invalid_option` when the
  /// subscriber was made without keys. Any thread.
  void set_keys(const key_ring& keys, std::error_code& ec) { impl_->set_keys(keys, ec); }

  /// Throwing overload of `set_keys`.
  void set_keys(const key_ring& keys) {
    std::error_code ec;
    set_keys(keys, ec);
    if (ec) detail::throw_error(ec, "set_keys: this subscriber was made without keys; give it a key ring at construction");
  }

  /// The random id this subscriber puts in its snapshot requests.
  std::uint64_t requester_id() const noexcept { return impl_->requester_id(); }

  /// The transport's counters (kernel drops, join errors).
  transport_stats transport_statistics() const { return impl_->transport().stats(); }

  /// The subscriber's strand: its datagrams, timers and default handlers run there.
  executor_type get_executor() noexcept { return impl_->transport().get_executor(); }

 private:
  auto posted_error_reporter() const {
    return [weak = std::weak_ptr<impl_type>(impl_)](const detail::subscription_entry& e, std::string what) {
      if (auto impl = weak.lock()) impl->report_posted_handler_error(e, std::move(what));
    };
  }

  std::shared_ptr<impl_type> impl_;
};

}  // namespace racket
