// SPDX-License-Identifier: MIT
#pragma once

// How a udp_transport sends: a datagram or a batch on every send port of its family, with
// `sendto` for one datagram and one `sendmmsg` per port for a batch (runs as segmented sends,
// UDP GSO, while the port has it; a datagram in pieces as one iovec per piece), the per-port
// EAGAIN backlog, the fallback to single sends when the kernel refuses segmentation, and the
// per-datagram results and counters. Called under the transport's mutex, and takes no lock
// itself. Knows nothing of receivers or rescans.

#include "racket/error.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/socket_ops.hpp"
#include "racket/transport/detail/udp/core.hpp"
#include "racket/transport/detail/udp/selection.hpp"
#include "racket/transport/detail/udp/send_layout.hpp"
#include "racket/transport/detail/udp/send_port.hpp"

#include <cerrno>
#include <cstddef>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include <sys/socket.h>

namespace racket::detail::udp {

class send_path {
 public:
  explicit send_path(core& c) : core_(c) {}

  send_path(const send_path&) = delete;
  send_path& operator=(const send_path&) = delete;

  // `send`'s work, also a lone datagram's from `send_batch`: one sendto per port of `fs`.
  send_result send(const family_state& fs, const endpoint& ep, std::span<const std::byte> bytes) {
    send_result result;
    if (!fs.open) {
      ++core_.stats.send_errors;
      core_.report(make_error_code(errc::not_open), "");
      result.failed = 1;
      return result;
    }
    const socket_address to(ep);
    for (const auto& port : fs.ports) {
      if (!port->backlog.empty()) {
        if (enqueue(*port, to, bytes)) {
          ++result.ok;
        } else {
          ++result.would_block;
          ++core_.stats.send_would_block;
        }
        continue;
      }
      const ssize_t n = ::sendto(port->socket.native_handle(), bytes.data(), bytes.size(),
                                 MSG_DONTWAIT | MSG_NOSIGNAL, to.get(), to.size);
      if (n >= 0) {
        ++result.ok;
        ++core_.stats.datagrams_sent;
        core_.stats.bytes_sent += bytes.size();
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (enqueue(*port, to, bytes)) {
          ++result.ok;
          arm_flush(core_, port);
        } else {
          ++result.would_block;
          ++core_.stats.send_would_block;
        }
      } else {
        const auto ec = last_errno();
        ++result.failed;
        ++core_.stats.send_errors;
        core_.report(ec, port->name);
      }
    }
    return result;
  }

  // The datagrams of `batch` to `family`, on every port of `fs` (the family's selection): one
  // sendmmsg per port, runs as segmented sends where the port has GSO. Adds to each datagram's
  // `result`.
  void send_batch(std::span<outgoing_datagram> batch, address_family family, family_state& fs) {
    const bool runs = layout_.collect(batch, family);
    if (layout_.empty()) return;
    if (!fs.open) {
      for (const std::size_t i : layout_.indices()) {
        ++core_.stats.send_errors;
        core_.report(make_error_code(errc::not_open), "");
        batch[i].result.failed = 1;
      }
      return;
    }
    layout_.prepare(batch);
    bool segmented = false;
    if (runs && core_.options.segmentation_offload) {
      for (const auto& port : fs.ports) segmented = segmented || port->segmentation;
      if (segmented) segmented = layout_.build_segmented(batch);
    }
    for (const auto& port : fs.ports) send_batch_on(port, batch, segmented && port->segmentation);
  }

 private:
  // The layout's datagrams on one port, as runs entries when `segmented` (GSO on for the
  // port), else one by one. sendmmsg counts entries: each entry is mapped back to its
  // datagrams for results, counters and the backlog.
  void send_batch_on(const std::shared_ptr<send_port>& port, std::span<outgoing_datagram> batch, bool segmented) {
    const int fd = port->socket.native_handle();
    const std::size_t n = layout_.size();
    std::size_t k = 0;            // next position to send
    std::size_t plain_until = 0;  // positions before it go one by one although `segmented`
    while (k < n && port->backlog.empty()) {
      const bool runs = segmented && k >= plain_until;
      send_layout& l = runs ? layout_.runs() : layout_.plain();
      const std::size_t e = runs ? l.entry_at[k] : k;
      const std::size_t end = runs ? l.msgs.size() : (segmented ? plain_until : n);
      const int sent = ::sendmmsg(fd, l.msgs.data() + e, static_cast<unsigned>(end - e), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent > 0) {
        const std::size_t done = e + static_cast<std::size_t>(sent);
        for (std::size_t j = e; j < done; ++j)
          if (l.segmented(j)) ++core_.stats.segmented_sends;
        for (; k < l.first[done]; ++k) {
          outgoing_datagram& d = batch[layout_.index(k)];
          ++d.result.ok;
          ++core_.stats.datagrams_sent;
          core_.stats.bytes_sent += d.size();
        }
        continue;
      }
      // sendmmsg reports the error of the first entry it could not send: entry e.
      const int err = sent < 0 ? errno : 0;
      const std::size_t entry_end = l.first[e + 1];
      if (err == EAGAIN || err == EWOULDBLOCK) {
        bool queued = false;
        for (; k < entry_end; ++k) {
          outgoing_datagram& d = batch[layout_.index(k)];
          if (enqueue(*port, layout_.address(k), joined(d))) {
            ++d.result.ok;
            queued = true;
          } else {
            ++d.result.would_block;
            ++core_.stats.send_would_block;
          }
        }
        if (queued) arm_flush(core_, port);
        break;
      }
      if (l.segmented(e) && refuses_segmentation(err)) {
        // The kernel or device cannot segment: this port sends one by one from here on,
        // starting with this entry's datagrams.
        port->segmentation = false;
        segmented = false;
        ++core_.stats.segmentation_fallbacks;
        continue;
      }
      if (l.segmented(e) && err == EMSGSIZE) {
        // Segments larger than the path MTU: sent alone, the kernel fragments them.
        plain_until = entry_end;
        ++core_.stats.segmentation_fallbacks;
        continue;
      }
      const auto ec = err != 0 ? std::error_code(err, std::system_category()) : make_error_code(std::errc::io_error);
      for (; k < entry_end; ++k) {
        ++batch[layout_.index(k)].result.failed;
        ++core_.stats.send_errors;
      }
      core_.report(ec, port->name);
    }
    for (; k < n; ++k) {  // behind a backlog: keep the order
      outgoing_datagram& d = batch[layout_.index(k)];
      if (enqueue(*port, layout_.address(k), joined(d))) {
        ++d.result.ok;
      } else {
        ++d.result.would_block;
        ++core_.stats.send_would_block;
      }
    }
  }

  // The datagram in one piece, for the backlog (which keeps a copy anyway): its bytes, or its
  // pieces joined in `joined_`, valid until the next call.
  std::span<const std::byte> joined(const outgoing_datagram& d) {
    if (!d.gathered()) return d.bytes;
    joined_.resize(d.size());
    d.copy_to(joined_.data());
    return joined_;
  }

  core& core_;
  batch_layout layout_;  // reused: a batch allocates nothing in steady state
  std::vector<std::byte> joined_;  // a datagram in pieces joined for the backlog
};

}  // namespace racket::detail::udp
