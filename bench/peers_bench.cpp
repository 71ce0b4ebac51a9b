// peers_bench: what unicast peers cost a publisher (issue 22, "Performance"): its throughput
// with 1, 8 and 32 unicast peers (publisher_options::unicast_peers, multicast off) as a ratio
// to multicast alone, measured in the same run.
//
// One process, inside a private network namespace whose only interface is `lo` (it refuses to
// run otherwise). For each case one publisher publishes N events (64-byte payloads, interval
// 0: nothing cached) as fast as it accepts them and flushes; a drain thread reads every
// receiver socket (plain UDP sockets on 127.0.0.1, one per peer; for multicast one socket
// joined to the stream's group on lo) so no socket buffer fills, and counts the datagrams of
// the first. Throughput: messages published per second until the flush completed; delivered:
// the share of the datagrams sent to the first receiver that it read.
//
//   tests/tools/in_netns.sh build/<preset>/bench/peers_bench [--messages N] [--repeats R]
// SPDX-License-Identifier: MIT

#include <racket/racket.hpp>

#include "common/loopback_guard.hpp"

#include <asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

// A receiving socket: bound to 127.0.0.1:port, or to the group and joined on lo.
int open_socket(std::uint16_t port, const char* group) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  const int one = 1, buf = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, group != nullptr ? group : "127.0.0.1", &a.sin_addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  if (group != nullptr) {
    ip_mreqn m{};
    ::inet_pton(AF_INET, group, &m.imr_multiaddr);
    m.imr_ifindex = 1;  // lo
    ::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
  }
  return fd;
}

struct result {
  double messages_per_second = 0;
  double delivered = 0;  // datagrams the first receiver read / datagrams sent to it
};

// One case: `peers` unicast peers (0: multicast only).
result run_case(std::size_t peers, std::size_t messages) {
  const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};
  const racket::stream<std::string> s{"peers.bench", pool};
  std::vector<int> fds;
  std::vector<std::string> entries;
  if (peers == 0) {
    fds.push_back(open_socket(s.endpoint().port, s.endpoint().group.to_string().c_str()));
  } else {
    for (std::size_t i = 0; i < peers; ++i) {
      const auto port = static_cast<std::uint16_t>(20000 + i);
      fds.push_back(open_socket(port, nullptr));
      entries.push_back("127.0.0.1:" + std::to_string(port));
    }
  }
  for (int fd : fds)
    if (fd < 0) {
      std::fprintf(stderr, "peers_bench: cannot open a receiving socket: %s\n", std::strerror(errno));
      std::exit(1);
    }

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> first_read{0};
  std::thread drain([&] {
    std::vector<char> buf(65536);
    while (!stop.load(std::memory_order_relaxed)) {
      bool any = false;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        while (::recv(fds[i], buf.data(), buf.size(), 0) >= 0) {
          any = true;
          if (i == 0) first_read.fetch_add(1, std::memory_order_relaxed);
        }
      }
      if (!any) std::this_thread::yield();
    }
  });

  asio::io_context io;
  racket::publisher pub{io, {.interfaces = {"lo"},
                             .tail_probe_delay = std::chrono::milliseconds(0),
                             .unicast_peers = entries,
                             .multicast = peers == 0,
                             .announce_period = std::chrono::milliseconds(0)}};
  const std::string payload(64, 'x');
  const auto t0 = clock_type::now();
  for (std::size_t i = 0; i < messages; ++i) {
    std::error_code ec;
    for (;;) {
      pub.publish(s, "bench.value", payload, std::chrono::milliseconds(0), ec);
      if (ec != racket::errc::would_block) break;
      io.poll();
    }
    if ((i & 1023) == 0) io.poll();
  }
  bool flushed = false;
  pub.async_flush([&](std::error_code) { flushed = true; });
  while (!flushed) io.run_one();
  const double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  // datagrams_sent counts a datagram once per peer that took it.
  const std::uint64_t sent = pub.stats(s.name()).datagrams_sent / std::max<std::size_t>(1, peers);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the drain catches up
  stop = true;
  drain.join();
  for (int fd : fds) ::close(fd);
  result r;
  r.messages_per_second = static_cast<double>(messages) / seconds;
  r.delivered = sent != 0 ? static_cast<double>(first_read.load()) / static_cast<double>(sent) : 0;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t messages = 200000;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--messages" && i + 1 < argc) {
      messages = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: peers_bench [--messages N] [--repeats R]\n");
      return 2;
    }
  }
  std::string why;
  if (!bench_common::only_loopback(why, "run it through tests/tools/in_netns.sh")) {
    std::fprintf(stderr, "peers_bench: refusing to run: %s\n", why.c_str());
    return 1;
  }
  std::printf("peers_bench: %zu events of 64 bytes per case, best of %d\n", messages, repeats);
  std::printf("%-22s %14s %10s %10s\n", "case", "messages/s", "ratio", "delivered");
  double base = 0;
  for (const std::size_t peers : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{32}}) {
    result best;
    for (int r = 0; r < repeats; ++r) {
      const result x = run_case(peers, messages);
      if (x.messages_per_second > best.messages_per_second) best = x;
    }
    if (peers == 0) base = best.messages_per_second;
    const std::string name = peers == 0 ? "multicast" : std::to_string(peers) + " unicast peer" + (peers > 1 ? "s" : "");
    std::printf("%-22s %14.0f %9.2fx %9.1f%%\n", name.c_str(), best.messages_per_second,
                best.messages_per_second / base, 100 * best.delivered);
  }
  return 0;
}
