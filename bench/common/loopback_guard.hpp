// SPDX-License-Identifier: MIT
#pragma once

// The benchmarks' safety rule: a program that sends may run only where `lo` is the only
// network interface (a private network namespace). Knows nothing of sockets, timing or what
// the program measures.

#include <ifaddrs.h>

#include <cstring>
#include <string>

namespace bench_common {

// True when every interface getifaddrs lists is `lo`; else `why` says which one is there,
// followed by `hint` (how to run the program instead).
inline bool only_loopback(std::string& why, const char* hint) {
  ifaddrs* head = nullptr;
  if (::getifaddrs(&head) != 0) {
    why = "getifaddrs failed";
    return false;
  }
  bool ok = true;
  for (const ifaddrs* ifa = head; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_name == nullptr || std::strcmp(ifa->ifa_name, "lo") != 0) {
      why = std::string("interface '") + (ifa->ifa_name ? ifa->ifa_name : "?") +
            "' present: not a private network namespace (" + hint + ")";
      ok = false;
      break;
    }
  }
  ::freeifaddrs(head);
  return ok;
}

}  // namespace bench_common
