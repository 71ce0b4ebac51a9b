// SPDX-License-Identifier: MIT
#pragma once

// The directory's orchestrator: it alone knows the transport, the clock, the timer, the lock
// and the handlers' executors. It listens on the announce channel, hands each valid
// announcement to the table (directory_table.hpp, the rules), keeps one timer armed for the
// table's next expiry, and posts the appear and disappear handlers to their associated
// executors (default: its strand). The table and counters are guarded by `mutex_`, so a
// snapshot may be taken from any thread; no user code runs under it.

#include "racket/detail/directory/directory_table.hpp"
#include "racket/detail/earliest_timer.hpp"
#include "racket/directory_options.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire/announce.hpp"

#include <asio/associated_executor.hpp>
#include <asio/post.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail {

template <class Transport, class Clock>
class directory_impl : public std::enable_shared_from_this<directory_impl<Transport, Clock>> {
 public:
  using time_point = typename Clock::time_point;
  using handler_function = std::function<void(const directory_entry&)>;

  template <class ContextOrExecutor>
    requires std::constructible_from<Transport, ContextOrExecutor&&, const transport_options&>
  directory_impl(ContextOrExecutor&& ctx, const directory_options& opts)
      : opts_(opts),
        transport_(std::forward<ContextOrExecutor>(ctx),
                   transport_options{.interfaces = opts.interfaces,
                                     .receive_buffer_size = opts.receive_buffer_size,
                                     .rescan_interval = opts.rescan_interval}),
        timer_(transport_.make_timer()),
        table_(opts.expiry_factor, opts.max_entries) {}

  ~directory_impl() { transport_.close(); }

  Transport& transport() noexcept { return transport_; }
  auto strand() const noexcept { return transport_.get_executor(); }

  // Any thread, once (basic_directory calls it right after making it).
  void start(const endpoint& channel, std::error_code& ec) {
    std::lock_guard lock(mutex_);
    transport_.open(channel.group.is_v6() ? address_family::v6 : address_family::v4, ec);
    if (ec) return;
    auto on_datagram = [this](std::span<const std::byte> d, const receive_info&) { this->on_datagram(d); };
    if constexpr (kind_filtering_transport<Transport>) {
      // Only announcements reach the socket: a data stream sharing the channel stays in the kernel.
      receiver_ = transport_.open_receiver(channel, on_datagram, ec, static_cast<int>(wire::announcement_kind));
    } else {
      receiver_ = transport_.open_receiver(channel, on_datagram, ec);
    }
    open_ = !ec;
  }

  // Any thread. `h` posts itself to its executor (basic_directory binds it).
  void set_appear_handler(handler_function h) {
    std::lock_guard lock(mutex_);
    on_appear_ = std::move(h);
  }
  void set_disappear_handler(handler_function h) {
    std::lock_guard lock(mutex_);
    on_disappear_ = std::move(h);
  }

  std::vector<directory_entry> snapshot() const {
    std::lock_guard lock(mutex_);
    return table_.snapshot(Clock::now());
  }

  directory_stats stats() const {
    std::lock_guard lock(mutex_);
    directory_stats s = stats_;
    s.entries = table_.size();
    return s;
  }

  // Any thread: stops listening; the handlers are not called afterwards.
  void close() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    if (open_) transport_.close_receiver(receiver_);
    open_ = false;
    on_appear_ = nullptr;
    on_disappear_ = nullptr;
    asio::post(transport_.get_executor(), [self = this->shared_from_this()] { self->timer_.cancel(); });
  }

 private:
  // --- executor ---

  void on_datagram(std::span<const std::byte> bytes) {
    std::vector<directory_entry> appeared;
    handler_function call;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      ++stats_.datagrams;
      std::error_code ec;
      const wire::announcement_view a = wire::decode_announcement(bytes, ec);
      if (ec) {
        ++stats_.malformed;
        return;
      }
      ++stats_.announcements;
      const time_point now = Clock::now();
      stats_.refused += table_.heard(a, now, [&](const directory_entry& e) {
        ++stats_.appeared;
        if (on_appear_) appeared.push_back(e);
      });
      arm_timer();
      call = on_appear_;
    }
    for (const directory_entry& e : appeared) call(e);
  }

  void on_timer() {
    std::vector<directory_entry> gone;
    handler_function call;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      stats_.disappeared += table_.expire(Clock::now(), [&](const directory_entry& e) {
        if (on_disappear_) gone.push_back(e);
      });
      arm_timer();
      call = on_disappear_;
    }
    for (const directory_entry& e : gone) call(e);
  }

  // Under mutex_, on the executor.
  void arm_timer() {
    const time_point t = table_.next_expiry();
    if (t == time_point::max()) return;
    timer_.arm(t, this->weak_from_this(), [](directory_impl& self) { self.on_timer(); });
  }

  directory_options opts_;
  Transport transport_;
  earliest_timer<typename Transport::timer_type> timer_;  // executor only
  mutable std::mutex mutex_;  // guards everything below
  directory_table<time_point> table_;
  directory_stats stats_;
  handler_function on_appear_;
  handler_function on_disappear_;
  receiver_id receiver_ = 0;
  bool open_ = false;
  bool closed_ = false;
};

}  // namespace racket::detail
