// SPDX-License-Identifier: MIT
#pragma once

// How one address family's share of a `send_batch` is laid out for `sendmmsg`: which datagrams
// of the batch are the family's, their addresses and iovecs, and the message tables over them,
// one entry per datagram (plain) or one per run chunk that goes as one segmented send (UDP
// GSO, with its UDP_SEGMENT control message). Builds tables only: no socket, no system call,
// no counting; knows nothing of ports or interfaces.

#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/socket_ops.hpp"
#include "racket/transport/detail/udp/core.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

namespace racket::detail::udp {

// The cmsg of one segmented send: UDP_SEGMENT with the segment size.
struct segment_control {
  alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(std::uint16_t))];
};

// sendmmsg entries over a batch_layout's iovecs and addresses (whose index is the datagram's
// position in the layout). Entry e holds positions [first[e], first[e + 1]); an entry of
// several is one segmented send. A datagram in pieces (outgoing_datagram::rest) has an iovec
// per piece: an entry's iovecs are those of its datagrams, back to back.
struct send_layout {
  std::vector<mmsghdr> msgs;
  std::vector<std::size_t> first;
  std::vector<std::size_t> entry_at;  // position -> the entry that starts there
  std::vector<segment_control> controls;
  bool built = false;
  bool segmented(std::size_t e) const noexcept { return first[e + 1] - first[e] > 1; }
};

// One family's share of a batch: `collect` picks its datagrams, `prepare` their addresses and
// iovecs, then `plain()` and `build_segmented` lay them out. Reused from batch to batch, so a
// batch allocates nothing in steady state.
class batch_layout {
 public:
  // Collects the positions in `batch` of the datagrams to `family`; returns whether one of them
  // claims a run (run_length > 1).
  bool collect(std::span<const outgoing_datagram> batch, address_family family) {
    index_.clear();
    bool runs = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (family_of(batch[i].to) != family) continue;
      index_.push_back(i);
      runs = runs || batch[i].run_length > 1;
    }
    return runs;
  }

  // The collected datagrams' addresses and iovecs (one per non-empty piece, the first always);
  // forgets the plain layout of the last batch.
  void prepare(std::span<const outgoing_datagram> batch) {
    const std::size_t n = index_.size();
    addrs_.clear();
    iov_.clear();
    iov_first_.resize(n + 1);
    size_.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      const outgoing_datagram& d = batch[index_[k]];
      addrs_.emplace_back(d.to);
      iov_first_[k] = iov_.size();
      iov_.push_back(iovec{const_cast<std::byte*>(d.bytes.data()), d.bytes.size()});
      for (const auto& piece : d.rest)
        if (!piece.empty()) iov_.push_back(iovec{const_cast<std::byte*>(piece.data()), piece.size()});
      size_[k] = d.size();
    }
    iov_first_[n] = iov_.size();
    plain_.built = false;
  }

  // How many datagrams were collected; position k is batch[index(k)].
  std::size_t size() const noexcept { return index_.size(); }
  bool empty() const noexcept { return index_.empty(); }
  std::size_t index(std::size_t k) const noexcept { return index_[k]; }
  const std::vector<std::size_t>& indices() const noexcept { return index_; }
  const socket_address& address(std::size_t k) const noexcept { return addrs_[k]; }
  // The first iovec of the datagram at position k (its others follow it).
  const iovec& iov(std::size_t k) const noexcept { return iov_[iov_first_[k]]; }
  // The size of the datagram at position k (all its pieces).
  std::size_t datagram_size(std::size_t k) const noexcept { return size_[k]; }

  // The layout of the last build_segmented.
  send_layout& runs() noexcept { return runs_; }

  // The runs layout for the collected datagrams; false when it holds no segmented send.
  bool build_segmented(std::span<const outgoing_datagram> batch) {
    const std::size_t n = index_.size();
    send_layout& l = runs_;
    l.first.clear();
    l.entry_at.assign(n, 0);
    std::size_t segmented = 0;
    for (std::size_t k = 0; k < n;) {
      const std::size_t run_end = k + valid_run(batch, k, n);
      while (k < run_end) {  // chunks of at most max_segments datagrams and max_segmented_bytes
        const std::size_t start = k;
        std::size_t bytes = size_[k];
        for (++k; k < run_end && k - start < max_segments && bytes + size_[k] <= max_segmented_bytes; ++k)
          bytes += size_[k];
        l.entry_at[start] = l.first.size();
        l.first.push_back(start);
        if (k - start > 1) ++segmented;
      }
    }
    l.first.push_back(n);
    const std::size_t entries = l.first.size() - 1;
    l.msgs.resize(entries);
    l.controls.resize(entries);
    for (std::size_t e = 0; e < entries; ++e) {
      const std::size_t from = l.first[e];
      msghdr& h = l.msgs[e].msg_hdr;
      l.msgs[e] = mmsghdr{};
      h.msg_name = const_cast<sockaddr*>(addrs_[from].get());
      h.msg_namelen = addrs_[from].size;
      h.msg_iov = &iov_[iov_first_[from]];
      h.msg_iovlen = iov_first_[l.first[e + 1]] - iov_first_[from];
      if (!l.segmented(e)) continue;
      h.msg_control = l.controls[e].bytes;
      h.msg_controllen = sizeof l.controls[e].bytes;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = udp_level;
      c->cmsg_type = udp_segment_option;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto size = static_cast<std::uint16_t>(size_[from]);
      std::memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    l.built = true;
    return segmented != 0;
  }

  // The plain layout (one entry per datagram) for the collected datagrams, built on first use
  // after `prepare`.
  send_layout& plain() {
    send_layout& l = plain_;
    if (l.built) return l;
    const std::size_t n = index_.size();
    l.msgs.resize(n);
    l.first.resize(n + 1);
    for (std::size_t k = 0; k < n; ++k) {
      l.first[k] = k;
      l.msgs[k] = mmsghdr{};
      l.msgs[k].msg_hdr.msg_name = const_cast<sockaddr*>(addrs_[k].get());
      l.msgs[k].msg_hdr.msg_namelen = addrs_[k].size;
      l.msgs[k].msg_hdr.msg_iov = &iov_[iov_first_[k]];
      l.msgs[k].msg_hdr.msg_iovlen = iov_first_[k + 1] - iov_first_[k];
    }
    l.first[n] = n;
    l.built = true;
    return l;
  }

 private:
  // The length of the valid run starting at position k, or 1 (also for a datagram that is not
  // the head of a run, or whose run is not what it claims).
  std::size_t valid_run(std::span<const outgoing_datagram> batch, std::size_t k, std::size_t n) const {
    const std::size_t i = index_[k];
    const outgoing_datagram& head = batch[i];
    const std::size_t r = head.run_length;
    const std::size_t size = head.size();
    if (r <= 1 || r > n - k || size == 0 || size > max_segmented_bytes) return 1;
    for (std::size_t j = 1; j < r; ++j) {
      if (index_[k + j] != i + j) return 1;  // another family's datagram in between
      const outgoing_datagram& d = batch[i + j];
      if (d.to != head.to) return 1;
      const std::size_t s = d.size();
      if (j + 1 < r ? s != size : (s == 0 || s > size)) return 1;
    }
    return r;
  }

  std::vector<std::size_t> index_;        // position -> the datagram's index in the batch
  std::vector<socket_address> addrs_;     // per position
  std::vector<iovec> iov_;                // per piece, the pieces of each position in turn
  std::vector<std::size_t> iov_first_;    // position -> its first iovec (and n -> iov_.size())
  std::vector<std::size_t> size_;         // position -> its datagram's size
  send_layout plain_;                     // one entry per datagram
  send_layout runs_;                      // one entry per run chunk or single datagram
};

}  // namespace racket::detail::udp
