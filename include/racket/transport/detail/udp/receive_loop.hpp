// SPDX-License-Identifier: MIT
#pragma once

// How a udp_transport reads its receivers: waits for a socket to become readable, drains it
// in `recvmmsg` batches (a bounded number per wake-up), busy polls when asked, and hands every
// datagram (each one a GRO buffer held) to the receiver's handler (a GRO buffer first to its
// segments handler, when it has one, which may take runs of datagrams at once), counting
// datagrams, bytes, errors and kernel drops. Knows nothing of opening, joining, sending or the
// selection; the only lock it takes is the transport's mutex, to look up a datagram's
// interface when its receiver has several (a rescan may reorder them).

#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/socket_ops.hpp"
#include "racket/transport/detail/udp/core.hpp"
#include "racket/transport/detail/udp/receive_control.hpp"
#include "racket/transport/detail/udp/receiver.hpp"

#include <asio/post.hpp>
#include <asio/socket_base.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <utility>

#include <sys/socket.h>

namespace racket::detail::udp {

// Datagrams a receiver handles per wakeup before it yields to other handlers
// (udp_transport::max_datagrams_per_wakeup).
inline constexpr std::size_t max_datagrams_per_wakeup = 256;
// Longest a busy poll reads an empty socket before it lets the executor's other handlers run
// (udp_transport::busy_poll_slice).
inline constexpr std::chrono::microseconds busy_poll_slice{50};

class receive_loop {
 public:
  using clock_type = std::chrono::steady_clock;

  // `mutex`: the transport's, which guards every receiver's interface positions.
  receive_loop(core& c, std::recursive_mutex& mutex) : core_(c), mutex_(mutex) {}

  receive_loop(const receive_loop&) = delete;
  receive_loop& operator=(const receive_loop&) = delete;

  // The wait owns a reference to the receiver, handed on from wait to wait (moved; `keep`
  // below is the one count change per wake-up).
  void arm_read(std::shared_ptr<receiver> r) {
    receiver& rr = *r;
    // The wait completes on the socket's executor (the io_context's own, when the strand is
    // over one) and enters the strand from there, through the receiver's copy of it: at once
    // when it is free, as a strand's dispatch does. Not `bind_executor(strand, ...)`: Asio's
    // wait operation then copies the strand executor (a variant over a shared state) for its
    // tracked work, its binder and its completion, some 880 instructions a round trip on the
    // latency path (docs/performance.md, "The latency path's executor copies").
    rr.socket.async_wait(asio::socket_base::wait_read, [this, r = std::move(r)](const std::error_code& ec) mutable {
      // `this` is not touched here: the transport may be gone. `keep` holds the receiver, and
      // with it the strand being entered, until the strand is left: the function run may drop
      // every other reference to it (a read that finds it closed).
      const std::shared_ptr<receiver> keep = r;
      keep->strand.execute([this, r = std::move(r), ec]() mutable {
        // `closed` is set by close_receiver/close (and so the destructor) before the socket
        // goes: checked, on the strand, before touching `this`.
        if (r->closed) return;
        if (ec) {
          ++core_.stats.receive_errors;
          core_.report(ec, "");
          return;
        }
        drain(std::move(r));
      });
    });
  }

 private:
  // What one read_batch did.
  struct batch_read {
    std::size_t buffers = 0;    // buffers read (0: the socket was empty)
    std::size_t datagrams = 0;  // datagrams handed to the handler
    std::size_t handled = 0;    // the same, a dropped buffer counting as one (so a flood of them still yields)
    bool failed = false;        // the read failed (counted and reported)
    bool closed = false;        // closed (or the transport destroyed) from inside the handler: `this` may be gone
  };

  std::uint32_t position_of(const receiver& r, unsigned ifindex) const {
    if (r.one_interface.load(std::memory_order_relaxed)) return 0;  // no lookup, no lock
    std::lock_guard lock(mutex_);  // a rescan may reorder the selection
    for (std::size_t i = 0; i < r.ifindex_to_position.size(); ++i)
      if (r.ifindex_to_position[i] == ifindex) return static_cast<std::uint32_t>(i);
    return 0;
  }

  // One `recvmmsg` without blocking, each buffer it read handed to the handler.
  batch_read read_batch(receiver& r) {
    batch_read b;
    int n;
    while ((n = ::recvmmsg(r.socket.native_handle(), r.msgs.data(), static_cast<unsigned>(receive_batch),
                           MSG_DONTWAIT, nullptr)) < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ++core_.stats.receive_errors;
        core_.report(last_errno(), "");
        b.failed = true;
      }
      return b;
    }
    b.buffers = static_cast<std::size_t>(n);
    for (std::size_t i = 0; i < b.buffers; ++i) {
      const std::size_t d = deliver(r, i);
      if (r.closed) {
        b.closed = true;
        return b;
      }
      b.datagrams += d;
      b.handled += std::max<std::size_t>(1, d);
    }
    r.reset_headers(b.buffers);
    return b;
  }

  void drain(std::shared_ptr<receiver> r) {
    std::size_t handled = 0;
    while (handled < max_datagrams_per_wakeup) {
      const batch_read b = read_batch(*r);
      if (b.closed) return;
      if (b.failed) break;
      handled += b.handled;
      if (b.buffers < receive_batch) {  // drained; the wait re-checks
        if (core_.options.busy_poll.count() > 0) {
          busy_poll(std::move(r), clock_type::now() + core_.options.busy_poll);
          return;
        }
        break;
      }
    }
    arm_read(std::move(r));  // re-arming re-reads readiness (EPOLL_CTL_MOD), so leftovers wake us at once
  }

  // Reads the drained socket without blocking until a batch arrives or `deadline` (`busy_poll`
  // after the last batch; transport_options::busy_poll) has passed, then goes back to the
  // event loop's wait. A batch is handed over and polling goes on from the executor's queue;
  // so does a poll that has found nothing for `busy_poll_slice`: the executor's other handlers
  // (and its reactor, which may have other sockets' data) run in between, never held up for
  // longer than that.
  void busy_poll(std::shared_ptr<receiver> r, clock_type::time_point deadline) {
    const clock_type::time_point slice_end = std::min(deadline, clock_type::now() + busy_poll_slice);
    for (;;) {
      const batch_read b = read_batch(*r);
      if (b.closed) return;
      if (b.failed) break;
      const clock_type::time_point now = clock_type::now();
      if (b.buffers > 0) {
        core_.stats.busy_poll_datagrams += b.datagrams;
        deadline = now + core_.options.busy_poll;
      } else if (now >= deadline) {
        break;
      } else if (now < slice_end) {
        continue;
      }
      asio::post(core_.strand, [this, r = std::move(r), deadline]() mutable {
        if (!r->closed) busy_poll(std::move(r), deadline);  // checked before touching `this`, as in arm_read
      });
      return;
    }
    arm_read(std::move(r));
  }

  // Hands buffer i to the handler: once, or once per segment of a GRO-coalesced buffer.
  // Returns how many datagrams it handed over.
  std::size_t deliver(receiver& r, std::size_t i) {
    msghdr& h = r.msgs[i].msg_hdr;
    receive_info info;
    const receive_control c = read_control(h);
    if (c.has_overflow) {
      core_.stats.kernel_drops += static_cast<std::uint32_t>(c.overflow - r.last_overflow);  // wraps
      r.last_overflow = c.overflow;
    }
    if (c.has_ifindex) info.interface_index = position_of(r, c.ifindex);
    if (r.unicast && r.source_of(i, r.sender)) [[unlikely]]
      info.source = &r.sender;
    // Cut-off control data might have held the segment size: the buffer cannot be split.
    if ((h.msg_flags & MSG_TRUNC) != 0 || (r.gro && (h.msg_flags & MSG_CTRUNC) != 0)) {
      ++core_.stats.receive_errors;
      return 0;
    }
    const std::byte* data = r.buffers.get() + i * receive_slot_size;
    const std::size_t len = r.msgs[i].msg_len;
    if (r.segments && c.segment != 0 && c.segment < len) return deliver_segments(r, data, len, c.segment, info);
    return split_segments(len, c.segment, [&](std::size_t offset, std::size_t part) {
      ++core_.stats.datagrams_received;
      core_.stats.bytes_received += part;
      if (r.handler) r.handler(std::span<const std::byte>(data + offset, part), info);
      // Closed (or the transport destroyed) from inside the handler: `this` may be gone.
      return !r.closed;
    });
  }

  // A GRO buffer of several datagrams, for a receiver with a segments handler: offered whole
  // to it, which takes a run of leading datagrams at a time (segments_handler); what it does
  // not take goes to the datagram handler one by one. Counted once, before any handler runs
  // (after one, `this` may be gone).
  std::size_t deliver_segments(receiver& r, const std::byte* data, std::size_t len, std::size_t segment,
                               const receive_info& info) {
    const std::size_t count = (len + segment - 1) / segment;
    core_.stats.datagrams_received += count;
    core_.stats.bytes_received += len;
    std::size_t offset = 0;
    while (len - offset > segment) {  // two datagrams or more left
      const std::size_t took = r.segments(std::span<const std::byte>(data + offset, len - offset), segment, info);
      if (r.closed) return count;  // closed (or the transport destroyed) inside: `this` may be gone
      if (took == 0) break;
      const std::size_t left = (len - offset + segment - 1) / segment;
      offset += std::min(took, left) * segment;
      if (offset > len) offset = len;
      if (offset == len) return count;
    }
    split_segments(len - offset, segment, [&](std::size_t at, std::size_t part) {
      if (r.handler) r.handler(std::span<const std::byte>(data + offset + at, part), info);
      return !r.closed;
    });
    return count;
  }

  core& core_;
  std::recursive_mutex& mutex_;
};

}  // namespace racket::detail::udp
