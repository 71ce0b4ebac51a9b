// SPDX-License-Identifier: MIT
#pragma once

// What a subscriber's handlers are given: a delivered `message<T>`, a `removal` and its
// `removal_reason`, a `loss_event`. Plain views, valid during the handler call; knows nothing
// of how they were decided or of the network.

#include "racket/codec.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

namespace racket {

/// Why a subject's value went away.
enum class removal_reason {
  withdrawn,  ///< its publisher sent a tombstone
  expired,    ///< not refreshed within `expiry_factor` intervals: its publisher went away
  evicted,    ///< the per-stream cap on tracked subjects was reached
};

/// One delivered message, valid only during the handler call (views point into the datagram).
template <class T>
struct message {
  std::string_view stream;
  std::string_view subject;
  const T& value;              ///< the payload as decoded by the stream's codec
  byte_view payload;           ///< the payload's bytes
  std::uint64_t publisher_id;
  std::uint64_t sequence;
  std::uint64_t timestamp_ns;  ///< publisher's wall clock, ns since the Unix epoch
  std::chrono::milliseconds interval;
  bool is_new;                 ///< first value of this subject (or first since it went away)
  bool resend;                 ///< arrived as a periodic resend (or a replay to a new subscription)
};

/// Sequence numbers of one publisher on one stream that never arrived (`set_loss_handler`).
/// With `request_snapshots` a repair request for them follows within `repair_holdoff`.
struct loss_event {
  std::string_view stream;
  std::uint64_t publisher_id;
  std::uint64_t first;  ///< first missing sequence number
  std::uint64_t last;   ///< last missing sequence number (inclusive)
};

/// A subject that went away, for the removal handler.
struct removal {
  std::string_view stream;
  std::string_view subject;
  std::uint64_t publisher_id;
  removal_reason reason;
};

}  // namespace racket
