// SPDX-License-Identifier: MIT
#pragma once

// One subscription as a subscriber holds it (`subscription_entry`: its stream, endpoint,
// filter and type-erased handlers) and what its delivery handler is given
// (`delivery_record`, before the codec turns it into a `message<T>`). Plain data; knows
// nothing of subject state, locks or executors.

#include "racket/codec.hpp"
#include "racket/endpoint.hpp"
#include "racket/message.hpp"
#include "racket/subject.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace racket::detail {

struct delivery_record {
  std::string_view stream;
  std::string_view subject;
  byte_view payload;
  std::uint64_t publisher_id;
  std::uint64_t sequence;
  std::uint64_t timestamp_ns;
  std::uint32_t interval_ms;
  bool is_new;
  bool resend;
};

struct subscription_entry {
  std::uint64_t id = 0;
  std::string stream;
  endpoint ep;
  subject_filter filter;
  std::function<bool(const delivery_record&)> deliver;  // false: the codec refused the payload
  std::function<void(const removal&)> on_removed;
  std::atomic<bool> active{true};
  bool replayed = false;  // executor only: live deliveries start after the replay of held values
};

}  // namespace racket::detail
