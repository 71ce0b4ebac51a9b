// SPDX-License-Identifier: MIT
#pragma once

// The publisher's way into its transport: every send passes the gate, which locks where the
// transport is not thread safe, marks the executor busy inside a send (a publish made from
// an error handler run there queues instead of re-entering), and keeps what became of the
// datagrams since it was last asked (async_flush's result). The packer's Sender. Knows
// nothing of streams, records or the queue.

#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <system_error>

namespace racket::detail {

// Every call into the transport passes here: under a lock of the publisher's own unless the
// transport is thread_safe (it locks inside), and for sends flagged busy. The transport may
// call the application's error handler from inside a send; a publish from there must queue,
// not re-enter (busy is read only on the executor). The packer's Sender.
template <class Transport>
class transport_gate {
 public:
  explicit transport_gate(Transport& transport) noexcept : transport_(transport) {}

  std::unique_lock<std::mutex> lock() {
    if constexpr (thread_safe_transport<Transport>) {
      return {};  // it locks inside
    } else {
      return std::unique_lock<std::mutex>(mutex_);
    }
  }

  // Executor only: inside a send.
  bool busy() const noexcept { return busy_; }

  // Executor only: what became of the datagrams sent since the last call, as `async_flush`
  // reports it: `io_error` when at least one was refused by every interface it went to,
  // else `no_buffer_space` when at least one found every interface full and was dropped,
  // else none. Resets.
  std::error_code take_losses() noexcept {
    std::error_code ec;
    if (refused_ != 0) {
      ec = std::make_error_code(std::errc::io_error);
    } else if (dropped_ != 0) {
      ec = std::make_error_code(std::errc::no_buffer_space);
    }
    refused_ = dropped_ = 0;
    return ec;
  }

  bool segments() noexcept {
    if constexpr (segmenting_transport<Transport>) {
      return transport_.segmentation_offload();
    } else {
      return false;
    }
  }

  send_result send(const endpoint& to, std::span<const std::byte> bytes) {
    auto tlock = lock();
    busy_ = true;
    const send_result res = transport_.send(to, bytes);
    busy_ = false;
    note(res);
    return res;
  }

  // One `send_batch` (one sendmmsg per interface) where the transport has it, else one `send`
  // per datagram.
  void send_batch(std::span<outgoing_datagram> batch) {
    auto tlock = lock();
    busy_ = true;
    if constexpr (batch_sending_transport<Transport>) {
      transport_.send_batch(batch);
    } else {
      for (outgoing_datagram& d : batch) d.result = transport_.send(d.to, d.bytes);
    }
    busy_ = false;
    for (const outgoing_datagram& d : batch) note(d.result);
  }

 private:
  void note(const send_result& r) noexcept {
    if (r.ok != 0) [[likely]]
      return;
    if (r.failed != 0) {
      ++refused_;
    } else if (r.would_block != 0) {
      ++dropped_;
    }
  }

  Transport& transport_;
  std::mutex mutex_;
  bool busy_ = false;
  std::uint32_t refused_ = 0;  // executor only: datagrams no interface took, one refused
  std::uint32_t dropped_ = 0;  // executor only: datagrams every interface was too full for
};

}  // namespace racket::detail
