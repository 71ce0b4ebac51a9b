// SPDX-License-Identifier: MIT
#pragma once

// The publisher's way into its transport: every send passes the gate, which locks where the
// transport is not thread safe, marks the executor busy inside a send (a publish made from
// an error handler run there queues instead of re-entering), seals the datagrams of keyed
// streams (when given a sealer: the last step before the network, so no datagram of a keyed
// stream leaves in clear whichever room made it), hands each datagram, once sealed, to the
// unicast peers too (and, without multicast, to them alone), and keeps what became of the datagrams
// since it was last asked (async_flush's result). The packer's Sender. Knows nothing of
// streams, records or the queue.

#include "racket/detail/clock.hpp"
#include "racket/detail/peers/peer_fanout.hpp"
#include "racket/detail/security/seals.hpp"
#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <system_error>
#include <type_traits>
#include <vector>

namespace racket::detail {

// Every call into the transport passes here: under a lock of the publisher's own unless the
// transport is thread_safe (it locks inside), and for sends flagged busy. The transport may
// call the application's error handler from inside a send; a publish from there must queue,
// not re-enter (busy is read only on the executor). The packer's Sender.
template <class Transport>
class transport_gate {
 public:
  explicit transport_gate(Transport& transport) noexcept : transport_(transport) {}

  // From now on, datagrams of the streams `sealer` keys leave sealed, each at most
  // `max_sealed_size` bytes (the publisher's writers leave room for the seal). Before any send.
  void seal_with(datagram_sealer* sealer, std::size_t max_sealed_size) {
    sealer_ = sealer;
    slot_ = max_sealed_size;
  }

  using fanout_type = std::conditional_t<unicast_transport<Transport>, peer_fanout<Transport>, no_peer_fanout>;

  // From now on every datagram also goes to `peers` (none: no peers), and to the multicast
  // groups only while `multicast`. Before any send.
  void send_to(fanout_type* peers, bool multicast) noexcept {
    peers_ = peers;
    multicast_ = multicast;
  }

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
      return multicast_ && transport_.segmentation_offload();
    } else {
      return false;
    }
  }

  // What the datagram of `n` bytes that `send` took last had on the wire (sealed: 52 more).
  std::size_t sent_size(std::size_t n) const noexcept { return n + last_growth_; }

  send_result send(const endpoint& to, std::span<const std::byte> bytes) {
    if (sealer_ != nullptr) [[unlikely]] {
      scratch_.resize(slot_);
      const std::size_t before = bytes.size();
      bytes = seal(bytes, std::span<std::byte>(scratch_), stamp_(clock_type::now()));
      last_growth_ = bytes.size() > before ? bytes.size() - before : 0;
    }
    auto tlock = lock();
    busy_ = true;
    send_result res{};
    if (multicast_) [[likely]]
      res = transport_.send(to, bytes);
    if (peers_ != nullptr) [[unlikely]]
      add(res, to_peers(bytes));
    busy_ = false;
    note(res);
    return res;
  }

  // One `send_batch` (one sendmmsg per interface) where the transport has it, else one `send`
  // per datagram. A datagram in pieces (outgoing_datagram::rest) goes as it is to a gathering
  // transport, multicast only; it is joined first (a copy) for any other, for sealing, and
  // for the unicast peers.
  void send_batch(std::span<outgoing_datagram> batch) {
    if (!gathering_transport<Transport> || sealer_ != nullptr || peers_ != nullptr) join(batch);
    if (sealer_ != nullptr) [[unlikely]] {
      // A run stays a run: its datagrams were one size, and sealing adds the same to each.
      scratch_.resize(batch.size() * slot_);
      const std::uint64_t now_ns = stamp_(clock_type::now());
      for (std::size_t i = 0; i < batch.size(); ++i)
        batch[i].bytes = seal(batch[i].bytes, std::span<std::byte>(scratch_.data() + i * slot_, slot_), now_ns);
    }
    auto tlock = lock();
    busy_ = true;
    if (!multicast_) [[unlikely]] {
      for (outgoing_datagram& d : batch) d.result = send_result{};
    } else if constexpr (batch_sending_transport<Transport>) {
      transport_.send_batch(batch);
    } else {
      for (outgoing_datagram& d : batch) d.result = transport_.send(d.to, d.bytes);
    }
    if (peers_ != nullptr) [[unlikely]]
      for (outgoing_datagram& d : batch) add(d.result, to_peers(d.bytes));
    busy_ = false;
    for (const outgoing_datagram& d : batch) note(d.result);
  }

 private:
  using clock_type = transport_clock_t<Transport>;

  // The datagram as it leaves: sealed when its stream is keyed. A keyed stream's datagram
  // that cannot be sealed (none can: a stream without a sending key is refused at publish)
  // leaves as nothing rather than in clear.
  std::span<const std::byte> seal(std::span<const std::byte> bytes, std::span<std::byte> out, std::uint64_t now_ns) {
    std::error_code ec;
    const auto sealed = sealer_->seal(bytes, out, now_ns, ec);
    return ec ? std::span<const std::byte>{} : sealed;
  }

  // Every datagram of `batch` in pieces joined into one, in `joined_` (valid until the next
  // batch). Keeps a run a run: the pieces of each added up to its size.
  void join(std::span<outgoing_datagram> batch) {
    std::size_t total = 0;
    for (const outgoing_datagram& d : batch)
      if (d.gathered()) total += d.size();
    if (total == 0) return;
    joined_.resize(total);
    std::byte* p = joined_.data();
    for (outgoing_datagram& d : batch) {
      if (!d.gathered()) continue;
      std::byte* const start = p;
      p = d.copy_to(p);
      d.bytes = std::span<const std::byte>(start, p);
      d.rest[0] = d.rest[1] = {};
    }
  }

  send_result to_peers(std::span<const std::byte> bytes) {
    if constexpr (unicast_transport<Transport>) {
      if (bytes.empty()) return {};  // a keyed datagram that could not be sealed leaves as nothing
      return peers_->send(bytes);
    } else {
      return {};
    }
  }

  static void add(send_result& to, const send_result& r) noexcept {
    to.ok += r.ok;
    to.failed += r.failed;
    to.would_block += r.would_block;
  }

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
  fanout_type* peers_ = nullptr;  // the unicast peers, if any
  bool multicast_ = true;         // publisher_options::multicast
  datagram_sealer* sealer_ = nullptr;  // keyed streams: the publisher's, or none
  std::size_t slot_ = 0;               // bytes of scratch_ per datagram of a batch
  std::vector<std::byte> scratch_;     // the sealed datagrams of the batch being sent
  std::vector<std::byte> joined_;      // datagrams in pieces joined (see join)
  std::size_t last_growth_ = 0;        // what sealing added to the last datagram of `send`
  wall_stamper<clock_type> stamp_;     // the seal's timestamp (freshness)
  std::mutex mutex_;
  bool busy_ = false;
  std::uint32_t refused_ = 0;  // executor only: datagrams no interface took, one refused
  std::uint32_t dropped_ = 0;  // executor only: datagrams every interface was too full for
};

}  // namespace racket::detail
