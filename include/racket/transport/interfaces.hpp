// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// Enumeration of the machine's network interfaces and the choice of the ones a transport
/// sends and joins on. Asio has no interface enumeration, so this wraps `getifaddrs(3)`.
/// Opens no socket and knows nothing of a transport's state.

#include "racket/error.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/ip/address_v4.hpp>
#include <asio/ip/address_v6.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace racket {

/// One network interface as the kernel reports it.
struct interface_info {
  std::string name;                          ///< kernel name, e.g. "eth0"
  unsigned index = 0;                        ///< kernel ifindex (if_nametoindex), 1 for `lo`
  bool up = false;                           ///< IFF_UP
  bool loopback = false;                     ///< IFF_LOOPBACK
  bool multicast = false;                    ///< IFF_MULTICAST
  std::vector<asio::ip::address_v4> v4;      ///< IPv4 addresses, in kernel order
  std::vector<asio::ip::address_v6> v6;      ///< IPv6 addresses (link-local ones carry the scope id)
};

/// Whether `info` can carry multicast of `family`, by the rules `select_interfaces` uses for
/// an automatic selection:
/// - IPv4: up, has an IPv4 address, and IFF_MULTICAST or loopback. Loopback is accepted
///   without IFF_MULTICAST because Linux delivers IPv4 multicast over `lo` anyway, which is
///   what a single-host deployment (and every test namespace) relies on.
/// - IPv6: up, IFF_MULTICAST, not loopback, has an IPv6 address. Linux does not deliver IPv6
///   multicast over `lo`, whatever its flags, so selecting it would only produce errors.
inline bool can_carry_multicast(const interface_info& info, address_family family) noexcept {
  if (!info.up) return false;
  if (family == address_family::v4) return !info.v4.empty() && (info.multicast || info.loopback);
  return info.multicast && !info.loopback && !info.v6.empty();
}

/// Lists every interface of the machine (of the calling thread's network namespace),
/// sorted by kernel index.
///
/// \param ec set to the `getifaddrs` errno on failure (the result is then empty).
/// Thread safety: safe from any thread.
inline std::vector<interface_info> list_interfaces(std::error_code& ec) {
  ec.clear();
  std::vector<interface_info> out;
  ifaddrs* head = nullptr;
  if (::getifaddrs(&head) != 0) {
    ec.assign(errno, std::system_category());
    return out;
  }
  for (const ifaddrs* ifa = head; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_name == nullptr) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const interface_info& i) { return i.name == ifa->ifa_name; });
    if (it == out.end()) {
      interface_info info;
      info.name = ifa->ifa_name;
      info.index = ::if_nametoindex(ifa->ifa_name);
      out.push_back(std::move(info));
      it = std::prev(out.end());
    }
    // Flags are per entry, but the kernel reports the link's flags on every one of them.
    it->up = (ifa->ifa_flags & IFF_UP) != 0;
    it->loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    it->multicast = (ifa->ifa_flags & IFF_MULTICAST) != 0;
    if (ifa->ifa_addr == nullptr) continue;
    if (ifa->ifa_addr->sa_family == AF_INET) {
      sockaddr_in sin{};
      std::memcpy(&sin, ifa->ifa_addr, sizeof sin);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &sin.sin_addr, b.size());
      it->v4.emplace_back(b);
    } else if (ifa->ifa_addr->sa_family == AF_INET6) {
      sockaddr_in6 sin6{};
      std::memcpy(&sin6, ifa->ifa_addr, sizeof sin6);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6.sin6_addr, b.size());
      it->v6.emplace_back(b, sin6.sin6_scope_id);
    }
  }
  ::freeifaddrs(head);
  std::sort(out.begin(), out.end(),
            [](const interface_info& a, const interface_info& b) { return a.index < b.index; });
  return out;
}

/// Throwing overload of `list_interfaces(std::error_code&)`.
/// \throws std::system_error when `getifaddrs` fails.
inline std::vector<interface_info> list_interfaces() {
  std::error_code ec;
  auto out = list_interfaces(ec);
  detail::throw_if(ec, "getifaddrs");
  return out;
}

namespace detail {

// What choose_interfaces picked, and the first named interface that does not exist.
struct interface_choice {
  std::vector<interface_info> chosen;
  std::optional<std::string> missing;
};

// The interfaces of `all` a transport uses for `family`, by the rules of `select_interfaces`
// but without its refusals: with no `names`, every one that can carry the family's multicast,
// in `all`'s order; with names, those named that are in `all`, in the order named, once each,
// down ones included. A rescan uses it as it is; `select_interfaces` refuses what it reports.
inline interface_choice choose_interfaces(const std::vector<interface_info>& all,
                                          const std::vector<std::string>& names, address_family family) {
  interface_choice out;
  if (names.empty()) {
    for (const auto& i : all)
      if (can_carry_multicast(i, family)) out.chosen.push_back(i);
    return out;
  }
  for (const auto& name : names) {
    const auto named = [&](const interface_info& i) { return i.name == name; };
    if (std::any_of(out.chosen.begin(), out.chosen.end(), named)) continue;  // named twice: use it once
    const auto it = std::find_if(all.begin(), all.end(), named);
    if (it != all.end())
      out.chosen.push_back(*it);
    else if (!out.missing)
      out.missing = name;
  }
  return out;
}

// Shared by both overloads; `bad_name` receives the name that did not exist.
inline std::vector<interface_info> select_interfaces(const std::vector<std::string>& names,
                                                     address_family family, std::error_code& ec,
                                                     std::string& bad_name) {
  const std::vector<interface_info> all = list_interfaces(ec);
  if (ec) return {};
  interface_choice choice = choose_interfaces(all, names, family);
  if (choice.missing) {
    bad_name = *choice.missing;
    ec = make_error_code(errc::unknown_interface);
    return {};
  }
  std::vector<interface_info> out = std::move(choice.chosen);
  if (!names.empty() && std::none_of(out.begin(), out.end(),
                                     [&](const interface_info& i) { return can_carry_multicast(i, family); }))
    out.clear();
  if (out.empty()) ec = make_error_code(errc::no_interfaces);
  return out;
}

inline const char* family_name(address_family family) noexcept {
  return family == address_family::v4 ? "IPv4" : "IPv6";
}

}  // namespace detail

/// Chooses the interfaces a transport uses for `family`.
///
/// - `names` empty: every interface for which `can_carry_multicast(info, family)` holds,
///   in kernel index order (loopback included for IPv4, excluded for IPv6).
/// - `names` given: exactly those interfaces, in the order named (duplicates ignored). A named
///   interface that is down or lacks an address of the family is still selected, so the
///   application's choice is honoured and its joins and sends report errors per interface
///   (it may come up later); but if NONE of the named interfaces can carry the family, the
///   selection is refused with `errc::no_interfaces`.
///
/// \param ec `errc::unknown_interface` when a named interface does not exist;
///           `errc::no_interfaces` when nothing usable remains; an errno from `getifaddrs`.
/// Thread safety: safe from any thread.
inline std::vector<interface_info> select_interfaces(const std::vector<std::string>& names,
                                                     address_family family, std::error_code& ec) {
  std::string bad;
  return detail::select_interfaces(names, family, ec, bad);
}

/// Throwing overload of `select_interfaces`.
/// \throws std::system_error whose what() names the interface ("interface 'eth9': ...")
///         or the family ("IPv6 interfaces: ...").
inline std::vector<interface_info> select_interfaces(const std::vector<std::string>& names,
                                                     address_family family) {
  std::error_code ec;
  std::string bad;
  auto out = detail::select_interfaces(names, family, ec, bad);
  if (ec == errc::unknown_interface) detail::throw_error(ec, "interface '" + bad + "'");
  detail::throw_if(ec, std::string(detail::family_name(family)) + " interfaces");
  return out;
}

}  // namespace racket
