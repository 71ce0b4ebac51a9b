// SPDX-License-Identifier: MIT
#pragma once

// A publisher's unicast peers at work: the peer_list, the transport's unicast sockets opened
// for the families the peers need (their datagrams leave from there, and requests come back
// there), each datagram sent to every peer, names resolved with asio's async resolver at
// start and again every period on the transport's executor (never blocking a send), and
// failures reported through the error handler with the peer's entry. Only for a transport
// with the unicast capability. Knows nothing of streams, sealing, records or requests' content
// (the gate hands it sealed datagrams; what the unicast socket hears goes to a handler).

#include "racket/detail/peers/peer_list.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/error.hpp>
#include <asio/ip/udp.hpp>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail {

// Transport must model unicast_transport (not a constraint: the gate names this type for
// every transport, and uses it only for those).
template <class Transport>
class peer_fanout : public std::enable_shared_from_this<peer_fanout<Transport>> {
 public:
  // Throws std::system_error (errc::invalid_option) naming the first entry that is not
  // "host:port".
  peer_fanout(Transport& transport, const std::vector<std::string>& entries, std::chrono::milliseconds resolve_interval)
      : transport_(transport),
        resolver_(asio::any_io_executor(transport.get_executor())),
        timer_(transport.make_timer()),
        interval_(resolve_interval) {
    std::string bad;
    if (!peers_.assign(entries, bad))
      throw std::system_error(make_error_code(errc::invalid_option),
                              "publisher_options::unicast_peers entry '" + bad +
                                  "' is not host:port (IPv4, [IPv6] or a name, and a port 1-65535)");
  }

  // The handler the error reports go to (the publisher's, or none). Any thread.
  void set_reporter(transport_error_handler h) {
    std::lock_guard lock(report_mutex_);
    report_ = std::move(h);
  }

  // Failed sends to peers and failed resolutions of their names, so far. Any thread.
  std::uint64_t send_errors() const noexcept { return send_errors_.load(std::memory_order_relaxed); }
  std::uint64_t resolve_errors() const noexcept { return resolve_errors_.load(std::memory_order_relaxed); }

  // Opens the unicast sockets the literal peers need (with `on_datagram` for what they hear:
  // the requests of subscribers) and starts resolving the names. Executor (or before the
  // publisher runs).
  void start(datagram_handler on_datagram) {
    on_datagram_ = std::move(on_datagram);
    for (std::size_t i = 0; i < peers_.size(); ++i)
      for (const endpoint& ep : peers_[i].endpoints) ensure_socket(ep);
    if (peers_.has_names()) resolve_all();
  }

  // Executor only: cancels the resolutions and the timer; no send after it.
  void stop() {
    stopped_ = true;
    resolver_.cancel();
    timer_.cancel();
  }

  // Executor only: `bytes` to every resolved peer. Returns the peers that took it (`ok`), were
  // full (`would_block`) or refused it (`failed`); a failure is counted and reported.
  send_result send(std::span<const std::byte> bytes) {
    send_result out;
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      for (const endpoint& ep : peers_[i].endpoints) {
        const send_result r = transport_.send_unicast(ep, bytes);
        out.ok += r.ok;
        out.would_block += r.would_block;
        if (r.failed != 0) [[unlikely]] {
          const int e = errno;  // sendto's, when the socket was there (else EBADF's stand-in below)
          ++out.failed;
          send_errors_.fetch_add(1, std::memory_order_relaxed);
          if (peers_.send_failed(i))
            report(std::error_code(e != 0 ? e : EBADF, std::system_category()), i);
        } else if (r.ok != 0) {
          peers_.send_ok(i);
        }
      }
    }
    return out;
  }

  const peer_list& peers() const noexcept { return peers_; }

 private:
  void ensure_socket(const endpoint& ep) {
    const address_family f = ep.group.is_v4() ? address_family::v4 : address_family::v6;
    bool& open = opened_[f == address_family::v4 ? 0 : 1];
    if (open) return;
    std::error_code ec;
    transport_.open_unicast(f, 0, on_datagram_, ec);
    if (ec) {
      report_text(ec, "unicast peers' socket");
      return;
    }
    open = true;
  }

  void report(const std::error_code& ec, std::size_t i) { report_text(ec, peers_[i].text); }

  // The publisher's handler posts each report: never run inside the send that failed.
  void report_text(const std::error_code& ec, std::string_view text) {
    transport_error_handler h;
    {
      std::lock_guard lock(report_mutex_);
      h = report_;
    }
    if (h) h(ec, text);
  }

  // One async_resolve per named entry; the timer's next round once all came back.
  void resolve_all() {
    if (stopped_) return;
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      if (peers_[i].spec.literal) continue;
      ++pending_;
      resolver_.async_resolve(peers_[i].spec.host, std::to_string(peers_[i].spec.port),
                              [weak = this->weak_from_this(), i](const std::error_code& ec,
                                                                  asio::ip::udp::resolver::results_type results) {
                                if (auto self = weak.lock()) self->on_resolved(i, ec, results);
                              });
    }
  }

  void on_resolved(std::size_t i, const std::error_code& ec, const asio::ip::udp::resolver::results_type& results) {
    --pending_;
    if (stopped_ || ec == asio::error::operation_aborted) return;
    std::vector<asio::ip::address> addresses;
    if (!ec)
      for (const auto& r : results) addresses.push_back(r.endpoint().address());
    if (addresses.empty()) {
      resolve_errors_.fetch_add(1, std::memory_order_relaxed);
      if (peers_.resolve_failed(i)) report(ec ? ec : make_error_code(std::errc::host_unreachable), i);
    } else {
      peers_.resolved(i, addresses);
      for (const endpoint& ep : peers_[i].endpoints) ensure_socket(ep);
    }
    if (pending_ == 0 && interval_.count() > 0) {
      timer_.expires_at(Transport::clock_type::now() + interval_);
      timer_.async_wait([weak = this->weak_from_this()](const std::error_code& e) {
        if (auto self = weak.lock(); self && !e) self->resolve_all();
      });
    }
  }

  Transport& transport_;
  peer_list peers_;
  asio::ip::udp::resolver resolver_;
  typename Transport::timer_type timer_;
  std::chrono::milliseconds interval_;
  datagram_handler on_datagram_;
  transport_error_handler report_;
  std::mutex report_mutex_;  // guards report_ (set from any thread)
  std::atomic<std::uint64_t> send_errors_{0};
  std::atomic<std::uint64_t> resolve_errors_{0};
  bool opened_[2] = {false, false};
  std::size_t pending_ = 0;
  bool stopped_ = false;
};

// What a publisher holds for a transport without the capability: nothing (unicast peers are
// refused at construction).
struct no_peer_fanout {};

}  // namespace racket::detail
