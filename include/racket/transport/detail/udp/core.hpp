// SPDX-License-Identifier: MIT
#pragma once

// What every piece of a udp_transport shares, owned by the transport: its strand (every
// socket, timer and posted job of the transport completes there), the options, the counters
// and the error handler (and which family an endpoint is). Holds no socket and takes no lock
// but the error handler's own; knows nothing of interfaces, ports or receivers.
//
// A piece's pending operation (a flush, a read) holds a reference to the core, which dies with
// the transport: it checks its own `closed` flag, which close() sets, before touching the core.

#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/udp/serial_executor.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail::udp {

inline address_family family_of(const endpoint& ep) noexcept {
  return ep.group.is_v4() ? address_family::v4 : address_family::v6;
}

// The strand a transport runs on: over any executor (an io_context's, a thread pool's), or a
// strand of the application's itself (serial_executor.hpp).
using strand_type = serial_executor;

// The counters of transport_stats, readable from any thread. Written on the strand (reads,
// flushes of the backlog) and under the transport's mutex (sends, opens, rescans): two writers
// can meet, so each add is an atomic one (uncontended: a few nanoseconds per datagram).
struct counters {
  std::atomic<std::uint64_t> datagrams_sent{0}, bytes_sent{0}, send_errors{0}, send_would_block{0},
      datagrams_received{0}, bytes_received{0}, receive_errors{0}, join_errors{0}, kernel_drops{0},
      interfaces_added{0}, interfaces_removed{0}, segmented_sends{0}, segmentation_fallbacks{0},
      busy_poll_datagrams{0};

  transport_stats load() const noexcept {
    constexpr auto r = std::memory_order_relaxed;
    transport_stats out;
    out.datagrams_sent = datagrams_sent.load(r);
    out.bytes_sent = bytes_sent.load(r);
    out.send_errors = send_errors.load(r);
    out.send_would_block = send_would_block.load(r);
    out.datagrams_received = datagrams_received.load(r);
    out.bytes_received = bytes_received.load(r);
    out.receive_errors = receive_errors.load(r);
    out.join_errors = join_errors.load(r);
    out.kernel_drops = kernel_drops.load(r);
    out.interfaces_added = interfaces_added.load(r);
    out.interfaces_removed = interfaces_removed.load(r);
    out.segmented_sends = segmented_sends.load(r);
    out.segmentation_fallbacks = segmentation_fallbacks.load(r);
    out.busy_poll_datagrams = busy_poll_datagrams.load(r);
    return out;
  }
};

// The send ports' backlogs taken together (strand only): the bytes they hold back (EAGAIN)
// and the calls waiting for them all to go (udp_transport::async_wait_send_backlog). Shared
// by the core and every send port, so a port closed on the strand after its transport is
// gone can still take its bytes out.
class backlog_book {
 public:
  explicit backlog_book(strand_type strand) : strand_(std::move(strand)) {}

  std::size_t bytes() const noexcept { return bytes_; }

  // `f` is posted to the strand once no port holds anything back: at once when none does.
  void wait(std::function<void()> f) {
    waiters_.push_back(std::move(f));
    if (bytes_ == 0) changed(0);
  }

  // A port's backlog grew (`delta` > 0) or shrank; at zero the waiters are posted, never run
  // inside the send, flush or close that emptied it (a closed port's backlog is dropped, so
  // closing the transport releases them too).
  void changed(std::ptrdiff_t delta) {
    bytes_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(bytes_) + delta);
    if (bytes_ != 0 || waiters_.empty()) return;
    std::vector<std::function<void()>> ready;
    ready.swap(waiters_);
    for (auto& w : ready) asio::post(strand_, std::move(w));
  }

 private:
  strand_type strand_;
  std::size_t bytes_ = 0;
  std::vector<std::function<void()>> waiters_;
};

class core {
 public:
  core(strand_type strand, const transport_options& options)
      : strand(std::move(strand)), options(options), backlog(std::make_shared<backlog_book>(this->strand)) {}

  core(const core&) = delete;
  core& operator=(const core&) = delete;

  void set_error_handler(transport_error_handler handler) {
    std::lock_guard lock(error_mutex_);
    on_error_ = std::move(handler);
  }

  // Posts a call of the error handler, if any (a copy taken under its lock), to the strand:
  // reports come from inside sends, opens and reads, some under the transport's mutex, and the
  // handler must run under no lock and never inside the caller's own call, so that it may call
  // back into the transport (or its owner) freely.
  void report(const std::error_code& ec, std::string_view interface_name) {
    transport_error_handler h;
    {
      std::lock_guard lock(error_mutex_);
      h = on_error_;
    }
    if (!h) return;
    asio::post(strand, [h = std::move(h), ec, name = std::string(interface_name)] { h(ec, name); });
  }

  strand_type strand;
  const transport_options options;
  counters stats;
  std::shared_ptr<backlog_book> backlog;  // strand only

 private:
  transport_error_handler on_error_;
  std::mutex error_mutex_;  // guards on_error_ only (set from any thread, read when reporting)
};

}  // namespace racket::detail::udp
