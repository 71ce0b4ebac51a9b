// SPDX-License-Identifier: MIT
#pragma once

// `owned_message<T>`: a delivered message that owns its stream name, subject, value and
// payload bytes, so it outlives the handler call: what `subscriber::async_fetch` completes
// with, and what a handler bound to another executor is given a view of. Plain value; knows
// nothing of how it was received.

#include "racket/codec.hpp"
#include "racket/message.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace racket {

/// A message that owns what `message<T>` only views. `view()` gives the `message<T>` over it
/// (valid while the owned_message lives and is not modified).
template <class T>
struct owned_message {
  std::string stream;
  std::string subject;
  T value;
  std::vector<std::byte> payload;  ///< the payload's bytes, as received
  std::uint64_t publisher_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;  ///< publisher's wall clock, ns since the Unix epoch
  std::chrono::milliseconds interval{0};
  bool is_new = false;
  bool resend = false;

  /// Copies what `m` views.
  static owned_message from(const message<T>& m) {
    return owned_message{std::string(m.stream),
                         std::string(m.subject),
                         m.value,
                         std::vector<std::byte>(m.payload.begin(), m.payload.end()),
                         m.publisher_id,
                         m.sequence,
                         m.timestamp_ns,
                         m.interval,
                         m.is_new,
                         m.resend};
  }

  message<T> view() const noexcept {
    return message<T>{stream,       subject,      value,    byte_view(payload.data(), payload.size()),
                      publisher_id, sequence,     timestamp_ns, interval, is_new, resend};
  }
};

}  // namespace racket
