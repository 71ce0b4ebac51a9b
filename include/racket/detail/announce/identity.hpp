// SPDX-License-Identifier: MIT
#pragma once

// Who this process is, as announcements name it: host name, process id and program name, read
// from the system once per process (`gethostname`, `getpid`, /proc/self/comm) and overridable
// per publisher or subscriber. Knows nothing of announcements, datagrams or sockets.

#include <unistd.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

namespace racket::detail {

struct node_identity {
  std::string host;
  std::uint32_t pid = 0;
  std::string program;
};

// Keeps at most 255 bytes and drops NUL bytes and line ends (what the wire allows).
inline std::string wire_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() == 255) break;
    if (c != '\0' && c != '\n' && c != '\r') out += c;
  }
  return out;
}

// Read once, on first use, by whichever thread comes first (a function-local static).
inline const node_identity& system_identity() {
  static const node_identity id = [] {
    node_identity n;
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) == 0) n.host = wire_name(host.data());
    if (n.host.empty()) n.host = "unknown";  // the wire needs 1..255 bytes
    n.pid = static_cast<std::uint32_t>(::getpid());
    std::ifstream comm("/proc/self/comm");
    std::string line;
    if (comm && std::getline(comm, line)) n.program = wire_name(line);
    return n;
  }();
  return id;
}

// The system's identity with the options' overrides (empty / 0: the system's value).
inline node_identity make_identity(std::string_view host, std::uint32_t pid, std::string_view program) {
  node_identity n = system_identity();
  if (!host.empty() && !wire_name(host).empty()) n.host = wire_name(host);
  if (pid != 0) n.pid = pid;
  if (!program.empty()) n.program = wire_name(program);
  return n;
}

}  // namespace racket::detail
