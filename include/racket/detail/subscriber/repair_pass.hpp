// SPDX-License-Identifier: MIT
#pragma once

// One due repair of a (stream, publisher), decided and sent: its losses reported (added to
// the batch the subscriber calls its loss handler from), then its missing ranges asked for
// through the requester, as many as fit one request, paced by the publisher's token bucket.
// The subscriber calls it under its lock from its repair timer. Knows nothing of locks,
// timers, handlers' code or the receive path.

#include "racket/detail/subscriber/dispatcher.hpp"
#include "racket/endpoint.hpp"

#include <algorithm>
#include <cstdint>

namespace racket::detail {

// The subscriber's repair options, as one pass uses them.
struct repair_pacing {
  bool request = true;  // subscriber_options::request_snapshots: ask at all
  double rate = 0;      // requests per second per publisher (0: unpaced)
  double burst = 1;     // at least 1
};

// `item`: the repair_queue's due entry (owner: the stream; publisher_id; due, moved later when
// the pacing defers it). `report_losses`: a loss handler is set. `ep`: the stream's channel
// (nullptr: gone). True when done; false when its pacing moved it later (further gaps merge
// into it meanwhile).
template <class Item, class TimePoint, class Requester>
bool run_repair(Item& item, TimePoint now, const repair_pacing& pacing, bool report_losses, dispatcher& batch,
                Requester& requests, const endpoint* ep) {
  auto& s = *item.owner;
  auto* p = s.publishers.find(item.publisher_id);
  if (p == nullptr) return true;
  if (pacing.request && pacing.rate > 0 && !p->take_token(now, pacing.rate, pacing.burst, item.due)) return false;
  const std::uint64_t publisher_id = item.publisher_id;
  p->repair_queued = false;
  if (report_losses) {
    for (const auto& g : p->missing.ranges()) batch.add_loss(s.name, publisher_id, g.first, g.last);
  }
  if (!pacing.request || p->nothing_to_ask()) {
    p->missing.clear();
    return true;
  }
  if (requests.request_repair(ep, s, publisher_id, *p)) ++s.stats.repairs_requested;
  return true;
}

}  // namespace racket::detail
