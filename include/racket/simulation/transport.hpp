// SPDX-License-Identifier: MIT
#pragma once

// `sim::transport`: the `racket::transport` of the simulated network, what `udp_transport` is to
// real sockets. Opens receivers on a node and hands datagrams to the network; knows nothing of
// how they travel (faults, partitions, the event queue) beyond `network::transmit`.

#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/simulation/clock.hpp"
#include "racket/simulation/detail/transport_state.hpp"
#include "racket/simulation/network_core.hpp"
#include "racket/simulation/timer.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/io_context.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::sim {

/// The simulated network's `racket::transport`: what `udp_transport` is to real sockets.
///
/// Made on a node with a `transport_options`: `interfaces` names the node's interfaces to use
/// (empty: all of them, in attach order), `loopback` decides whether the sending node's own
/// receivers hear its datagrams, and `ttl` and the buffer sizes are ignored. Interfaces are
/// dual-stack: one selection serves IPv4 and IPv6. Datagrams over 65'507 bytes (IPv4) or
/// 65'527 bytes (IPv6) are refused, like UDP. The bytes are copied at `send`.
///
/// Errors (`racket::errc`): `open` reports `unknown_interface` for a name the node lacks and
/// `no_interfaces` for a node without interfaces; `open_receiver` reports `not_open` before
/// `open` and `family_mismatch` for a group of a family not opened. Once the node crashes, the
/// transport is dead: `open`/`open_receiver` report `not_open` and `send` fails.
///
/// Not thread-safe; use it from the network's thread. Movable.
///
/// ```cpp
/// racket::sim::transport t{node, {.interfaces = {"eth0"}, .loopback = false}};
/// t.open(racket::address_family::v4);
/// auto id = t.open_receiver(group, [](std::span<const std::byte> d, const racket::receive_info& i) { ... });
/// t.send(group, bytes);
/// t.close_receiver(id);
/// ```
class transport {
 public:
  using context_type = node;
  using executor_type = asio::io_context::executor_type;
  using clock_type = sim::clock;
  using timer_type = sim::timer;

  /// Largest datagram `send` accepts for an IPv4 group (65'535 - 20 - 8).
  static constexpr std::size_t max_datagram_size_v4 = 65'507;
  /// Largest datagram `send` accepts for an IPv6 group (65'535 - 8).
  static constexpr std::size_t max_datagram_size_v6 = 65'527;

  /// A closed transport on node `n`, bound to its current incarnation.
  explicit transport(node& n, const transport_options& options = {})
      : state_(std::make_unique<detail::transport_state>()) {
    state_->host = &n;
    state_->options = options;
    state_->incarnation = n.incarnation();
  }

  transport(transport&&) noexcept = default;

  transport& operator=(transport&& other) noexcept {
    if (this != &other) {
      if (state_) close();
      state_ = std::move(other.state_);
    }
    return *this;
  }

  /// Closes every receiver.
  ~transport() {
    if (state_) close();
  }

  /// The network's executor: every receive handler and timer completion runs there.
  executor_type get_executor() const noexcept { return state_->host->get_executor(); }

  /// The node the transport lives on.
  node& context() const noexcept { return *state_->host; }

  /// A timer of the node's incarnation this transport belongs to.
  timer_type make_timer() const { return timer_type(*state_->host, state_->incarnation); }

  /// Selects interfaces (on the first successful call) and enables sending and receiving for
  /// `family`. Calling it again, for either family, keeps the selection.
  void open(address_family family, std::error_code& ec) {
    ec.clear();
    auto& s = *state_;
    node& host = *s.host;
    if (!host.alive(s.incarnation)) {
      ec = make_error_code(errc::not_open);
      return;
    }
    if (s.selection.empty()) {
      if (host.interfaces().empty()) {
        ec = make_error_code(errc::no_interfaces);
        return;
      }
      std::vector<std::size_t> selection;
      if (s.options.interfaces.empty()) {
        for (std::size_t i = 0; i < host.interfaces().size(); ++i) selection.push_back(i);
      } else {
        for (const auto& name : s.options.interfaces) {
          const auto& all = host.interfaces();
          const auto it = std::find_if(all.begin(), all.end(), [&](const interface_info& i) { return i.name == name; });
          if (it == all.end()) {
            ec = make_error_code(errc::unknown_interface);
            return;
          }
          const auto index = static_cast<std::size_t>(it - all.begin());
          if (std::find(selection.begin(), selection.end(), index) == selection.end()) selection.push_back(index);
        }
      }
      s.selection = std::move(selection);
    }
    (family == address_family::v4 ? s.open_v4 : s.open_v6) = true;
  }

  /// Throwing overload: `std::system_error` on failure.
  void open(address_family family) {
    std::error_code ec;
    open(family, ec);
    racket::detail::throw_if(ec, "sim::transport::open on node '" + state_->host->name() + "'");
  }

  /// True once `open` succeeded for some family (and until `close`).
  bool is_open() const noexcept { return state_->open_v4 || state_->open_v6; }

  /// Names of the selected interfaces, in selection order (`receive_info::interface_index`
  /// indexes this list). Empty before `open`.
  std::vector<std::string> interface_names() const {
    std::vector<std::string> names;
    for (auto i : state_->selection) names.push_back(state_->host->interfaces()[i].name);
    return names;
  }

  /// Sends one copy of `bytes` on every selected interface; never blocks. Counts interfaces in
  /// the result: `ok` each, or `failed` each (at least 1) when the transport is not open for
  /// the group's family, is dead (node crashed), or the datagram is too large.
  send_result send(const endpoint& group, std::span<const std::byte> bytes) {
    auto& s = *state_;
    const bool v6 = group.group.is_v6();
    const bool usable = s.host->alive(s.incarnation) && (v6 ? s.open_v6 : s.open_v4) &&
                        bytes.size() <= (v6 ? max_datagram_size_v6 : max_datagram_size_v4);
    if (!usable) {
      const auto failed = static_cast<std::uint32_t>(std::max<std::size_t>(1, s.selection.size()));
      s.stats.send_errors += failed;
      return send_result{.ok = 0, .failed = failed, .would_block = 0};
    }
    return s.host->net().transmit(s, group, bytes);
  }

  /// Starts receiving datagrams sent to `group` (exact address and port) on every selected
  /// interface. `handler(datagram, info)` runs on the network's executor once per datagram per
  /// interface it arrived on; it may call `close_receiver` on its own id.
  receiver_id open_receiver(const endpoint& group, datagram_handler handler, std::error_code& ec) {
    ec.clear();
    auto& s = *state_;
    if (!handler) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return 0;
    }
    if (!s.host->alive(s.incarnation) || !is_open()) {
      ec = make_error_code(errc::not_open);
      return 0;
    }
    if (!(group.group.is_v6() ? s.open_v6 : s.open_v4)) {
      ec = make_error_code(errc::family_mismatch);
      return 0;
    }
    network& net = s.host->net();
    const receiver_id id = net.next_receiver_++;
    s.host->receivers_.emplace(
        id, detail::receiver_entry{group, s.selection, std::make_shared<datagram_handler>(std::move(handler)), &s});
    s.receivers.push_back(id);
    return id;
  }

  /// Throwing overload: `std::system_error` on failure.
  receiver_id open_receiver(const endpoint& group, datagram_handler handler) {
    std::error_code ec;
    const auto id = open_receiver(group, std::move(handler), ec);
    racket::detail::throw_if(ec, "sim::transport::open_receiver " + group.to_string() + " on node '" +
                                     state_->host->name() + "'");
    return id;
  }

  /// Stops a receiver; datagrams not yet handed to it are dropped. Unknown ids are ignored.
  void close_receiver(receiver_id id) {
    auto& s = *state_;
    const auto it = std::find(s.receivers.begin(), s.receivers.end(), id);
    if (it == s.receivers.end()) return;
    s.receivers.erase(it);
    auto& table = s.host->receivers_;
    const auto entry = table.find(id);
    if (entry == table.end()) return;  // cleared by a crash
    auto handler = std::move(entry->second.handler);  // destroyed after the table is consistent
    table.erase(entry);
  }

  /// Counters of this transport.
  transport_stats stats() const { return state_->stats; }

  /// Closes every receiver and forgets the interface selection; `open` may be called again.
  void close() {
    while (!state_->receivers.empty()) close_receiver(state_->receivers.back());
    state_->selection.clear();
    state_->open_v4 = state_->open_v6 = false;
  }

 private:
  std::unique_ptr<detail::transport_state> state_;
};

static_assert(racket::transport<transport>, "sim::transport must model racket::transport");

}  // namespace racket::sim
