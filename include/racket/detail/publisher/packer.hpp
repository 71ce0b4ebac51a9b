// SPDX-License-Identifier: MIT
#pragma once

// The packer: records into datagrams, datagrams to the network. Each stream has at most one
// open datagram; a full one joins the outbox (unsealed), and the outbox goes to the sender
// when it is full or when the caller sends what is open: in one batch, and where the sender
// segments (UDP GSO), each stream's datagrams as runs padded to one size. Knows nothing of
// the cache, timers, threads or locks: it hands datagrams to a Sender, the orchestrator's gate
// to the transport.

#include "racket/detail/publisher/counters.hpp"
#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace racket::detail {

// A stream's open datagram: the buffer being filled (from the packer's pool) and its writer.
struct open_datagram {
  std::unique_ptr<std::byte[]> buffer;
  wire::datagram_writer writer{std::span<std::byte>{}};
  bool open = false;
};

// `Sender` hands datagrams to the transport: `send(const endpoint&, std::span<const std::byte>)
// -> send_result`, `send_batch(std::span<outgoing_datagram>)` (filling in each result) and
// `segments() -> bool` (whether runs are worth making).
// `Stream`: the publisher's stream; the packer uses its `name`, `ep`, `ordinal` (an order
// that is the same every run), `out` (its open_datagram) and the `counters` of sending.
template <class Sender, class Stream>
class packer {
 public:
  packer(Sender& sender, std::uint64_t publisher_id, std::size_t max_datagram_size)
      : sender_(sender),
        id_(publisher_id),
        max_datagram_size_(max_datagram_size),
        batch_limit_(batch_limit_for(max_datagram_size)) {}  // once: a division per datagram showed in perf

  packer(const packer&) = delete;
  packer& operator=(const packer&) = delete;

  // Appends `r` to the stream's open datagram, or to the next one when it does not fit
  // (the caller checked that it fits an empty one).
  void append(Stream& s, const wire::record& r) {
    if (!try_append(s, r)) {
      next_datagram(s);
      s.out.writer.append(r);  // fits: enqueue checked the size against an empty datagram
    }
  }

  // As `append`, but a record that does not fit the stream's open datagram is refused (false)
  // instead of starting the next one.
  bool try_append(Stream& s, const wire::record& r) {
    open_writer(s);
    return s.out.writer.append(r);
  }

  // Whether the stream's open datagram (if any) holds no record yet.
  static bool open_empty(const Stream& s) noexcept { return s.out.writer.empty(); }

  // The stream's open datagram is full: it joins the outbox and the next one begins.
  void next_datagram(Stream& s) {
    finish_datagram(s);
    s.out.writer.begin(id_, s.name);
  }

  // Finishes every open datagram and sends the outbox. The streams that had one open stay
  // listed in `opened()` until `clear_opened()`.
  void send_open() {
    for (Stream* s : open_) {
      if (!s->out.writer.empty()) finish_datagram(*s);
      s->out.open = false;
    }
    send_outbox();
  }

  // The streams whose datagram `send_open` sent (in the order they were opened).
  std::span<Stream* const> opened() const noexcept { return open_; }
  void clear_opened() noexcept { open_.clear(); }

  // Datagrams per batch: up to 64, and up to 256 KiB of buffers.
  static std::size_t batch_limit_for(std::size_t max_datagram_size) noexcept {
    return std::clamp<std::size_t>((std::size_t{256} << 10) / max_datagram_size, 1, 64);
  }

 private:
  // A datagram of the outbox: its bytes are in `buffer`, `body` of them written (header and
  // records); the trailer (and any padding) is written when it is sent.
  struct finished_datagram {
    Stream* stream = nullptr;
    std::unique_ptr<std::byte[]> buffer;
    std::size_t body = 0;
  };

  static constexpr std::size_t max_run_segments = 64;  // UDP_MAX_SEGMENTS of older kernels

  // Starts the stream's datagram unless one is open (sent by send_open).
  void open_writer(Stream& s) {
    if (!s.out.open) start_datagram(s);
  }

  // Out of line: it runs once per datagram, and inlined into the per-record path (g++ did,
  // once the packer was a class of its own) it cost every record of a flush the registers
  // only it needs: about 20 instructions a record under callgrind.
  [[gnu::noinline]] void start_datagram(Stream& s) {
    if (!s.out.buffer) {
      s.out.buffer = take_buffer();
      s.out.writer = wire::datagram_writer{std::span<std::byte>(s.out.buffer.get(), max_datagram_size_)};
    }
    s.out.writer.begin(id_, s.name);
    s.out.open = true;
    open_.push_back(&s);
  }

  std::unique_ptr<std::byte[]> take_buffer() {
    if (free_buffers_.empty()) return std::make_unique_for_overwrite<std::byte[]>(max_datagram_size_);
    auto b = std::move(free_buffers_.back());
    free_buffers_.pop_back();
    return b;
  }

  // The stream's datagram is complete: it joins the outbox (its buffer with it, not yet
  // sealed: the checksum is written when the outbox goes out, after any padding) and the
  // stream goes on in a fresh buffer. A full outbox goes out at once.
  void finish_datagram(Stream& s) {
    const std::size_t body = s.out.writer.finish_unsealed();
    outbox_.push_back(finished_datagram{.stream = &s, .buffer = std::move(s.out.buffer), .body = body});
    s.out.buffer = take_buffer();
    s.out.writer = wire::datagram_writer{std::span<std::byte>(s.out.buffer.get(), max_datagram_size_)};
    if (outbox_.size() >= batch_limit_) send_outbox();
  }

  // Hands the outbox to the sender: one `send_batch` (one sendmmsg per interface) where the
  // transport has it, else one `send` per datagram; then counts per stream.
  //
  // Where the transport has segmentation offload (UDP GSO), each stream's datagrams go as runs
  // the kernel segments itself: a run's datagrams but the last are padded (wire format,
  // "Padding") to its largest size, as long as that pads none by more than 1/16 of it.
  void send_outbox() {
    if (outbox_.empty()) return;
    const std::size_t n = outbox_.size();
    if (n == 1) {
      // The idle publisher's datagram (the latency path): no order, no batch table.
      finished_datagram& d = outbox_[0];
      const auto bytes = wire::seal(std::span<std::byte>(d.buffer.get(), max_datagram_size_), d.body, total_of(d));
      const send_result res = sender_.send(d.stream->ep, bytes);
      count_sent(d, res, sent_size(bytes.size()));
      outbox_.clear();
      return;
    }
    order_.resize(n);
    for (std::size_t i = 0; i < n; ++i) order_[i] = static_cast<std::uint32_t>(i);
    const bool segment = n > 1 && sender_.segments();
    if (segment) {
      // Each stream's datagrams side by side, in their order; the streams in the order they
      // were created (not by address: the same every run).
      std::stable_sort(order_.begin(), order_.end(),
                       [&](std::uint32_t a, std::uint32_t b) { return outbox_[a].stream->ordinal < outbox_[b].stream->ordinal; });
    }
    sending_.clear();
    for (std::size_t i = 0; i < n;) {
      const std::size_t len = segment ? run_at(i) : 1;
      std::size_t seg = 0;
      for (std::size_t k = i; k < i + len; ++k) seg = std::max(seg, total_of(outbox_[order_[k]]));
      for (std::size_t k = i; k < i + len; ++k) {
        finished_datagram& d = outbox_[order_[k]];
        const std::size_t total = k + 1 < i + len ? seg : total_of(d);
        sending_.push_back(outgoing_datagram{
            .to = d.stream->ep,
            .bytes = wire::seal(std::span<std::byte>(d.buffer.get(), max_datagram_size_), d.body, total),
            .run_length = static_cast<std::uint16_t>(k == i && len > 1 ? len : 0)});
      }
      i += len;
    }
    sender_.send_batch(std::span<outgoing_datagram>(sending_));
    for (std::size_t k = 0; k < n; ++k) count_sent(outbox_[order_[k]], sending_[k].result, sending_[k].bytes.size());
    outbox_.clear();
    sending_.clear();
  }

  // Counts a sent datagram on its stream and takes its buffer back.
  void count_sent(finished_datagram& d, const send_result& res, std::size_t size) {
    auto& c = d.stream->counters;
    bump(c.datagrams_sent, res.ok);
    bump(c.bytes_sent, std::uint64_t{res.ok} * size);
    bump(c.send_errors, res.failed + res.would_block);
    free_buffers_.push_back(std::move(d.buffer));
  }

  static std::size_t total_of(const finished_datagram& d) noexcept { return d.body + wire::trailer_size; }

  // The size a datagram of `n` bytes had on the wire: larger when the sender sealed it (a
  // batch's datagrams say so themselves: the sender replaces their bytes).
  std::size_t sent_size(std::size_t n) const noexcept {
    if constexpr (requires { sender_.sent_size(n); }) {
      return sender_.sent_size(n);
    } else {
      return n;
    }
  }

  // How many datagrams from order_[i] on form one run: the same stream, at most 64 and
  // 65507 bytes, every one but the last within 1/16 of the run's largest (so padding them to
  // it wastes little); a much shorter one ends the run as its last, a much longer one starts
  // the next.
  std::size_t run_at(std::size_t i) const noexcept {
    const Stream* s = outbox_[order_[i]].stream;
    std::size_t lo = total_of(outbox_[order_[i]]), hi = lo, len = 1;
    while (i + len < order_.size() && len < max_run_segments) {
      const finished_datagram& d = outbox_[order_[i + len]];
      if (d.stream != s) break;
      const std::size_t t = total_of(d);
      const std::size_t nlo = std::min(lo, t), nhi = std::max(hi, t);
      if (nhi * (len + 1) > wire::max_datagram_size_limit) break;
      if ((nhi - nlo) * 16 <= nhi) {
        lo = nlo;
        hi = nhi;
        ++len;
        continue;
      }
      if (t < lo) ++len;  // shorter: the run's unpadded last datagram
      break;
    }
    return len;
  }

  Sender& sender_;
  std::uint64_t id_;
  std::size_t max_datagram_size_;
  std::size_t batch_limit_;
  std::vector<Stream*> open_;               // streams with an open datagram
  std::vector<finished_datagram> outbox_;   // finished datagrams not yet handed to the sender
  std::vector<std::uint32_t> order_;        // send_outbox scratch: the outbox, streams grouped
  std::vector<outgoing_datagram> sending_;  // send_outbox scratch: what the sender is given
  std::vector<std::unique_ptr<std::byte[]>> free_buffers_;
};

}  // namespace racket::detail
