// SPDX-License-Identifier: MIT
#pragma once

// What a subscriber keeps per (group, port) it listens on (`channel`: its receiver, its
// datagram counters, its streams by name) and per stream on it (`stream_state`: the
// subscriptions' index and filters, the subject table, the gap tracker, the pending full
// request and the counters the others do not keep). Plain data and lookups; knows nothing of
// sockets (a receiver is an id), locks, timers or handlers.

#include "racket/detail/hash.hpp"
#include "racket/detail/subscriber/gap_tracker.hpp"
#include "racket/detail/subscriber/subject_table.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/endpoint.hpp"
#include "racket/subscriber_options.hpp"
#include "racket/subscription_index.hpp"
#include "racket/transport/concepts.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace racket::detail {

template <class TimePoint>
struct stream_state {
  using entry_ptr = std::shared_ptr<subscription_entry>;

  stream_state(std::string n, const subject_limits& limits, std::size_t& tracked_total, std::size_t max_publishers,
               bool ask_for_head)
      : name(std::move(n)), subjects(limits, tracked_total), publishers(max_publishers, ask_for_head) {}

  std::string name;
  subscription_index<entry_ptr> index;
  subject_table<TimePoint> subjects;
  gap_tracker<TimePoint> publishers;
  std::vector<std::pair<std::uint64_t, std::string>> filters;  // (handle, filter) of each subscription
  std::vector<std::string> request_filters;  // of subscriptions whose full request is not sent yet
  bool request_posted = false;
  subscriber_stream_stats stats;  // those the subject table and the gap tracker do not count

  // The filter of one full request for the subscriptions just made: theirs if they all have
  // the same, else every subject (empty).
  std::string_view request_filter() const noexcept {
    std::string_view filter = request_filters.front();
    for (const auto& f : request_filters)
      if (f != filter) filter = {};
    return filter;
  }

  // The filter of a repair request: the subscription's if there is one, else every subject.
  std::string_view repair_filter() const noexcept {
    return filters.size() == 1 ? std::string_view(filters.front().second) : "";
  }

  // Every counter of the stream but its channel's.
  subscriber_stream_stats counters() const noexcept {
    subscriber_stream_stats out = stats;
    const auto& counts = subjects.counts();
    out.duplicates = counts.duplicates;
    out.stale = counts.stale;
    out.withdrawn = counts.withdrawn;
    out.expired = counts.expired;
    out.evicted = counts.evicted;
    out.no_room = counts.no_room;
    out.held_bytes = subjects.bytes();
    out.gaps = publishers.gaps();
    out.sequence_jumps = publishers.jumps();
    out.tracked_subjects = subjects.size();
    return out;
  }
};

template <class TimePoint>
struct channel {
  struct sv_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(table_hash(s)); }
  };

  endpoint ep;
  receiver_id receiver = 0;
  bool open = false;
  std::size_t subscriptions = 0;
  std::uint64_t datagrams = 0, malformed = 0, foreign = 0, requests_seen = 0, rejected = 0, replayed = 0;
  std::unordered_map<std::string, std::unique_ptr<stream_state<TimePoint>>, sv_hash, std::equal_to<>> streams;
  // The stream of the last datagram: consecutive datagrams are mostly of one stream, and a
  // name compare is cheaper than hashing it. Reset when that stream goes.
  stream_state<TimePoint>* last_stream = nullptr;

  stream_state<TimePoint>* find(std::string_view name) const {
    auto it = streams.find(name);
    return it == streams.end() ? nullptr : it->second.get();
  }

  // The stream `name`, made from `name` and `args` if it is not there yet.
  template <class... Args>
  stream_state<TimePoint>& find_or_add(const std::string& name, Args&&... args) {
    if (stream_state<TimePoint>* s = find(name)) return *s;
    auto s = std::make_unique<stream_state<TimePoint>>(name, std::forward<Args>(args)...);
    auto& ref = *s;
    streams.emplace(name, std::move(s));
    return ref;
  }

  // The channel's counters into `out`: a datagram that cannot be decoded cannot be
  // attributed to a stream, so these are per (group, port).
  void fill_counters(subscriber_stream_stats& out) const noexcept {
    out.datagrams_received = datagrams;
    out.malformed = malformed;
    out.foreign = foreign;
    out.requests_seen = requests_seen;
    out.rejected = rejected;
    out.replayed = replayed;
  }
};

}  // namespace racket::detail
