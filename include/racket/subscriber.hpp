// SPDX-License-Identifier: MIT
#pragma once

// The subscriber a user holds: `basic_subscriber<Transport, Clock>`, a thin typed front
// (decoding with the stream's codec into `message<T>`) that forwards to its engine,
// detail/subscriber/subscriber_impl.hpp. Also brings in what its API names: the options and
// stats, the handler types and the `subscription` handle.

#include "racket/detail/subscriber/subscriber_impl.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/error.hpp"
#include "racket/message.hpp"
#include "racket/stream.hpp"
#include "racket/subscriber_options.hpp"
#include "racket/subscription.hpp"
#include "racket/transport/concepts.hpp"

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

namespace racket {

/// Receives the streams it subscribes to, filters by subject, suppresses duplicates (same
/// content hash as the last delivered value of the subject) and stale messages (older
/// sequence from the same publisher, older stamp from another), applies tombstones, and
/// expires subjects not refreshed within `expiry_factor` intervals.
///
/// Handlers run on the transport's executor. A new subscription first receives the values
/// this subscriber already holds that match its filter (flagged `resend`), then live ones.
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

 public:
  using transport_type = Transport;
  using clock_type = Clock;
  using executor_type = typename Transport::executor_type;

  explicit basic_subscriber(typename Transport::context_type& ctx, const subscriber_options& opts = {})
      : impl_(std::make_shared<detail::subscriber_impl<Transport, Clock>>(ctx, opts)) {}

  basic_subscriber(const basic_subscriber&) = delete;
  basic_subscriber& operator=(const basic_subscriber&) = delete;
  basic_subscriber(basic_subscriber&&) noexcept = default;
  basic_subscriber& operator=(basic_subscriber&&) noexcept = default;

  ~basic_subscriber() {
    if (impl_) impl_->close();
  }

  /// Subscribes `handler` to the subjects of `s` that `filter` matches; `on_removed` (may be
  /// empty) hears of subjects withdrawn, expired or evicted. Errors: `invalid_filter`, and the
  /// transport's (`no_interfaces`, `unknown_interface`, socket errors). Any thread.
  template <class T, class C, class Handler, class Removed = std::function<void(const removal&)>>
    requires std::invocable<Handler&, const message<T>&> && std::invocable<Removed&, const removal&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       Removed on_removed, std::error_code& ec) {
    auto deliver = [h = std::move(handler)](const detail::delivery_record& r) mutable -> bool {
      std::error_code dec;
      T value = C::decode(r.payload, dec);
      if (dec) return false;
      const message<T> m{r.stream,       r.subject,    value,
                         r.payload,      r.publisher_id, r.sequence,
                         r.timestamp_ns, std::chrono::milliseconds(r.interval_ms), r.is_new,
                         r.resend};
      h(m);
      return true;
    };
    std::function<void(const removal&)> removed;
    if constexpr (std::is_same_v<Removed, std::function<void(const removal&)>>) {
      if (on_removed) removed = std::move(on_removed);
    } else {
      removed = std::move(on_removed);
    }
    const auto handle = impl_->subscribe(s.name(), s.endpoint(), filter, std::move(deliver), std::move(removed), ec);
    if (ec) return {};
    std::weak_ptr<detail::subscriber_impl<Transport, Clock>> weak = impl_;
    return subscription([weak](std::uint64_t h) {
      if (auto impl = weak.lock()) impl->unsubscribe(h);
    }, handle);
  }

  /// As above, without a removal handler.
  template <class T, class C, class Handler>
    requires std::invocable<Handler&, const message<T>&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       std::error_code& ec) {
    return subscribe(s, filter, std::move(handler), std::function<void(const removal&)>{}, ec);
  }

  /// Throwing overload: `std::system_error` naming the stream and filter.
  template <class T, class C, class Handler, class Removed = std::function<void(const removal&)>>
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

  /// Counters of one stream.
  template <class T, class C>
  subscriber_stream_stats stats(const stream<T, C>& s) const {
    return impl_->stats(s.name(), s.endpoint());
  }

  /// Calls `f(std::string_view subject, byte_view payload)` for every value held on `s` now.
  template <class T, class C, class F>
  void for_each_value(const stream<T, C>& s, F&& f) const {
    impl_->for_each_value(s.name(), s.endpoint(), std::forward<F>(f));
  }

  /// Called with a description when a handler throws (delivery goes on) or an interface fails.
  void set_error_handler(std::function<void(const std::error_code&, std::string_view)> h) {
    impl_->set_error_handler(std::move(h));
  }

  /// Called on the executor for every run of sequence numbers of a publisher that did not
  /// arrive (a gap), before the repair request for it goes out. Optional; any thread.
  void set_loss_handler(std::function<void(const loss_event&)> h) { impl_->set_loss_handler(std::move(h)); }

  /// The random id this subscriber puts in its snapshot requests.
  std::uint64_t requester_id() const noexcept { return impl_->requester_id(); }

  /// The transport's counters (kernel drops, join errors).
  transport_stats transport_statistics() const { return impl_->transport().stats(); }

  executor_type get_executor() noexcept { return impl_->transport().get_executor(); }

 private:
  std::shared_ptr<detail::subscriber_impl<Transport, Clock>> impl_;
};

}  // namespace racket
