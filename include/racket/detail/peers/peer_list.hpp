// SPDX-License-Identifier: MIT
#pragma once

// A publisher's unicast peers (publisher_options::unicast_peers): each entry's "host:port"
// parsed, the addresses it resolved to last (a literal at once, a name when its resolution
// comes back; a failed resolution keeps the last good ones), when names are due to be
// resolved again, and each peer's failures (resolutions, sends) with the rule for when one
// is worth a report. Plain bookkeeping: knows nothing of sockets, resolvers, timers or the
// error handler (the publisher runs those).

#include "racket/endpoint.hpp"

#include <asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace racket::detail {

// One "host:port" entry, split: `host` an IPv4 literal, an IPv6 literal in brackets
// ("[::1]:9000", brackets dropped) or a name; `port` 1..65535.
struct peer_spec {
  std::string host;
  std::uint16_t port = 0;
  bool literal = false;  // host is an address (resolved at once)
  asio::ip::address address{};
};

// False when `text` is not "host:port" with a non-empty host and a port 1..65535 (an IPv6
// literal must be bracketed; a name holds only letters, digits, '-', '_' and '.').
inline bool parse_peer(std::string_view text, peer_spec& out) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return false;
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (err != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return false;
  out = peer_spec{};
  out.port = static_cast<std::uint16_t>(value);
  std::error_code ec;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
    out.address = asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return false;
    out.literal = true;
  } else if (host.find(':') != std::string_view::npos) {
    return false;  // an IPv6 literal without brackets: the port cannot be told apart
  } else {
    out.address = asio::ip::make_address_v4(std::string(host), ec);
    out.literal = !ec;
    if (!out.literal) {
      const bool name_chars = std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
      });
      if (!name_chars || host.size() > 253) return false;
      out.address = asio::ip::address();
    }
  }
  out.host = std::string(host);
  return true;
}

class peer_list {
 public:
  // Addresses kept per name: a hostile or misconfigured name server cannot make one entry
  // into thousands of sends per datagram.
  static constexpr std::size_t max_addresses_per_peer = 8;

  struct peer {
    std::string text;                // the entry as given, for reports
    peer_spec spec;
    std::vector<endpoint> endpoints;  // where its datagrams go now (empty: none resolved yet)
    std::uint64_t send_errors = 0;
    std::uint64_t resolve_errors = 0;
    bool failing = false;            // the last send to it failed (reported once until one succeeds)
    bool resolve_failing = false;    // the last resolution failed (the same)
  };

  // Parses every entry; false with `bad` set to the first entry that is not "host:port"
  // (nothing kept then). Literals have their endpoint at once.
  bool assign(const std::vector<std::string>& entries, std::string& bad) {
    std::vector<peer> peers;
    peers.reserve(entries.size());
    for (const std::string& e : entries) {
      peer p;
      p.text = e;
      if (!parse_peer(e, p.spec)) {
        bad = e;
        return false;
      }
      if (p.spec.literal) p.endpoints.push_back(endpoint{p.spec.address, p.spec.port});
      peers.push_back(std::move(p));
    }
    peers_ = std::move(peers);
    return true;
  }

  bool empty() const noexcept { return peers_.empty(); }
  std::size_t size() const noexcept { return peers_.size(); }
  const peer& operator[](std::size_t i) const noexcept { return peers_[i]; }

  // Whether some entry is a name (the publisher then resolves on a period).
  bool has_names() const noexcept {
    return std::any_of(peers_.begin(), peers_.end(), [](const peer& p) { return !p.spec.literal; });
  }

  // A resolution of entry i came back with `addresses` (of the entry's port). Empty counts as
  // a failure. Returns true when the addresses changed.
  bool resolved(std::size_t i, const std::vector<asio::ip::address>& addresses) {
    if (addresses.empty()) {
      resolve_failed(i);
      return false;
    }
    peer& p = peers_[i];
    p.resolve_failing = false;
    std::vector<endpoint> eps;
    for (const auto& a : addresses) {
      const endpoint ep{a, p.spec.port};
      if (std::find(eps.begin(), eps.end(), ep) == eps.end()) eps.push_back(ep);
      if (eps.size() == max_addresses_per_peer) break;
    }
    if (eps == p.endpoints) return false;
    p.endpoints = std::move(eps);
    return true;
  }

  // A resolution of entry i failed: the last good addresses stay. True when it is worth a
  // report (the first failure since a success).
  bool resolve_failed(std::size_t i) {
    peer& p = peers_[i];
    ++p.resolve_errors;
    ++resolve_errors_;
    const bool report = !p.resolve_failing;
    p.resolve_failing = true;
    return report;
  }

  // A send to entry i failed: counted; true when it is worth a report (the first failure
  // since a send to it succeeded, so a dead peer is reported once, not per datagram).
  bool send_failed(std::size_t i) {
    peer& p = peers_[i];
    ++p.send_errors;
    ++send_errors_;
    const bool report = !p.failing;
    p.failing = true;
    return report;
  }

  void send_ok(std::size_t i) noexcept { peers_[i].failing = false; }

  std::uint64_t send_errors() const noexcept { return send_errors_; }
  std::uint64_t resolve_errors() const noexcept { return resolve_errors_; }

 private:
  std::vector<peer> peers_;
  std::uint64_t send_errors_ = 0;
  std::uint64_t resolve_errors_ = 0;
};

}  // namespace racket::detail
