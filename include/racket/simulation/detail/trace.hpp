// SPDX-License-Identifier: MIT
#pragma once

// The network's trace sink and the format of its lines ("+12.000050000 send a/eth0
// 239.255.0.1:19090 4B #00ab..."): the time prefix and how a datagram is described. Knows
// nothing of nodes, of the current time or of when a line is due.

#include "racket/endpoint.hpp"
#include "racket/simulation/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace racket::sim::detail {

class tracer {
 public:
  // An empty function removes the sink.
  void set_sink(std::function<void(std::string_view)> sink) { sink_ = std::move(sink); }

  bool on() const noexcept { return static_cast<bool>(sink_); }

  // Hands `what` to the sink (if any), prefixed with `since_start` as "+s.nnnnnnnnn ".
  void line(clock::duration since_start, const std::string& what) const {
    if (!sink_) return;
    const auto ns = since_start.count();
    const auto abs = ns < 0 ? -ns : ns;
    std::string fraction = std::to_string(abs % 1'000'000'000);
    fraction.insert(0, 9 - fraction.size(), '0');
    sink_(std::string(ns < 0 ? "-" : "+") + std::to_string(abs / 1'000'000'000) + "." + fraction + " " + what);
  }

  // "group size B #hash", the hash as 16 hex digits.
  static std::string describe(const endpoint& group, std::size_t size, std::uint64_t hash) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string h(16, '0');
    for (int i = 15; i >= 0; --i, hash >>= 4) h[static_cast<std::size_t>(i)] = digits[hash & 0xf];
    return group.to_string() + " " + std::to_string(size) + "B #" + h;
  }

 private:
  std::function<void(std::string_view)> sink_;
};

}  // namespace racket::sim::detail
