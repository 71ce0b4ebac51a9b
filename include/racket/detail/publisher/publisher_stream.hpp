// SPDX-License-Identifier: MIT
#pragma once

// One stream of a publisher: its name, endpoint and sequence counter, and each room's part of
// it, side by side. Only data, with no behaviour of its own and no knowledge of threads: the
// rooms act on their parts, the orchestrator on the rest.

#include "racket/detail/publisher/cache.hpp"
#include "racket/detail/publisher/large_values.hpp"
#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/publisher/packer.hpp"
#include "racket/detail/publisher/snapshot_responder.hpp"
#include "racket/detail/publisher/tail_probes.hpp"
#include "racket/endpoint.hpp"

#include <cstdint>
#include <string>

namespace racket::detail {

template <class Clock>
struct publisher_stream {
  using time_point = typename Clock::time_point;

  publisher_stream() = default;
  publisher_stream(const publisher_stream&) = delete;
  publisher_stream& operator=(const publisher_stream&) = delete;

  std::string name;
  endpoint ep;
  std::uint32_t ordinal = 0;  // streams created before this one: an order that is the same every run
  std::uint64_t next_sequence = 1;
  last_value_cache<time_point> cache;  // cache.hpp (its slots also hold the resend schedule's due times)
  open_datagram out;                   // packer.hpp
  bool listener_checked = false;       // whether the snapshot listener was opened (executor only)
  publisher_stream_counters counters;
  stream_answers<time_point> answers;  // snapshot_responder.hpp (executor only)
  tail_probe<time_point> probe;        // tail_probes.hpp (executor only)
  large_value_cache<time_point> large; // large_values.hpp: values sent as fragments (executor only)
  bool has_large = false;              // listed in the large sender's streams (large_sender.hpp)
  // Discovery (executor only, but for announce_ep, set when the stream is made): the pool's
  // announce channel, and `published` and the time at the last announcement (for the rate).
  endpoint announce_ep;
  std::uint64_t announced_published = 0;
  time_point announced_at{};
};

}  // namespace racket::detail
