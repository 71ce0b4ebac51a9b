// SPDX-License-Identifier: MIT
#pragma once

// The publisher a user holds: `basic_publisher`, a thin handle that encodes values with the
// stream's codec, turns errors into exceptions for the throwing overloads, and forwards the
// rest to its shared implementation (detail/publisher/publisher_impl.hpp). It knows nothing
// of how records are queued, cached, resent or sent. Options and counters:
// publisher_options.hpp.

#include "racket/codec.hpp"
#include "racket/detail/publisher/publisher_impl.hpp"
#include "racket/error.hpp"
#include "racket/publisher_options.hpp"
#include "racket/stream.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <asio/async_result.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ranges>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace racket {

namespace detail {

// The buffer a publishing thread encodes values into (reused: no allocation in steady state).
inline std::vector<std::byte>& encode_scratch() {
  thread_local std::vector<std::byte> scratch;
  return scratch;
}

// What `publish` of a `std::shared_ptr<U>` on a `stream<T, C>` shares: the stream's own `T`
// through its viewing codec, or on a byte_view stream any contiguous range of std::byte.
template <class T, class C, class U>
concept shareable_payload =
    (std::same_as<U, T> && viewing_codec<C, T>) ||
    (std::same_as<T, byte_view> && std::same_as<C, byte_view_codec> && !std::same_as<U, byte_view> &&
     std::ranges::contiguous_range<const U> && std::ranges::sized_range<const U> &&
     std::same_as<std::ranges::range_value_t<const U>, std::byte>);

template <class T, class C, class U>
byte_view shared_view(const U& value) noexcept {
  if constexpr (std::same_as<U, T>) {
    return C::view(value);
  } else {
    return byte_view(std::ranges::data(value), std::ranges::size(value));
  }
}

// The size of the payload the calling thread last tried to publish (for error messages).
inline std::size_t& last_encoded_size() {
  thread_local std::size_t size = 0;
  return size;
}

}  // namespace detail

/// Publishes messages on streams: stamps them (publisher id, sequence, time, content hash),
/// sends each on every selected interface, and re-sends the last value of every subject
/// published with a non-zero interval until it is replaced, withdrawn, or the publisher closes.
///
/// `publish` and `withdraw` never block on the network: they queue the record and the
/// publisher's executor packs whatever queued up into as few datagrams as fit (on the
/// executor with nothing queued, the record goes straight out). The queue is bounded
/// (`publisher_options::max_queued_bytes`): past it a publish fails with `errc::would_block`.
/// All resends are driven by one timer and one timing wheel, whatever the number of subjects.
/// Destroying the publisher closes it (see `close`).
///
/// Threads: the io_context may be run by any number of threads. The publisher's executor
/// (`get_executor()`, its transport's: a strand for `udp_transport`) serialises all of its
/// own work: flushes, resends, snapshot answers, the transport's completions. Every public
/// member may be called from any thread at the same time, including from inside the
/// publisher's or a subscriber's handlers. Handlers (the error handler, completions of
/// `async_flush` and `async_close`) run on their associated executor
/// (`asio::get_associated_executor(handler, get_executor())`, so `asio::bind_executor` is
/// honoured), posted: never under an internal lock, never inside the call that started them.
/// Destroying the publisher from any thread while traffic flows is safe: it closes, and the
/// work still queued keeps what it needs alive; the execution context must outlive it.
///
/// ```cpp
/// asio::io_context io;
/// racket::publisher pub{io, {.interfaces = {"lo"}}};
/// racket::stream<double> temperature{"plant", racket::multicast_pool{}};
/// pub.publish(temperature, "plant.line3.temp", 21.5, std::chrono::seconds{1});
/// pub.async_flush([](std::error_code ec) { if (!ec) std::puts("handed to the kernel"); });
/// io.run();
/// ```
template <transport Transport, class Clock = typename Transport::clock_type>
class basic_publisher {
  static_assert(std::is_same_v<typename Clock::time_point, typename Transport::clock_type::time_point>,
                "the publisher's Clock must be the clock of its transport's timers");

 public:
  using transport_type = Transport;
  using clock_type = Clock;
  using executor_type = typename Transport::executor_type;

  /// Opens a publisher on `ctx`: whatever its transport is made from (an `asio::io_context`,
  /// for UDP also any execution context or executor, a strand included; a `sim::node` in
  /// simulation).
  template <class ContextOrExecutor>
    requires(!std::same_as<std::remove_cvref_t<ContextOrExecutor>, basic_publisher> &&
             std::constructible_from<Transport, ContextOrExecutor &&, const transport_options&>)
  explicit basic_publisher(ContextOrExecutor&& ctx, const publisher_options& opts = {})
      : impl_(std::make_shared<detail::publisher_impl<Transport, Clock>>(std::forward<ContextOrExecutor>(ctx), opts)) {}

  basic_publisher(const basic_publisher&) = delete;
  basic_publisher& operator=(const basic_publisher&) = delete;
  basic_publisher(basic_publisher&&) noexcept = default;
  basic_publisher& operator=(basic_publisher&&) noexcept = default;

  /// Closes the publisher: see `close`.
  ~basic_publisher() {
    if (impl_) impl_->close();
  }

  /// Publishes `value` on `subject` of `s`. With `interval` > 0 the value is cached and
  /// re-sent every interval until replaced or withdrawn; with 0 it is a one-shot event (and a
  /// cached value of that subject is dropped). A payload too large for one datagram travels
  /// as fragments, up to `publisher_options::max_message_size`. Errors: `invalid_subject`,
  /// `payload_too_large` (over `max_message_size`),
  /// `not_open`, `would_block` (the queue holds `max_queued_bytes`: nothing was queued, the
  /// refusal is counted in `stats().would_block`; wait for `async_flush` and publish again,
  /// publish less, or raise the limit), or the transport's (`no_interfaces`,
  /// `unknown_interface`). Any thread.
  template <class T, class C>
  void publish(const stream<T, C>& s, std::string_view subject, const T& value, std::chrono::milliseconds interval,
               std::error_code& ec) {
    byte_view payload;
    if constexpr (viewing_codec<C, T>) {
      payload = C::view(value);  // the value's own bytes: copied once, into the queue
    } else {
      auto& scratch = detail::encode_scratch();
      scratch.clear();
      C::encode(value, scratch);
      payload = byte_view(scratch);
    }
    detail::last_encoded_size() = payload.size();
    impl_->enqueue(ref(s), subject, payload, to_interval(interval), false, ec);
  }

  /// Throwing overload of `publish`: `std::system_error` naming the stream and subject (and,
  /// for `would_block`, the bytes queued and the limit).
  template <class T, class C>
  void publish(const stream<T, C>& s, std::string_view subject, const T& value,
               std::chrono::milliseconds interval = std::chrono::milliseconds{0}) {
    std::error_code ec;
    publish(s, subject, value, interval, ec);
    if (ec) detail::throw_error(ec, describe("publish", s.name(), subject, ec));
  }

  /// Publishes a value the caller gives up, without copying it: for a large payload (one
  /// that travels as fragments) the publisher keeps `value` itself, shared, for as long as it
  /// needs the bytes (the fragment sends, the subject's cached value with an interval, the
  /// recent messages kept for repair: `large_repair_window`), and drops its reference then.
  /// The bytes must not change from the call until the last reference is gone: hand over a
  /// `std::shared_ptr<const ...>` and write nothing through another pointer to it. Publishing
  /// one such value on many subjects, or many times, shares it. A payload that fits one
  /// datagram is copied into it as with the other overload.
  ///
  /// `value` is a `std::shared_ptr` to the stream's own `T` (whose codec must be a
  /// `viewing_codec`: the built-in ones are), or, on a `stream<byte_view>`, to any contiguous
  /// range of `std::byte` (a `std::vector<std::byte>`, say). Errors as for `publish`; on an
  /// error the publisher keeps no reference. Any thread.
  ///
  /// ```cpp
  /// racket::stream<racket::byte_view> files{"files", racket::multicast_pool{}};
  /// auto image = std::make_shared<const std::vector<std::byte>>(read_file("map.png"));
  /// pub.publish(files, "maps.tile42", image, std::chrono::seconds{10});  // no copy of the bytes
  /// ```
  template <class T, class C, class U>
    requires detail::shareable_payload<T, C, std::remove_const_t<U>>
  void publish(const stream<T, C>& s, std::string_view subject, std::shared_ptr<U> value,
               std::chrono::milliseconds interval, std::error_code& ec) {
    if (value == nullptr) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return;
    }
    const byte_view payload = detail::shared_view<T, C>(*value);
    detail::last_encoded_size() = payload.size();
    std::shared_ptr<const void> owner(std::move(value));  // taken only by a large payload
    impl_->enqueue(ref(s), subject, payload, to_interval(interval), false, ec, &owner);
  }

  /// Throwing overload of the shared `publish`.
  template <class T, class C, class U>
    requires detail::shareable_payload<T, C, std::remove_const_t<U>>
  void publish(const stream<T, C>& s, std::string_view subject, std::shared_ptr<U> value,
               std::chrono::milliseconds interval = std::chrono::milliseconds{0}) {
    std::error_code ec;
    publish(s, subject, std::move(value), interval, ec);
    if (ec) detail::throw_error(ec, describe("publish", s.name(), subject, ec));
  }

  /// Stops re-sending `subject` and sends a tombstone, so subscribers drop it at once. Errors
  /// as for `publish`.
  template <class T, class C>
  void withdraw(const stream<T, C>& s, std::string_view subject, std::error_code& ec) {
    impl_->enqueue(ref(s), subject, byte_view{}, 0, true, ec);
  }

  /// Throwing overload of `withdraw`.
  template <class T, class C>
  void withdraw(const stream<T, C>& s, std::string_view subject) {
    std::error_code ec;
    withdraw(s, subject, ec);
    if (ec) detail::throw_error(ec, describe("withdraw", s.name(), subject, ec));
  }

  /// Stops every resend and closes the sockets, after sending what was already published
  /// (and, with `withdraw_on_close`, a tombstone per cached subject). Further publishes fail
  /// with `not_open`. The shutdown itself runs on the executor. Any thread.
  void close() { impl_->close(); }

  /// Closes (as `close`) and completes once the shutdown has run on the executor: what was
  /// published before went out, the tombstones of `withdraw_on_close` too, the sockets are
  /// closed. Signature `void(std::error_code)`, always success (a closed publisher closes
  /// again at once). Any completion token: a callback, `asio::use_future`,
  /// `asio::use_awaitable`, deferred. The handler runs on its associated executor (default:
  /// `get_executor()`), never inside this call.
  template <asio::completion_token_for<void(std::error_code)> CompletionToken>
  auto async_close(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [impl = impl_](auto handler) { impl->async_close(std::move(handler)); }, token);
  }

  /// Completes once everything published (or withdrawn) before this call has been handed to
  /// the transport (the kernel, for UDP). "That flush" below is the flush on the executor that
  /// takes what is queued at the call; with nothing queued, the last flush (or direct
  /// publish) before it. Signature `void(std::error_code)`:
  /// - success: that flush had every datagram taken by at least one interface;
  /// - `errc::not_open`: the publisher was closed before the call (what was published still
  ///   goes out: `async_close` tells when);
  /// - `std::errc::io_error`: at least one datagram of that flush was refused by every
  ///   interface it went to (lost; the causes went to the error handler, the count to
  ///   `send_errors`);
  /// - `std::errc::no_buffer_space`: none was refused, but at least one found every
  ///   interface's send buffer (and backlog) full and was dropped.
  /// Large messages (sent as fragments, in turns of their own) count too: it completes only
  /// once every fragment of those published before the call has been handed over (their
  /// send failures are counted in `send_errors`, not reported here), or with
  /// `errc::not_open` when the publisher closed before they all went.
  /// Any completion token (a callback, `asio::use_future`, `asio::use_awaitable`, deferred);
  /// the handler runs on its associated executor (default: `get_executor()`), never inside
  /// this call. Any thread. After `would_block`, publish again once it completes.
  ///
  /// ```cpp
  /// asio::co_spawn(io, [&]() -> asio::awaitable<void> {
  ///   pub.publish(temperature, "plant.line3.temp", 21.5);
  ///   co_await pub.async_flush(asio::use_awaitable);
  /// }, asio::detached);
  /// ```
  template <asio::completion_token_for<void(std::error_code)> CompletionToken>
  auto async_flush(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [impl = impl_](auto handler) { impl->async_flush(std::move(handler)); }, token);
  }

  /// Installs the handler called with the error and the interface's name when sending on one
  /// interface fails (the others keep working; each failure is also counted in
  /// `send_errors`). Any callable `void(const std::error_code&, std::string_view)`, move-only
  /// ones too. Each report is posted to the handler's associated executor (default:
  /// `get_executor()`; `asio::bind_executor(strand, h)` is honoured), so it never runs under
  /// an internal lock nor inside `publish`, and may call any member. Replaces the previous
  /// handler (reports already posted still reach that one). Any thread.
  template <class Handler>
    requires std::move_constructible<std::decay_t<Handler>>
  void set_error_handler(Handler&& h) {
    static_assert(std::invocable<std::decay_t<Handler>&, const std::error_code&, std::string_view>,
                  "the error handler must be callable as void(const std::error_code&, std::string_view interface_name)");
    impl_->set_error_handler(std::forward<Handler>(h));
  }

  /// Replaces the key ring: a key rotation without restarting the process
  /// (docs/security.md, "Rotation"). Keys that stay keep their counters and replay windows.
  /// Applied on the executor (at once when called there): datagrams already queued may still
  /// leave under the old ring. Error: `invalid_option` when the publisher was made without
  /// keys (its datagrams leave no room for the seal: give it a ring at construction, one that
  /// only accepts a key will do). Any thread.
  void set_keys(const key_ring& keys, std::error_code& ec) { impl_->set_keys(keys, ec); }

  /// Throwing overload of `set_keys`.
  void set_keys(const key_ring& keys) {
    std::error_code ec;
    set_keys(keys, ec);
    if (ec) detail::throw_error(ec, "set_keys: this publisher was made without keys; give it a key ring at construction");
  }

  /// The random 64-bit id stamped on every message.
  std::uint64_t id() const noexcept { return impl_->id(); }

  /// Counters of one stream (all zero for a stream never published on).
  publisher_stream_stats stats(std::string_view stream_name) const { return impl_->stats(stream_name); }

  /// What became of the sends to the unicast peers (`publisher_options::unicast_peers`):
  /// failed sends and failed resolutions, counted. Any thread.
  publisher_peer_stats peer_stats() const noexcept { return impl_->peer_stats(); }

  /// The publisher's executor (its transport's: a strand for `udp_transport`), on which its
  /// own work runs and its handlers run by default.
  executor_type get_executor() noexcept { return impl_->transport().get_executor(); }

 private:
  // The exception text: names the stream and subject (escaped), and for size and interface
  // errors the numbers and names involved.
  std::string describe(std::string_view what, std::string_view stream_name, std::string_view subject,
                       const std::error_code& ec) const {
    std::string out = std::string(what) + " on " + detail::quote_for_error("stream", stream_name) + " " +
                      detail::quote_for_error("subject", subject);
    const publisher_options& o = impl_->options();
    if (ec == errc::payload_too_large) {
      const std::size_t size = detail::last_encoded_size();
      if (size > o.max_message_size) {
        out += " (payload of " + std::to_string(size) + " bytes; the maximum message size is " +
               std::to_string(o.max_message_size) + " bytes)";
      } else {
        out += " (payload of " + std::to_string(size) + " bytes; at most " +
               std::to_string(wire::max_payload(o.max_datagram_size, stream_name.size(), subject.size())) +
               " fit a datagram of " + std::to_string(o.max_datagram_size) +
               " bytes, and with this stream and subject no fragment does)";
      }
    } else if (ec == errc::unknown_interface || ec == errc::no_interfaces) {
      out += detail::interfaces_for_error(o.interfaces);
    } else if (ec == errc::would_block) {
      out += " (publish queue full: " + std::to_string(detail::last_queued_bytes()) + " bytes queued, limit " +
             std::to_string(o.max_queued_bytes) + " bytes)";
    }
    return out;
  }

  template <class T, class C>
  static detail::stream_ref ref(const stream<T, C>& s) noexcept {
    return {s.key(), s.name(), s.endpoint(), s.announce_endpoint()};
  }

  static std::uint32_t to_interval(std::chrono::milliseconds interval) noexcept {
    if (interval.count() <= 0) return 0;
    return static_cast<std::uint32_t>(std::min<std::int64_t>(interval.count(), 0xFFFFFFFFll));
  }

  std::shared_ptr<detail::publisher_impl<Transport, Clock>> impl_;
};

}  // namespace racket
