// SPDX-License-Identifier: MIT
#pragma once

// A sim::transport's state and a node's record of one open receiver: the data shared by
// node (its receiver table), network (delivery) and transport. Plain data: knows nothing of
// how datagrams travel, of faults or of time.

#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace racket::sim {

class node;

namespace detail {

// Heap-allocated so that the transport can move while the node's receiver table points at it.
struct transport_state {
  node* host = nullptr;
  transport_options options;
  std::uint64_t incarnation = 0;
  bool open_v4 = false;
  bool open_v6 = false;
  std::vector<std::size_t> selection;  // indices into host->interfaces()
  std::vector<receiver_id> receivers;
  transport_stats stats;
};

struct receiver_entry {
  endpoint group;
  std::vector<std::size_t> interfaces;  // the owning transport's selection
  std::shared_ptr<datagram_handler> handler;
  transport_state* owner = nullptr;
};

}  // namespace detail
}  // namespace racket::sim
