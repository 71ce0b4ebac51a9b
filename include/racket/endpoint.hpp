// SPDX-License-Identifier: MIT
#pragma once

#include <asio/ip/address.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace racket {

/// A multicast group and UDP port: where one stream's datagrams go.
struct endpoint {
  asio::ip::address group;
  std::uint16_t port = 0;

  friend bool operator==(const endpoint&, const endpoint&) = default;

  /// "239.255.1.2:19090" or "[ff15::1]:19090".
  std::string to_string() const {
    if (group.is_v6()) return "[" + group.to_string() + "]:" + std::to_string(port);
    return group.to_string() + ":" + std::to_string(port);
  }
};

/// Hash functor so endpoints can key unordered containers.
struct endpoint_hash {
  std::size_t operator()(const endpoint& e) const noexcept {
    std::uint64_t h = e.port;
    if (e.group.is_v4()) {
      h ^= std::uint64_t{e.group.to_v4().to_uint()} << 16;
    } else {
      for (auto b : e.group.to_v6().to_bytes()) h = h * 1099511628211ull ^ b;
    }
    return static_cast<std::size_t>(h * 0x9E3779B97F4A7C15ull);
  }
};

}  // namespace racket
