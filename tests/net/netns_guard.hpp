// SPDX-License-Identifier: MIT
// Guards for tests that put packets on the wire: they must run inside a private network
// namespace (tests/tools/in_netns.sh), never on the host's network.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace racket::test {

/// True when every interface of this network namespace is `lo` or one a test created
/// (name prefixed "rk"), and every address on them is a loopback, link-local or benchmarking
/// (198.18.0.0/15, 2001:2::/48) one. A host with a real NIC fails this; `why` says what was
/// found. Tests that send REQUIRE it first.
inline bool in_private_netns(std::string& why) {
  ifaddrs* head = nullptr;
  if (::getifaddrs(&head) != 0) {
    why = "getifaddrs failed";
    return false;
  }
  bool ok = true;
  for (const ifaddrs* ifa = head; ifa != nullptr; ifa = ifa->ifa_next) {
    const std::string name = ifa->ifa_name ? ifa->ifa_name : "";
    if (name != "lo" && name.rfind("rk", 0) != 0) {
      why = "interface '" + name + "' is not lo or a test interface: not in a private network namespace";
      ok = false;
      break;
    }
    if (ifa->ifa_addr == nullptr) continue;
    if (ifa->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
      const std::uint32_t a = ntohl(sin->sin_addr.s_addr);
      const bool loop = (a >> 24) == 127;
      const bool bench = (a & 0xFFFE0000u) == 0xC6120000u;  // 198.18.0.0/15
      if (!loop && !bench) {
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
        why = "address " + std::string(text) + " on '" + name + "' is not a test address";
        ok = false;
        break;
      }
    } else if (ifa->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
      const unsigned char* b = sin6->sin6_addr.s6_addr;
      const bool loop = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
      const bool link = IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr);
      const bool bench = b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x02 && b[4] == 0 && b[5] == 0;
      if (!loop && !link && !bench) {
        char text[INET6_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
        why = "address " + std::string(text) + " on '" + name + "' is not a test address";
        ok = false;
        break;
      }
    }
  }
  ::freeifaddrs(head);
  return ok;
}

inline bool in_private_netns() {
  std::string why;
  return in_private_netns(why);
}

// Runs a shell command; only ever called after the guard passed.
inline bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// Writes a namespace-local sysctl through /proc/sys (only after the guard passed).
inline bool write_sysctl(const std::string& path, const std::string& value) {
  std::ofstream f("/proc/sys/" + path);
  f << value;
  f.flush();
  return static_cast<bool>(f);
}

/// A veth pair `a`/`b` (names must start with "rk"), both up, with the given addresses
/// ("198.18.0.1/24", "2001:2::1/64 nodad"), removed again on destruction (deleting one end
/// deletes both), also when the test fails. IPv6 duplicate address detection is turned off in
/// the namespace first so link-local addresses are usable at once.
class veth_pair {
 public:
  veth_pair(std::string a, std::string b, const std::vector<std::string>& a_addrs,
            const std::vector<std::string>& b_addrs)
      : a_(std::move(a)), b_(std::move(b)) {
    if (a_.rfind("rk", 0) != 0 || b_.rfind("rk", 0) != 0 || !in_private_netns()) return;
    write_sysctl("net/ipv6/conf/all/accept_dad", "0");
    write_sysctl("net/ipv6/conf/default/accept_dad", "0");
    run("ip link del " + a_);  // leftover of an aborted run in this namespace
    created_ = run("ip link add name " + a_ + " type veth peer name " + b_);
    if (!created_) return;
    ok_ = run("ip link set " + a_ + " up") && run("ip link set " + b_ + " up");
    for (const auto& addr : a_addrs) ok_ = ok_ && run("ip addr add " + addr + " dev " + a_);
    for (const auto& addr : b_addrs) ok_ = ok_ && run("ip addr add " + addr + " dev " + b_);
    // Both ends live in this one namespace, so a datagram sent out of `a` arrives on `b` with a
    // source address that is local: IPv4 drops such "martians" unless accept_local is set.
    ok_ = ok_ && write_sysctl("net/ipv4/conf/" + a_ + "/accept_local", "1") &&
          write_sysctl("net/ipv4/conf/" + b_ + "/accept_local", "1");
  }
  veth_pair(const veth_pair&) = delete;
  veth_pair& operator=(const veth_pair&) = delete;
  ~veth_pair() {
    if (created_) run("ip link del " + a_);
  }
  bool ok() const noexcept { return created_ && ok_; }

 private:
  std::string a_, b_;
  bool created_ = false;
  bool ok_ = false;
};

/// Groups joined per device, read from /proc/net/igmp (IPv4) or /proc/net/igmp6 (IPv6):
/// device name -> set of groups as the kernel prints them. Use `igmp_key` / `igmp6_key` to
/// turn an address into that form.
inline std::map<std::string, std::set<std::string>> joined_groups_v4() {
  std::map<std::string, std::set<std::string>> out;
  std::ifstream f("/proc/net/igmp");
  std::string line, device;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    if (line[0] != '\t') {
      // "1\tlo        :     1      V3"
      const auto tab = line.find('\t');
      const auto colon = line.find(':');
      if (tab == std::string::npos || colon == std::string::npos) continue;
      device = line.substr(tab + 1, colon - tab - 1);
      while (!device.empty() && device.back() == ' ') device.pop_back();
    } else {
      const auto start = line.find_first_not_of('\t');
      if (start == std::string::npos) continue;
      out[device].insert(line.substr(start, 8));
    }
  }
  return out;
}

/// "239.255.0.1" as /proc/net/igmp prints it ("0100FFEF" on little-endian machines: the
/// network-order word printed as a host integer).
inline std::string igmp_key(const std::string& dotted) {
  in_addr a{};
  ::inet_pton(AF_INET, dotted.c_str(), &a);
  char text[9] = {};
  std::snprintf(text, sizeof text, "%08X", static_cast<unsigned>(a.s_addr));
  return text;
}

inline std::map<std::string, std::set<std::string>> joined_groups_v6() {
  std::map<std::string, std::set<std::string>> out;
  std::ifstream f("/proc/net/igmp6");
  std::string index, device, group;
  std::string rest;
  while (f >> index >> device >> group) {
    out[device].insert(group);
    std::getline(f, rest);
  }
  return out;
}

/// "ff15::1" as /proc/net/igmp6 prints it (32 lowercase hex digits).
inline std::string igmp6_key(const std::string& text) {
  in6_addr a{};
  ::inet_pton(AF_INET6, text.c_str(), &a);
  std::string out;
  char hex[3];
  for (unsigned char c : a.s6_addr) {
    std::snprintf(hex, sizeof hex, "%02x", c);
    out += hex;
  }
  return out;
}

}  // namespace racket::test
