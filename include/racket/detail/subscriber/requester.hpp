// SPDX-License-Identifier: MIT
#pragma once

// The snapshot and repair requests a subscriber sends (docs/architecture.md, "Snapshots and
// gap repair"): its requester id, what a full request (for the subscriptions just made on a
// stream), a repair request (one publisher's missing ranges) and a fragment request (missing
// fragments of one message in progress) ask for, encoded and sent to the stream's request
// group (and, with a unicast port, to the addresses the stream's publishers were heard from
// by unicast), sealed when the stream is keyed. Knows nothing of locks, timers or when a request is
// due; the caller serialises its calls (one encode buffer).

#include "racket/detail/clock.hpp"
#include "racket/detail/subscriber/channel.hpp"
#include "racket/detail/subscriber/gap_tracker.hpp"
#include "racket/detail/subscriber/unicast_sources.hpp"
#include "racket/detail/security/seals.hpp"
#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail {

template <class Transport>
class requester {
 public:
  // `seed` 0: the id is drawn from std::random_device.
  requester(Transport& transport, std::uint64_t seed) : transport_(&transport) {
    splitmix64 ids(seed != 0 ? seed : random_seed());
    id_ = ids.next();
    if (id_ == 0) id_ = 1;
  }

  std::uint64_t id() const noexcept { return id_; }

  // From now on, requests of the streams `sealer` keys leave sealed (before any request).
  void seal_with(datagram_sealer* sealer) {
    sealer_ = sealer;
    sealed_.resize(wire::max_datagram_size_limit + wire::seal_overhead);
  }

  // From now on requests also go by unicast to the sources `sources` knows for their stream,
  // and to the request group only while `multicast` (subscriber_options::unicast_port,
  // ::multicast). Under the caller's serialisation, as every call.
  void send_back_to(const unicast_sources* sources, bool multicast) noexcept {
    sources_ = sources;
    multicast_ = multicast;
  }

  // One full request for every subscription of `s` (its repair filter), to one unicast
  // `source` only: a publisher first heard there.
  template <class TimePoint>
  bool request_snapshot_from(const endpoint& source, const stream_state<TimePoint>& s) {
    if constexpr (unicast_transport<Transport>) {
      const auto bytes = encode(wire::snapshot_request{.requester_id = id_, .stream = s.name, .filter = s.repair_filter()});
      return !bytes.empty() && transport_->send_unicast(source, bytes).ok > 0;
    } else {
      (void)source;
      (void)s;
      return false;
    }
  }

  // One full request for the subscriptions just made on `s` (its request filters).
  template <class TimePoint>
  bool request_snapshot(const endpoint& ep, const stream_state<TimePoint>& s) {
    return send(ep, wire::snapshot_request{.requester_id = id_, .stream = s.name, .filter = s.request_filter()});
  }

  // A repair request to `publisher_id` for the head and missing ranges of `p`, which are taken:
  // as many ranges as fit one request (past that, neighbouring ranges are merged: the
  // publisher then re-sends a little more than was lost, never less). `ep` null: the ranges
  // are dropped.
  template <class TimePoint>
  bool request_repair(const endpoint* ep, const stream_state<TimePoint>& s, std::uint64_t publisher_id,
                      publisher_gaps<TimePoint>& p) {
    const std::string_view filter = s.repair_filter();
    const std::size_t room = wire::default_max_datagram_size - wire::request_size(s.name.size(), filter.size(), 0);
    const std::size_t fit = std::min(wire::max_request_ranges, room / wire::request_range_size);
    const range_set ranges = p.take_ranges(fit);
    if (ep == nullptr) return false;
    return send(*ep, wire::snapshot_request{.requester_id = id_,
                                            .stream = s.name,
                                            .filter = filter,
                                            .target_publisher = publisher_id,
                                            .ranges = ranges.ranges()});
  }

  // Requests to `publisher_id` for the fragment runs `missing` of its message `sequence` on
  // `s`: as many requests as it takes at 64 ranges each. Returns how many were sent.
  template <class TimePoint>
  std::size_t request_fragments(const endpoint& ep, const stream_state<TimePoint>& s, std::uint64_t publisher_id,
                                std::uint64_t sequence, std::span<const std::pair<std::uint32_t, std::uint32_t>> missing) {
    std::array<wire::fragment_range, wire::max_request_fragment_ranges> ranges{};
    std::size_t sent = 0;
    for (std::size_t i = 0; i < missing.size(); i += ranges.size()) {
      const std::size_t n = std::min(ranges.size(), missing.size() - i);
      for (std::size_t k = 0; k < n; ++k) ranges[k] = {sequence, missing[i + k].first, missing[i + k].second};
      sent += send(ep, wire::snapshot_request{.requester_id = id_,
                                              .stream = s.name,
                                              .target_publisher = publisher_id,
                                              .fragments = std::span<const wire::fragment_range>(ranges.data(), n)})
                  ? 1
                  : 0;
    }
    return sent;
  }

 private:
  // The request encoded, and sealed when its stream is keyed; empty when it cannot be (a
  // keyed stream's request is never sent in clear).
  std::span<const std::byte> encode(const wire::snapshot_request& r) {
    std::span<const std::byte> bytes = wire::encode_request(buffer_, r);
    if (bytes.empty()) return {};
    if (sealer_ != nullptr) [[unlikely]] {
      std::error_code ec;
      bytes = sealer_->seal(bytes, sealed_, stamp_(transport_clock_t<Transport>::now()), ec);
      if (ec) return {};
    }
    return bytes;
  }

  bool send(const endpoint& ep, const wire::snapshot_request& r) {
    const std::span<const std::byte> bytes = encode(r);
    if (bytes.empty()) return false;
    bool sent = false;
    if (multicast_) [[likely]]
      sent = transport_->send(request_endpoint(ep), bytes).ok > 0;
    if constexpr (unicast_transport<Transport>) {
      if (sources_ != nullptr) [[unlikely]]
        sources_->for_each(r.stream, [&](const endpoint& to) { sent |= transport_->send_unicast(to, bytes).ok > 0; });
    }
    return sent;
  }

  Transport* transport_;
  std::uint64_t id_ = 0;
  std::array<std::byte, wire::max_datagram_size_limit> buffer_{};
  datagram_sealer* sealer_ = nullptr;  // keyed streams: the subscriber's, or none
  const unicast_sources* sources_ = nullptr;  // with a unicast port: where requests go back
  bool multicast_ = true;
  std::vector<std::byte> sealed_;      // the sealed request
  wall_stamper<transport_clock_t<Transport>> stamp_;
};

}  // namespace racket::detail
