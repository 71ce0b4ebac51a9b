// SPDX-License-Identifier: MIT
#pragma once

// `sim::node`: a simulated host: its name, its interfaces on LANs, its receivers, its own fault
// profile and whether it is crashed (its incarnation). Made, owned and changed by `network`
// (network_core.hpp, which also defines `get_executor`); knows nothing of how datagrams travel,
// of the event queue or of time.

#include "racket/endpoint.hpp"
#include "racket/simulation/detail/transport_state.hpp"
#include "racket/simulation/faults.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/io_context.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace racket::sim {

class network;
class transport;

/// One network interface of a node: its name (unique within the node) and the LAN it is
/// attached to (the index `network::add_lan` returned).
struct interface_info {
  std::string name;
  std::size_t lan = 0;
};

/// A simulated host: a name, interfaces attached to LANs, and the receivers its transports
/// opened. Made by `network::add_node`, owned by the network; the reference stays valid
/// for the network's lifetime.
///
/// A node can crash and restart (`network::crash`, `network::restart`). Each of the two bumps
/// its `incarnation()`; transports and timers belong to the incarnation they were made in,
/// so objects from before a crash stay dead after the restart, like the process that owned
/// them. The application makes new publishers and subscribers after `restart`.
class node {
 public:
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The name given to `network::add_node` (unique within the network).
  const std::string& name() const noexcept { return name_; }
  /// Position in creation order, from 0.
  std::size_t id() const noexcept { return id_; }
  /// True between `network::crash` and `network::restart`.
  bool crashed() const noexcept { return crashed_; }
  /// Bumped by every crash and every restart.
  std::uint64_t incarnation() const noexcept { return incarnation_; }
  /// The network the node belongs to.
  network& net() noexcept { return *net_; }
  const network& net() const noexcept { return *net_; }
  /// The node's interfaces, in attach order.
  const std::vector<interface_info>& interfaces() const noexcept { return interfaces_; }
  /// Executor of the network's `io_context` (every node shares it).
  asio::io_context::executor_type get_executor() const noexcept;

 private:
  friend class network;
  friend class transport;

  node(network& net, std::size_t id, std::string name) : net_(&net), id_(id), name_(std::move(name)) {}

  bool alive(std::uint64_t incarnation) const noexcept {
    return !crashed_ && incarnation == incarnation_;
  }

  bool listens(const endpoint& group, std::size_t interface) const noexcept {
    for (const auto& [id, r] : receivers_) {
      if (r.group == group && std::find(r.interfaces.begin(), r.interfaces.end(), interface) != r.interfaces.end()) {
        return true;
      }
    }
    return false;
  }

  network* net_;
  std::size_t id_;
  std::string name_;
  std::vector<interface_info> interfaces_;
  bool crashed_ = false;
  std::uint64_t incarnation_ = 0;
  std::map<receiver_id, detail::receiver_entry> receivers_;  // ordered: deterministic fan-out
  std::optional<fault_profile> receive_faults_;
};

}  // namespace racket::sim
