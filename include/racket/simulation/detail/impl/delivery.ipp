// SPDX-License-Identifier: MIT
#pragma once

// How a datagram travels (network::transmit and network::arrive): one copy per sending
// interface onto its LAN, then per listening interface the partition check and the fault
// model's verdict, then at arrival a handler posted for each matching receiver. Included at the
// end of network_core.hpp, which it completes; knows nothing of timers or the transport class.

#include "racket/detail/hash.hpp"

namespace racket::sim {

inline send_result network::transmit(detail::transport_state& t, const endpoint& group,
                                     std::span<const std::byte> bytes) {
  const node& sender = *t.host;
  auto copy = std::make_shared<const std::vector<std::byte>>(bytes.begin(), bytes.end());
  const std::uint64_t hash = tracing() ? racket::detail::xxh3(bytes) : 0;
  send_result result;
  for (const auto own : t.selection) {
    const auto lan_index = sender.interfaces()[own].lan;
    ++stats_.sent;
    ++result.ok;
    ++t.stats.datagrams_sent;
    t.stats.bytes_sent += bytes.size();
    if (tracing()) trace_line("send " + describe(sender.id(), own, group, bytes.size(), hash));
    for (const auto& [to, interface] : lans_[lan_index].attachments) {
      node& receiver = *nodes_[to];
      if (!receiver.alive(receiver.incarnation()) || !receiver.listens(group, interface)) continue;
      arrival a{sender.id(), to, receiver.incarnation(), interface, to == sender.id(), group, copy, hash};
      const fault_profile& p = effective_faults(receiver, lan_index);
      if (a.local) {
        if (t.options.loopback) schedule_arrival(a, p.delay);
        continue;
      }
      if (partitioned(sender.id(), to)) {
        ++stats_.partitioned;
        if (tracing()) trace_line("partitioned " + describe(to, interface, group, bytes.size(), hash));
        continue;
      }
      const fault_verdict verdict = decide_faults(p, fault_rng_);
      if (verdict.lost) {
        ++stats_.lost;
        if (tracing()) trace_line("lost " + describe(to, interface, group, bytes.size(), hash));
        continue;
      }
      if (verdict.duplicated) {
        ++stats_.duplicated;
        if (tracing()) trace_line("duplicate " + describe(to, interface, group, bytes.size(), hash));
      }
      for (const auto& c : verdict.arrivals()) {
        if (c.reordered) {
          ++stats_.reordered;
          if (tracing()) trace_line("reorder " + describe(to, interface, group, bytes.size(), hash));
        }
        schedule_arrival(a, c.delay);
      }
    }
  }
  return result;
}

inline void network::arrive(const arrival& a) {
  node& receiver = *nodes_[a.to];
  if (!receiver.alive(a.incarnation)) {
    ++stats_.crashed;
    if (tracing()) trace_line("crashed " + describe(a.to, a.interface, a.group, a.bytes->size(), a.hash));
    return;
  }
  if (!a.local && partitioned(a.from, a.to)) {
    ++stats_.partitioned;
    if (tracing()) trace_line("partitioned " + describe(a.to, a.interface, a.group, a.bytes->size(), a.hash));
    return;
  }
  for (const auto& [id, r] : receiver.receivers_) {
    if (!(r.group == a.group)) continue;
    for (std::size_t k = 0; k < r.interfaces.size(); ++k) {
      if (r.interfaces[k] != a.interface) continue;
      asio::post(*ctx_, [this, a, id = id, k] {
        node& host = *nodes_[a.to];
        if (!host.alive(a.incarnation)) {
          ++stats_.crashed;
          return;
        }
        const auto it = host.receivers_.find(id);
        if (it == host.receivers_.end()) return;  // closed since the arrival
        const auto handler = it->second.handler;  // keeps it alive if it closes itself
        auto& counters = it->second.owner->stats;
        ++counters.datagrams_received;
        counters.bytes_received += a.bytes->size();
        ++stats_.delivered;
        if (tracing()) {
          trace_line("deliver " + describe(a.to, a.interface, a.group, a.bytes->size(), a.hash) + " from " +
                     nodes_[a.from]->name());
        }
        (*handler)(std::span<const std::byte>(*a.bytes), receive_info{static_cast<std::uint32_t>(k)});
      });
    }
  }
}

}  // namespace racket::sim
