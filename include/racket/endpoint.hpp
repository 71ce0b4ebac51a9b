// SPDX-License-Identifier: MIT
#pragma once

// `endpoint` (a multicast group and UDP port), where a stream's snapshot requests go
// (`request_endpoint`), and a hash for them. Plain values; knows nothing of sockets.

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
    // Appended in order into one string, not built with `"[" + ...`: g++ 12 at -O3 reports
    // a false -Wrestrict overlap inside operator+(const char*, std::string&&).
    const bool v6 = group.is_v6();
    const std::string address = group.to_string();
    const std::string port_text = std::to_string(port);
    std::string out;
    out.reserve(address.size() + port_text.size() + 3);
    if (v6) out += '[';
    out += address;
    if (v6) out += ']';
    out += ':';
    out += port_text;
    return out;
  }
};

/// Where snapshot requests for the streams on `data` go: the same port, on the group whose
/// lowest address bit is flipped (239.255.4.6 -> 239.255.4.7, ff15::a -> ff15::b). Every valid
/// pool leaves at least one host bit, so it is in the same pool. Publishers listen there, not
/// on their data group, so the data they send never reaches their own listener socket
/// (docs/wire-format.md, "Where requests go").
inline endpoint request_endpoint(const endpoint& data) {
  if (data.group.is_v4()) return {asio::ip::address_v4(data.group.to_v4().to_uint() ^ 1u), data.port};
  const auto v6 = data.group.to_v6();
  auto bytes = v6.to_bytes();
  bytes[15] ^= 1;
  return {asio::ip::address_v6(bytes, v6.scope_id()), data.port};
}

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
