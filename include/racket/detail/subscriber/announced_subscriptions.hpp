// SPDX-License-Identifier: MIT
#pragma once

// The subscriptions a subscriber announces: by handle, each one's announce channel, stream and
// filter, and the entries an announcement lists (one per channel and stream, with its distinct
// filters, the first `wire::max_announce_filters` of them). Knows nothing of locks, timers or
// the transport.

#include "racket/detail/announce/announcer.hpp"
#include "racket/endpoint.hpp"
#include "racket/wire/announce.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace racket::detail {

class announced_subscriptions {
 public:
  void add(std::uint64_t handle, const endpoint& channel, std::string stream, std::string filter) {
    subs_[handle] = sub{channel, std::move(stream), std::move(filter)};
  }
  void remove(std::uint64_t handle) { subs_.erase(handle); }
  bool empty() const noexcept { return subs_.empty(); }

  // The entries to announce, sorted by channel; they point into this object (valid until it
  // changes).
  std::vector<announce_item<wire::announced_subscription>> items() const {
    std::vector<const sub*> order;
    order.reserve(subs_.size());
    for (const auto& [h, s] : subs_) order.push_back(&s);
    std::stable_sort(order.begin(), order.end(), [](const sub* a, const sub* b) {
      if (a->channel.group != b->channel.group) return a->channel.group < b->channel.group;
      if (a->channel.port != b->channel.port) return a->channel.port < b->channel.port;
      return a->stream < b->stream;
    });
    std::vector<announce_item<wire::announced_subscription>> out;
    for (const sub* s : order) {
      if (out.empty() || !(out.back().channel == s->channel) || out.back().entry.stream != s->stream)
        out.push_back({s->channel, wire::announced_subscription{.stream = s->stream}});
      auto& e = out.back().entry;
      const auto listed = e.filters.begin() + static_cast<std::ptrdiff_t>(e.filter_count);
      if (e.filter_count < wire::max_announce_filters && std::find(e.filters.begin(), listed, s->filter) == listed)
        e.filters[e.filter_count++] = s->filter;
    }
    return out;
  }

 private:
  struct sub {
    endpoint channel;
    std::string stream;
    std::string filter;
  };
  std::map<std::uint64_t, sub> subs_;  // by handle: the order subscriptions were made
};

}  // namespace racket::detail
